"""Every OpenClaw config the collection renders is checked by the real gateway.

For every gateway of both inventories (loaded with Ansible's own inventory and variable machinery,
so the lab's Jinja lookups are templated as in a play) and for a multi-gateway variant of the
model, the octant.openclaw.openclaw_config filter renders the config and the real openclaw 2026.9.6
(Node 26, installed by scripts/openclaw-toolchain) runs:
- `openclaw config validate --json`: exit 0, valid, no issue, no warning but "plugin not installed"
  for the channel plugins the config enables (they are installed into the gateway's image);
- `openclaw doctor --lint --json` with every variable of openclaw_secret_env set to a dummy value:
  no plaintext-secret finding, every SecretRef resolves, nothing but the two expected findings.
Negative controls prove both checks can fail: a typo key is rejected, a plaintext key is flagged.

Every model is also rendered with farm_bus enabled (labels "*-bus-*"): one mcp.servers entry per agent
with its own "Authorization: Bearer ${BUS_MCP_TOKEN_<AGENT>}" header (OpenClaw's MCP headers take plain
strings only, no SecretRef: the ${VAR} substitution is how a secret gets there) and per-agent
tools.alsoAllow/deny. Those are validated with the bus variables set too (validate and doctor): no
warning, no plaintext-secret finding; doctor tries to reach each bus server to list its tools, which
fails here (no Consul DNS), and that finding is the only extra one allowed. A control proves validate
notices a missing bus variable.

HOME, OPENCLAW_STATE_DIR, OPENCLAW_CONFIG_PATH, TMPDIR and logging.file point into pytest's
tmp_path. openclaw 2026.9.6 still creates empty SQLite lock files in /tmp/openclaw-state-locks-<uid>
(a hard-coded path on Linux, whatever TMPDIR says); the ones these runs left behind are removed.

The toolchain is required: without it these tests FAIL and say how to install it."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from ansible_collections.octant.openclaw.plugins.filter.openclaw import (
    openclaw_bus_env,
    openclaw_config,
    openclaw_secret_env,
)
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

ROOT = Path(__file__).resolve().parents[2]
OPENCLAW = Path(os.environ.get("OPENCLAW_BIN") or ROOT / ".cache" / "openclaw" / "bin" / "openclaw")
VERSION = "2026.9.6"
INSTALL = "scripts/openclaw-toolchain"
# Hard-coded by openclaw on Linux (not derived from TMPDIR); only read and cleaned up here.
LOCKS = Path(f"/tmp/openclaw-state-locks-{os.getuid()}")  # noqa: S108
# What doctor --lint may report about a correct config: bobby's heartbeat monitor is created by the
# gateway at its first start, and a container gateway must listen on the LAN (bind "lan").
EXPECTED_FINDINGS = {("core/doctor/heartbeat-cadence-migration", "heartbeat-monitor-create"),
                     ("core/doctor/security", "gateway.bind_network_accessible")}
TIMEOUT = 180


def inventory_farm(name):
    """The farm model of inventory/<name> as a play sees it: group_vars loaded and templated by Ansible."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar
    from ansible.utils.collection_loader import AnsibleCollectionConfig
    from ansible.vars.manager import VariableManager

    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader([str(ROOT / "collections")])
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(ROOT / "inventory" / name)])
    variables = VariableManager(loader=loader, inventory=inventory)
    host = inventory.get_hosts()[0]
    hostvars = variables.get_vars(host=host)
    templar = Templar(loader=loader, variables=hostvars)
    return {key: templar.template(hostvars[key]) for key in fm.TOP_LEVEL if key in hostvars}


def variant_farm(base):
    """The homelab farm grown to three gateways and every rendering branch: a second Slack account
    (accounts map), WhatsApp groups, active hours, exec denied, ZAI and LM Studio providers, a
    one-agent gateway without channels."""
    model = copy.deepcopy(base)
    model["farm_gateways"].append({"name": "edge", "node": "macbook", "port": 19789, "bridge_port": 19790,
                                   "image": f"ghcr.io/openclaw/openclaw:{VERSION}", "chat_completions": False,
                                   "secrets": {"OPENCLAW_GATEWAY_TOKEN": "op://Homelab/openclaw-edge/token"}})
    model["farm_model_providers"]["lmstudio"] = {
        "base_url": "http://macbook.octant.lan:1234/v1",
        "models": [{"id": "qwen3-8b", "name": "Qwen3 8B", "context_window": 32768, "input": ["text", "image"]}]}
    model["farm_agents"].append({
        "id": "ops", "name": "Ops", "emoji": "🛰️", "gateway": "edge", "description": "Laptop-side helper.",
        "model": {"primary": "lmstudio/qwen3-8b", "fallbacks": ["zai/glm-4.6", "anthropic/claude-sonnet-4-5"]},
        "exec_allow": [], "may_message": ["jerry", "scout"], "may_spawn": ["scout"],
        "heartbeat": {"every": "1h30m",
                      "active_hours": {"start": "08:00", "end": "22:00", "timezone": "Europe/Berlin"}},
        "workspace_files": ["AGENTS.md", "USER.md", "MEMORY.md"]})
    model["farm_agents"].append({"id": "scout", "name": "Scout", "gateway": "edge",
                                 "model": {"primary": "zai/glm-4.6"}, "may_message": ["ops"]})
    model["farm_channels"].append({
        "kind": "slack", "account": "ops", "gateway": "main", "dm_policy": "open", "allow_from": ["*"],
        "group_policy": "open", "secrets": {"bot_token": "op://Homelab/slack-ops/bot", "app_token": "op://Homelab/slack-ops/app"},
        "bindings": [{"agent": "billy"}, {"agent": "bobby", "team": "T0OPS", "comment": "ops workspace team"}]})
    # A one-agent gateway without channels (no bindings, no channel plugins).
    model["farm_gateways"].append({"name": "solo", "node": "billy", "image": f"ghcr.io/openclaw/openclaw:{VERSION}"})
    model["farm_agents"].append({"id": "solo", "name": "Solo", "gateway": "solo",
                                 "model": {"primary": "anthropic/claude-sonnet-4-5"}})
    whatsapp = next(c for c in model["farm_channels"] if c["kind"] == "whatsapp")
    whatsapp["groups"] = ["120363000000000001@g.us"]
    whatsapp["bindings"].append({"agent": "billy", "peer": {"kind": "group", "id": "120363000000000002@g.us"}})
    assert fm.validate(model) == []
    return model


def with_bus(model):
    model = copy.deepcopy(model)
    model["farm_bus"] = dict(model.get("farm_bus") or {}, enabled=True)
    assert fm.validate(model) == []
    return model


def configs():
    """(label, model, gateway) for every gateway of both inventories and of the variant."""
    found = []
    farms = {"homelab": inventory_farm("homelab"), "lab": inventory_farm("lab")}
    farms["variant"] = variant_farm(farms["homelab"])
    for label in list(farms):
        farms[f"{label}-bus"] = with_bus(farms[label])
    for label, model in farms.items():
        for gateway in model["farm_gateways"]:
            found.append((f"{label}-{gateway['name']}", model, gateway["name"]))
    return found


def environment(workdir, extra=None):
    """A minimal environment: nothing of the caller's (tokens, OPENCLAW_*) leaks in. TMPDIR is one
    folder per test session, shared by the runs: openclaw keeps Node's compile cache there, and a
    warm cache halves each run (about 1.4 s instead of 2.8 s for validate)."""
    shared_tmp = workdir.parent / "tmp" if (workdir.parent / "tmp").is_dir() else workdir / "tmp"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "HOME": str(workdir / "home"), "OPENCLAW_STATE_DIR": str(workdir / "state"),
           "OPENCLAW_CONFIG_PATH": str(workdir / "openclaw.json"), "TMPDIR": str(shared_tmp)}
    env.update(extra or {})
    for folder in (workdir / "home", workdir / "state", shared_tmp):
        folder.mkdir(parents=True, exist_ok=True)
    return env


def run_openclaw(workdir, args, extra_env=None):
    result = subprocess.run([str(OPENCLAW), *args], env=environment(workdir, extra_env), capture_output=True,
                            text=True, timeout=TIMEOUT, cwd=workdir)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = None
    return {"rc": result.returncode, "json": data, "stdout": result.stdout, "stderr": result.stderr}


def dummy_env(env_names):
    return {name: f"test-{name.lower()}-not-a-secret" for name in env_names}


@pytest.fixture(scope="module")
def openclaw():
    if not OPENCLAW.exists():
        pytest.fail(f"the real OpenClaw gateway is not installed at {OPENCLAW}; install it with: {INSTALL} "
                    f"(Node 26 and openclaw {VERSION} from npm into .cache/openclaw, about 35 s and 860 MB, cached)",
                    pytrace=False)
    version = subprocess.run([str(OPENCLAW), "--version"], capture_output=True, text=True, timeout=60,
                             env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"})
    if VERSION not in version.stdout:
        pytest.fail(f"{OPENCLAW} is not openclaw {VERSION} ({version.stdout.strip() or version.stderr.strip()}); "
                    f"reinstall with: {INSTALL}", pytrace=False)
    return OPENCLAW


@pytest.fixture(scope="module")
def checked(openclaw, tmp_path_factory):
    """Render every config, then run validate and doctor on each (in parallel); clean the lock files."""
    base = tmp_path_factory.mktemp("openclaw-configs")
    (base / "tmp").mkdir()
    locks_existed = LOCKS.exists()
    locks_before = set(LOCKS.iterdir()) if locks_existed else set()
    jobs = {}
    for label, model, gateway in configs():
        workdir = base / label
        workdir.mkdir()
        config = openclaw_config(model, gateway, state_dir=str(workdir / "state"))
        env_names = list(openclaw_secret_env(model, gateway)) + openclaw_bus_env(model, gateway)
        (workdir / "openclaw.json").write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
        jobs[label] = {"config": config, "secret_env": env_names, "workdir": workdir, "gateway": gateway}
    try:
        with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
            futures = {}
            for label, job in jobs.items():
                futures[(label, "validate")] = pool.submit(run_openclaw, job["workdir"],
                                                           ["config", "validate", "--json"],
                                                           dummy_env(job["secret_env"]))
                futures[(label, "doctor")] = pool.submit(run_openclaw, job["workdir"], ["doctor", "--lint", "--json"],
                                                         dummy_env(job["secret_env"]))
            for (label, kind), future in futures.items():
                jobs[label][kind] = future.result()
        yield jobs
    finally:
        _remove_new_locks(locks_existed, locks_before)


def _held_files():
    """Files some process of ours has open (the lock folder is per uid, so every user of it is ours)."""
    held = set()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = list(fd_dir.iterdir())
        except OSError:
            continue
        for link in links:
            try:
                held.add(os.readlink(link))
            except OSError:
                continue
    return held


def _remove_new_locks(existed, before):
    """Remove the lock files that appeared during these runs and that no process holds open: they
    are empty, recreated on demand, and only a held one coordinates anything (another session's
    running gateway keeps its own open, so it stays)."""
    if not LOCKS.exists():
        return
    held = _held_files()
    for path in set(LOCKS.iterdir()) - before:
        if str(path) not in held:
            path.unlink(missing_ok=True)
    if not existed and not any(LOCKS.iterdir()):
        LOCKS.rmdir()


LABELS = ["homelab-main", "lab-main", "variant-main", "variant-edge", "variant-solo",
          "homelab-bus-main", "lab-bus-main", "variant-bus-main", "variant-bus-edge", "variant-bus-solo"]


def test_every_gateway_of_both_inventories_is_covered(checked):
    assert sorted(checked) == sorted(LABELS)


@pytest.mark.parametrize("label", LABELS)
def test_config_validate(checked, label):
    job = checked[label]
    result = job["validate"]
    assert result["rc"] == 0, f"openclaw config validate failed for {label}:\n{result['stdout']}\n{result['stderr']}"
    data = result["json"]
    assert data["valid"] is True and data.get("issues", []) == [], data
    enabled = sorted(job["config"]["plugins"]["entries"])
    expected = [{"path": f"plugins.entries.{kind}",
                 "message": f"plugin not installed: {kind} — install the official external plugin with: "
                            f"openclaw plugins install @openclaw/{kind}"} for kind in enabled]
    assert sorted(data.get("warnings", []), key=lambda w: w["path"]) == expected


@pytest.mark.parametrize("label", LABELS)
def test_doctor_finds_no_plaintext_secret(checked, label):
    job = checked[label]
    result = job["doctor"]
    assert result["json"] is not None, f"doctor printed no JSON:\n{result['stdout']}\n{result['stderr']}"
    findings = result["json"]["findings"]
    assert not [f for f in findings if f.get("requirement") == "config.plaintext_secrets"], findings
    assert not [f for f in findings if "unresolved" in f.get("message", "")], \
        "a SecretRef names a variable openclaw_secret_env does not list"
    unexpected = [f for f in findings if (f["checkId"], f.get("requirement")) not in EXPECTED_FINDINGS]
    servers = sorted(job["config"].get("mcp", {}).get("servers", {}))
    # doctor connects to every MCP server to check its tool schemas; the bus servers' Consul names do
    # not resolve on a build machine (tests/integration/test_bus_role.py covers the bus side).
    unreachable = [f for f in unexpected if f["checkId"] == "core/doctor/runtime-tool-schemas"
                   and f.get("path", "").removeprefix("mcp.servers.") in servers
                   and "openclaw-bus-" in f.get("requirement", "")]
    assert sorted(f["path"] for f in unreachable) == [f"mcp.servers.{name}" for name in servers]
    unexpected = [f for f in unexpected if f not in unreachable]
    assert unexpected == [], unexpected


@pytest.mark.parametrize("label", [label for label in LABELS if "-bus-" in label])
def test_bus_entries_per_agent(checked, label):
    job = checked[label]
    config = job["config"]
    agents = sorted(config["agents"]["entries"])
    servers = config["mcp"]["servers"]
    assert sorted(servers) == sorted(f"bus_{a}" for a in agents)
    for agent in agents:
        env = "BUS_MCP_TOKEN_" + agent.upper()
        assert servers[f"bus_{agent}"]["headers"] == {"Authorization": f"Bearer ${{{env}}}"}
        assert env in job["secret_env"]
        tools = config["agents"]["entries"][agent]["tools"]
        assert tools["alsoAllow"] == [f"bus_{agent}__*"]
        assert tools.get("deny", []) == sorted(f"bus_{a}__*" for a in agents if a != agent)


@pytest.mark.parametrize("label", LABELS)
def test_rendered_file_holds_no_secret_material(checked, label):
    job = checked[label]
    text = (job["workdir"] / "openclaw.json").read_text(encoding="utf-8")
    assert "op://" not in text and "{{" not in text
    assert job["config"]["logging"]["file"].startswith(str(job["workdir"]))
    assert job["config"]["meta"] == {"lastTouchedVersion": VERSION}


def test_lab_litellm_points_at_the_local_proxy(checked):
    base_url = checked["lab-main"]["config"]["models"]["providers"]["litellm"]["baseUrl"]
    port = os.environ.get("LAB_LITELLM_PORT", "14000")
    assert base_url == f"http://127.0.0.1:{port}/v1"


def _negative(openclaw, tmp_path, mutate, args, extra_env=None):
    model = inventory_farm("homelab")
    config = openclaw_config(model, "main", state_dir=str(tmp_path / "state"))
    mutate(config)
    (tmp_path / "openclaw.json").write_text(json.dumps(config), encoding="utf-8")
    locks_existed = LOCKS.exists()
    before = set(LOCKS.iterdir()) if locks_existed else set()
    try:
        return run_openclaw(tmp_path, args, extra_env)
    finally:
        _remove_new_locks(locks_existed, before)


def test_validator_notices_a_missing_bus_token(openclaw, tmp_path):
    """The ${BUS_MCP_TOKEN_...} header is checked by the real validator: without the variable it warns."""
    def bus(config):
        model = with_bus(inventory_farm("homelab"))
        rendered = openclaw_config(model, "main", state_dir=config["logging"]["file"].rsplit("/logs/", 1)[0])
        config["mcp"] = rendered["mcp"]

    result = _negative(openclaw, tmp_path, bus, ["config", "validate", "--json"])
    assert result["rc"] == 0
    assert {"path": "mcp.servers.bus_jerry.headers.Authorization",
            "message": 'Missing env var "BUS_MCP_TOKEN_JERRY" - feature using this value will be unavailable'} \
        in result["json"]["warnings"]


def test_validator_rejects_a_typo_key(openclaw, tmp_path):
    """Proves the validate check can fail: one misspelt key and the real validator says so."""
    def typo(config):
        config["gateway"]["prot"] = config["gateway"].pop("port")

    result = _negative(openclaw, tmp_path, typo, ["config", "validate", "--json"])
    assert result["rc"] == 1
    assert result["json"]["valid"] is False
    assert {"path": "gateway", "message": 'Unrecognized key: "prot"'} in result["json"]["issues"]


def test_doctor_flags_a_plaintext_secret(openclaw, tmp_path):
    """Proves the doctor check can fail: a key written into the config is a plaintext secret."""
    def plaintext(config):
        config["models"]["providers"]["litellm"]["apiKey"] = "sk-test-plaintext-0123456789"

    result = _negative(openclaw, tmp_path, plaintext, ["doctor", "--lint", "--json"],
                       {"OPENCLAW_GATEWAY_TOKEN": "test-gateway-token-not-a-secret"})
    requirements = [f.get("requirement") for f in result["json"]["findings"]]
    assert "config.plaintext_secrets" in requirements
