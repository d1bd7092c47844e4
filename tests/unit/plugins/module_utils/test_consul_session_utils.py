# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""consul_session logic: durations, finding a session by name and node, immutable settings."""

from __future__ import annotations

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils import _consul_session as cs
from ansible_collections.octant.openclaw.plugins.module_utils._module import Context
from ansible_collections.octant.openclaw.tests.unit.plugins.consul_fake import FakeConsul


def params(**extra):
    out = {"name": "leader", "node": "jerry", "ttl": None, "behavior": "release", "lock_delay": "15s",
           "node_checks": None, "service_checks": None, "checks": None, "recreate": False, "state": "present"}
    out.update(extra)
    return out


@pytest.mark.parametrize("text, seconds", [
    ("15s", 15), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), ("2h0m0s", 7200), ("30", 30), (45, 45),
    ("1.5s", 1.5), ("10us", 1e-5),
])
def test_duration_seconds(text, seconds):
    assert cs.duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["fast", "15x", "s", "1m x"])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="is not a duration"):
        cs.duration_seconds(bad)


def test_api_durations():
    assert cs.seconds(15_000_000_000) == 15  # LockDelay as Consul returns it (ns)
    assert cs.seconds(15) == 15
    assert cs.seconds("30s") == 30
    assert cs.seconds("") is None and cs.seconds(None) is None


def test_desired_session_body():
    body = cs.desired_session(params(ttl="30", behavior="delete", lock_delay="0s", node_checks=[],
                                     service_checks=[{"id": "service:web", "namespace": None}]), "jerry")
    assert body == {"Name": "leader", "Node": "jerry", "Behavior": "delete", "TTL": "30s", "LockDelay": "0s",
                    "NodeChecks": [], "ServiceChecks": [{"ID": "service:web"}]}


@pytest.mark.parametrize("extra, message", [
    ({"ttl": "5s"}, "ttl must be between 10s and 24h"),
    ({"ttl": "25h"}, "ttl must be between 10s and 24h"),
    ({"lock_delay": "2m"}, "lock_delay is at most 60s"),
    ({"ttl": "soon"}, "is not a duration"),
])
def test_invalid_settings_fail_before_writing(extra, message):
    api = FakeConsul()
    with pytest.raises(cs.OperationError, match=message):
        cs.run_session(api, params(**extra))
    assert api.writes() == []


def test_create_then_unchanged():
    api = FakeConsul()
    result = cs.run_session(api, params(ttl="30s", node_checks=[]), Context(diff=True))
    assert result["operation"] == "create" and result["id"] in api.sessions
    assert result["diff"]["after"]["ttl"] == "30s"
    api.calls.clear()
    again = cs.run_session(api, params(ttl="30s", node_checks=[]))
    assert again["changed"] is False and again["id"] == result["id"]
    assert [c[0] for c in api.calls] == ["session_list_node"]


def test_node_defaults_to_the_agent():
    api = FakeConsul(node="bobby")
    result = cs.run_session(api, params(node=None))
    assert api.sessions[result["id"]]["Node"] == "bobby"
    assert api.calls[0][0] == "agent_node_name"


def test_same_name_on_another_node_is_another_session():
    api = FakeConsul()
    first = cs.run_session(api, params(node="jerry"))
    second = cs.run_session(api, params(node="bobby"))
    assert first["id"] != second["id"] and len(api.sessions) == 2


def test_different_settings_fail_unless_recreate():
    api = FakeConsul()
    first = cs.run_session(api, params(ttl="30s"))
    with pytest.raises(cs.OperationError) as caught:
        cs.run_session(api, params(ttl="60s", behavior="delete"))
    assert "other settings (behavior, ttl)" in caught.value.message and "recreate=true" in caught.value.message
    result = cs.run_session(api, params(ttl="60s", behavior="delete", recreate=True))
    assert result["operation"] == "recreate" and result["changes"] == ["behavior", "ttl"]
    assert first["id"] not in api.sessions and result["id"] in api.sessions


def test_renewed():
    api = FakeConsul()
    no_ttl = cs.run_session(api, params(name="plain"))
    assert cs.run_session(api, params(name="plain", state="renewed"))["changed"] is False
    assert api.count("session_renew") == 0
    ttl = cs.run_session(api, params(ttl="30s"))
    result = cs.run_session(api, params(ttl="30s", state="renewed"))
    assert result["operation"] == "renew" and result["changed"] and result["id"] == ttl["id"]
    assert api.count("session_renew") == 1
    check = cs.run_session(api, params(ttl="30s", state="renewed"), Context(check_mode=True))
    assert check["changed"] and api.count("session_renew") == 1
    created = cs.run_session(api, params(name="new", ttl="30s", state="renewed"))
    assert created["operation"] == "create"
    assert no_ttl["id"] in api.sessions


def test_renew_of_a_session_that_vanished_creates_it_again():
    api = FakeConsul()
    cs.run_session(api, params(ttl="30s"))
    api.session_renew = lambda session_id, node=None: None
    result = cs.run_session(api, params(ttl="30s", state="renewed"))
    assert result["operation"] == "create"


def test_duplicates():
    api = FakeConsul()
    api.session_create({"Name": "leader", "Node": "jerry"})
    api.session_create({"Name": "leader", "Node": "jerry"})
    with pytest.raises(cs.OperationError, match="2 sessions have this name"):
        cs.run_session(api, params())
    result = cs.run_session(api, params(state="absent"), Context(diff=True))
    assert result["changed"] and len(result["destroyed"]) == 2 and api.sessions == {}
    assert cs.run_session(api, params(state="absent"))["changed"] is False


def test_check_mode_writes_nothing():
    api = FakeConsul()
    result = cs.run_session(api, params(), Context(check_mode=True))
    assert result["changed"] and result["id"] is None and api.writes() == []
    cs.run_session(api, params())
    assert cs.run_session(api, params(state="absent"), Context(check_mode=True))["changed"]
    assert len(api.sessions) == 1


def test_legacy_checks_field_is_compared():
    existing = {"Behavior": "release", "TTL": "", "LockDelay": 15_000_000_000, "Checks": ["serfHealth"]}
    desired = cs.desired_session(params(node_checks=["serfHealth"]), "jerry")
    assert cs.differences(existing, desired) == []
    desired = cs.desired_session(params(node_checks=[]), "jerry")
    assert cs.differences(existing, desired) == ["node_checks"]
