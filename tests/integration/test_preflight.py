"""The preflight role, run by ansible-playbook against the lab simulator (inventory/lab).

- Broken farm models (extra-vars overrides of the lab's group_vars) fail the play on the
  controller with one message listing every problem (path, what, fix); no later task or play runs,
  and the simulator's request log shows zero writes (PUT/POST/DELETE).
- Unreachable or unready services (Nomad, Consul, a node, its podman driver, LiteLLM) fail the same
  way; a correct model passes with exactly four reads and publishes openclaw_farm.

The broken models run concurrently (each is its own ansible-playbook); "zero writes during the
whole batch" is then "zero writes for each". A positive control shows the log does count writes."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import own_lab
from tools.testsupport.labclient import Api, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "5b0f6c1e-2a7d-4c3b-9e8f-1d2c3b4a5f60"
WRITES = ("PUT", "POST", "DELETE", "PATCH")
MARKER = "PREFLIGHT-PASSED-MARKER"
LITELLM_KEY = "test-litellm-key-not-a-secret"
PLAYBOOK = f"""---
- name: Preflight
  hosts: all
  gather_facts: false
  roles:
    - octant.openclaw.preflight

- name: What runs after preflight
  hosts: all
  gather_facts: false
  tasks:
    - name: Report the published model
      ansible.builtin.debug:
        msg: >-
          {MARKER} {{{{ inventory_hostname }}}} {{{{ openclaw_farm.farm_gateways | map(attribute='port') | list }}}}
"""


def lab_model():
    """The lab's farm model as plain data (its LiteLLM URL template replaced by the default)."""
    text = (ROOT / "inventory" / "lab" / "group_vars" / "all" / "farm.yml").read_text(encoding="utf-8")
    text = re.sub(r"\{\{ lookup\('ansible.builtin.env', '[A-Z_]+', default='(\d+)'\) \}\}", r"\1", text)
    data = yaml.safe_load(text)
    return {key: value for key, value in data.items() if key == "openclaw_version" or key.startswith("farm_")}


BASE = lab_model()


def edge(m, node="bobby", port=18789):
    m["farm_gateways"].append({"name": "edge", "node": node, "port": port,
                               "image": "ghcr.io/openclaw/openclaw:2026.9.6"})
    m["farm_agents"].append({"id": "ops", "name": "Ops", "gateway": "edge", "model": {"primary": "litellm/glm-4.6"}})


def _set(path, value):
    def mutate(m):
        node = m
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _chain(*steps):
    def mutate(m):
        for step in steps:
            step(m)
    return mutate


# name -> (mutation of the model, extra non-model vars, expected [(path, msg)])
CASES = {
    "unknown_gateway": (_set(("farm_agents", 1, "gateway"), "mian"), {}, [
        ("farm_agents[1].gateway", "unknown gateway 'mian' (gateways: main)")]),
    "duplicate_agent_id": (lambda m: m["farm_agents"].append(copy.deepcopy(m["farm_agents"][2])), {}, [
        ("farm_agents[3].id", "duplicate agent id 'billy' (also farm_agents[2])")]),
    "invalid_agent_id": (_set(("farm_agents", 2, "id"), "Billy!"), {}, [
        ("farm_agents[2].id", "'Billy!' is not a valid OpenClaw agent id"),
        ("farm_agents[0].may_message[1]", "unknown agent 'billy' (agents: Billy!, bobby, jerry)"),
        ("farm_agents[0].may_spawn[1]", "unknown agent 'billy' (agents: Billy!, bobby, jerry)"),
        ("farm_agents[1].may_message[1]", "unknown agent 'billy' (agents: Billy!, bobby, jerry)")]),
    "gateway_on_unknown_node": (_set(("farm_gateways", 0, "node"), "jery"), {}, [
        ("farm_gateways[0].node", "node 'jery' is not in the inventory (groups homelab, workstations: billy, bobby, "
                                  "jerry, macbook)")]),
    "binding_unknown_agent": (_set(("farm_channels", 0, "bindings", 0, "agent"), "jery"), {}, [
        ("farm_channels[0].bindings[0].agent", "unknown agent 'jery' (agents: billy, bobby, jerry)")]),
    "binding_other_gateway": (_chain(edge, lambda m: m["farm_channels"][1]["bindings"].append({"agent": "ops",
                                                                                                "guild": "42"})), {}, [
        ("farm_channels[1].bindings[2].agent", "agent 'ops' runs on gateway 'edge', but this discord account is "
                                               "owned by gateway 'main'; a binding only reaches agents of the owning "
                                               "gateway")]),
    "two_gateways_own_one_account": (_chain(edge, lambda m: m["farm_channels"].append(
        {"kind": "whatsapp", "gateway": "edge", "dm_policy": "pairing", "bindings": [{"agent": "ops"}]})), {}, [
        ("farm_channels[3].gateway", "whatsapp account 'default' is already owned by gateway 'main' "
                                     "(farm_channels[2]); one account connects to one gateway only")]),
    "port_clash": (lambda m: edge(m, node="jerry", port=18800), {}, [
        ("farm_gateways[1].port", "ports of gateway 'edge' (18800..18910, bridge 18790) overlap those of gateway "
                                  "'main' (farm_gateways[0]: 18789..18899, bridge 18790) on node 'jerry'")]),
    "model_no_provider_offers": (_set(("farm_agents", 0, "model", "fallbacks"), ["anthropic/claude-opus-9"]), {}, [
        ("farm_agents[0].model.fallbacks[0]", "provider 'anthropic' does not offer model 'claude-opus-9' (it offers: "
                                              "claude-sonnet-4-5)")]),
    "plaintext_secret": (_set(("farm_model_providers", "litellm", "api_key"), "sk-live-plaintext-4242"), {}, [
        ("farm_model_providers.litellm.api_key", "is not an op:// reference; secrets must never be written into "
                                                 "the model")]),
    "op_reference_syntax": (_set(("farm_channels", 1, "secrets", "token"), "op://OctantLab//bot-token"), {}, [
        ("farm_channels[1].secrets.token", "op:// reference op://<9 chars>/<empty>/<9 chars> has an empty vault, item, "
                                           "section or field name")]),
    "dm_open_needs_star": (_set(("farm_channels", 0, "dm_policy"), "open"), {}, [
        ("farm_channels[0].allow_from", 'dm_policy "open" needs allow_from ["*"]; without it OpenClaw drops every '
                                        "direct message")]),
    "dm_policy_enum": (_set(("farm_channels", 2, "dm_policy"), "friends"), {}, [
        ("farm_channels[2].dm_policy", "'friends' is not one of: allowlist, disabled, open, pairing")]),
    "gateway_name": (lambda m: [entry.update(gateway="main_gw") for entry in m["farm_agents"] + m["farm_channels"]]
                     and m["farm_gateways"][0].update(name="main_gw"), {}, [
        ("farm_gateways[0].name", "'main_gw' cannot name a Nomad job and Consul service ('openclaw-main_gw' must be "
                                  "a DNS label)")]),
    "image_tag": (_set(("farm_gateways", 0, "image"), "ghcr.io/openclaw/openclaw:latest"), {}, [
        ("farm_gateways[0].image", "image tag 'latest' does not match openclaw_version '2026.9.6' (the config, "
                                   "meta.lastTouchedVersion and the channel plugins are rendered for 2026.9.6)")]),
    "retired_workspace_file": (_set(("farm_agents", 1, "workspace_files"), ["AGENTS.md", "HEARTBEAT.md"]), {}, [
        ("farm_agents[1].workspace_files[1]", "HEARTBEAT.md is retired in OpenClaw 2026.9: new workspaces do not get "
                                              "it and the gateway no longer reads it (heartbeat instructions live in "
                                              "the heartbeat monitor)")]),
    "heartbeat_cron": (_set(("farm_agents", 1, "heartbeat", "every"), "*/30 * * * *"), {}, [
        ("farm_agents[1].heartbeat.every", "'*/30 * * * *' is not an OpenClaw duration (cron syntax is not "
                                           "supported: OpenClaw schedules heartbeats by interval)")]),
    "missing_gateway_token": (_set(("farm_secrets",), {}), {}, [
        ("farm_secrets.OPENCLAW_GATEWAY_TOKEN", "is missing: gateway 'main' authenticates clients with the token in "
                                                "OPENCLAW_GATEWAY_TOKEN")]),
    "unknown_key": (lambda m: m["farm_agents"][0].update(may_mesage=m["farm_agents"][0].pop("may_message")), {}, [
        ("farm_agents[0].may_mesage", 'unknown key "may_mesage"')]),
    "misspelt_variable": (lambda m: None, {"farm_agnets": []}, [
        ("farm_agnets", "unknown farm variable (the farm_ prefix is reserved for the farm model)")]),
    "wrong_type": (_set(("farm_gateways", 0, "resources", "memory"), "2GB"), {}, [
        ("farm_gateways[0].resources.memory", "must be a whole number, got a string")]),
    "missing_agents": (_set(("farm_agents",), None), {}, [
        ("farm_agents", "is required")]),
    "channel_secrets": (_set(("farm_channels", 0, "secrets"), {"bot_token": "op://OctantLab/slack/bot"}), {}, [
        ("farm_channels[0].secrets.app_token", "is required for slack")]),
    "self_message": (_set(("farm_agents", 2, "may_message"), ["billy", "jerry"]), {}, [
        ("farm_agents[2].may_message[0]", "agent 'billy' names itself")]),
}


class LiteLLMStub:
    """GET /v1/models like a LiteLLM proxy with a master key: 401 without the key."""

    def __init__(self, models):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                stub.requests.append((self.command, self.path))
                if self.path != "/v1/models":
                    return self._reply(404, {"error": "not found"})
                if self.headers.get("Authorization") != f"Bearer {LITELLM_KEY}":
                    return self._reply(401, {"error": {"message": "Authentication Error, No api key passed in."}})
                return self._reply(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})

            def _reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.requests = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


lab, admin = own_lab(TOKEN)


@pytest.fixture(scope="module")
def playbook(tmp_path_factory):
    path = tmp_path_factory.mktemp("preflight") / "preflight.yml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return path


def run_preflight(lab, playbook, overrides=None, env=None, args=()):
    """ansible-playbook -i inventory/lab <playbook> [-e @overrides]: (completed process, failure result or None)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("LAB_LITELLM_PORT", "NOMAD_ADDR", "CONSUL_HTTP_ADDR")}
    full_env.update(LAB_NOMAD_PORT=str(lab.nomad_port), LAB_CONSUL_PORT=str(lab.consul_port), NOMAD_TOKEN=TOKEN,
                    CONSUL_HTTP_TOKEN=TOKEN, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                    ANSIBLE_CALLBACK_RESULT_FORMAT="json", PATH=f"{BIN}:{os.environ['PATH']}")
    full_env.update(env or {})
    command = [str(BIN / "ansible-playbook"), "-i", "inventory/lab", str(playbook), *args]
    if overrides is not None:
        vars_file = playbook.parent / f"vars-{uuid.uuid4().hex}.json"
        vars_file.write_text(json.dumps(overrides), encoding="utf-8")
        command += ["-e", f"@{vars_file}"]
    result = subprocess.run(command, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=300)
    failure = None
    marker = re.search(r"^fatal: \[[^\]]+\]: FAILED! => ", result.stdout, re.M)
    if marker:
        failure, _ = json.JSONDecoder().raw_decode(result.stdout, marker.end())
    return result, failure


def overrides_for(name):
    mutate, extra, _ = CASES[name]
    model = copy.deepcopy(BASE)
    mutate(model)
    changed = {key: value for key, value in model.items() if BASE.get(key) != value}
    changed.update(extra)
    return changed


def assert_failed_with(result, failure, expected):
    assert result.returncode == 2, f"{result.stdout}\n{result.stderr}"
    assert failure is not None, result.stdout
    assert MARKER not in result.stdout, "a task after preflight ran"
    pairs = [(p["path"], p["msg"]) for p in failure["problems"]]
    assert sorted(pairs) == sorted(expected)
    msg = failure["msg"]
    noun = "problem" if len(expected) == 1 else "problems"
    assert msg.startswith(f"The farm model has {len(expected)} {noun}; nothing was changed.\n")
    for problem in failure["problems"]:
        assert f"\n- {problem['path']}: {problem['msg']}. Fix: {problem['fix']}." in msg


def writes(rows):
    return [r for r in rows if r["method"] in WRITES]


# Broken models run through ansible-playbook concurrently, once per module.
@pytest.fixture(scope="module")
def broken_runs(lab, admin, playbook):
    since = admin.last_seq()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_preflight, lab, playbook, overrides_for(name)) for name in CASES}
        results = {name: future.result() for name, future in futures.items()}
    return results, admin.requests(since=since)


def _reachability(lab, admin, playbook, overrides=None, env=None):
    since = admin.last_seq()
    result, failure = run_preflight(lab, playbook, overrides, env)
    assert writes(admin.requests(since=since)) == []
    return result, failure


class TestFarmPreflight:
    """Every test here is a preflight test of the farm model (the class name keeps them selected by
    `pytest -k "farm or openclaw"`)."""

    def test_at_least_twenty_distinct_broken_models(self):
        assert len(CASES) >= 20
        assert len({json.dumps(overrides_for(name), sort_keys=True) for name in CASES}) == len(CASES)

    @pytest.mark.parametrize("name", sorted(CASES))
    def test_broken_model_fails_before_any_change(self, broken_runs, name):
        results, _ = broken_runs
        result, failure = results[name]
        assert_failed_with(result, failure, CASES[name][2])

    def test_broken_models_made_zero_writes(self, broken_runs):
        _, rows = broken_runs
        assert writes(rows) == []
        # The reachability checks did run (reads only), so the log was live during the batch.
        assert {(r["service"], r["method"], r["path"]) for r in rows} >= {
            ("nomad", "GET", "/v1/status/leader"), ("consul", "GET", "/v1/status/leader"),
            ("nomad", "GET", "/v1/nodes")}

    def test_plaintext_secret_is_masked_even_with_vvv(self, lab, playbook):
        result, failure = run_preflight(lab, playbook, overrides_for("plaintext_secret"), args=("-vvv",))
        assert failure is not None
        assert "sk-live-plaintext-4242" not in result.stdout + result.stderr
        assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in result.stdout

    def test_the_request_log_counts_writes(self, lab, admin):
        """Positive control: a write is visible in the log the zero-write assertions read."""
        since = admin.last_seq()
        consul = Api(lab.consul_addr, TOKEN, "X-Consul-Token")
        assert consul.put("/v1/kv/preflight-test/control", data=b"1").status_code == 200
        assert consul.delete("/v1/kv/preflight-test/control").status_code == 200
        assert [r["method"] for r in writes(admin.requests(since=since))] == ["PUT", "DELETE"]

    def test_correct_model_passes_with_four_reads(self, lab, admin, playbook):
        since = admin.last_seq()
        result, failure = run_preflight(lab, playbook)
        assert result.returncode == 0 and failure is None, result.stdout
        assert result.stdout.count(MARKER) == 4, "every host sees openclaw_farm"
        assert "[18789]" in result.stdout
        rows = admin.requests(since=since)
        node_id = next(r["path"] for r in rows if r["path"].startswith("/v1/node/"))
        assert [(r["service"], r["method"], r["path"]) for r in rows] == [
            ("nomad", "GET", "/v1/status/leader"), ("nomad", "GET", "/v1/nodes"), ("nomad", "GET", node_id),
            ("consul", "GET", "/v1/status/leader")]

    def test_nomad_down(self, lab, admin, playbook):
        admin.service("nomad", False)
        try:
            result, failure = _reachability(lab, admin, playbook)
        finally:
            admin.service("nomad", True)
        assert result.returncode == 2 and failure is not None and MARKER not in result.stdout
        [problem] = failure["problems"]
        assert problem["path"] == "openclaw_nomad_address"
        assert problem["msg"].startswith(f"Nomad at {lab.nomad_addr} is not usable: Nomad GET /v1/status/leader failed "
                                         f"(no response)")
        assert problem["fix"] == ("start Nomad or point openclaw_nomad_address (NOMAD_ADDR / NOMAD_TOKEN) at it")
        assert failure["checks"]["nomad"] == "unreachable" and failure["checks"]["consul"].startswith("leader ")

    def test_consul_down(self, lab, admin, playbook):
        admin.service("consul", False)
        try:
            result, failure = _reachability(lab, admin, playbook)
        finally:
            admin.service("consul", True)
        [problem] = failure["problems"]
        assert problem["path"] == "openclaw_consul_address"
        assert problem["msg"].startswith(f"Consul at {lab.consul_addr} is not usable: Consul GET /v1/status/leader "
                                         f"failed (no response)")

    def test_node_down(self, lab, admin, playbook):
        admin.node("jerry", False)
        try:
            result, failure = _reachability(lab, admin, playbook)
        finally:
            admin.node("jerry", True)
        assert [(p["path"], p["msg"]) for p in failure["problems"]] == [
            ("farm_gateways[0].node", "Nomad node 'jerry' is down, not ready")]

    def test_podman_driver_unhealthy(self, lab, admin, playbook):
        nomad = Api(lab.nomad_addr, TOKEN, "X-Nomad-Token")
        stub = next(n for n in nomad.get("/v1/nodes").json() if n["Name"] == "jerry")
        node = nomad.get(f"/v1/node/{stub['ID']}").json()
        node["Drivers"]["podman"].update(Healthy=False, HealthDescription="failed to connect to the podman socket")
        admin.fault(f"/v1/node/{stub['ID']}", status=200, count=1, service="nomad", method="GET", body=json.dumps(node))
        result, failure = _reachability(lab, admin, playbook)
        assert [(p["path"], p["msg"]) for p in failure["problems"]] == [
            ("farm_gateways[0].node", "the podman driver on Nomad node 'jerry' is unhealthy: failed to connect to the "
                                      "podman socket")]

    @pytest.mark.parametrize("rootless", ["false", None], ids=["rootful", "unset"])
    def test_node_that_does_not_meet_the_jobs_constraints(self, lab, admin, playbook, rootless):
        """The jobs' placement constraints (farm_model.PLACEMENT), checked on the node's own attributes."""
        nomad = Api(lab.nomad_addr, TOKEN, "X-Nomad-Token")
        stub = next(n for n in nomad.get("/v1/nodes").json() if n["Name"] == "jerry")
        node = nomad.get(f"/v1/node/{stub['ID']}").json()
        for attributes in (node["Attributes"], node["Drivers"]["podman"]["Attributes"]):
            attributes.pop("driver.podman.rootless")
            if rootless is not None:
                attributes["driver.podman.rootless"] = rootless
        admin.fault(f"/v1/node/{stub['ID']}", status=200, count=1, service="nomad", method="GET", body=json.dumps(node))
        result, failure = _reachability(lab, admin, playbook)
        have = "'false'" if rootless else "not set"
        [problem] = failure["problems"]
        assert (problem["path"], problem["msg"]) == (
            "farm_gateways[0].node",
            f"Nomad node 'jerry' does not meet the jobs' constraint ${{attr.driver.podman.rootless}} = true "
            f"(it has: {have})")
        assert "the podman driver of jerry" in problem["fix"] and "rootless podman socket" in problem["fix"]

    def test_gateway_on_a_host_that_is_no_nomad_client(self, lab, admin, playbook):
        overrides = {"farm_gateways": [dict(BASE["farm_gateways"][0], node="macbook")],
                     "preflight_nomad_client_group": "all"}
        result, failure = _reachability(lab, admin, playbook, overrides)
        assert [(p["path"], p["msg"]) for p in failure["problems"]] == [
            ("farm_gateways[0].node", "'macbook' is not a Nomad client (Nomad knows: billy, bobby, jerry)")]

    def test_workstation_gateway_skips_the_node_check(self, lab, admin, playbook):
        overrides = {"farm_gateways": [dict(BASE["farm_gateways"][0], node="macbook")]}
        result, failure = _reachability(lab, admin, playbook, overrides)
        assert result.returncode == 0 and failure is None, result.stdout

    def test_litellm_unreachable(self, lab, admin, playbook):
        port = free_port()
        result, failure = _reachability(lab, admin, playbook, env={"LAB_LITELLM_PORT": str(port)})
        assert [(p["path"], p["msg"]) for p in failure["problems"]] == [
            ("farm_model_providers.litellm.base_url",
             f"LiteLLM at http://127.0.0.1:{port}/v1 does not answer GET /models (connection refused)")]

    def test_litellm_reachable_without_key(self, lab, admin, playbook):
        with LiteLLMStub(["glm-4.6"]) as litellm:
            result, failure = _reachability(lab, admin, playbook, env={"LAB_LITELLM_PORT": str(litellm.port)})
        assert result.returncode == 0 and failure is None, result.stdout
        assert litellm.requests == [("GET", "/v1/models")]

    def test_litellm_must_serve_every_listed_model(self, lab, admin, playbook):
        with LiteLLMStub(["glm-4.6"]) as litellm:
            result, failure = _reachability(lab, admin, playbook, {"preflight_litellm_api_key": LITELLM_KEY},
                                            env={"LAB_LITELLM_PORT": str(litellm.port)})
        assert [(p["path"], p["msg"]) for p in failure["problems"]] == [
            ("farm_model_providers.litellm.models[1].id",
             f"LiteLLM at http://127.0.0.1:{litellm.port}/v1 does not serve model 'glm-4.5-air' (it serves: glm-4.6)")]
        assert LITELLM_KEY not in result.stdout + result.stderr
