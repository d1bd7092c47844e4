# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A two-gateway farm on this machine, all of it real except Consul (the lab simulator) and the model
(a scripted OpenAI-compatible backend):

    lab simulator: Consul with ACLs on; per-agent and per-gateway tokens from the bus policies
    gateway alpha: `openclaw gateway run`, agent jerry  --MCP bus_jerry-->  `openclaw-bus serve` (alpha)
    gateway beta:  `openclaw gateway run`, agent bobby  --MCP bus_bobby-->  `openclaw-bus serve` (beta)
    both gateways' model provider "scripted" -> ScriptedBackend, one model id per agent

Gateway configs, bus configs and ACL policies come from the collection's own filters (openclaw_config,
openclaw_bus_serve_config, openclaw_bus_policies) applied to a small farm model; `local_overrides`
changes only what a Nomad deployment places differently (loopback addresses instead of Consul DNS
names and container ports) plus one setting the filter does not render yet (see there). Every
secret reaches the processes through their environment, never a file.

Isolation as in tests/integration/test_openclaw_config.py: HOME, OPENCLAW_STATE_DIR,
OPENCLAW_CONFIG_PATH, TMPDIR and logging.file point into pytest's tmp_path; the SQLite lock files that
openclaw 2026.9.6 leaves in /tmp/openclaw-state-locks-<uid> are removed afterwards (those no process
holds open). Every process started here is stopped through its own Popen handle."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from ansible_collections.octant.openclaw.plugins.filter.openclaw import (
    openclaw_bus_env,
    openclaw_bus_policies,
    openclaw_bus_serve_config,
    openclaw_config,
    openclaw_secret_env,
)
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

# the real gateway: the same install check, constants and lock-file cleanup as the config tests
from tests.integration.test_openclaw_config import LOCKS, VERSION, _remove_new_locks, openclaw  # noqa: F401 (fixture)
from tools.testsupport.labclient import LabProcess, free_port, run_module
from tools.testsupport.standins import Reply, ScriptedBackend, text_of, tool_names

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from openclaw_bus.consul import Consul  # noqa: E402
from openclaw_bus.relay import SKIP_REPLY  # noqa: E402

# Hard-coded by openclaw on Linux (not derived from TMPDIR); only read and cleaned up here.
MANAGEMENT_TOKEN = secrets.token_hex(16)
PROVIDER = "scripted"
# Two gateways starting together on two cores: 12-26 s measured (busy machine); the rest is slack.
START_TIMEOUT = 120
# OpenClaw derives ports up to base + 110 from a gateway's port: keep the two bases this far apart.
PORT_SPAN = 120


# -- the scripted agents ---------------------------------------------------------------------------------
# The user asks jerry "ask bobby for token <T>"; jerry calls its bus send_message tool with "ping <T>" and
# waits for the answer; bobby (handed the message by its relay) answers "pong from bobby: <T>"; jerry
# reports what the tool returned. A bus message "fyi <T>" needs no answer: bobby answers SKIP_REPLY. A
# direct turn "Answer NO_REPLY now." gets OpenClaw's own silent token NO_REPLY.
ASK = re.compile(r"ask bobby for token ([A-Za-z0-9-]+)")
PING = re.compile(r"\bping ([A-Za-z0-9-]+)")
FYI = re.compile(r"\bfyi ([A-Za-z0-9-]+)")
RELAYED = "[openclaw-bus] Message from agent jerry"
SAY_NO_REPLY = "Answer NO_REPLY now."
WAIT_FOR_REPLY = 45  # seconds; below OpenClaw's default MCP request timeout (60 s)


def model_id(agent):
    """Each agent gets its own model id of the scripted provider: the backend tells agents apart by it."""
    return f"{agent}-model"


def user_texts(body):
    """The texts of the user messages, newest first. OpenClaw sends the turn's text (with a timestamp
    prefix and a runtime line), then a user message of its own internal context."""
    return [text_of(m) for m in reversed(body.get("messages") or []) if m.get("role") == "user"]


def agent_script(model, body):
    """What the scripted model answers, by agent (model id) and by the state of the conversation.
    Anything else (no such turn is expected) gets a plain "unexpected" text, visible in the results."""
    messages = body.get("messages") or []
    if model == model_id("jerry"):
        results = [m for m in messages if m.get("role") == "tool"]
        if results:  # the bus tool has answered: report what it returned
            return Reply(text=f"Bobby's answer via the bus: {text_of(results[-1])}")
        asked = next((m for m in map(ASK.search, user_texts(body)) if m), None)
        if asked:
            # The bus as OpenClaw offers it: jerry's own server's send_message tool.
            tool = next((n for n in tool_names(body) if n.startswith("bus_jerry") and n.endswith("send_message")),
                        None)
            if tool is None:
                raise AssertionError(f"jerry has no bus send_message tool; tools: {tool_names(body)}")
            return Reply(tool=tool, arguments={"to": "bobby", "text": f"ping {asked.group(1)}",
                                               "wait_for_reply_seconds": WAIT_FOR_REPLY})
    if model == model_id("bobby"):
        text = next((t for t in user_texts(body) if RELAYED in t), "")
        if ping := PING.search(text):
            return Reply(text=f"pong from bobby: {ping.group(1)}")
        if FYI.search(text):
            return Reply(text=SKIP_REPLY)
        if any(SAY_NO_REPLY in t for t in user_texts(body)):  # a direct turn, not a relayed one
            return Reply(text="NO_REPLY")
    return Reply(text=f"unexpected turn for {model}")


# -- the farm --------------------------------------------------------------------------------------------
def farm_model(backend_url, ports):
    """Gateway alpha (node jerry) with agent jerry, gateway beta (node bobby) with agent bobby; each may
    message the other; the bus on. Secrets are op:// references as in the inventories: the filters turn
    them into env SecretRefs and env names; no value is ever part of the model."""
    image = f"ghcr.io/openclaw/openclaw:{VERSION}"
    model = {
        "openclaw_version": VERSION,
        "farm_gateways": [{"name": "alpha", "node": "jerry", "port": ports["alpha"], "image": image},
                          {"name": "beta", "node": "bobby", "port": ports["beta"], "image": image}],
        "farm_agents": [
            {"id": "jerry", "name": "Jerry", "gateway": "alpha", "description": "Hub agent of gateway alpha.",
             "model": {"primary": f"{PROVIDER}/{model_id('jerry')}"}, "capabilities": ["general"],
             "may_message": ["bobby"]},
            {"id": "bobby", "name": "Bobby", "gateway": "beta", "description": "Ops agent of gateway beta.",
             "model": {"primary": f"{PROVIDER}/{model_id('bobby')}"}, "capabilities": ["monitoring"],
             "may_message": ["jerry"]}],
        "farm_model_providers": {PROVIDER: {
            "base_url": backend_url, "api": "openai-completions", "api_key": "op://E2E/scripted/api-key",
            "models": [{"id": model_id(a), "name": f"Scripted {a}", "context_window": 128000, "max_tokens": 4096}
                       for a in ("jerry", "bobby")]}},
        "farm_secrets": {fm.GATEWAY_TOKEN_ENV: "op://E2E/openclaw-gateway/token"},
        "farm_bus": {"enabled": True},
    }
    problems = fm.validate(model)
    assert problems == [], fm.format_problems(problems)
    return model


def local_overrides(config, mcp_url):
    """What differs from a Nomad deployment, and one gap of the filter (all in one place):
    - the gateway listens on loopback only (the filter renders "lan" for a container);
    - the bus MCP server is this machine's loopback port, not openclaw-bus-<node>.service.consul;
    - tools.toolSearch false: OpenClaw 2026.9.6 enables Tool Search by default, which hides MCP tools
      behind tool_search/tool_describe/tool_call, so the model would not see the bus tools in its tool
      list (a search for "send a message to another agent" did not even return send_message in the top
      5). The setting is gateway-wide only; the filter does not render it (yet)."""
    config["gateway"]["bind"] = "loopback"
    for server in config["mcp"]["servers"].values():
        server["url"] = mcp_url
    config["tools"].setdefault("toolSearch", False)
    return config


def _gateway_ports():
    """Two free gateway base ports at least PORT_SPAN apart, the first derived ports free too."""
    def free(port):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False

    chosen = []
    while len(chosen) < 2:
        base = free_port()
        if base + PORT_SPAN < 65536 and all(free(base + i) for i in (1, 2, 3)) \
                and all(abs(base - other) >= PORT_SPAN for other in chosen):
            chosen.append(base)
    return {"alpha": chosen[0], "beta": chosen[1]}


class Managed:
    """A subprocess with its own log file, stopped through its Popen handle (SIGTERM, then SIGKILL)."""

    def __init__(self, name, args, env, cwd, log_path):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # closed in stop()
        self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def check_alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-4000:]}")

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def wait_ready(url, ok, what, process, timeout=START_TIMEOUT):
    """Poll url until ok(status, json); fail at once when the process died."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        process.check_alive()
        try:
            response = requests.get(url, timeout=2)
            body = response.json()
            if ok(response.status_code, body):
                return body
            last = (response.status_code, body)
        except (requests.RequestException, ValueError) as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"{what} not ready after {timeout}s (last: {last}):\n{process.log()[-4000:]}")


class Farm:
    """What the tests use: the backend, the lab, and per gateway its URL, token, files and bus process."""

    def __init__(self, base, backend, model):
        self.base = base
        self.backend = backend
        self.model = model
        self.secrets = {}    # name -> value of every secret made for this run (to prove none is written)
        self.gateways = {}   # name -> {"url", "token", "config", "config_path", "workdir", "env", "process"}
        self.buses = {}      # name -> {"url", "health", "process", "config_path"}
        self.lab = None
        self.started = time.monotonic()
        self.timings = {}    # phase -> seconds since the fixture started (printed; shown with -s or on failure)

    def mark(self, phase):
        self.timings[phase] = round(time.monotonic() - self.started, 1)
        print(f"e2e: {phase} after {self.timings[phase]} s")

    def secret(self, name, value=None):
        self.secrets[name] = value or f"{name.lower().replace('_', '-')}-{secrets.token_hex(16)}"
        return self.secrets[name]

    def management(self):
        return Consul(self.lab.consul_addr, MANAGEMENT_TOKEN)

    def bus_health(self, gateway):
        return requests.get(self.buses[gateway]["health"], timeout=5).json()

    def logs(self):
        """The tail of every process log, for failure messages."""
        parts = []
        for kind, group in (("gateway", self.gateways), ("bus", self.buses)):
            for name, entry in group.items():
                if entry.get("process"):
                    parts.append(f"--- {kind} {name} ---\n{entry['process'].log()[-3000:]}")
        return "\n".join(parts)


def _acl_tokens(model, consul_addr):
    """The policies of the collection's openclaw_bus_policies (what roles/bus applies), one token per agent
    and one per gateway, made with the management token as the bus role does."""
    management = Consul(consul_addr, MANAGEMENT_TOKEN)
    try:
        generated = openclaw_bus_policies(model)
        tokens = {}
        for kind, specs in (("agent", generated["agents"]), ("gateway", generated["gateways"])):
            for name, spec in specs.items():
                management.acl_policy_upsert(spec["name"], spec["rules"])
                tokens[(kind, name)] = management.acl_token_create([spec["name"]], f"openclaw-bus {kind} {name}")[
                    "SecretID"]
        return tokens
    finally:
        management.close()


def _seed_registry(model, consul_addr):
    """The agent records as octant.openclaw.agents writes them (roles/agents/tasks/registry.yml, with its
    consul_kv module): the bus processes do not write them (the filter sets publish_agents false)."""
    gateways = {gw["name"]: gw for gw in model["farm_gateways"]}
    tree = {a["id"]: {"id": a["id"], "name": a["name"], "emoji": a.get("emoji", ""),
                      "description": a.get("description", ""), "gateway": a["gateway"],
                      "node": gateways[a["gateway"]]["node"], "capabilities": sorted(a.get("capabilities", [])),
                      "may_message": sorted(a.get("may_message", [])), "may_spawn": sorted(a.get("may_spawn", [])),
                      "model": {"primary": a["model"]["primary"], "fallbacks": a["model"].get("fallbacks", [])},
                      "workspace": f"/home/node/.openclaw/workspaces/{a['id']}"}
            for a in model["farm_agents"]}
    result = run_module("consul_kv", {"consul_address": consul_addr, "consul_token": MANAGEMENT_TOKEN,
                                      "prefix": f"{fm.BUS_REGISTRY_ROOT}/agents", "tree": tree,
                                      "delete_unlisted": True})
    assert not result.get("failed"), result


def _base_env(workdir, shared_tmp):
    """A minimal environment: nothing of the caller's (tokens, proxies, OPENCLAW_*) leaks in."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(workdir / "home"),
            "TMPDIR": str(shared_tmp)}


def _start_bus(farm, name, consul_tokens, gateway_url, workdir, shared_tmp):
    """`python -m openclaw_bus serve` with the filter's serve config on loopback ports."""
    model = farm.model
    agents = [a["id"] for a in model["farm_agents"] if a["gateway"] == name]
    port = free_port()
    mcp_url = f"http://127.0.0.1:{port}/mcp"
    config = openclaw_bus_serve_config(model, name, consul_address=farm.lab.consul_addr, gateway_url=gateway_url)
    config["mcp"].update({"host": "127.0.0.1", "port": port, "public_url": mcp_url,
                          "allowed_hosts": [f"127.0.0.1:{port}", f"localhost:{port}"]})
    config["relay"]["state_dir"] = str(workdir / "bus-state")
    config_path = workdir / "bus.json"
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    env = _base_env(workdir, shared_tmp)
    env.update({"PYTHONPATH": str(ROOT / "src"), fm.GATEWAY_TOKEN_ENV: farm.gateways[name]["token"],
                fm.BUS_GATEWAY_CONSUL_TOKEN_ENV: consul_tokens[("gateway", name)]})
    for agent in agents:
        env[fm.bus_consul_token_env(agent)] = consul_tokens[("agent", agent)]
        env[fm.bus_mcp_token_env(agent)] = farm.secrets[fm.bus_mcp_token_env(agent)]
    process = Managed(f"openclaw-bus {name}", [sys.executable, "-m", "openclaw_bus", "serve", "--config",
                                               str(config_path), "--log-level", "INFO"], env, workdir,
                      workdir / "bus.log")
    farm.buses[name] = {"url": mcp_url, "health": f"http://127.0.0.1:{port}/healthz", "process": process,
                        "config_path": config_path}
    return process


def _prepare_gateway(farm, gw):
    """The gateway's folder and secrets (its config needs the bus URL: written once the bus runs)."""
    model, name = farm.model, gw["name"]
    workdir = farm.base / name
    (workdir / "home").mkdir(parents=True)
    agents = [a["id"] for a in model["farm_agents"] if a["gateway"] == name]
    token = farm.secret(f"GATEWAY_TOKEN_{name.upper()}")
    for agent in agents:
        farm.secret(fm.bus_mcp_token_env(agent))
    farm.gateways[name] = {"url": f"http://127.0.0.1:{gw['port']}", "token": token, "workdir": workdir,
                           "agents": agents}


def _write_gateway_config(farm, name, shared_tmp, api_key_env):
    model, gateway = farm.model, farm.gateways[name]
    workdir = gateway["workdir"]
    config = local_overrides(openclaw_config(model, name, state_dir=str(workdir / "state")), farm.buses[name]["url"])
    config_path = workdir / "openclaw.json"
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    # Exactly the variables the collection says this gateway needs, each set.
    needed = set(openclaw_secret_env(model, name)) | set(openclaw_bus_env(model, name))
    env = _base_env(workdir, shared_tmp)
    env.update({"OPENCLAW_STATE_DIR": str(workdir / "state"), "OPENCLAW_CONFIG_PATH": str(config_path)})
    values = {fm.GATEWAY_TOKEN_ENV: gateway["token"], api_key_env: farm.secrets[api_key_env],
              **{fm.bus_mcp_token_env(a): farm.secrets[fm.bus_mcp_token_env(a)] for a in gateway["agents"]}}
    assert needed == set(values), (needed, sorted(values))
    env.update(values)
    gateway.update({"config": config, "config_path": config_path, "env": env})


@pytest.fixture(scope="module")
def bus_farm(openclaw, tmp_path_factory):  # noqa: F811 the imported openclaw fixture
    base = tmp_path_factory.mktemp("e2e-bus")
    shared_tmp = base / "tmp"   # one TMPDIR for all: openclaw keeps Node's compile cache there
    shared_tmp.mkdir()
    locks_existed = LOCKS.exists()
    locks_before = set(LOCKS.iterdir()) if locks_existed else set()
    # Stopped in reverse order, each group in parallel: gateways first (they hold MCP streams open to
    # the bus processes, which then stop at once), then the bus processes, the lab, the backend.
    stop_groups = []
    try:
        api_key_env = fm.provider_key_env(PROVIDER)
        api_key = secrets.token_hex(24)
        backend = ScriptedBackend([model_id("jerry"), model_id("bobby")], agent_script, api_key=api_key).start()
        stop_groups.append([backend.stop])
        farm = Farm(base, backend, farm_model(backend.base_url, _gateway_ports()))
        farm.secret(api_key_env, api_key)
        farm.secret("MANAGEMENT_TOKEN", MANAGEMENT_TOKEN)

        farm.lab = LabProcess(acl_token=MANAGEMENT_TOKEN, nodes="jerry,bobby").start()
        stop_groups.append([farm.lab.stop])
        consul_tokens = _acl_tokens(farm.model, farm.lab.consul_addr)
        for (kind, name), value in consul_tokens.items():
            farm.secret(f"CONSUL_TOKEN_{kind}_{name}".upper(), value)
        _seed_registry(farm.model, farm.lab.consul_addr)

        for gw in farm.model["farm_gateways"]:
            _prepare_gateway(farm, gw)
        buses = [_start_bus(farm, name, consul_tokens, gateway["url"], gateway["workdir"], shared_tmp)
                 for name, gateway in farm.gateways.items()]
        stop_groups.append([bus.stop for bus in buses])
        for name, bus in farm.buses.items():
            wait_ready(bus["url"].removesuffix("/mcp") + "/readyz", lambda status, body: status == 200 and body["ok"],
                       f"bus {name}", bus["process"], timeout=30)
        farm.mark("lab and bus processes ready")

        gateways = []
        for name, gateway in farm.gateways.items():
            _write_gateway_config(farm, name, shared_tmp, api_key_env)
            gateway["process"] = Managed(f"gateway {name}", [str(openclaw), "gateway", "run"], gateway["env"],
                                         gateway["workdir"], gateway["workdir"] / "gateway.log")
            gateways.append(gateway["process"])
        stop_groups.append([process.stop for process in gateways])
        with ThreadPoolExecutor(2) as pool:  # both start together: about 8-10 s alone, 12-26 s as a pair
            list(pool.map(lambda gw: wait_ready(gw["url"] + "/readyz",
                                                lambda status, body: status == 200 and body.get("ready") is True,
                                                f"gateway at {gw['url']}", gw["process"]),
                          farm.gateways.values()))
        farm.mark("gateways ready")
        yield farm
    finally:
        errors = []
        for group in reversed(stop_groups):
            with ThreadPoolExecutor(len(group)) as pool:
                for future in [pool.submit(stop) for stop in group]:
                    try:
                        future.result()
                    except Exception as exc:  # stop the rest anyway, report the first
                        errors.append(exc)
        _remove_new_locks(locks_existed, locks_before)
        if errors:
            raise errors[0]
