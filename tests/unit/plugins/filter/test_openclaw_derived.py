# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The derived facts: computed once by farm_validate, published by preflight as openclaw_farm.derived, and
used by the filters without checking the model again; equal to what the filters compute from a raw model; a
published model changed afterwards is checked and derived again."""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.octant.openclaw.plugins.filter.openclaw import (
    openclaw_bus_env,
    openclaw_config,
    openclaw_derived,
    openclaw_secret_env,
)
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm
from ansible_collections.octant.openclaw.plugins.modules import farm_validate

ROOT = Path(__file__).resolve().parents[4]
validation = importlib.import_module("ansible_collections.octant.openclaw.plugins.module_utils._farm_model.validation")
with open(ROOT / "inventory" / "homelab" / "group_vars" / "all" / "farm.yml", encoding="utf-8") as _handle:
    HOMELAB = {k: v for k, v in yaml.safe_load(_handle).items() if k in fm.TOP_LEVEL}


@pytest.fixture
def model():
    farm = copy.deepcopy(HOMELAB)
    farm["farm_bus"] = dict(farm.get("farm_bus") or {}, enabled=True)
    return farm


@pytest.fixture
def published(model, run_module):
    """openclaw_farm as the preflight role publishes it: farm_validate's model combined with its derived facts,
    after the JSON round trip of a module result."""
    with pytest.raises(run_module.ExitJson) as outcome:
        run_module(farm_validate, {"model": model})
    result = json.loads(json.dumps(outcome.value.result))
    return dict(result["model"], derived=result["derived"])


def test_the_facts_are_those_the_filters_compute(model):
    derived = openclaw_derived(model)
    assert derived["kv"] == {"root": "openclaw", "bus": "openclaw/bus", "registry": "openclaw/registry",
                             "watch": "openclaw/watch", "legacy_gateways": "openclaw/gateways"}
    assert derived["bus_enabled"] is True
    for gw in model["farm_gateways"]:
        name = gw["name"]
        facts = derived["gateways"][name]
        assert facts["job"] == f"openclaw-{name}"
        assert facts["dir"] == f"openclaw/{name}"
        assert facts["variable"] == f"nomad/jobs/openclaw-{name}"
        assert facts["bus_variable"] == f"nomad/jobs/openclaw-{name}/gateway/gateway"
        assert facts["bus_job"] == f"openclaw-bus-{gw['node']}"
        assert facts["agents"] == [a["id"] for a in model["farm_agents"] if a["gateway"] == name]
        assert facts["secret_keys"] == sorted(openclaw_secret_env(model, name))
        assert facts["bus_keys"] == openclaw_bus_env(model, name)
        assert facts["plugins"] == sorted(openclaw_config(model, name)["plugins"]["entries"])
        assert derived["nodes"][gw["node"]] == {
            "bus_job": f"openclaw-bus-{gw['node']}", "bus_variable": f"nomad/jobs/openclaw-bus-{gw['node']}",
            "watch_variable": f"nomad/jobs/openclaw-bus-{gw['node']}/bus/watch"}


def test_a_published_model_is_not_checked_again(published, model, monkeypatch):
    expected = {gw["name"]: openclaw_config(model, gw["name"]) for gw in model["farm_gateways"]}

    def no_validation(*_args, **_kwargs):
        raise AssertionError("the published model was validated again")

    monkeypatch.setattr(validation, "validate", no_validation)
    assert openclaw_derived(published) is published["derived"]
    for name, config in expected.items():
        assert openclaw_config(published, name) == config


def test_a_published_model_passes_through_ansible_templating(published):
    from ansible.template import Templar, trust_as_template

    templar = Templar(loader=None, variables={"openclaw_farm": published})
    text = "{{ (openclaw_farm | octant.openclaw.openclaw_derived).fingerprint }}"
    rendered = templar.template(trust_as_template(text))
    assert rendered == published["derived"]["fingerprint"]


def test_a_model_changed_after_preflight_is_derived_again(published):
    moved = copy.deepcopy(published)
    moved["farm_agents"][0]["gateway"] = moved["farm_gateways"][-1]["name"]
    agent = moved["farm_agents"][0]["id"]
    assert agent in openclaw_derived(moved)["gateways"][moved["farm_gateways"][-1]["name"]]["agents"]
    broken = copy.deepcopy(published)
    broken["farm_agents"][0]["gateway"] = "nowhere"
    with pytest.raises(AnsibleFilterError, match=r"farm_agents\[0\]\.gateway: unknown gateway 'nowhere'"):
        openclaw_derived(broken)


def test_validate_leaves_the_derived_facts_out(published):
    assert fm.validate(published) == []
    assert fm.DERIVED_KEY not in fm.normalize(published)
