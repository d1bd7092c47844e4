# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm_health section of the model (bounded thresholds, inbox overrides naming real agents exactly)
and the pieces of FarmHealth that need no cluster: the request formula, the variables each job needs,
the table."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_health as fh
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

from .test_farm_model import HOMELAB, HOSTS


def problems(health):
    model = copy.deepcopy(HOMELAB)
    model["farm_health"] = health
    return [(p["path"], p["msg"], p["fix"]) for p in fm.validate(model, HOSTS)]


def test_defaults_and_an_override_resolve_per_inbox():
    model = fm.normalize(dict(copy.deepcopy(HOMELAB), farm_health={"inboxes": {"billy": {"backlog_max": 5}}}))
    assert model["farm_health"]["backlog_max"] == 100
    assert fm.health_thresholds(model, "billy") == {"backlog_max": 5, "oldest_unacked_max_seconds": 600,
                                                    "dead_letters_max": 0}
    assert fm.health_thresholds(model, "jerry")["backlog_max"] == 100
    assert problems({"inboxes": {"billy": {"backlog_max": 5}}}) == []


@pytest.mark.parametrize("health, path, words", [
    ({"backlog_max": -1}, "farm_health.backlog_max", "from 0 to 1000000"),
    ({"oldest_unacked_max_seconds": 10 ** 9}, "farm_health.oldest_unacked_max_seconds", "from 1 to 604800"),
    ({"oldest_unacked_max_seconds": float("nan")}, "farm_health.oldest_unacked_max_seconds", "finite"),
    ({"healthz_timeout_seconds": "5"}, "farm_health.healthz_timeout_seconds", "must be a number"),
    ({"dead_letters_max": True}, "farm_health.dead_letters_max", "whole number"),
    ({"backlog": 5}, "farm_health.backlog", 'did you mean "backlog_max"'),
    ({"inboxes": {"bily": {"backlog_max": 5}}}, "farm_health.inboxes.bily", 'did you mean "billy"'),
    ({"inboxes": {"Billy": {}}}, "farm_health.inboxes.Billy", "unknown agent"),
    ({"inboxes": {"billy": {"probe_prompt": "x"}}}, "farm_health.inboxes.billy.probe_prompt", "unknown key"),
])
def test_bad_thresholds_are_refused_with_path_and_fix(health, path, words):
    found = problems(health)
    assert any(p == path and (words in msg or words in fix) for p, msg, fix in found), found
    assert all(fix for _p, _m, fix in found)


def test_request_formula():
    assert fh.request_formula(3, 7, bus=True) == 36
    assert fh.request_formula(1, 3, bus=False) == 6


def test_the_variables_each_job_needs_follow_the_model():
    model = fm.normalize(dict(copy.deepcopy(HOMELAB), farm_bus={"enabled": True}))
    health = fh.FarmHealth(None, None, None, model)
    needed = health.needed_variables()
    gateways = [gw for gw in model["farm_gateways"] if gw.get("runtime") != "launchd"]
    assert len(needed) == 3 * len(gateways)
    path, job, keys = needed[0]
    assert path == f"nomad/jobs/{job}" and "OPENCLAW_GATEWAY_TOKEN" in keys
    bus_path, _job, bus_keys = needed[2]
    assert bus_path.startswith("nomad/jobs/openclaw-bus-") and "BUS_GATEWAY_CONSUL_TOKEN" in bus_keys


def test_the_table_puts_the_worst_first_and_counts():
    health = fh.FarmHealth(None, None, None, fm.normalize(copy.deepcopy(HOMELAB)))
    health.add("gateway main", "nomad job", fh.OK, "openclaw-main v1 running", "status running")
    health.add("inbox billy", "backlog", fh.CRITICAL, "7 unacknowledged", "farm_health.backlog_max 5")
    lines = health.table()
    assert lines[0].split() == ["STATUS", "SUBJECT", "CHECK", "DETAIL"]
    assert lines[1].startswith("CRITICAL  inbox billy") and lines[1].endswith("[farm_health.backlog_max 5]")
    assert lines[-1] == "2 checks: 1 ok, 0 warning, 1 critical"
    assert fh.FarmHealth.describe(health.rows[1]) == \
        "inbox billy: backlog 7 unacknowledged (threshold: farm_health.backlog_max 5)"


def test_extra_items_such_as_stored_token_accessors_are_not_a_finding():
    """consul_acl_token writes <item>_ACCESSOR beside each SecretID it stores: the bus and gateway
    templates name their keys, so an extra item is harmless; only a missing key is critical."""
    model = fm.normalize(dict(copy.deepcopy(HOMELAB), farm_bus={"enabled": True}))
    health = fh.FarmHealth(None, None, None, model)
    needed = health.needed_variables()

    class Nomad:
        def get_variable(self, path):
            keys = next(k for p, _j, k in needed if p == path)
            items = {k: "x" for k in keys} | {f"{k}_ACCESSOR": "6a1253d2-1785-24fd-91c2-f8e78c745511" for k in keys}
            if path == needed[-1][0]:
                items.pop(keys[0])
            return {"Items": items}

    health.nomad = Nomad()
    health._variables()
    rows = [(r["status"], r["detail"]) for r in health.rows]
    assert len(rows) == len(needed)
    assert rows[:-1] == [(fh.OK, f"{p} has its {len(k)} keys") for p, _j, k in needed[:-1]]
    assert rows[-1] == (fh.CRITICAL, f"{needed[-1][0]} lacks {needed[-1][2][0]}")
