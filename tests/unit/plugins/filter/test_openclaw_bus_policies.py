# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/_bus_policies.py is a port of src/openclaw_bus/policies.py: for every model here both
generate exactly the same policies (names, rules text byte for byte, recipients), with and without
replies, and refuse the same broken models. The openclaw_bus_policies filter is that output for the
farm model (farm_bus.replies decides)."""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.octant.openclaw.plugins.filter.openclaw import openclaw_bus_policies
from ansible_collections.octant.openclaw.plugins.module_utils import _bus_policies as bp
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

ROOT = Path(__file__).resolve().parents[4]
SRC = ROOT / "src"
with open(ROOT / "inventory" / "homelab" / "group_vars" / "all" / "farm.yml", encoding="utf-8") as _handle:
    HOMELAB = {k: v for k, v in yaml.safe_load(_handle).items() if k in fm.TOP_LEVEL}


@pytest.fixture(scope="module")
def upstream():
    """src/openclaw_bus/policies.py and its error class (skipped where the checkout's src/ is absent,
    e.g. a built collection)."""
    if not (SRC / "openclaw_bus" / "policies.py").is_file():
        pytest.skip("src/openclaw_bus is not part of this tree")
    sys.path.insert(0, str(SRC))
    try:
        policies = importlib.import_module("openclaw_bus.policies")
        envelope = importlib.import_module("openclaw_bus.envelope")
    finally:
        sys.path.remove(str(SRC))
    return policies, envelope


MODELS = {
    "homelab": HOMELAB,
    "plain": {"agents": [{"id": "a", "may_message": ["b"]}, {"id": "b", "may_message": []},
                         {"id": "c", "may_message": ["a", "b"]}]},
    "gateways": {"agents": [{"id": "jerry", "gateway": "main", "may_message": ["bobby", "billy"]},
                            {"id": "bobby", "gateway": "ops", "may_message": ["jerry"]},
                            {"id": "billy", "gateway": "ops"}],
                 "gateways": [{"name": "main", "node": "jerry"}, {"name": "ops", "node": "bobby"}]},
    "isolated": {"agents": [{"id": "solo"}], "gateways": [{"name": "edge"}]},
    "mixed-case": {"agents": [{"id": "Agent_1", "may_message": ["agent-2"]}, {"id": "agent-2"}]},
}
BROKEN = [
    [],
    {"agents": []},
    {"agents": [{"id": "a"}, {"id": "a"}]},
    {"agents": [{"id": "a", "may_message": ["zz"]}]},
    {"agents": [{"id": "a", "may_message": ["a"]}]},
    {"agents": [{"id": "a/b"}]},
    {"agents": [{"id": "a", "may_message": "b"}]},
    {"agents": ["a"]},
    {"agents": [{"id": "a"}], "gateways": [{"name": "bad name"}]},
    {"agents": [{"id": "a\n"}]},                                # a trailing newline passes `$` alone
    {"agents": [{"id": "a"}], "gateways": [{"name": "main\n"}]},
    {"agents": [{"id": "a", "may_message": [["b"]]}, {"id": "b"}]},
    {"agents": [{"id": "a", "capabilities": 5}]},
    {"agents": [{"id": "a", "capabilities": "general"}]},
    {"agents": [{"id": "a", "description": ["x"]}]},
    {"agents": [{"id": "a"}], "gateways": [{"name": "main", "node": 5}]},
]


def strip(generated):
    """The upstream also carries registry details (capabilities, names) the port does not need."""
    return {"agents": {k: {f: v[f] for f in ("name", "rules", "may_message", "may_write_to")}
                       for k, v in generated["agents"].items()},
            "gateways": generated["gateways"], "watchers": generated["watchers"]}


@pytest.mark.parametrize("replies", [True, False])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_identical_to_openclaw_bus_policies(upstream, name, replies):
    policies, _envelope = upstream
    model = copy.deepcopy(MODELS[name])
    assert bp.generate(model, replies=replies) == strip(policies.generate(copy.deepcopy(model), replies=replies))


@pytest.mark.parametrize("index", range(len(BROKEN)))
def test_refuses_what_openclaw_bus_refuses(upstream, index):
    policies, envelope = upstream
    with pytest.raises(envelope.BusError) as theirs:
        policies.generate(copy.deepcopy(BROKEN[index]))
    with pytest.raises(bp.BusPolicyError) as ours:
        bp.generate(copy.deepcopy(BROKEN[index]))
    assert str(ours.value) == str(theirs.value)


def test_jerry_rules_in_full():
    generated = bp.generate(MODELS["gateways"])
    jerry = generated["agents"]["jerry"]
    assert jerry["name"] == "openclaw-bus-agent-jerry"
    assert jerry["may_write_to"] == ["billy", "bobby"]
    assert jerry["rules"].splitlines()[3:] == [
        'key_prefix "openclaw/bus/jerry/in/" {', '  policy = "write"', "}",
        'key_prefix "openclaw/bus/jerry/hwm/" {', '  policy = "write"', "}",
        'key_prefix "openclaw/bus/jerry/dead/" {', '  policy = "write"', "}",
        "# may message billy: write only as itself; read its own high-water mark there. Write",
        "# also lets it withdraw (delete) its unread messages; billy dead-letters any it changes.",
        'key_prefix "openclaw/bus/billy/in/jerry/" {', '  policy = "write"', "}",
        'key "openclaw/bus/billy/hwm/jerry" {', '  policy = "read"', "}",
        "# may message bobby: write only as itself; read its own high-water mark there. Write",
        "# also lets it withdraw (delete) its unread messages; bobby dead-letters any it changes.",
        'key_prefix "openclaw/bus/bobby/in/jerry/" {', '  policy = "write"', "}",
        'key "openclaw/bus/bobby/hwm/jerry" {', '  policy = "read"', "}",
        "# The registry: who exists, what they can do, which gateways are alive.",
        'key_prefix "openclaw/registry/" {', '  policy = "read"', "}"]
    ops = generated["gateways"]["ops"]
    assert ops["agents"] == ["billy", "bobby"] and ops["node"] == "bobby"
    assert 'session "bobby" {' in ops["rules"] and 'key "openclaw/registry/gateways/ops" {' in ops["rules"]


def test_billy_may_reply_only_with_replies():
    with_replies = bp.generate(MODELS["gateways"])["agents"]["billy"]
    assert with_replies["may_write_to"] == ["jerry"]
    assert "# may reply to (it may message this agent) jerry" in with_replies["rules"]
    assert bp.generate(MODELS["gateways"], replies=False)["agents"]["billy"]["may_write_to"] == []


def test_filter_follows_farm_bus_replies():
    model = copy.deepcopy(HOMELAB)
    on = openclaw_bus_policies(model)
    model["farm_bus"] = dict(model.get("farm_bus") or {}, replies=False)
    off = openclaw_bus_policies(model)
    assert on["agents"]["billy"]["may_write_to"] != off["agents"]["billy"]["may_write_to"] or \
        on["agents"]["billy"]["may_message"] == on["agents"]["billy"]["may_write_to"]
    assert sorted(on["agents"]) == ["billy", "bobby", "jerry"] and sorted(on["gateways"]) == ["main"]
    assert on["gateways"]["main"]["node"] == "jerry"


def test_filter_refuses_an_invalid_model():
    model = copy.deepcopy(HOMELAB)
    model["farm_agents"][0]["may_message"] = ["nobody"]
    with pytest.raises(AnsibleFilterError, match="unknown agent 'nobody'"):
        openclaw_bus_policies(model)


def test_watcher_rules_in_full():
    """The alert watcher's token: health reads, its own KV prefix, a session on its node; nothing else."""
    generated = bp.generate(MODELS["gateways"])
    assert sorted(generated["watchers"]) == ["bobby", "jerry"]
    jerry = generated["watchers"]["jerry"]
    assert jerry["name"] == "openclaw-bus-watch-jerry" and jerry["node"] == "jerry"
    assert jerry["rules"] == (
        "# openclaw-bus watcher 'jerry': generated from the farm model by `openclaw-bus policies`; do not edit\n"
        "# Consul health: serfHealth of every node, the checks of the gateways and the bus relays.\n"
        'node_prefix "" {\n  policy = "read"\n}\n'
        'service_prefix "openclaw-" {\n  policy = "read"\n}\n'
        "# The lock (one sender at a time) and the incident records.\n"
        'key_prefix "openclaw/watch/" {\n  policy = "write"\n}\n'
        "# Its lock session is bound to Consul node jerry.\n"
        'session "jerry" {\n  policy = "write"\n}\n')
    assert bp.generate(MODELS["isolated"])["watchers"] == {}, "a gateway without a node has no watcher"
