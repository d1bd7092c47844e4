# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""consul_kv logic: value encoding, tree planning, batching into transactions, guarded writes,
partial failures, and the single-key states."""

from __future__ import annotations

import base64
import json

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils import _consul_kv as kvu
from ansible_collections.octant.openclaw.plugins.module_utils._errors import ServiceError
from ansible_collections.octant.openclaw.plugins.module_utils._module import Context
from ansible_collections.octant.openclaw.tests.unit.plugins.consul_fake import FakeConsul

PREFIX = "openclaw/registry/"


def entry(key, value, index=5, flags=0, session=None):
    out = {"Key": key, "Value": value.encode() if isinstance(value, str) else value, "Flags": flags,
           "ModifyIndex": index, "CreateIndex": index, "LockIndex": 0}
    if session:
        out["Session"] = session
    return out


def tree_params(tree, **extra):
    params = {"prefix": "openclaw/registry", "tree": tree, "delete_unlisted": False, "txn_max_ops": 64,
              "flags": None, "state": "present"}
    params.update(extra)
    return params


def seeded(count, value="v", api=None):
    api = api or FakeConsul()
    for i in range(count):
        api.seed(f"{PREFIX}k{i:03d}", value)
    return api


# -- values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, stored", [
    ("text", b"text"),
    ("", b""),
    (None, b""),
    (True, b"true"),
    (False, b"false"),
    (3, b"3"),
    (1.5, b"1.5"),
    ({"b": 1, "a": [1, 2]}, b'{"a":[1,2],"b":1}'),
    (["x", {"z": None}], b'["x",{"z":null}]'),
    ("héllo", "héllo".encode()),
])
def test_encode_value(value, stored):
    assert kvu.encode_value(value) == stored


def test_same_value_compares_json_by_meaning():
    assert kvu.same_value({"a": 1, "b": [1]}, b'{ "b": [1],\n  "a": 1 }')
    assert not kvu.same_value({"a": 1}, b'{"a": 2}')
    assert not kvu.same_value({"a": 1}, b"not json")
    assert not kvu.same_value({"a": 1}, b"\xff\xfe")
    assert kvu.same_value("x", b"x")
    assert not kvu.same_value("x", None)
    # a string is compared as bytes, never as JSON
    assert not kvu.same_value('{"a":1}', b'{"a": 1}')


def test_display():
    assert kvu.display(b"abc") == "abc"
    assert kvu.display(None) is None
    assert kvu.display(b"\xff\x00") == "<2 bytes of binary data>"


@pytest.mark.parametrize("key, error", [
    ("a/b-c_d.e", None),
    ("", "must not be empty"),
    ("/a", "must not start with '/'"),
    ("a//b", "must not contain '//'"),
    ("a/../b", "'..' segment"),
    ("a b", "outside [A-Za-z0-9_./-]"),
    ("a?b", "outside"),
])
def test_check_key(key, error):
    result = kvu.check_key(key)
    if error is None:
        assert result is None
    else:
        assert error in result


def test_normalize_prefix():
    assert kvu.normalize_prefix("openclaw/agents") == "openclaw/agents/"
    assert kvu.normalize_prefix("openclaw/agents/") == "openclaw/agents/"
    for bad in ("", "/", "/x", "a//b/"):
        with pytest.raises(ValueError):
            kvu.normalize_prefix(bad)


# -- planning ------------------------------------------------------------------------------------

def test_plan_creates_updates_and_keeps():
    entries = [entry(PREFIX + "same", "1", 7), entry(PREFIX + "diff", "old", 8)]
    plan = kvu.plan_tree(PREFIX, {"same": "1", "diff": "new", "new/key": "n"}, entries)
    assert [(c.action, c.rel, c.index) for c in plan.changes] == [("update", "diff", 8), ("create", "new/key", 0)]
    assert plan.counts() == {"created": 1, "updated": 1, "deleted": 0, "unchanged": 1}


def test_plan_leaves_unlisted_keys_unless_asked():
    entries = [entry(PREFIX + "keep", "1"), entry(PREFIX + "extra", "x", 9), entry(PREFIX, "", 3)]
    plan = kvu.plan_tree(PREFIX, {"keep": "1"}, entries)
    assert plan.changes == []
    plan = kvu.plan_tree(PREFIX, {"keep": "1"}, entries, delete_unlisted=True)
    assert [(c.action, c.rel, c.index) for c in plan.changes] == [("delete", "extra", 9)]  # never the folder itself


def test_plan_orders_writes_before_deletes():
    entries = [entry(PREFIX + "a-old", "x"), entry(PREFIX + "z", "old")]
    plan = kvu.plan_tree(PREFIX, {"z": "new", "b": "1"}, entries, delete_unlisted=True)
    assert [(c.action, c.rel) for c in plan.changes] == [("create", "b"), ("update", "z"), ("delete", "a-old")]


def test_plan_ignores_keys_outside_the_prefix():
    entries = [entry("openclaw/registryX/k", "x"), entry(PREFIX + "k", "v")]
    plan = kvu.plan_tree(PREFIX, {}, entries, delete_unlisted=True)
    assert [c.key for c in plan.changes] == [PREFIX + "k"]


def test_plan_flags_are_kept_unless_given():
    entries = [entry(PREFIX + "k", "v", 4, flags=42)]
    assert kvu.plan_tree(PREFIX, {"k": "v"}, entries).changes == []
    plan = kvu.plan_tree(PREFIX, {"k": "v2"}, entries)
    assert plan.changes[0].flags == 42
    plan = kvu.plan_tree(PREFIX, {"k": "v"}, entries, flags=7)
    assert [(c.action, c.flags) for c in plan.changes] == [("update", 7)]


def test_plan_json_values_are_compared_by_meaning():
    entries = [entry(PREFIX + "caps", '[ "chat",  "slack" ]')]
    assert kvu.plan_tree(PREFIX, {"caps": ["chat", "slack"]}, entries).changes == []
    assert len(kvu.plan_tree(PREFIX, {"caps": ["slack", "chat"]}, entries).changes) == 1


def test_plan_absent():
    entries = [entry(PREFIX + "a", "1", 3), entry(PREFIX + "b", "2", 4)]
    plan = kvu.plan_tree(PREFIX, {}, entries, absent=True)
    assert [(c.action, c.rel, c.index) for c in plan.changes] == [("delete", "a", 3), ("delete", "b", 4)]
    plan = kvu.plan_tree(PREFIX, {"b": None, "missing": None}, entries, absent=True)
    assert [c.rel for c in plan.changes] == ["b"]


def test_plan_rejects_unsafe_keys():
    with pytest.raises(ValueError, match="'..' segment.*must not start"):
        kvu.plan_tree(PREFIX, {"../etc": "x", "/abs": "y"}, [])


def test_operations_are_guarded():
    create = kvu.Change("create", PREFIX + "n", "n", new=b"v", index=0, flags=0)
    update = kvu.Change("update", PREFIX + "u", "u", old=b"o", new=b"w", index=12, flags=3)
    delete = kvu.Change("delete", PREFIX + "d", "d", old=b"o", index=13)
    assert create.operation() == {"KV": {"Verb": "cas", "Key": PREFIX + "n", "Value": "dg==", "Flags": 0, "Index": 0}}
    assert update.operation()["KV"]["Verb"] == "cas" and update.operation()["KV"]["Index"] == 12
    assert update.operation()["KV"]["Flags"] == 3
    assert delete.operation() == {"KV": {"Verb": "delete-cas", "Key": PREFIX + "d", "Index": 13}}


def test_diff_shows_only_affected_keys():
    entries = [entry(PREFIX + "same", "1"), entry(PREFIX + "diff", "old"), entry(PREFIX + "gone", "bye")]
    plan = kvu.plan_tree(PREFIX, {"same": "1", "diff": "new", "add": "hi"}, entries, delete_unlisted=True)
    diff = plan.diff()
    assert diff["before"] == {"diff": "old", "gone": "bye"}
    assert diff["after"] == {"add": "hi", "diff": "new"}


# -- batching -------------------------------------------------------------------------------------

def changes(count, size=1):
    return [kvu.Change("create", f"{PREFIX}k{i:03d}", f"k{i:03d}", new=b"x" * size) for i in range(count)]


@pytest.mark.parametrize("count, max_ops, expected", [
    (0, 64, []),
    (1, 64, [1]),
    (64, 64, [64]),
    (65, 64, [64, 1]),
    (200, 64, [64, 64, 64, 8]),
    (200, 128, [128, 72]),
    (256, 128, [128, 128]),
    (10, 3, [3, 3, 3, 1]),
])
def test_batch_by_operation_count(count, max_ops, expected):
    batches = kvu.batch(changes(count), max_ops)
    assert [len(b) for b in batches] == expected
    assert len(batches) == kvu.min_transactions(count, max_ops)


def test_batch_keeps_order():
    planned = changes(130)
    flat = [c.key for b in kvu.batch(planned, 64) for c in b]
    assert flat == [c.key for c in planned]


def test_batch_respects_the_request_size_limit():
    big = changes(10, size=100 * 1024)  # about 136 KiB each once base64-encoded
    batches = kvu.batch(big, 64)
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    for group in batches:
        body = json.dumps([c.operation() for c in group])
        assert len(body) <= kvu.TXN_MAX_BYTES


def test_batch_refuses_a_value_no_transaction_can_hold():
    with pytest.raises(ValueError, match="too large for a transaction"):
        kvu.batch(changes(1, size=400 * 1024), 64)


@pytest.mark.parametrize("max_ops", [0, 129, -1])
def test_batch_limits(max_ops):
    with pytest.raises(ValueError, match="between 1 and 128"):
        kvu.batch(changes(3), max_ops)


# -- run_tree against the fake ------------------------------------------------------------------------

def test_tree_unchanged_is_one_read_and_no_write():
    api = seeded(200)
    result = kvu.run_tree(api, tree_params({f"k{i:03d}": "v" for i in range(200)}))
    assert result["changed"] is False
    assert result["counts"] == {"created": 0, "updated": 0, "deleted": 0, "unchanged": 200, "transactions": 0}
    assert [c[0] for c in api.calls] == ["kv_get_tree"]


@pytest.mark.parametrize("max_ops, transactions", [(64, 4), (128, 2)])
def test_tree_200_changes_take_ceil_transactions(max_ops, transactions):
    api = seeded(200)
    result = kvu.run_tree(api, tree_params({f"k{i:03d}": "new" for i in range(200)}, txn_max_ops=max_ops))
    assert result["changed"] is True
    assert result["counts"]["updated"] == 200 and result["counts"]["transactions"] == transactions
    assert api.count("kv_get_tree") == 1 and api.count("txn") == transactions
    assert all(api.kv[f"{PREFIX}k{i:03d}"]["Value"] == b"new" for i in range(200))


def test_tree_check_mode_writes_nothing_but_counts():
    api = seeded(10)
    result = kvu.run_tree(api, tree_params({"k000": "x", "n": "y"}, delete_unlisted=True),
                          Context(check_mode=True, diff=True))
    assert result["changed"] is True
    assert result["counts"] == {"created": 1, "updated": 1, "deleted": 9, "unchanged": 0, "transactions": 1}
    assert result["deleted"] == [f"k{i:03d}" for i in range(1, 10)]
    assert api.writes() == []
    assert result["diff"]["after"] == {"k000": "x", "n": "y"}


def test_tree_no_diff_when_unchanged():
    api = seeded(2)
    result = kvu.run_tree(api, tree_params({"k000": "v"}), Context(diff=True))
    assert "diff" not in result


def test_tree_absent_deletes_everything_under_the_prefix():
    api = seeded(3)
    api.seed("openclaw/other", "keep")
    result = kvu.run_tree(api, tree_params(None, state="absent"))
    assert result["deleted"] == ["k000", "k001", "k002"]
    assert list(api.kv) == ["openclaw/other"]


def test_tree_bad_key_fails_before_any_call():
    api = FakeConsul()
    with pytest.raises(kvu.OperationError, match="tree key"):
        kvu.run_tree(api, tree_params({"a//b": "x"}))
    assert api.calls == []


def test_tree_bad_txn_max_ops_fails_before_any_call():
    api = seeded(1)
    with pytest.raises(kvu.OperationError, match="between 1 and 128"):
        kvu.run_tree(api, tree_params({"k000": "w"}, txn_max_ops=500))
    assert api.calls == []


def test_tree_concurrent_change_in_a_later_transaction_reports_what_was_applied():
    api = seeded(200)

    def concurrent_writer(fake, number):
        if number == 3:  # someone changes a key of transaction 3 after our read
            fake.seed(f"{PREFIX}k150", "theirs")

    api.on_txn = concurrent_writer
    with pytest.raises(kvu.OperationError) as caught:
        kvu.run_tree(api, tree_params({f"k{i:03d}": "new" for i in range(200)}))
    err = caught.value
    assert err.status == 409
    assert err.result["failed_transaction"] == 3 and err.result["transactions"] == 4
    assert err.result["applied"]["updated"] == [f"k{i:03d}" for i in range(128)]
    assert err.result["not_applied"] == [f"k{i:03d}" for i in range(128, 200)]
    assert err.result["uncertain"] == []
    assert err.result["changed"] is True
    assert "k150" in err.message and "index is stale" in err.message
    assert "128 key change(s) were applied by transactions 1-2" in err.message
    assert "changed by someone else" in err.hint
    assert api.kv[f"{PREFIX}k150"]["Value"] == b"theirs"  # not overwritten
    assert api.kv[f"{PREFIX}k199"]["Value"] == b"v"       # transaction 4 never ran
    assert api.count("txn") == 3


def test_tree_permission_denied_in_a_transaction_names_the_capability():
    api = seeded(70)
    api.txn_faults[2] = {"Results": None, "Errors": [{"OpIndex": 1, "What": "Permission denied"}]}
    with pytest.raises(kvu.OperationError) as caught:
        kvu.run_tree(api, tree_params({f"k{i:03d}": "new" for i in range(70)}))
    assert caught.value.hint.startswith('the Consul token lacks key_prefix "openclaw/registry/" write')
    assert "operation 1 (key 'openclaw/registry/k065')" in caught.value.message


def test_tree_server_error_makes_the_failed_transaction_uncertain():
    api = seeded(100)
    api.txn_faults[2] = ServiceError("consul", "transaction 2 of 2", 500, "rpc error: leadership lost")
    with pytest.raises(kvu.OperationError) as caught:
        kvu.run_tree(api, tree_params({f"k{i:03d}": "new" for i in range(100)}))
    result = caught.value.result
    assert len(result["applied"]["updated"]) == 64
    assert result["uncertain"] == [f"k{i:03d}" for i in range(64, 100)]
    assert result["not_applied"] == []
    assert "is unknown (see 'uncertain')" in caught.value.message


def test_tree_refused_connection_means_not_applied():
    api = seeded(10)
    api.txn_faults[1] = ServiceError("consul", "transaction 1 of 1", None, "connection refused")
    with pytest.raises(kvu.OperationError) as caught:
        kvu.run_tree(api, tree_params({f"k{i:03d}": "new" for i in range(10)}))
    result = caught.value.result
    assert result["changed"] is False and result["uncertain"] == []
    assert len(result["not_applied"]) == 10
    assert "nothing was applied" in caught.value.message


# -- single key -------------------------------------------------------------------------------------

def key_params(**extra):
    params = {"key": "openclaw/k", "value": None, "flags": None, "cas": None, "session": None, "state": "present"}
    params.update(extra)
    return params


def test_key_create_then_unchanged():
    api = FakeConsul()
    result = kvu.run_key(api, key_params(value="v1"), Context(diff=True))
    assert result["operation"] == "create" and result["changed"]
    assert result["diff"]["before"] == {} and result["diff"]["after"]["value"] == "v1"
    assert api.calls[-1][0] == "kv_put" and api.calls[-1][1][3] == 0  # create-only cas
    api.calls.clear()
    result = kvu.run_key(api, key_params(value="v1"), Context(diff=True))
    assert result == {"changed": False, "key": "openclaw/k", "operation": "none", "value": "v1", "flags": 0,
                      "session": None}
    assert [c[0] for c in api.calls] == ["kv_get"]


def test_key_update_is_guarded_with_the_index_read():
    api = FakeConsul()
    index = api.seed("openclaw/k", "old")["ModifyIndex"]
    kvu.run_key(api, key_params(value="new"))
    assert api.calls[-1] == ("kv_put", ("openclaw/k", b"new", 0, index, None, None))


def test_key_concurrent_change_is_not_overwritten():
    api = FakeConsul()
    api.seed("openclaw/k", "old")
    real_get = api.kv_get

    def racing_get(key):
        entry = real_get(key)
        api.seed(key, "theirs")
        return entry

    api.kv_get = racing_get
    with pytest.raises(kvu.OperationError, match="changed by someone else"):
        kvu.run_key(api, key_params(value="mine"))
    assert api.kv["openclaw/k"]["Value"] == b"theirs"


def test_key_user_cas_mismatch_fails():
    api = FakeConsul()
    api.seed("openclaw/k", "old")
    with pytest.raises(kvu.OperationError, match="check-and-set failed: cas=0"):
        kvu.run_key(api, key_params(value="new", cas=0))


def test_key_flags_change_alone_is_a_change():
    api = FakeConsul()
    api.seed("openclaw/k", "v", flags=1)
    assert kvu.run_key(api, key_params(value="v"))["changed"] is False
    result = kvu.run_key(api, key_params(value="v", flags=2))
    assert result["changed"] and result["flags"] == 2


def test_key_absent():
    api = FakeConsul()
    assert kvu.run_key(api, key_params(state="absent"))["changed"] is False
    api.seed("openclaw/k", "v")
    result = kvu.run_key(api, key_params(state="absent"), Context(check_mode=True, diff=True))
    assert result["changed"] and result["diff"]["after"] == {} and "openclaw/k" in api.kv
    result = kvu.run_key(api, key_params(state="absent"))
    assert result["operation"] == "delete" and "openclaw/k" not in api.kv


def test_key_present_needs_a_value():
    with pytest.raises(kvu.OperationError, match="needs the value option"):
        kvu.run_key(FakeConsul(), key_params())


def test_key_check_mode_writes_nothing():
    api = FakeConsul()
    result = kvu.run_key(api, key_params(value="v"), Context(check_mode=True))
    assert result["changed"] and api.writes() == []


def test_acquire_keeps_the_value_and_is_honest_about_changes():
    api = FakeConsul()
    api.sessions["s1"] = {"ID": "s1", "Node": "jerry"}
    api.seed("openclaw/lock", "payload")
    result = kvu.run_key(api, key_params(key="openclaw/lock", session="s1", state="acquire"))
    assert result["changed"] and result["operation"] == "acquire" and result["session"] == "s1"
    assert api.kv["openclaw/lock"]["Value"] == b"payload"  # not wiped by an empty body
    api.calls.clear()
    result = kvu.run_key(api, key_params(key="openclaw/lock", session="s1", state="acquire"))
    assert result["changed"] is False and [c[0] for c in api.calls] == ["kv_get"]
    result = kvu.run_key(api, key_params(key="openclaw/lock", session="s1", state="acquire", value="v2"))
    assert result["changed"] and api.kv["openclaw/lock"]["Value"] == b"v2"


def test_acquire_held_by_another_session_fails():
    api = FakeConsul()
    api.seed("openclaw/lock", "x", session="other")
    with pytest.raises(kvu.OperationError, match=r"locked by another session \(other\)"):
        kvu.run_key(api, key_params(key="openclaw/lock", session="s1", state="acquire"))
    assert api.writes() == []


def test_acquire_refused_by_consul_fails_with_a_hint():
    api = FakeConsul()
    api.sessions["s1"] = {"ID": "s1", "Node": "jerry"}
    api.kv_put = lambda *a, **k: False
    with pytest.raises(kvu.OperationError, match="did not grant the lock") as caught:
        kvu.run_key(api, key_params(key="openclaw/lock", session="s1", state="acquire"))
    assert "lock-delay" in caught.value.hint


def test_release():
    api = FakeConsul()
    api.sessions["s1"] = {"ID": "s1", "Node": "jerry"}
    assert kvu.run_key(api, key_params(key="openclaw/lock", session="s1", state="release"))["changed"] is False
    api.seed("openclaw/lock", "v", session="s1")
    result = kvu.run_key(api, key_params(key="openclaw/lock", session="s1", state="release"), Context(diff=True))
    assert result["changed"] and result["session"] is None and api.kv["openclaw/lock"]["Value"] == b"v"
    assert result["diff"]["before"]["session"] == "s1" and result["diff"]["after"]["session"] is None
    assert kvu.run_key(api, key_params(key="openclaw/lock", session="s1", state="release"))["changed"] is False
    api.seed("openclaw/lock", "v", session="other")
    with pytest.raises(kvu.OperationError, match="locked by another session"):
        kvu.run_key(api, key_params(key="openclaw/lock", session="s1", state="release"))


def test_acquire_without_session_fails():
    with pytest.raises(kvu.OperationError, match="needs the session option"):
        kvu.run_key(FakeConsul(), key_params(state="acquire"))


def test_txn_values_are_base64():
    change = kvu.Change("create", "k", "k", new="é".encode())
    assert base64.b64decode(change.operation()["KV"]["Value"]) == "é".encode()
