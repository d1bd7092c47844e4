# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.consul_acl_policy through AnsibleModule, Consul replaced by the fake."""

from __future__ import annotations

import pytest
from ansible_collections.octant.openclaw.plugins.modules import consul_acl_policy
from ansible_collections.octant.openclaw.tests.unit.plugins.consul_fake import FakeConsul

CONN = {"consul_address": "http://consul.test:8500", "consul_token": "policy-module-token-77ab"}


@pytest.fixture
def fake(monkeypatch):
    api = FakeConsul()
    monkeypatch.setattr(consul_acl_policy, "ConsulApi", lambda params: api)
    return api


def test_create_and_semantic_rerun(run_module, fake):
    args = dict(CONN, name="agent", rules='key_prefix "a/" { policy = "write" }')
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(consul_acl_policy, args, diff=True)
    assert caught.value.result["operation"] == "create"
    assert caught.value.result["diff"]["after"]["rules"] == 'key_prefix "a/" {\n  policy = "write"\n}\n'
    args["rules"] = '# same\nkey_prefix "a/" {\n\n    policy = "write"   \n}'
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(consul_acl_policy, args, diff=True)
    assert caught.value.result["changed"] is False and "diff" not in caught.value.result


def test_syntax_error_message(run_module, fake):
    with pytest.raises(run_module.FailJson) as caught:
        run_module(consul_acl_policy, dict(CONN, name="agent", rules='key_prefix "a/" {\n policy = "write"\n'))
    assert caught.value.result["msg"] == ("Consul ACL policy 'agent': the rules do not parse: line 3: expected '}', "
                                          "found end of text")
    assert fake.calls == []


def test_name_is_required(run_module, fake):
    with pytest.raises(run_module.FailJson) as caught:
        run_module(consul_acl_policy, dict(CONN))
    assert "missing required arguments: name" in caught.value.result["msg"]
