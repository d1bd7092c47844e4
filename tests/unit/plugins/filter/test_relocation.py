# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of octant.openclaw.relocate: what moves, what is restarted first, what is stopped first."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.octant.openclaw.plugins.filter.relocation import (
    openclaw_placement,
    openclaw_relocation_plan,
)

PHASE2 = {"schema_version": 2, "gateways": {
    "main": {"node": "jerry", "agents": ["billy", "bobby", "jerry"],
             "channels": ["discord:default", "slack:default", "whatsapp:default"]}}}


def model(gateways, agents, channels=()):
    return {"farm_gateways": [{"name": n, "node": node} for n, node in gateways.items()],
            "farm_agents": [{"id": a, "gateway": g} for a, g in agents.items()],
            "farm_channels": [dict(c) for c in channels]}


def test_placement_from_the_farm_record():
    assert openclaw_placement(PHASE2) == {
        "gateways": {"main": "jerry"}, "agents": {"billy": "main", "bobby": "main", "jerry": "main"},
        "channels": {"discord:default": "main", "slack:default": "main", "whatsapp:default": "main"}}


def test_placement_from_the_layout_of_earlier_releases():
    legacy = {"main/node": "jerry", "main/agents": ["bobby", "jerry"], "main/channels": ["whatsapp:default"],
              "main/job": "openclaw-main"}
    assert openclaw_placement(None, legacy) == {"gateways": {"main": "jerry"},
                                                "agents": {"bobby": "main", "jerry": "main"},
                                                "channels": {"whatsapp:default": "main"}}
    assert openclaw_placement(None, None) == {"gateways": {}, "agents": {}, "channels": {}}


def test_phase2_to_phase4_moves_agents_and_the_whatsapp_session_and_restarts_main_first():
    target = model({"main": "jerry", "bobby": "bobby", "billy": "billy"},
                   {"jerry": "main", "bobby": "bobby", "billy": "billy", "deploy": "billy"},
                   [{"kind": "whatsapp", "gateway": "bobby"}, {"kind": "slack", "gateway": "main"}])
    plan = openclaw_relocation_plan(target, openclaw_placement(PHASE2))
    assert [(m["name"], m["from_gateway"], m["to_gateway"], m["to_node"]) for m in plan["moves"]] == [
        ("agent bobby", "main", "bobby", "bobby"), ("agent billy", "main", "billy", "billy"),
        ("whatsapp default", "main", "bobby", "bobby")]
    assert plan["moves"][0]["paths"] == ["workspaces/bobby", "state/agents/bobby"]
    assert plan["moves"][2]["paths"] == ["state/credentials/whatsapp/default"]
    assert plan["moves"][0]["id"] == "agent bobby: main@jerry -> bobby@bobby"
    assert plan["restart"] == ["main"] and plan["stop"] == [] and plan["stop_jobs"] == []


def test_a_new_agent_and_an_unchanged_farm_move_nothing():
    same = model({"main": "jerry"}, {"jerry": "main", "bobby": "main", "billy": "main", "new": "main"})
    nothing = {"moves": [], "restart": [], "stop": [], "stop_jobs": []}
    assert openclaw_relocation_plan(same, openclaw_placement(PHASE2)) == nothing
    assert openclaw_relocation_plan(same, openclaw_placement(None)) == nothing


def test_a_gateway_moved_to_another_node_is_stopped_and_its_agents_follow():
    moved = model({"main": "bobby"}, {"jerry": "main", "bobby": "main", "billy": "main"})
    plan = openclaw_relocation_plan(moved, openclaw_placement(PHASE2))
    assert {m["name"] for m in plan["moves"]} == {"agent jerry", "agent bobby", "agent billy"}
    assert all(m["from_node"] == "jerry" and m["to_node"] == "bobby" for m in plan["moves"])
    assert plan["stop"] == ["main"] and plan["stop_jobs"] == ["openclaw-main"] and plan["restart"] == []


def test_a_dropped_gateway_is_stopped():
    placement = openclaw_placement({"gateways": {"main": {"node": "jerry", "agents": ["jerry"]},
                                                 "old": {"node": "billy", "agents": ["billy"]}}})
    plan = openclaw_relocation_plan(model({"main": "jerry"}, {"jerry": "main", "billy": "main"}), placement)
    assert [m["name"] for m in plan["moves"]] == ["agent billy"]
    assert plan["stop"] == ["old"] and plan["stop_jobs"] == ["openclaw-old"] and plan["restart"] == []


def test_bad_input_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="validated farm model"):
        openclaw_relocation_plan("nope", {})
