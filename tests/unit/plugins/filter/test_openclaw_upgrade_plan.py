# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade plan (playbooks/upgrade.yml prints it, in --check too): one row per Nomad gateway in the model's
order, what its job runs against the model's image; launchd gateways left out."""

from __future__ import annotations

import copy

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.octant.openclaw.plugins.filter.upgrade import openclaw_upgrade_plan
from ansible_collections.octant.openclaw.tests.unit.plugins.filter.test_openclaw_filter_launchd import homelab_with_mac

DIGEST = "sha256:" + "cd" * 32


def job(image, version):
    return {"ID": "x", "Version": version, "TaskGroups": [{"Name": "gateway", "Tasks": [
        {"Name": "plugins", "Config": {"image": "other"}}, {"Name": "gateway", "Config": {"image": image}}]}]}


@pytest.fixture
def model():
    """The homelab with the MacBook's launchd gateway; a second Nomad gateway ops on bobby put first (the model's
    order is the plan's) with agent bobby; upgraded to 2026.9.7."""
    farm = homelab_with_mac()
    ops = dict(copy.deepcopy(farm["farm_gateways"][0]), name="ops", node="bobby", hostname="ops.lab.test")
    ops.pop("system_agent", None)
    farm["farm_gateways"].insert(0, ops)
    bobby = next(a for a in farm["farm_agents"] if a["id"] == "bobby")
    bobby["gateway"] = "ops"
    for channel in farm.get("farm_channels") or ():
        channel["bindings"] = [b for b in channel.get("bindings") or () if b.get("agent") != "bobby"]
    for agent in farm["farm_agents"]:
        agent["may_spawn"] = [a for a in agent.get("may_spawn") or () if a != "bobby"]
    farm["openclaw_version"] = "2026.9.7"
    return farm


def test_each_gateway_in_model_order_with_what_runs_and_what_comes(model):
    plan = openclaw_upgrade_plan(model, {"main": job(f"ghcr.io/openclaw/openclaw:2026.9.6@{DIGEST}", 4),
                                         "ops": None})
    assert plan == [
        {"gateway": "ops", "node": "bobby", "job": "openclaw-ops", "running": "not deployed",
         "running_version": None, "version": None, "new": "ghcr.io/openclaw/openclaw:2026.9.7", "change": True},
        {"gateway": "main", "node": "jerry", "job": "openclaw-main",
         "running": f"ghcr.io/openclaw/openclaw:2026.9.6@{DIGEST}", "running_version": "2026.9.6", "version": 4,
         "new": "ghcr.io/openclaw/openclaw:2026.9.7", "change": True}]


def test_a_gateway_already_on_the_model_image_is_no_change(model):
    (_ops, main) = openclaw_upgrade_plan(model, {"main": job("ghcr.io/openclaw/openclaw:2026.9.7", 2)})
    assert main["change"] is False and main["running_version"] == "2026.9.7"


def test_a_launchd_gateway_is_not_part_of_the_plan(model):
    assert model["farm_gateways"][-1]["runtime"] == "launchd"
    assert [row["gateway"] for row in openclaw_upgrade_plan(model, {})] == ["ops", "main"]


def test_bad_input_names_the_problem(model):
    with pytest.raises(AnsibleFilterError, match="jobs must map gateway names"):
        openclaw_upgrade_plan(model, ["main"])
    model["farm_gateways"][1]["image"] = "ghcr.io/openclaw/openclaw:2026.9.5"
    with pytest.raises(AnsibleFilterError, match=r"farm_gateways\[1\]\.image: image tag '2026.9.5' does not match"):
        openclaw_upgrade_plan(model, {})
