# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.farm_validate run through AnsibleModule as Ansible runs it (arguments in, printed JSON
out): the model checks (every problem at once, the normalised model back), secrets never echoed, check
mode, and the read-only reachability checks against a small in-process stand-in of the Nomad, Consul and
LiteLLM HTTP APIs (only the endpoints the module reads)."""

from __future__ import annotations

import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm
from ansible_collections.octant.openclaw.plugins.modules import farm_validate

ROOT = Path(__file__).resolve().parents[4]
HOSTS = {"homelab": ["jerry", "bobby", "billy"], "workstations": ["macbook"]}


def load_model():
    """inventory/homelab's model plus the MacBook gateway of roles/macos_gateway/examples."""
    text = (ROOT / "inventory" / "homelab" / "group_vars" / "all" / "farm.yml").read_text(encoding="utf-8")
    model = {k: v for k, v in yaml.safe_load(text).items() if k in fm.TOP_LEVEL}
    extra = yaml.safe_load((ROOT / "roles" / "macos_gateway" / "examples" / "homelab-macbook.yml").read_text())
    model["farm_gateways"] += extra["farm_gateways"]
    model["farm_agents"] += extra["farm_agents"]
    model["farm_model_providers"].update(extra["farm_model_providers"])
    return model


MODEL = load_model()


@pytest.fixture
def model():
    return copy.deepcopy(MODEL)


@pytest.fixture(autouse=True)
def no_service_environment(monkeypatch):
    for name in ("NOMAD_ADDR", "NOMAD_TOKEN", "NOMAD_REGION", "NOMAD_NAMESPACE", "CONSUL_HTTP_ADDR",
                 "CONSUL_HTTP_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def run(run_module):
    def runner(args, fails=False, check_mode=False):
        with pytest.raises(run_module.FailJson if fails else run_module.ExitJson) as outcome:
            run_module(farm_validate, args, check_mode=check_mode)
        return outcome.value.result

    return runner


class Services:
    """Nomad, Consul and LiteLLM answers on one loopback port; records every request path."""

    def __init__(self, nodes=None, models=("glm-4.6", "glm-4.5-air"), litellm_status=200, odd=None):
        self.paths = []
        self.odd = dict(odd or {})  # path -> raw text answered with 200 (odd answer shapes)
        self.nodes = nodes if nodes is not None else {name: _node(name) for name in ("jerry", "bobby", "billy")}
        services = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                services.paths.append(self.path)
                path = self.path.split("?", 1)[0]
                if path in services.odd:
                    return self._raw(200, services.odd[path])
                if path == "/v1/status/leader":
                    return self._json(200, "10.0.0.1:4647")
                if path == "/v1/nodes":
                    return self._json(200, [{"ID": node["ID"], "Name": name} for name, node in services.nodes.items()])
                if path.startswith("/v1/node/"):
                    found = [n for n in services.nodes.values() if n["ID"] == path.rsplit("/", 1)[1]]
                    return self._json(200, found[0]) if found else self._json(404, "node not found")
                if path == "/v1/models":
                    if litellm_status != 200:
                        return self._json(litellm_status, {"error": "no key"})
                    return self._json(200, {"data": [{"id": m} for m in models]})
                return self._json(404, "not found")

            def _json(self, status, body):
                self._raw(status, json.dumps(body))

            def _raw(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _node(name, status="ready", healthy=True):
    return {"ID": f"id-{name}", "Name": name, "Status": status, "SchedulingEligibility": "eligible",
            "Attributes": {"driver.podman": "1", "driver.podman.rootless": "true"},
            "Drivers": {"podman": {"Detected": True, "Healthy": healthy,
                                   "HealthDescription": "" if healthy else "socket",
                                   "Attributes": {"driver.podman.version": "4.9.3"}}}}


@pytest.fixture
def services():
    started = []

    def start(**kwargs):
        started.append(Services(**kwargs))
        return started[-1]

    yield start
    for service in started:
        service.stop()


# ------------------------------------------------------------------------------------------------


def test_a_valid_model_comes_back_normalised(run, model):
    result = run({"model": model, "inventory_hosts": HOSTS, "var_names": list(model)})
    assert result["changed"] is False and result["problems"] == [] and result["checks"] == {}
    gateways = {gw["name"]: gw for gw in result["model"]["farm_gateways"]}
    assert gateways["main"]["runtime"] == "nomad" and gateways["main"]["bind"] == "lan"
    assert gateways["mac"]["runtime"] == "launchd" and gateways["mac"]["bind"] == "loopback"
    assert "bridge_port" not in gateways["mac"] and "resources" not in gateways["mac"]
    assert result["model"] == json.loads(json.dumps(fm.normalize(model)))


def test_check_mode_answers_the_same(run, model):
    assert run({"model": model}, check_mode=True)["model"] == run({"model": model})["model"]


def test_every_problem_at_once_with_path_and_fix(run, model):
    model["farm_gateways"][1]["image"] = "ghcr.io/openclaw/openclaw:2026.9.6"   # the launchd gateway
    model["farm_agents"][0]["model"]["primary"] = "lmstudio/qwen3-8b"          # jerry, on node jerry
    model["farm_gateways"][0]["node"] = "jery"
    args = {"model": model, "inventory_hosts": HOSTS, "var_names": list(model) + ["farm_agnets"]}
    result = run(args, fails=True)
    # with the node misspelt, LM Studio's locality is not judged yet (it would suggest adding "jery")
    assert [p["path"] for p in result["problems"]] == ["farm_agnets", "farm_gateways[0].node", "farm_gateways[1].image"]
    assert all(p["msg"] and p["fix"] for p in result["problems"])
    assert result["msg"] == fm.format_problems(result["problems"])
    assert result["msg"].startswith("The farm model has 3 problems; nothing was changed.")
    assert "model" not in result

    model["farm_gateways"][0]["node"] = "jerry"
    result = run(args, fails=True)
    assert [p["path"] for p in result["problems"]] == ["farm_agnets", "farm_gateways[1].image",
                                                       "farm_agents[0].model.primary"]
    assert result["problems"][-1]["fix"].startswith("add jerry to farm_model_providers.lmstudio.local_to")


def test_a_plaintext_secret_is_never_echoed(run, model):
    plaintext = "sk-live-Pq7Zt2Lm9Xc4"
    model["farm_model_providers"]["litellm"]["api_key"] = plaintext
    result = run({"model": model}, fails=True)
    assert [(p["path"], p["msg"]) for p in result["problems"]] == [
        ("farm_model_providers.litellm.api_key", "is not an op:// reference; secrets must never be written into the "
                                                 "model")]
    assert plaintext not in json.dumps(result)  # masked in the echoed arguments too


def test_inventory_hosts_as_a_list(run, model):
    result = run({"model": model, "inventory_hosts": ["jerry", "bobby"]}, fails=True)
    assert [p["path"] for p in result["problems"]] == ["farm_gateways[1].node",
                                                       "farm_model_providers.lmstudio.local_to[0]"]


def test_reachability_checks_pass_and_skip_the_workstation(run, model, services):
    api = services()
    model["farm_model_providers"]["litellm"]["base_url"] = f"{api.address}/v1"
    result = run({"model": model, "inventory_hosts": HOSTS, "check_nomad": True, "check_consul": True,
                  "check_nodes": True, "nomad_client_hosts": HOSTS["homelab"], "check_litellm": True,
                  "nomad_address": api.address, "consul_address": api.address})
    assert result["checks"] == {"nomad": "leader 10.0.0.1:4647", "consul": "leader 10.0.0.1:4647",
                                "node:jerry": "ready, eligible, podman 4.9.3 healthy",
                                "litellm": "serves 2 models"}
    # the MacBook's launchd gateway is not a Nomad client's: its node is never looked up
    assert not [p for p in api.paths if "macbook" in p]


def test_reachability_problems_are_problems_like_the_others(run, model, services):
    api = services(nodes={"jerry": _node("jerry", healthy=False)}, models=("glm-4.6",))
    model["farm_model_providers"]["litellm"]["base_url"] = f"{api.address}/v1"
    result = run({"model": model, "check_nomad": True, "check_nodes": True, "nomad_client_hosts": HOSTS["homelab"],
                  "check_litellm": True, "litellm_api_key": "sk-litellm-Ab1Cd2Ef3", "nomad_address": api.address},
                 fails=True)
    problems = {p["path"]: p for p in result["problems"]}
    assert problems["farm_gateways[0].node"]["msg"] == \
        "the podman driver on Nomad node 'jerry' is unhealthy: socket"
    assert problems["farm_model_providers.litellm.models[1].id"]["msg"].endswith(
        "does not serve model 'glm-4.5-air' (it serves: glm-4.6)")
    assert "sk-litellm-Ab1Cd2Ef3" not in json.dumps(result)


def test_an_unreachable_nomad_is_a_problem(run, model, services):
    api = services()
    address = api.address
    api.stop()  # nothing listens there any more
    result = run({"model": model, "check_nomad": True, "nomad_address": address}, fails=True)
    (problem,) = result["problems"]
    assert problem["path"] == "openclaw_nomad_address"
    assert problem["msg"].startswith(f"Nomad at {address} is not usable")
    assert result["checks"] == {"nomad": "unreachable"}


ODD_BODIES = ["<!DOCTYPE html><html><head><title>Sign in</title></head><body></body></html>", "Bad gateway",
              '[{"ID": "id-jerry", "Name": "jer', "null", '[1, "x", null]', '{"message": "hello"}']


@pytest.mark.parametrize("body", ODD_BODIES)
@pytest.mark.parametrize("path, call, where", [
    ("/v1/status/leader", "Nomad GET /v1/status/leader", "openclaw_nomad_address"),
    ("/v1/nodes", "Nomad GET /v1/nodes", "openclaw_nomad_address"),
    ("/v1/node/id-jerry", "Nomad GET /v1/node/id-jerry", "farm_gateways[0].node"),
    ("/v1/models", "LiteLLM GET /v1/models", "farm_model_providers.litellm.base_url"),
])
def test_an_odd_answer_is_a_problem_naming_the_call(run, model, services, path, call, where, body):
    api = services(nodes={"jerry": _node("jerry")}, odd={path: body})
    model["farm_model_providers"]["litellm"]["base_url"] = f"{api.address}/v1"
    for check_mode in (False, True):
        result = run({"model": model, "check_nomad": True, "check_nodes": True, "nomad_client_hosts": ["jerry"],
                      "check_litellm": True, "nomad_address": api.address}, fails=True, check_mode=check_mode)
        problems = {p["path"]: p["msg"] for p in result["problems"]}
        assert f"{call} returned an unexpected answer: HTTP 200 with " in problems[where], problems
        assert "really " in problems[where]
        assert not re.search(r"KeyError|AttributeError|TypeError|IndexError|Traceback", json.dumps(result))
