"""Nodes, status, agent, regions and the HTTP conventions shared by every Nomad endpoint."""

import pytest

from tests.contract.test_nomad_helpers import ready_node
from tools.testsupport.labclient import Api, LabProcess


def test_nodes_list_stubs_with_podman_driver(nomad):
    response = nomad.get("/v1/nodes")
    stubs = response.json()
    assert response.status_code == 200 and stubs
    assert response.headers["X-Nomad-KnownLeader"] == "true"
    for stub in stubs:
        assert {"ID", "Name", "Datacenter", "Status", "SchedulingEligibility", "Drivers", "Address"} <= set(stub)
        assert stub["Status"] in ("ready", "down", "initializing", "disconnected")
    assert any(s["Drivers"].get("podman", {}).get("Healthy") for s in stubs if s["Status"] == "ready")


def test_node_detail_advertises_the_podman_driver_fingerprint(nomad, cluster):
    node = ready_node(nomad)
    attributes = node["Attributes"]
    for name in ("kernel.name", "os.name", "cpu.arch", "nomad.version", "unique.hostname",
                 "unique.network.ip-address", "driver.podman.version"):
        assert attributes.get(name), name
    assert attributes["kernel.name"] == "linux"
    # nomad-driver-podman publishes booleans ("true"/"false"); the client keeps driver.<name> = "1" (compat).
    assert attributes["driver.podman"] == "1"
    assert attributes["driver.podman.rootless"] in ("true", "false")
    podman = node["Drivers"]["podman"]
    assert (podman["Detected"], podman["Healthy"]) == (True, True)
    assert podman["Attributes"]["driver.podman"] == "true"
    assert podman["Attributes"]["driver.podman.rootless"] == attributes["driver.podman.rootless"]
    if cluster["admin"]:  # the lab: meta is only Nomad's own connect.* defaults unless declared
        assert attributes["driver.podman.rootless"] == "true"
        assert sorted(k for k in node["Meta"] if not k.startswith("connect.")) == []
    assert node["SchedulingEligibility"] == "eligible"
    assert node["NodeResources"]["Memory"]["MemoryMB"] > 0


@pytest.mark.simulator_only
def test_node_meta_is_what_the_lab_declares():
    with LabProcess(nodes="jerry,bobby", extra_args=["--node-meta", "jerry:rootless=true",
                                                     "--node-meta", "rack=r1"]) as lab:
        nomad = Api(lab.nomad_addr, None, "X-Nomad-Token")
        meta = {stub["Name"]: nomad.get(f"/v1/node/{stub['ID']}").json()["Meta"]
                for stub in nomad.get("/v1/nodes").json()}
    own = {name: {k: v for k, v in values.items() if not k.startswith("connect.")} for name, values in meta.items()}
    assert own == {"jerry": {"rootless": "true", "rack": "r1"}, "bobby": {"rack": "r1"}}
    assert meta["bobby"]["connect.log_level"] == "info"


def test_node_ids_are_stable_and_unknown_is_404(nomad):
    first = {n["Name"]: n["ID"] for n in nomad.get("/v1/nodes").json()}
    assert first == {n["Name"]: n["ID"] for n in nomad.get("/v1/nodes").json()}
    response = nomad.get("/v1/node/7f1c2d3e-0000-4000-8000-000000000000")
    assert (response.status_code, response.text) == (404, "node not found")


def test_status_leader_and_peers(nomad):
    leader = nomad.get("/v1/status/leader").json()
    assert isinstance(leader, str) and leader.rsplit(":", 1)[1].isdigit()
    assert leader in nomad.get("/v1/status/peers").json()


def test_regions_and_agent_self_agree(nomad):
    regions = nomad.get("/v1/regions").json()
    agent = nomad.get("/v1/agent/self").json()
    assert agent["config"]["Region"] in regions
    assert agent["member"]["Tags"]["role"] == "nomad"


def test_unknown_region_has_no_path(nomad):
    response = nomad.get("/v1/jobs", params={"region": "nowhere-region"})
    assert (response.status_code, response.text) == (500, "No path to region")


def test_invalid_blocking_parameters_are_400(nomad):
    for params, text in (({"index": "abc"}, "Invalid index"), ({"index": "1", "wait": "5"}, "Invalid wait time")):
        response = nomad.get("/v1/jobs", params=params)
        assert (response.status_code, response.text) == (400, text)


def test_wrong_method_is_405(nomad):
    response = nomad.delete("/v1/jobs")
    assert (response.status_code, response.text) == (405, "Invalid method")


def test_errors_are_plain_text(nomad, job_id):
    response = nomad.get(f"/v1/job/{job_id}")
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.simulator_only
def test_hcl_parse_is_live_only(nomad):
    response = nomad.post("/v1/jobs/parse", json={"JobHCL": 'job "x" {}', "Canonicalize": True})
    assert response.status_code == 501
    assert "only available on a real Nomad" in response.text
