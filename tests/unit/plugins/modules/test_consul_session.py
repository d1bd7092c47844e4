# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.consul_session through AnsibleModule, Consul replaced by the fake."""

from __future__ import annotations

import pytest
from ansible_collections.octant.openclaw.plugins.modules import consul_session
from ansible_collections.octant.openclaw.tests.unit.plugins.consul_fake import FakeConsul

CONN = {"consul_address": "http://consul.test:8500", "consul_token": "session-module-token-11aa"}


@pytest.fixture
def fake(monkeypatch):
    api = FakeConsul()
    monkeypatch.setattr(consul_session, "ConsulApi", lambda params: api)
    return api


def test_create_rerun_destroy(run_module, fake):
    args = dict(CONN, name="leader", node="jerry", ttl="30s", node_checks=[])
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(consul_session, args)
    created = caught.value.result
    assert created["changed"] and created["operation"] == "create" and created["session"]["TTL"] == "30s"
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(consul_session, args)
    assert caught.value.result["changed"] is False and caught.value.result["id"] == created["id"]
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(consul_session, dict(args, state="absent"))
    assert caught.value.result["destroyed"] == [created["id"]]


def test_checks_and_node_checks_are_exclusive(run_module, fake):
    with pytest.raises(run_module.FailJson) as caught:
        run_module(consul_session, dict(CONN, name="x", checks=["a"], node_checks=["b"]))
    assert "mutually exclusive: checks|node_checks" in caught.value.result["msg"]


def test_immutable_settings_message(run_module, fake):
    with pytest.raises(run_module.ExitJson):
        run_module(consul_session, dict(CONN, name="leader", node="jerry", ttl="30s"))
    with pytest.raises(run_module.FailJson) as caught:
        run_module(consul_session, dict(CONN, name="leader", node="jerry", ttl="45s"))
    assert "the session exists with other settings (ttl)" in caught.value.result["msg"]
    assert caught.value.result["changes"] == ["ttl"]
