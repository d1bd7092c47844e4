# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.consul_kv through AnsibleModule (arguments in, printed JSON out), with the
Consul API replaced by the in-memory fake."""

from __future__ import annotations

import pytest
from ansible_collections.octant.openclaw.plugins.modules import consul_kv
from ansible_collections.octant.openclaw.tests.unit.plugins.consul_fake import FakeConsul

CONN = {"consul_address": "http://consul.test:8500", "consul_token": "kv-module-token-3e8f0a9b"}


@pytest.fixture
def fake(monkeypatch):
    api = FakeConsul()
    monkeypatch.setattr(consul_kv, "ConsulApi", lambda params: api)
    return api


def run(run_module, args, **kw):
    return run_module(consul_kv, dict(CONN, **args), **kw)


@pytest.mark.parametrize("args, message", [
    ({}, "one of the following is required: key, prefix"),
    ({"key": "a", "prefix": "b"}, "mutually exclusive: key|prefix"),
    ({"prefix": "p", "cas": 1}, "mutually exclusive: prefix|cas"),
    ({"key": "a", "tree": {"x": 1}}, "mutually exclusive: key|tree"),
    ({"key": "a", "state": "acquire"}, "state is acquire but all of the following are missing: session"),
    ({"prefix": "p", "state": "release", "session": "s"}, "mutually exclusive: prefix|session"),
    ({"key": "a", "value": "v", "delete_unlisted": True}, "delete_unlisted needs tree mode"),
    ({"prefix": "p", "tree": {"a//b": 1}}, "tree key 'a//b' must not contain '//'"),
    ({"prefix": "/p", "tree": {}}, "prefix '/p' must not start with '/'"),
    ({"key": "a"}, "state=present with key needs the value option"),
])
def test_argument_errors(run_module, fake, args, message):
    with pytest.raises(run_module.FailJson) as caught:
        run(run_module, args)
    assert message in caught.value.result["msg"]
    assert fake.writes() == []


def test_tree_result_and_token_never_echoed(run_module, fake):
    fake.seed("app/old", "x")
    with pytest.raises(run_module.ExitJson) as caught:
        run(run_module, {"prefix": "app", "tree": {"a": "1", "b": {"k": [1]}}, "delete_unlisted": True}, diff=True)
    result = caught.value.result
    assert result["changed"] is True
    assert result["created"] == ["a", "b"] and result["deleted"] == ["old"]
    assert result["counts"] == {"created": 2, "updated": 0, "deleted": 1, "unchanged": 0, "transactions": 1}
    assert result["diff"]["after"] == {"a": "1", "b": '{"k":[1]}'}
    assert fake.kv["app/b"]["Value"] == b'{"k":[1]}'
    assert "kv-module-token-3e8f0a9b" not in str(result)


def test_tree_partial_failure_is_in_the_failure_result(run_module, fake):
    for i in range(100):
        fake.seed(f"app/k{i:03d}", "old")
    fake.txn_faults[2] = {"Results": None, "Errors": [{"OpIndex": 3, "What": "failed to set key, index is stale"}]}
    with pytest.raises(run_module.FailJson) as caught:
        run(run_module, {"prefix": "app", "tree": {f"k{i:03d}": "new" for i in range(100)}})
    result = caught.value.result
    assert result["changed"] is True and result["failed_transaction"] == 2 and result["transactions"] == 2
    assert len(result["applied"]["updated"]) == 64 and len(result["not_applied"]) == 36
    assert result["msg"].startswith("Consul transaction 2 of 2 under 'app/' was rolled back (HTTP 409): "
                                    "operation 3 (key 'app/k067'): failed to set key, index is stale. 64 key "
                                    "change(s) were applied by transaction 1 before it failed")


def test_key_check_mode(run_module, fake):
    with pytest.raises(run_module.ExitJson) as caught:
        run(run_module, {"key": "app/k", "value": "v"}, check_mode=True)
    assert caught.value.result["changed"] is True and caught.value.result["operation"] == "create"
    assert fake.writes() == []


def test_key_roundtrip(run_module, fake):
    with pytest.raises(run_module.ExitJson):
        run(run_module, {"key": "app/k", "value": "v", "flags": 5})
    with pytest.raises(run_module.ExitJson) as caught:
        run(run_module, {"key": "app/k", "value": "v", "flags": 5})
    assert caught.value.result["changed"] is False and caught.value.result["flags"] == 5


def test_missing_consul_library_names_both_clients(run_module, fake, monkeypatch):
    from ansible_collections.octant.openclaw.plugins.module_utils import _consul as consul_utils

    monkeypatch.setattr(consul_utils, "CONSUL_IMPORT_ERROR", "Traceback: No module named 'consul'")
    with pytest.raises(run_module.FailJson) as caught:
        run(run_module, {"key": "a"})
    assert "python-consul2 (or py-consul)" in caught.value.result["msg"]
    assert fake.calls == []
