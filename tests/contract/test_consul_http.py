"""Contract: Consul HTTP conventions shared by every endpoint, and the simulator's persistence."""

import os

import pytest
import requests

from tools.testsupport.labclient import LabProcess, live_mode

acls_off = pytest.mark.skipif(live_mode() and os.environ.get("OCTANT_LIVE_ACL") == "1",
                              reason="the live cluster has ACLs enabled")


@acls_off
@pytest.mark.parametrize("path", ["/v1/acl/policies", "/v1/acl/tokens", "/v1/acl/token/self"])
def test_acl_endpoints_answer_401_while_acls_are_disabled(consul, path):
    response = consul.get(path)
    assert (response.status_code, response.text) == (401, "ACL support disabled")


@acls_off
def test_every_response_names_the_default_acl_policy(consul):
    assert consul.get("/v1/status/leader").headers["X-Consul-Default-ACL-Policy"] == "allow"
    assert consul.get("/v1/kv/octant-contract/none").headers["X-Consul-Default-ACL-Policy"] == "allow"


def test_an_unknown_datacenter_is_500(consul):
    response = consul.get("/v1/kv/octant-contract/x", params={"dc": "nowhere"})
    assert (response.status_code, response.text) == (500, "No path to datacenter")


def test_stale_with_consistent_is_400(consul):
    response = consul.get("/v1/kv/octant-contract/x", params={"stale": "", "consistent": ""})
    assert response.status_code == 400
    assert response.text == "Cannot specify ?stale with ?consistent, conflicting semantics."


def test_an_unknown_path_is_an_empty_404(consul):
    response = consul.get("/v1/no-such-endpoint")
    assert (response.status_code, response.content) == (404, b"")


@pytest.mark.simulator_only
def test_state_survives_a_restart_with_a_state_file(tmp_path):
    state = tmp_path / "lab.json"
    with LabProcess(state=state) as lab:
        consul = requests.Session()
        assert consul.put(f"{lab.consul_addr}/v1/kv/persist/me", data="kept").json() is True
        session_id = consul.put(f"{lab.consul_addr}/v1/session/create", json={"TTL": "30s"}).json()["ID"]
        consul.put(f"{lab.consul_addr}/v1/kv/persist/lock", params={"acquire": session_id})
        consul.put(f"{lab.consul_addr}/v1/agent/service/register", json={"Name": "kept", "Port": 1})
        index = int(consul.get(f"{lab.consul_addr}/v1/kv/persist/me").headers["X-Consul-Index"])
    with LabProcess(state=state) as lab:
        again = requests.get(f"{lab.consul_addr}/v1/kv/persist/me")
        assert int(again.headers["X-Consul-Index"]) == index
        assert again.json() == [{"LockIndex": 0, "Key": "persist/me", "Flags": 0, "Value": "a2VwdA==",
                                 "CreateIndex": index, "ModifyIndex": index}]
        assert requests.get(f"{lab.consul_addr}/v1/kv/persist/lock").json()[0]["Session"] == session_id
        assert "kept" in requests.get(f"{lab.consul_addr}/v1/agent/services").json()
