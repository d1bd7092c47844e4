# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/phase3.yml end to end (phase 2 + roles/bus + the go/no-go measurement): a real
`ansible-playbook -i inventory/lab` from the repository root against the lab simulator with ACLs on
(the management token as NOMAD_TOKEN / CONSUL_HTTP_TOKEN), 1Password replaced at Client.authenticate
only (the sitecustomize shim of test_onepassword_playbook.py), every lab host's data root in a
temporary folder. The tests run in file order and build on each other: first run, the policies
tried with the tokens it created, the variables, the job, the no-op re-run, the no-go path."""

from __future__ import annotations

import base64
import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from tests.integration.labfarm import Farm, Run
from tools.testsupport.labclient import live_mode

pytestmark = pytest.mark.skipif(live_mode(), reason="runs the farm against the lab simulator only")

ROOT = Path(__file__).resolve().parents[2]
ACL = "7d3c9b2e-1f4a-4e6b-8c5d-0a9e8f7b6c51"
OP_TOKEN = "ops_bus-role-test-8e2d4b"
SECRETS = {
    "op://OctantLab/openclaw-gateway/token": "gwtok-Bus7Lq2Xw",
    "op://OctantLab/litellm/master-key": "sk-litellm-Bus3Np8",
    "op://OctantLab/anthropic/api-key": "sk-ant-api03-Bus5Tc",
    "op://OctantLab/openclaw-slack/bot-token": "xoxb-1-Bus9bot1",
    "op://OctantLab/openclaw-slack/app-token": "xapp-1-Bus4app6",
    "op://OctantLab/openclaw-discord/bot-token": "dsc-Bus2-Mn7",
    "op://OctantLab/zai/api-key": "zai-unused-Bus0",
    # the alert watcher's Apprise URLs (farm_alerts.urls): secrets like the others
    "op://OctantLab/alerts/ntfy-url": "ntfys://ntfy.example.net/Alerts-Topic-Bus6Hv",
    "op://OctantLab/alerts/slack-url": "slack://TBus1/BBus2/Cbus3xoxwebhook/#alerts",
}
ALERTS = {"enabled": True, "grace_seconds": 30, "rate_limit": 12,
          "urls": {"ntfy": "op://OctantLab/alerts/ntfy-url", "owner_slack": "op://OctantLab/alerts/slack-url"}}
ALERT_URLS = " ".join(SECRETS[ALERTS["urls"][name]] for name in sorted(ALERTS["urls"]))
AGENTS = ("jerry", "bobby", "billy")
BUS_JOB = "openclaw-bus-jerry"
BUS_VAR = f"nomad/jobs/{BUS_JOB}"
GATEWAY_BUS_VAR = "nomad/jobs/openclaw-main/gateway/gateway"
WATCH_VAR = f"{BUS_VAR}/bus/watch"
# Small bench sizes: the test asserts the mechanics (report, verdict, failure path), not the numbers.
BENCH = {"messages": 300, "rate": 300, "baseline_messages": 10, "baseline_window": 6}


class BusRun(Run):
    def writes(self, bench=False):
        """Writes to Nomad and Consul (plans are reads); the bench's own throwaway prefix apart."""
        rows = super().writes()
        is_bench = [("openclaw-bench" in path) or path.startswith(("/v1/txn", "/v1/session")) for _s, _m, path in rows]
        return [row for row, b in zip(rows, is_bench, strict=True) if b == bench]

    def summary(self):
        return f"{super().summary()} bench-writes={len(self.writes(bench=True))}"


class BusFarm(Farm):
    """The phase 2 harness running playbooks/phase3.yml, with the bench's settings and report."""

    playbook = "playbooks/phase3.yml"
    run_class = BusRun
    timeout = 900

    def __init__(self, base):
        super().__init__(base, ACL, OP_TOKEN, SECRETS)
        self.report = base / "reports" / "bench.json"

    def variables(self):
        return dict(super().variables(), farm_bus={"enabled": True}, farm_alerts=ALERTS,
                    bus_bench_report=str(self.report),
                    bus_package_target=str(self.base / "openclaw-bus"),
                    bus_bench_lab_admin=self.lab.admin_addr, bus_bench_settings=BENCH)

    def secret_values(self):
        """Every credential the bus role made, read back with the management token."""
        values = set(SECRETS.values())
        for path in (BUS_VAR, GATEWAY_BUS_VAR, WATCH_VAR):
            response = self.nomad.get(f"/v1/var/{path}")
            if response.status_code == 200:  # an AccessorID is not a secret (results show it)
                values.update(v for k, v in response.json()["Items"].items() if not k.endswith("_ACCESSOR"))
        for token in self.consul.get("/v1/acl/tokens").json():
            detail = self.consul.get(f"/v1/acl/token/{token['AccessorID']}").json()
            if detail.get("SecretID"):
                values.add(detail["SecretID"])
        return values


@pytest.fixture(scope="module")
def farm(tmp_path_factory, collection_tarball):  # the tarball's build step puts the bus wheel in roles/bus
    farm = BusFarm(tmp_path_factory.mktemp("phase3")).start()
    yield farm
    farm.lab.stop()
    farm.print_runs("phase3 (writes outside the bench)")


def kv_put(consul, key, token, value="x"):
    return consul.put(f"/v1/kv/{key}", token=token, data=value)


def agent_token(farm, agent):
    return farm.nomad.get(f"/v1/var/{BUS_VAR}").json()["Items"][f"BUS_CONSUL_TOKEN_{agent.upper()}"]


# ------------------------------------------------------------------------------------------------


def test_check_mode_on_a_fresh_lab_writes_nothing(farm):
    run = farm.run("--check", "--diff")
    assert run.recap["failed"] == 0 and run.recap["changed"] > 0
    assert run.writes() == [] and run.writes(bench=True) == []
    assert farm.nomad.get(f"/v1/job/{BUS_JOB}").status_code == 404
    assert not farm.report.exists()
    planned = [(r["service"], r["method"], r["path"]) for r in run.requests]
    assert ("nomad", "POST", f"/v1/job/{BUS_JOB}/plan") in planned


def test_first_run_deploys_the_bus_and_measures_go(farm):
    run = farm.run("-vvv")
    assert run.recap["failed"] == 0 and run.recap["changed"] > 0
    report = json.loads(farm.report.read_text())
    assert report["go"] is True, report["checks"]
    assert report["request_counts_from"]
    assert "bus measurement: GO" in run.result.stdout
    latency = report["latency"]
    print(f"\nbench on the lab: latency {json.dumps(latency)}; economy {json.dumps(report['economy'])}; "
          f"throughput {json.dumps(report['throughput'])}; baseline ratio {report.get('baseline_ratio')}")


def test_policies_exist_with_the_generated_rules(farm):
    from ansible_collections.octant.openclaw.plugins.module_utils import _bus_policies as bus_policies

    policies = {p["Name"]: p for p in farm.consul.get("/v1/acl/policies").json()}
    for agent in AGENTS:
        assert f"openclaw-bus-agent-{agent}" in policies
    assert "openclaw-bus-gateway-main" in policies
    jerry = farm.consul.get(f"/v1/acl/policy/{policies['openclaw-bus-agent-jerry']['ID']}").json()
    assert 'key_prefix "openclaw/bus/jerry/in/"' in jerry["Rules"]
    assert 'key_prefix "openclaw/bus/bobby/in/jerry/"' in jerry["Rules"]
    assert bus_policies.HEADER.split("{")[0] in jerry["Rules"]


def test_the_tokens_deny_what_they_must(farm):
    jerry, bobby, billy = (agent_token(farm, a) for a in AGENTS)
    consul = farm.consul
    # allowed: each writes into bobby's inbox under its own name; bobby reads its whole inbox
    assert kv_put(consul, "openclaw/bus/bobby/in/jerry/000000000001", jerry).status_code == 200
    assert kv_put(consul, "openclaw/bus/bobby/in/billy/000000000001", billy).status_code == 200
    own = consul.get("/v1/kv/openclaw/bus/bobby/in/", params={"recurse": ""}, token=bobby)
    assert sorted(e["Key"] for e in own.json()) == ["openclaw/bus/bobby/in/billy/000000000001",
                                                    "openclaw/bus/bobby/in/jerry/000000000001"]
    # denied: writing as another sender (jerry as billy) and reading another agent's inbox
    assert kv_put(consul, "openclaw/bus/bobby/in/billy/000000000002", jerry).status_code == 403
    assert consul.get("/v1/kv/openclaw/bus/bobby/in/billy/000000000001", token=jerry).status_code == 403
    listed = consul.get("/v1/kv/openclaw/bus/bobby/in/", params={"recurse": ""}, token=jerry)
    visible = [] if listed.status_code == 404 else [e["Key"] for e in listed.json()]
    assert visible == ["openclaw/bus/bobby/in/jerry/000000000001"], "only its own sent message is visible"
    assert consul.get("/v1/kv/openclaw/bus/bobby/hwm/billy", token=jerry).status_code == 403
    assert kv_put(consul, "openclaw/registry/agents/jerry", jerry).status_code == 403
    # the gateway token writes its registry keys and nothing of a mailbox
    gateway = farm.nomad.get(f"/v1/var/{BUS_VAR}").json()["Items"]["BUS_GATEWAY_CONSUL_TOKEN"]
    record = consul.get("/v1/kv/openclaw/registry/agents/jerry", params={"raw": ""}).content  # the agents role's
    assert kv_put(consul, "openclaw/registry/agents/jerry", gateway, "{}").status_code == 200
    assert kv_put(consul, "openclaw/bus/bobby/in/jerry/000000000002", gateway).status_code == 403
    assert consul.get("/v1/kv/openclaw/bus/bobby/in/jerry/000000000001", token=gateway).status_code == 403
    for key in ("openclaw/bus/bobby/in/jerry/000000000001", "openclaw/bus/bobby/in/billy/000000000001"):
        assert consul.delete(f"/v1/kv/{key}").status_code == 200
    assert kv_put(consul, "openclaw/registry/agents/jerry", farm.acl, record).status_code == 200


def test_the_variables_hold_the_credentials(farm):
    bus = farm.nomad.get(f"/v1/var/{BUS_VAR}").json()["Items"]
    expected = {f"BUS_CONSUL_TOKEN_{a.upper()}" for a in AGENTS} | {f"BUS_MCP_TOKEN_{a.upper()}" for a in AGENTS}
    accessors = {f"BUS_CONSUL_TOKEN_{a.upper()}_ACCESSOR" for a in AGENTS} | {"BUS_GATEWAY_CONSUL_TOKEN_ACCESSOR"}
    assert set(bus) == expected | accessors | {"BUS_GATEWAY_CONSUL_TOKEN", "OPENCLAW_GATEWAY_TOKEN"}
    for item in accessors:  # each AccessorID names the token whose SecretID is stored beside it
        token = farm.consul.get(f"/v1/acl/token/{bus[item]}").json()
        assert token["SecretID"] == bus[item.removesuffix("_ACCESSOR")]
    assert bus["OPENCLAW_GATEWAY_TOKEN"] == SECRETS["op://OctantLab/openclaw-gateway/token"]
    gateway = farm.nomad.get(f"/v1/var/{GATEWAY_BUS_VAR}").json()["Items"]
    assert set(gateway) == {f"BUS_MCP_TOKEN_{a.upper()}" for a in AGENTS}
    assert all(gateway[k] == bus[k] for k in gateway)
    assert len({gateway[k] for k in gateway}) == 3 and all(len(v) == 48 for v in gateway.values())
    # the secrets role's variable of the gateway is untouched by the bus
    items = farm.nomad.get("/v1/var/nomad/jobs/openclaw-main").json()["Items"]
    assert not [k for k in items if k.startswith("BUS_")]


def test_the_bus_job_has_the_expected_shape(farm):
    job = farm.nomad.get(f"/v1/job/{BUS_JOB}").json()
    assert {(c["LTarget"], c["RTarget"]) for c in job["Constraints"]} >= {("${node.unique.name}", "jerry"),
                                                                          ("${attr.driver.podman.rootless}", "true")}
    (group,) = job["TaskGroups"]
    (port,) = group["Networks"][0]["ReservedPorts"]
    assert (port["Label"], port["Value"], port["To"]) == ("mcp", 8765, 8765)
    assert group["EphemeralDisk"]["Sticky"] is True and group["EphemeralDisk"]["Migrate"] is True
    service, _watch_service = group["Services"]
    assert service["Name"] == BUS_JOB and service["Provider"] == "consul"
    assert "prometheus" in service["Tags"] and service["Meta"]["metrics_path"] == "/metrics"
    assert {c["Path"] for c in service["Checks"]} == {"/healthz", "/readyz"}
    task, _watch = group["Tasks"]
    assert task["Name"] == "bus" and task["Driver"] == "podman"
    assert task["Config"]["image"] == "localhost/openclaw-bus:0.1.0"
    config_tmpl, env_tmpl = task["Templates"]
    config = json.loads(config_tmpl["EmbeddedTmpl"])
    assert config["gateway"]["token"] == "env:OPENCLAW_GATEWAY_TOKEN"
    assert {a["id"] for a in config["agents"]} == set(AGENTS)
    assert all(a["mcp_token"].startswith("env:") and a["consul_token"].startswith("env:") for a in config["agents"])
    assert f'nomadVar "{BUS_VAR}"' in env_tmpl["EmbeddedTmpl"] and env_tmpl["Envvars"] is True
    assert "_ACCESSOR" not in env_tmpl["EmbeddedTmpl"]  # the template names its keys: no accessor in the env
    assert 'service "openclaw-main"' in env_tmpl["EmbeddedTmpl"]
    assert task["Consul"]["Cluster"] == "default", "its service template needs the task's Consul token"
    assert farm.nomad.get(f"/v1/job/{BUS_JOB}/deployment").json()["Status"] == "successful"
    # the rendered serve config is accepted by the bus package itself
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from openclaw_bus import config as bus_config
    finally:
        sys.path.remove(str(ROOT / "src"))
    env = {name: "x" for a in AGENTS for name in (f"BUS_CONSUL_TOKEN_{a.upper()}", f"BUS_MCP_TOKEN_{a.upper()}")}
    env.update(BUS_GATEWAY_CONSUL_TOKEN="x", OPENCLAW_GATEWAY_TOKEN="x", OPENCLAW_GATEWAY_URL="http://127.0.0.1:1")
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        path = farm.base / "bus.json"
        path.write_text(config_tmpl["EmbeddedTmpl"])
        loaded = bus_config.load(str(path))
        assert loaded.gateway == "main" and sorted(loaded.agents) == sorted(AGENTS)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_watcher_is_a_task_of_the_bus_job(farm):
    """farm_alerts: `openclaw-bus watch` next to the bus process, same image, its env from its own variable."""
    job = farm.nomad.get(f"/v1/job/{BUS_JOB}").json()
    (group,) = job["TaskGroups"]
    bus, watch = group["Tasks"]
    assert watch["Name"] == "watch" and watch["Driver"] == "podman" and not watch.get("Lifecycle")
    assert watch["Config"]["image"] == bus["Config"]["image"]
    assert watch["Config"]["args"] == ["watch", "--node", "jerry", "--token-env", "BUS_WATCH_CONSUL_TOKEN",
                                       "--grace", "30", "--rate-limit", "12", "--metrics-port", "9108"]
    # its /metrics: a dynamic host port to the container's 9108, a Consul service Prometheus SD picks up
    assert watch["Config"]["ports"] == ["watch_metrics"]
    (metrics_port,) = group["Networks"][0]["DynamicPorts"]
    assert (metrics_port["Label"], metrics_port["To"]) == ("watch_metrics", 9108)
    (service,) = [s for s in group["Services"] if s["Name"] == "openclaw-bus-watch-jerry"]
    assert service["Provider"] == "consul" and service["PortLabel"] == "watch_metrics" and not service["Checks"]
    assert "prometheus" in service["Tags"] and service["Meta"] == {"openclaw_node": "jerry", "metrics_path": "/metrics"}
    assert watch["Env"] == {"CONSUL_HTTP_ADDR": "http://consul.service.consul:8500"}
    (env_tmpl,) = watch["Templates"]
    assert env_tmpl["Envvars"] is True and env_tmpl["ErrMissingKey"] is True
    assert env_tmpl["DestPath"].startswith("secrets/")
    assert env_tmpl["EmbeddedTmpl"] == (f'[[ with nomadVar "{WATCH_VAR}" ]]\n'
                                        "BUS_WATCH_CONSUL_TOKEN=[[ .BUS_WATCH_CONSUL_TOKEN.Value | toJSON ]]\n"
                                        "OPENCLAW_ALERT_URLS=[[ .OPENCLAW_ALERT_URLS.Value | toJSON ]]\n[[ end ]]\n")
    assert not watch.get("Consul"), "its template calls no Consul function"
    assert (watch["Resources"]["CPU"], watch["Resources"]["MemoryMB"]) == (100, 128)
    # the watcher's variable is its own (task level): the bus task's variable holds none of it
    items = farm.nomad.get(f"/v1/var/{WATCH_VAR}").json()["Items"]
    # with its token's accessor beside it (consul_acl_token reads the token by it instead of listing tokens)
    assert set(items) == {"BUS_WATCH_CONSUL_TOKEN", "BUS_WATCH_CONSUL_TOKEN_ACCESSOR", "OPENCLAW_ALERT_URLS"}
    assert items["OPENCLAW_ALERT_URLS"] == ALERT_URLS
    bus_items = farm.nomad.get(f"/v1/var/{BUS_VAR}").json()["Items"]
    assert not {"BUS_WATCH_CONSUL_TOKEN", "OPENCLAW_ALERT_URLS"} & set(bus_items)


def test_the_watcher_token_has_exactly_its_rights(farm):
    from ansible_collections.octant.openclaw.plugins.module_utils import _bus_policies as bus_policies

    policies = {p["Name"]: p for p in farm.consul.get("/v1/acl/policies").json()}
    policy = farm.consul.get(f"/v1/acl/policy/{policies['openclaw-bus-watch-jerry']['ID']}").json()
    assert policy["Rules"] == bus_policies.watcher_rules("jerry")
    token = farm.nomad.get(f"/v1/var/{WATCH_VAR}").json()["Items"]["BUS_WATCH_CONSUL_TOKEN"]
    uuid.UUID(token)
    consul = farm.consul
    # allowed: the health query it blocks on, its lock and incidents, a session on its own node
    seen = consul.get("/v1/health/state/any", token=token)
    everything = consul.get("/v1/health/state/any").json()  # the management token
    assert seen.status_code == 200
    assert seen.json() == [c for c in everything if not c["ServiceName"] or c["ServiceName"].startswith("openclaw-")]
    assert ("jerry", "serfHealth") in {(c["Node"], c["CheckID"]) for c in seen.json()}
    assert kv_put(consul, "openclaw/watch/incidents/probe", token).status_code == 200
    assert consul.delete("/v1/kv/openclaw/watch/incidents/probe", token=token).status_code == 200
    session = consul.put("/v1/session/create", token=token, data=json.dumps({"Node": "jerry", "TTL": "10s"}))
    assert session.status_code == 200
    assert consul.put(f"/v1/session/destroy/{session.json()['ID']}", token=token).status_code == 200
    # denied: the mailboxes, the registry, a session on another node, any other KV
    assert kv_put(consul, "openclaw/bus/jerry/in/bobby/000000000001", token).status_code == 403
    assert consul.get("/v1/kv/openclaw/registry/agents/jerry", token=token).status_code == 403
    assert kv_put(consul, "openclaw/registry/gateways/main", token).status_code == 403
    assert kv_put(consul, "openclaw/other", token).status_code == 403
    other = consul.put("/v1/session/create", token=token, data=json.dumps({"Node": "bobby", "TTL": "10s"}))
    assert other.status_code == 403


def test_the_gateway_config_has_the_bus_servers(farm):
    config = json.loads((farm.data / "openclaw" / "main" / "config" / "openclaw.json").read_text())
    servers = config["mcp"]["servers"]
    assert sorted(servers) == ["bus_billy", "bus_bobby", "bus_jerry"]
    assert servers["bus_jerry"]["headers"]["Authorization"] == "Bearer ${BUS_MCP_TOKEN_JERRY}"
    assert servers["bus_jerry"]["url"] == "http://openclaw-bus-jerry.service.consul:8765/mcp"
    tools = config["agents"]["entries"]["jerry"]["tools"]
    assert tools["alsoAllow"] == ["bus_jerry__*"] and tools["deny"] == ["bus_billy__*", "bus_bobby__*"]


def test_a_second_run_changes_and_writes_nothing(farm):
    before = {path: farm.nomad.get(f"/v1/var/{path}").json()["Items"] for path in (BUS_VAR, GATEWAY_BUS_VAR, WATCH_VAR)}
    run = farm.run("-vvv")
    assert run.recap["changed"] == 0, run.result.stdout[-6000:]
    assert run.writes() == [], run.writes()
    assert not [r for r in run.requests if r["path"] == "/v1/acl/tokens"], "tokens are read by their accessor"
    after = {path: farm.nomad.get(f"/v1/var/{path}").json()["Items"] for path in (BUS_VAR, GATEWAY_BUS_VAR, WATCH_VAR)}
    assert after == before, "a re-run must not rotate any credential"
    counts = {}
    for r in run.requests:
        if "openclaw-bench" not in r["path"] and not r["path"].startswith(("/v1/txn", "/v1/session")):
            key = f"{r['service']} {r['method']} {r['path']}"
            counts[key] = counts.get(key, 0) + 1
    print(f"\nno-op re-run: {run.seconds:.1f} s, {sum(counts.values())} requests outside the bench "
          f"(+{len(run.requests) - sum(counts.values())} of the bench): {json.dumps(counts, indent=1)}")


def test_no_go_fails_the_play_unless_allowed(farm):
    impossible = {"bus_bench_thresholds": {"max_p50_ms": 0.0001}}
    failed = farm.run("--tags", "bench", extra=impossible, check=False)
    assert failed.result.returncode != 0
    assert "The bus measurement is NO-GO" in failed.result.stdout and "latency p50" in failed.result.stdout
    assert json.loads(farm.report.read_text())["go"] is False
    allowed = farm.run("--tags", "bench", extra={**impossible, "bus_allow_no_go": True})
    assert "NO-GO (accepted: bus_allow_no_go)" in allowed.result.stdout


def test_the_homelab_inventory_plans_cleanly_against_the_lab(farm, tmp_path):
    """inventory/homelab's bus (its datacenter, DNS, policies) planned in check mode by the strict simulator:
    the bus role alone (--tags bus; preflight always runs), so the gateway's node-side checks stay out."""
    home = tmp_path / "homelab-data"
    run = farm.run("--check", "--diff", "--tags", "bus", inventory="inventory/homelab", extra={
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "openclaw_nomad_address": farm.lab.nomad_addr, "openclaw_consul_address": farm.lab.consul_addr,
        "openclaw_consul_datacenter": "dc1", "openclaw_data_root": str(home),
        "data_root_fact_file": str(home / "facts.d" / "octant_openclaw.fact"), "preflight_check_litellm": False})
    assert run.recap["failed"] == 0
    assert run.writes() == [] and run.writes(bench=True) == []
    planned = [(r["service"], r["method"], r["path"]) for r in run.requests]
    assert ("nomad", "POST", f"/v1/job/{BUS_JOB}/plan") in planned
    assert not home.exists()


def test_no_credential_in_any_output(farm):
    values = farm.secret_values()
    assert len(values) > len(SECRETS) + 6
    for run in farm.runs:
        for value in values:
            assert value not in run.output, f"a credential appears in the output of phase3 {' '.join(run.args)}"
    job = farm.nomad.get(f"/v1/job/{BUS_JOB}/versions").text
    for value in values:
        assert value not in job, "a credential appears in the bus job"
    kv = farm.consul.get("/v1/kv/", params={"recurse": ""}).json()
    stored = [base64.b64decode(entry["Value"] or "").decode("utf-8", "replace") + entry["Key"] for entry in kv]
    for value in values:
        assert not [text for text in stored if value in text], "a credential appears in Consul KV"
    urls = [SECRETS[ref] for ref in ALERTS["urls"].values()]
    assert all(url in values for url in urls) and ALERT_URLS in values, "the search covered the alert URLs"
    for part in (url.split("://", 1)[1] for url in urls):  # not even without the scheme
        assert part not in job and all(part not in text for text in stored)
        assert all(part not in run.output for run in farm.runs)
    uuid.UUID(agent_token(farm, "jerry"))  # SecretIDs are UUIDs: the search above had real values
