"""Contract: Consul transactions (PUT /v1/txn)."""

import base64

import pytest


def op(verb, key, value=None, **extra):
    body = {"Verb": verb, "Key": key, **extra}
    if value is not None:
        body["Value"] = base64.b64encode(value.encode()).decode()
    return {"KV": body}


def txn(consul, *ops):
    return consul.put("/v1/txn", json=list(ops))


def value_of(consul, key):
    response = consul.get(f"/v1/kv/{key}", params={"raw": ""})
    return response.content if response.status_code == 200 else None


def test_writes_return_entries_without_values_and_gets_with_values(consul, prefix):
    response = txn(consul, op("set", f"{prefix}a", "1"), op("get", f"{prefix}a"))
    assert response.status_code == 200
    body = response.json()
    assert body["Errors"] is None
    set_result, get_result = (r["KV"] for r in body["Results"])
    assert (set_result["Key"], set_result["Value"]) == (f"{prefix}a", None)
    assert get_result["Value"] == base64.b64encode(b"1").decode()
    assert set_result["ModifyIndex"] == get_result["ModifyIndex"]


def test_delete_verbs_add_no_results(consul, prefix):
    consul.put(f"/v1/kv/{prefix}a", data="1")
    consul.put(f"/v1/kv/{prefix}t/b", data="2")
    index = consul.get(f"/v1/kv/{prefix}a").json()[0]["ModifyIndex"]
    response = txn(consul, op("delete-cas", f"{prefix}a", Index=index), op("delete-tree", f"{prefix}t/"),
                   op("delete", f"{prefix}none"))
    assert response.status_code == 200
    # [] from a server agent; a client agent's msgpack hop may turn it into null.
    assert response.json()["Results"] in ([], None)
    assert response.json()["Errors"] is None
    assert consul.get(f"/v1/kv/{prefix}", params={"recurse": ""}).status_code == 404


def test_a_stale_cas_rolls_back_the_whole_transaction_with_409(consul, prefix):
    response = txn(consul, op("set", f"{prefix}first", "1"), op("cas", f"{prefix}second", "2", Index=999999999))
    assert response.status_code == 409
    assert response.json() == {"Results": None, "Errors": [
        {"OpIndex": 1, "What": f'failed to set key "{prefix}second", index is stale'}]}
    assert value_of(consul, f"{prefix}first") is None


def test_every_failing_operation_is_reported(consul, prefix):
    consul.put(f"/v1/kv/{prefix}exists", data="x")
    response = txn(consul, op("check-not-exists", f"{prefix}exists"), op("set", f"{prefix}ok", "1"),
                   op("get", f"{prefix}missing"))
    assert response.status_code == 409
    assert response.json()["Errors"] == [
        {"OpIndex": 0, "What": f'key "{prefix}exists" exists'},
        {"OpIndex": 2, "What": f'key "{prefix}missing" doesn\'t exist'}]


def test_check_index_reports_both_indexes(consul, prefix):
    consul.put(f"/v1/kv/{prefix}c", data="x")
    index = consul.get(f"/v1/kv/{prefix}c").json()[0]["ModifyIndex"]
    ok = txn(consul, op("check-index", f"{prefix}c", Index=index))
    assert ok.status_code == 200
    assert ok.json()["Results"][0]["KV"]["Value"] is None
    stale = txn(consul, op("check-index", f"{prefix}c", Index=index + 1000))
    assert stale.json()["Errors"] == [{"OpIndex": 0, "What": (
        f'failed index check for key "{prefix}c", current modify index {index} != {index + 1000}')}]


def test_get_or_empty_does_not_fail_on_a_missing_key(consul, prefix):
    response = txn(consul, op("get-or-empty", f"{prefix}absent"))
    assert response.status_code == 200
    [result] = response.json()["Results"]
    assert (result["KV"]["Key"], result["KV"]["Value"]) == (f"{prefix}absent", None)


def test_get_tree_returns_every_entry_with_its_value(consul, prefix):
    consul.put(f"/v1/kv/{prefix}tree/a", data="A")
    consul.put(f"/v1/kv/{prefix}tree/b", data="B")
    response = txn(consul, op("get-tree", f"{prefix}tree/"))
    assert [(r["KV"]["Key"], base64.b64decode(r["KV"]["Value"])) for r in response.json()["Results"]] == [
        (f"{prefix}tree/a", b"A"), (f"{prefix}tree/b", b"B")]


def test_delete_cas_with_a_stale_index_fails(consul, prefix):
    consul.put(f"/v1/kv/{prefix}d", data="x")
    response = txn(consul, op("delete-cas", f"{prefix}d", Index=1))
    assert response.json()["Errors"] == [{"OpIndex": 0, "What": f'failed to delete key "{prefix}d", index is stale'}]
    assert value_of(consul, f"{prefix}d") == b"x"


def test_lock_check_session_and_unlock(consul, prefix):
    session = consul.put("/v1/session/create", json={"LockDelay": "0s", "NodeChecks": [], "TTL": "60s"}).json()["ID"]
    try:
        locked = txn(consul, op("lock", f"{prefix}l", "v", Session=session),
                     op("check-session", f"{prefix}l", Session=session))
        assert locked.status_code == 200
        assert [r["KV"]["Session"] for r in locked.json()["Results"]] == [session, session]
        assert locked.json()["Results"][0]["KV"]["LockIndex"] == 1
        wrong = txn(consul, op("unlock", f"{prefix}l", Session="00000000-0000-0000-0000-00000000abcd"))
        assert wrong.json()["Errors"][0]["What"] == (
            f'failed to unlock key "{prefix}l", lock isn\'t held, or is held by another session')
        unlocked = txn(consul, op("unlock", f"{prefix}l", Session=session))
        assert "Session" not in unlocked.json()["Results"][0]["KV"]
    finally:
        consul.put(f"/v1/session/destroy/{session}")


def test_an_unknown_verb_is_a_409(consul, prefix):
    response = txn(consul, op("frobnicate", f"{prefix}x"))
    assert response.status_code == 409
    assert response.json()["Errors"] == [{"OpIndex": 0, "What": 'unknown KV verb "frobnicate"'}]


def test_too_many_operations_is_413(consul, prefix):
    response = txn(consul, *[op("get-or-empty", f"{prefix}{i}") for i in range(129)])
    assert response.status_code == 413
    assert response.text.startswith("Transaction contains too many operations (129 > ")


@pytest.mark.simulator_only
def test_the_operation_limit_follows_the_consul_version(consul, lab, prefix):
    ops = [op("get-or-empty", f"{prefix}{i}") for i in range(65)]
    refused = txn(consul, *ops)
    assert (refused.status_code, refused.text) == (413, "Transaction contains too many operations (65 > 64)")
    lab.config(txn_max_ops=128)
    assert txn(consul, *ops).status_code == 200
