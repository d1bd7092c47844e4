# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm_alerts section of the model: the alert watcher's Apprise URLs as op:// references (never a
value in a message), bounded grace and rate limit, full-matched URL names, and the bus it runs in."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

from .test_farm_model import HOMELAB, HOSTS

URLS = {"ntfy": "op://Homelab/ntfy/url", "owner_slack": "op://Homelab/slack-webhook/apprise url"}


def model_with(alerts, bus=True):
    model = copy.deepcopy(HOMELAB)
    model["farm_bus"] = dict(model.get("farm_bus") or {}, enabled=bus)
    model["farm_alerts"] = alerts
    return model


def problems(alerts, bus=True):
    return [(p["path"], p["msg"], p["fix"]) for p in fm.validate(model_with(alerts, bus), HOSTS)]


def test_defaults_and_a_valid_section():
    normalized = fm.normalize(model_with({"enabled": True, "urls": URLS}))
    assert normalized["farm_alerts"] == {"enabled": True, "urls": URLS, "grace_seconds": 60, "rate_limit": 20,
                                         "resources": {"cpu": 100, "memory": 128}}
    assert problems({"enabled": True, "urls": URLS, "grace_seconds": 0, "rate_limit": 1000}) == []
    assert fm.alerts_enabled(normalized) and fm.alert_references(normalized) == [URLS["ntfy"], URLS["owner_slack"]]
    assert fm.watch_variable("jerry") == "nomad/jobs/openclaw-bus-jerry/bus/watch"
    assert not fm.alerts_enabled(fm.normalize(model_with({"enabled": True, "urls": URLS}, bus=False)))
    assert not fm.alerts_enabled(fm.normalize(copy.deepcopy(HOMELAB)))


@pytest.mark.parametrize("alerts, bus, path, words", [
    ({"enabled": True}, True, "farm_alerts.urls", "at least one Apprise URL"),
    ({"enabled": True, "urls": URLS}, False, "farm_alerts.enabled", "farm_bus.enabled"),
    ({"urls": {"ntfy": "ntfys://ntfy.sh/secret-topic"}}, True, "farm_alerts.urls.ntfy", "not an op:// reference"),
    ({"urls": {"ntfy": "op://Homelab/ntfy"}}, True, "farm_alerts.urls.ntfy", "path parts"),
    ({"urls": {"Ntfy": URLS["ntfy"]}}, True, "farm_alerts.urls.Ntfy", "not an alert URL name"),
    ({"urls": {"ntfy\n": URLS["ntfy"]}}, True, "farm_alerts.urls['ntfy\\n']", "not an alert URL name"),
    ({"urls": {"a" * 33: URLS["ntfy"]}}, True, "farm_alerts.urls." + "a" * 33, "not an alert URL name"),
    ({"grace_seconds": 601}, True, "farm_alerts.grace_seconds", "from 0 to 600"),
    ({"grace_seconds": -1}, True, "farm_alerts.grace_seconds", "from 0 to 600"),
    ({"grace_seconds": float("inf")}, True, "farm_alerts.grace_seconds", "finite"),
    ({"rate_limit": 0}, True, "farm_alerts.rate_limit", "from 1 to 1000"),
    ({"rate_limit": 2.5}, True, "farm_alerts.rate_limit", "whole number"),
    ({"enabled": "yes"}, True, "farm_alerts.enabled", "true or false"),
    ({"resources": {"memory": 8}}, True, "farm_alerts.resources.memory", "from 64"),
    ({"rate_limt": 30}, True, "farm_alerts.rate_limt", 'did you mean "rate_limit"'),
])
def test_bad_settings_are_refused_with_path_and_fix(alerts, bus, path, words):
    found = problems(alerts, bus)
    assert any(p == path and (words in msg or words in fix) for p, msg, fix in found), found
    assert all(fix for _p, _m, fix in found)


def test_a_plaintext_url_is_never_echoed():
    secret = "tgram://123456789:AAH-real-bot-token/4242"
    found = fm.validate(model_with({"enabled": True, "urls": {"telegram": secret}}), HOSTS)
    assert [p["path"] for p in found] == ["farm_alerts.urls.telegram"]
    assert secret not in repr(found) and "real-bot-token" not in fm.format_problems(found)
    assert fm.plaintext_secrets(model_with({"urls": {"telegram": secret}})) == [secret]


def test_farm_alerts_is_a_known_farm_variable():
    assert "farm_alerts" in fm.TOP_LEVEL
    found = fm.validate(model_with({}), HOSTS, var_names=["farm_alert"])
    assert any(p["path"] == "farm_alert" and "farm_alerts" in p["fix"] for p in found), found
