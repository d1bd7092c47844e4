# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""farm_bus in the farm model and the bus side of the openclaw filters: validation and defaults, the
mcp.servers entries and per-agent tool lists of openclaw_config, openclaw_bus_env, openclaw_bus_agents,
openclaw_bus_serve_config (accepted by the bus package's own config loader). (The real
`openclaw config validate` of the bus-enabled configs runs in tests/integration/test_openclaw_config.py.)"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.octant.openclaw.plugins.filter.openclaw import (
    openclaw_bus_agents,
    openclaw_bus_env,
    openclaw_bus_serve_config,
    openclaw_config,
    openclaw_secret_env,
)
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

ROOT = Path(__file__).resolve().parents[4]
with open(ROOT / "inventory" / "homelab" / "group_vars" / "all" / "farm.yml", encoding="utf-8") as _handle:
    HOMELAB = {k: v for k, v in yaml.safe_load(_handle).items() if k in fm.TOP_LEVEL}


@pytest.fixture
def model():
    model = copy.deepcopy(HOMELAB)
    model["farm_bus"] = dict(model["farm_bus"], enabled=True)
    return model


def pairs(problems):
    return [(p["path"], p["msg"]) for p in problems]


def test_inventory_documents_the_defaults():
    documented = HOMELAB["farm_bus"]
    assert documented["enabled"] is False
    filled = fm.normalize({**HOMELAB, "farm_bus": {}})["farm_bus"]
    assert {k: v for k, v in documented.items() if k != "enabled"} == \
        {k: v for k, v in filled.items() if k != "enabled"}
    assert filled["enabled"] is False


def test_bus_off_renders_no_bus(model):
    model["farm_bus"]["enabled"] = False
    config = openclaw_config(model, "main")
    assert "mcp" not in config
    assert all("alsoAllow" not in e.get("tools", {}) for e in config["agents"]["entries"].values())
    assert openclaw_bus_env(model, "main") == []
    with pytest.raises(AnsibleFilterError, match="farm_bus.enabled is false"):
        openclaw_bus_serve_config(model, "main")


def test_mcp_servers_one_per_agent_with_its_own_header(model):
    config = openclaw_config(model, "main")
    servers = config["mcp"]["servers"]
    assert sorted(servers) == ["bus_billy", "bus_bobby", "bus_jerry"]
    for agent in ("billy", "bobby", "jerry"):
        assert servers[f"bus_{agent}"] == {
            "url": "http://openclaw-bus-jerry.service.consul:8765/mcp", "transport": "streamable-http",
            "headers": {"Authorization": f"Bearer ${{BUS_MCP_TOKEN_{agent.upper()}}}"}}
    entries = config["agents"]["entries"]
    assert entries["bobby"]["tools"] == {"exec": {"security": "allowlist", "ask": "off"},
                                         "alsoAllow": ["bus_bobby__*"], "deny": ["bus_billy__*", "bus_jerry__*"]}
    assert entries["jerry"]["tools"] == {"alsoAllow": ["bus_jerry__*"], "deny": ["bus_billy__*", "bus_bobby__*"]}
    text = json.dumps(config)
    assert "op://" not in text
    # the bus credentials are not 1Password secrets: the secrets role never sees them
    assert not [k for k in openclaw_secret_env(model, "main") if k.startswith("BUS_")]
    assert openclaw_bus_env(model, "main") == ["BUS_MCP_TOKEN_BILLY", "BUS_MCP_TOKEN_BOBBY", "BUS_MCP_TOKEN_JERRY"]


def test_server_prefix_and_port(model):
    model["farm_bus"].update(server_prefix="a2a", port=9100)
    config = openclaw_config(model, "main")
    assert sorted(config["mcp"]["servers"]) == ["a2a_billy", "a2a_bobby", "a2a_jerry"]
    assert config["mcp"]["servers"]["a2a_jerry"]["url"] == "http://openclaw-bus-jerry.service.consul:9100/mcp"
    assert config["agents"]["entries"]["jerry"]["tools"]["alsoAllow"] == ["a2a_jerry__*"]


def test_a_one_agent_gateway_denies_nothing(model):
    model["farm_gateways"].append({"name": "solo", "node": "billy", "image": "ghcr.io/openclaw/openclaw:2026.9.6"})
    model["farm_agents"].append({"id": "solo", "name": "Solo", "gateway": "solo",
                                 "model": {"primary": "anthropic/claude-sonnet-4-5"}, "may_message": ["jerry"]})
    assert fm.validate(model) == []
    config = openclaw_config(model, "solo")
    assert sorted(config["mcp"]["servers"]) == ["bus_solo"]
    assert config["mcp"]["servers"]["bus_solo"]["url"].startswith("http://openclaw-bus-billy.service.consul:")
    assert config["agents"]["entries"]["solo"]["tools"] == {"alsoAllow": ["bus_solo__*"]}
    rows = {r["id"]: r for r in openclaw_bus_agents(model)}
    assert rows["solo"] == {"id": "solo", "gateway": "solo", "node": "billy", "job": "openclaw-bus-billy",
                            "consul_env": "BUS_CONSUL_TOKEN_SOLO", "mcp_env": "BUS_MCP_TOKEN_SOLO",
                            "server": "bus_solo"}
    assert rows["jerry"]["job"] == "openclaw-bus-jerry"


@pytest.mark.parametrize(("change", "expected"), [
    ({"enabled": "yes"}, ("farm_bus.enabled", "must be true or false, got a string")),
    ({"port": 80}, ("farm_bus.port", "80 is outside 1024..65535")),
    ({"image": "localhost/openclaw-bus"}, ("farm_bus.image", "image 'localhost/openclaw-bus' has no tag")),
    ({"server_prefix": "Bus-"}, ("farm_bus.server_prefix", "'Bus-' cannot prefix an MCP server name")),
    ({"thresholds": {"min_delivery_ratio": 99.9}},
     ("farm_bus.thresholds.min_delivery_ratio", "99.9 is outside 0..1 (a ratio: 0.999 is 99.9 %)")),
    ({"thresholds": {"max_p99_ms": -1}}, ("farm_bus.thresholds.max_p99_ms", "-1 is outside 0..3600000 ms")),
    ({"thresholds": {"max_p99_ms": "5s"}}, ("farm_bus.thresholds.max_p99_ms", "must be a number, got a string")),
    ({"bench": {"txn_max_ops": 100}}, ("farm_bus.bench.txn_max_ops", "100 is not one of: 64, 128")),
    ({"bench": {"messages": 0}}, ("farm_bus.bench.messages", "0 is outside 1..1000000")),
    ({"bench": {"batches": [1, 0]}}, ("farm_bus.bench.batches[1]", "0 is outside 1..10000")),
    ({"tresholds": {}}, ("farm_bus.tresholds", 'unknown key "tresholds"')),
])
def test_farm_bus_problems(model, change, expected):
    model["farm_bus"].update(change)
    assert expected in pairs(fm.validate(model))


def test_one_bus_per_node(model):
    model["farm_gateways"].append({"name": "second", "node": "jerry", "port": 19789, "bridge_port": 19790,
                                   "image": "ghcr.io/openclaw/openclaw:2026.9.6"})
    model["farm_agents"].append({"id": "general", "name": "General", "gateway": "second",
                                 "model": {"primary": "anthropic/claude-sonnet-4-5"}})
    problems = pairs(fm.validate(model))
    assert ("farm_gateways[1].node", "node 'jerry' already hosts gateway 'main'; with farm_bus enabled every node "
            "runs one bus process for one gateway") in problems
    model["farm_bus"]["enabled"] = False
    assert fm.validate(model) == []


def test_credential_names_must_not_collide(model):
    model["farm_agents"].append({"id": "jer-ry", "name": "J", "gateway": "main",
                                 "model": {"primary": "anthropic/claude-sonnet-4-5"}})
    model["farm_agents"].append({"id": "jer_ry", "name": "J2", "gateway": "main",
                                 "model": {"primary": "anthropic/claude-sonnet-4-5"}})
    problems = [p for p in fm.validate(model) if p["path"] == "farm_agents[4].id"]
    assert problems and "BUS_MCP_TOKEN_JER_RY" in problems[0]["msg"]


def test_serve_config_is_accepted_by_the_bus_package(model, monkeypatch):
    config = openclaw_bus_serve_config(model, "main", "http://consul.service.consul:8500")
    text = json.dumps(config)
    assert "op://" not in text and "[[" not in text  # the job embeds it in a Nomad template with [[ ]] delimiters
    assert config["gateway"] == {"name": "main", "node": "jerry", "url": "env:OPENCLAW_GATEWAY_URL",
                                 "token": "env:OPENCLAW_GATEWAY_TOKEN", "consul_token": "env:BUS_GATEWAY_CONSUL_TOKEN"}
    assert [a["mcp_token"] for a in config["agents"]] == ["env:BUS_MCP_TOKEN_JERRY", "env:BUS_MCP_TOKEN_BOBBY",
                                                          "env:BUS_MCP_TOKEN_BILLY"]
    assert config["mcp"]["allowed_hosts"][0] == "openclaw-bus-jerry.service.consul:8765"
    src = ROOT / "src"
    if not (src / "openclaw_bus").is_dir():
        pytest.skip("src/openclaw_bus is not part of this tree")
    sys.path.insert(0, str(src))
    try:
        bus_config = importlib.import_module("openclaw_bus.config")
    finally:
        sys.path.remove(str(src))
    for name in ["OPENCLAW_GATEWAY_URL", "OPENCLAW_GATEWAY_TOKEN", "BUS_GATEWAY_CONSUL_TOKEN",
                 *[f"BUS_{kind}_TOKEN_{a}" for kind in ("CONSUL", "MCP") for a in ("JERRY", "BOBBY", "BILLY")]]:
        monkeypatch.setenv(name, f"value-of-{name}")
    loaded = bus_config.from_dict(config) if hasattr(bus_config, "from_dict") else None
    if loaded is None:
        path = Path(pytest.importorskip("tempfile").mkdtemp()) / "bus.json"
        path.write_text(text)
        loaded = bus_config.load(str(path))
    assert loaded.gateway == "main" and loaded.node == "jerry"
    assert sorted(loaded.agents) == ["billy", "bobby", "jerry"]
    assert loaded.gateway_url == "value-of-OPENCLAW_GATEWAY_URL"
