# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.consul_kv against the lab simulator (ACLs on, management token), run
in-process so the simulator's request log counts exactly the module's calls.

Counted economy: a 200-key tree with no change is one read and no write; 200 changed keys are one
read plus ceil(200/64) = 4 transactions, or 2 with txn_max_ops 128 on a Consul that accepts it."""

from __future__ import annotations

import base64
import json
import math
import uuid

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._consul import ConsulApi

from tests.integration.conftest import ACL_TOKEN, run_module


@pytest.fixture
def prefix(cluster):
    """A random prefix, removed (with its sibling key) after the test."""
    prefix = f"octant-test/kv-{uuid.uuid4().hex[:8]}"
    yield prefix
    cluster["consul"].delete(f"/v1/kv/{prefix}", params={"recurse": ""})


def conn(cluster, **extra):
    return dict({"consul_address": cluster["consul_address"], "consul_token": cluster["consul_token"]}, **extra)


def calls(lab, since):
    return [r for r in lab.requests(service="consul", since=since)]


def summary(rows):
    """(reads, writes, txns) of a request log slice."""
    reads = [r for r in rows if r["method"] == "GET"]
    writes = [r for r in rows if r["method"] in ("PUT", "DELETE", "POST")]
    txns = [r for r in writes if r["path"] == "/v1/txn"]
    return len(reads), len(writes), len(txns)


def kv_values(cluster, prefix):
    reply = cluster["consul"].get(f"/v1/kv/{prefix}/", params={"recurse": ""})
    if reply.status_code == 404:
        return {}
    return {e["Key"][len(prefix) + 1:]: base64.b64decode(e["Value"] or "").decode() for e in reply.json()}


def tree(count, value):
    return {f"agent-{i:03d}/model": f"{value}-{i}" for i in range(count)}


def run_tree(cluster, prefix, data, check=False, diff=False, **extra):
    return run_module("consul_kv", conn(cluster, prefix=prefix, tree=data, **extra), check=check, diff=diff)


# -- counted economy ------------------------------------------------------------------------------

def test_200_keys_economy(cluster, lab, prefix):
    seq = lab.last_seq()
    result = run_tree(cluster, prefix, tree(200, "a"))
    assert result["changed"] is True and result["counts"]["created"] == 200
    rows = calls(lab, seq)
    assert summary(rows) == (1, 4, 4), rows
    assert [r["status"] for r in rows] == [404, 200, 200, 200, 200]  # the empty prefix reads as 404
    assert result["counts"]["transactions"] == 4 == math.ceil(200 / 64)

    seq = lab.last_seq()
    result = run_tree(cluster, prefix, tree(200, "a"))
    assert result["changed"] is False and result["counts"]["unchanged"] == 200
    assert summary(calls(lab, seq)) == (1, 0, 0)

    seq = lab.last_seq()
    result = run_tree(cluster, prefix, tree(200, "b"))
    assert result["changed"] is True and result["counts"]["updated"] == 200
    assert summary(calls(lab, seq)) == (1, 4, 4)
    assert kv_values(cluster, prefix) == tree(200, "b")


def test_200_keys_with_128_ops_per_transaction(cluster, lab, prefix):
    lab.config(txn_max_ops=128)  # Consul >= 1.14
    try:
        run_tree(cluster, prefix, tree(200, "a"), txn_max_ops=128)
        seq = lab.last_seq()
        result = run_tree(cluster, prefix, tree(200, "b"), txn_max_ops=128)
        assert result["counts"]["transactions"] == 2
        assert summary(calls(lab, seq)) == (1, 2, 2)
    finally:
        lab.config(txn_max_ops=64)


def test_128_ops_against_an_older_consul_fails_cleanly(cluster, lab, prefix):
    seq = lab.last_seq()
    result = run_tree(cluster, prefix, tree(100, "a"), txn_max_ops=128)
    assert result["failed"] is True
    assert result["msg"].startswith(f"Consul transaction 1 of 1 under '{prefix}/' failed (HTTP 413): "
                                    "Transaction contains too many operations (100 > 64)")
    assert "nothing was applied" in result["msg"]
    assert result["msg"].endswith("Hint: this Consul accepts fewer operations per transaction than "
                                  "txn_max_ops=128; use txn_max_ops: 64 (the limit before Consul 1.14)")
    assert result["changed"] is False and len(result["not_applied"]) == 100
    assert summary(calls(lab, seq)) == (1, 1, 1)
    assert kv_values(cluster, prefix) == {}


# -- check mode, diff, idempotence -----------------------------------------------------------------

def test_check_mode_makes_no_write(cluster, lab, prefix):
    run_tree(cluster, prefix, {"keep": "1", "change": "old", "extra": "x"})
    seq = lab.last_seq()
    result = run_tree(cluster, prefix, {"keep": "1", "change": "new", "add": "n"}, check=True, diff=True,
                      delete_unlisted=True)
    assert result["changed"] is True
    assert (result["created"], result["updated"], result["deleted"]) == (["add"], ["change"], ["extra"])
    assert result["counts"] == {"created": 1, "updated": 1, "deleted": 1, "unchanged": 1, "transactions": 1}
    assert result["diff"]["before"] == {"change": "old", "extra": "x"}
    assert result["diff"]["after"] == {"add": "n", "change": "new"}
    assert summary(calls(lab, seq)) == (1, 0, 0)
    assert kv_values(cluster, prefix) == {"keep": "1", "change": "old", "extra": "x"}


def test_apply_then_second_run_is_unchanged_without_writes(cluster, lab, prefix):
    data = {"a": "1", "caps": ["chat", "slack"], "cfg": {"ttl": 30, "on": True}, "flag": True, "n": 5}
    first = run_tree(cluster, prefix, data, diff=True, delete_unlisted=True)
    assert first["changed"] is True
    assert kv_values(cluster, prefix) == {"a": "1", "caps": '["chat","slack"]', "cfg": '{"on":true,"ttl":30}',
                                          "flag": "true", "n": "5"}
    seq = lab.last_seq()
    second = run_tree(cluster, prefix, data, diff=True, delete_unlisted=True)
    assert second["changed"] is False and "diff" not in second
    assert summary(calls(lab, seq)) == (1, 0, 0)


def test_json_written_by_someone_else_with_other_spacing_is_not_rewritten(cluster, lab, prefix):
    cluster["consul"].put(f"/v1/kv/{prefix}/cfg", data=b'{ "ttl": 30,\n  "on": true }')
    seq = lab.last_seq()
    assert run_tree(cluster, prefix, {"cfg": {"on": True, "ttl": 30}})["changed"] is False
    assert summary(calls(lab, seq)) == (1, 0, 0)


def test_delete_unlisted_and_absent(cluster, lab, prefix):
    run_tree(cluster, prefix, {"a": "1", "b": "2", "c/d": "3"})
    cluster["consul"].put(f"/v1/kv/{prefix}-sibling", data=b"outside")
    result = run_tree(cluster, prefix, {"a": "1"}, delete_unlisted=True)
    assert result["deleted"] == ["b", "c/d"]
    assert kv_values(cluster, prefix) == {"a": "1"}
    result = run_module("consul_kv", conn(cluster, prefix=prefix, state="absent"), diff=True)
    assert result["deleted"] == ["a"] and result["diff"]["before"] == {"a": "1"}
    assert kv_values(cluster, prefix) == {}
    assert cluster["consul"].get(f"/v1/kv/{prefix}-sibling").status_code == 200
    seq = lab.last_seq()
    assert run_module("consul_kv", conn(cluster, prefix=prefix, state="absent"))["changed"] is False
    assert summary(calls(lab, seq)) == (1, 0, 0)


def test_flags(cluster, prefix):
    run_tree(cluster, prefix, {"a": "1"}, flags=7)
    entry = cluster["consul"].get(f"/v1/kv/{prefix}/a").json()[0]
    assert entry["Flags"] == 7
    assert run_tree(cluster, prefix, {"a": "1"})["changed"] is False  # flags kept when not given
    assert run_tree(cluster, prefix, {"a": "2"})["changed"] is True
    assert cluster["consul"].get(f"/v1/kv/{prefix}/a").json()[0]["Flags"] == 7


# -- failures part-way ---------------------------------------------------------------------------------

@pytest.fixture
def after_first_txn(monkeypatch):
    """Run `action` right after the module's first transaction succeeds (a concurrent writer or
    a fault injected mid-run)."""
    actions = []
    real = ConsulApi.txn

    def txn(self, operations, what="transaction", needs=None):
        reply = real(self, operations, what=what, needs=needs)
        while actions:
            actions.pop(0)()
        return reply

    monkeypatch.setattr(ConsulApi, "txn", txn)
    return actions.append


def test_injected_fault_in_a_later_transaction_reports_what_was_applied(cluster, lab, prefix, after_first_txn):
    run_tree(cluster, prefix, tree(150, "a"))
    after_first_txn(lambda: lab.fault("/v1/txn", status=500, count=1, service="consul",
                                      body="rpc error making call: leadership lost while committing log"))
    result = run_tree(cluster, prefix, tree(150, "b"), diff=True)
    assert result["failed"] is True and result["changed"] is True
    assert result["failed_transaction"] == 2 and result["transactions"] == 3
    keys = sorted(tree(150, "b"))
    assert result["applied"] == {"created": [], "updated": keys[:64], "deleted": []}
    assert result["uncertain"] == keys[64:128]
    assert result["not_applied"] == keys[128:]
    assert result["msg"] == (
        f"Consul transaction 2 of 3 under '{prefix}/' failed (HTTP 500): rpc error making call: leadership lost "
        "while committing log. 64 key change(s) were applied by transaction 1 before it failed (see "
        "'applied'); whether the 64 change(s) of transaction 2 were applied is unknown (see 'uncertain'); "
        "22 change(s) were not applied (see 'not_applied')")
    now = kv_values(cluster, prefix)
    assert all(now[k].startswith("b-") for k in keys[:64])
    assert all(now[k].startswith("a-") for k in keys[64:])  # the injected fault applied nothing
    # a re-run converges and writes only what is left
    seq = lab.last_seq()
    again = run_tree(cluster, prefix, tree(150, "b"))
    assert again["counts"]["updated"] == 86 and summary(calls(lab, seq)) == (1, 2, 2)


def test_concurrent_change_rolls_back_only_its_transaction(cluster, lab, prefix, after_first_txn):
    run_tree(cluster, prefix, tree(100, "a"))
    keys = sorted(tree(100, "a"))
    after_first_txn(lambda: cluster["consul"].put(f"/v1/kv/{prefix}/{keys[70]}", data=b"theirs"))
    result = run_tree(cluster, prefix, tree(100, "b"))
    assert result["failed"] is True
    assert result["applied"]["updated"] == keys[:64] and result["not_applied"] == keys[64:]
    assert result["uncertain"] == []
    assert f'failed to set key "{prefix}/{keys[70]}", index is stale' in result["msg"]
    assert "changed by someone else after this task read it" in result["msg"]
    assert kv_values(cluster, prefix)[keys[70]] == "theirs"   # not overwritten
    assert kv_values(cluster, prefix)[keys[71]] == "a-71"     # its transaction was rolled back


# -- single key -------------------------------------------------------------------------------------

def test_single_key_lifecycle(cluster, lab, prefix):
    key = f"{prefix}/one"
    seq = lab.last_seq()
    check = run_module("consul_kv", conn(cluster, key=key, value="v1"), check=True, diff=True)
    assert check["changed"] and check["diff"]["after"]["value"] == "v1"
    assert summary(calls(lab, seq)) == (1, 0, 0)
    created = run_module("consul_kv", conn(cluster, key=key, value="v1"))
    assert created["operation"] == "create"
    seq = lab.last_seq()
    again = run_module("consul_kv", conn(cluster, key=key, value="v1"))
    assert again["changed"] is False and summary(calls(lab, seq)) == (1, 0, 0)
    rows = calls(lab, seq)
    assert rows[0]["path"] == f"/v1/kv/{key}"
    updated = run_module("consul_kv", conn(cluster, key=key, value="v2"), diff=True)
    assert updated["diff"]["before"]["value"] == "v1" and updated["diff"]["after"]["value"] == "v2"
    index = cluster["consul"].get(f"/v1/kv/{key}").json()[0]["ModifyIndex"]
    stale = run_module("consul_kv", conn(cluster, key=key, value="v3", cas=index - 1))
    assert stale["failed"] and f"check-and-set failed: cas={index - 1}" in stale["msg"]
    gone = run_module("consul_kv", conn(cluster, key=key, state="absent"))
    assert gone["operation"] == "delete" and cluster["consul"].get(f"/v1/kv/{key}").status_code == 404


def test_value_too_large_is_413_with_the_server_text(cluster, prefix):
    result = run_module("consul_kv", conn(cluster, key=f"{prefix}/big", value="x" * (512 * 1024 + 1)))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Consul KV write of '{prefix}/big' failed (HTTP 413): ")
    assert "too large" in result["msg"] and "Hint: the request is larger than the service accepts" in result["msg"]


def test_lock_acquire_and_release(cluster, lab, prefix):
    key = f"{prefix}/lock"
    mine = run_module("consul_session", conn(cluster, name=f"{prefix}-a", node="jerry", lock_delay="0s"))["id"]
    theirs = run_module("consul_session", conn(cluster, name=f"{prefix}-b", node="jerry", lock_delay="0s"))["id"]
    cluster["consul"].put(f"/v1/kv/{key}", data=b"payload")
    got = run_module("consul_kv", conn(cluster, key=key, session=mine, state="acquire"))
    assert got["changed"] and got["session"] == mine and got["value"] == "payload"
    entry = cluster["consul"].get(f"/v1/kv/{key}").json()[0]
    assert entry["Session"] == mine and base64.b64decode(entry["Value"]) == b"payload"
    seq = lab.last_seq()
    assert run_module("consul_kv", conn(cluster, key=key, session=mine, state="acquire"))["changed"] is False
    assert summary(calls(lab, seq)) == (1, 0, 0)
    busy = run_module("consul_kv", conn(cluster, key=key, session=theirs, state="acquire"))
    assert busy["failed"] and f"the key is locked by another session ({mine})" in busy["msg"]
    released = run_module("consul_kv", conn(cluster, key=key, session=mine, state="release"))
    assert released["changed"] and released["session"] is None
    assert "Session" not in cluster["consul"].get(f"/v1/kv/{key}").json()[0]
    assert run_module("consul_kv", conn(cluster, key=key, session=mine, state="release"))["changed"] is False
    for name in (f"{prefix}-a", f"{prefix}-b"):
        assert run_module("consul_session", conn(cluster, name=name, node="jerry", state="absent"))["changed"]


# -- errors users will see ------------------------------------------------------------------------------

@pytest.fixture
def reader_token(cluster, prefix):
    """A token that may read `prefix/` and write only `prefix/open/`."""
    rules = (f'key_prefix "{prefix}/" {{ policy = "read" }}\n'
             f'key_prefix "{prefix}/open/" {{ policy = "write" }}')
    policy = cluster["consul"].put("/v1/acl/policy", json={"Name": f"p-{prefix[-8:]}", "Rules": rules}).json()
    token = cluster["consul"].put("/v1/acl/token", json={"Description": f"reader {prefix}",
                                                        "Policies": [{"ID": policy["ID"]}]}).json()
    yield token["SecretID"]
    cluster["consul"].delete(f"/v1/acl/token/{token['AccessorID']}")
    cluster["consul"].delete(f"/v1/acl/policy/{policy['ID']}")


@pytest.mark.acl
def test_403_names_the_missing_capability(cluster, prefix, reader_token):
    result = run_module("consul_kv", conn(cluster, consul_token=reader_token, key=f"{prefix}/x", value="1"))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Consul KV write of '{prefix}/x' failed (HTTP 403): Permission denied: token "
                                    "with AccessorID")
    assert f"Hint: the token's policy lacks 'key:write' on \"{prefix}/x\"" in result["msg"]
    assert reader_token not in json.dumps(result)


@pytest.mark.acl
def test_permission_denied_inside_a_transaction(cluster, prefix, reader_token):
    data = {f"open/k{i:02d}": "1" for i in range(64)}
    data["z-closed"] = "1"
    result = run_tree(cluster, prefix, data, consul_token=reader_token)
    assert result["failed"] is True and result["failed_transaction"] == 2
    assert len(result["applied"]["created"]) == 64 and result["not_applied"] == ["z-closed"]
    assert f"operation 0 (key '{prefix}/z-closed'): Permission denied" in result["msg"]
    assert f'Hint: the Consul token lacks key_prefix "{prefix}/" write' in result["msg"]
    assert reader_token not in json.dumps(result)


@pytest.mark.acl
def test_unknown_token(cluster, prefix):
    result = run_tree(cluster, prefix, {"a": "1"}, consul_token=str(uuid.uuid4()))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Consul KV read of prefix '{prefix}/' failed (HTTP 403): ACL not found")
    assert "token is unknown to the cluster" in result["msg"]


def test_connection_refused(cluster, prefix):
    from tools.testsupport.labclient import free_port

    address = f"http://127.0.0.1:{free_port()}"
    result = run_tree(cluster, prefix, {"a": "1"}, consul_address=address)
    assert result["msg"] == (f"Consul KV read of prefix '{prefix}/' failed (no response): connection refused. "
                             f"Hint: cannot reach consul at {address}; check consul_address or CONSUL_HTTP_ADDR and "
                             "that it is running")


def test_timeout(cluster, lab, prefix):
    lab.latency(2.5, service="consul")
    result = run_tree(cluster, prefix, {"a": "1"}, consul_timeout=1)
    assert result["failed"] is True
    assert result["msg"].startswith(f"Consul KV read of prefix '{prefix}/' failed (no response): ")
    assert "timed out" in result["msg"]


def test_server_error_on_read(cluster, lab, prefix):
    lab.fault(f"/v1/kv/{prefix}", status=500, service="consul", body="No cluster leader")
    result = run_tree(cluster, prefix, {"a": "1"})
    assert result["msg"] == f"Consul KV read of prefix '{prefix}/' failed (HTTP 500): No cluster leader"


def test_token_never_in_results(cluster, prefix):
    results = [run_tree(cluster, prefix, {"a": "1"}, diff=True),
               run_module("consul_kv", conn(cluster, key=f"{prefix}/k", value="v"), diff=True)]
    for result in results:
        assert ACL_TOKEN not in json.dumps(result)


# -- consul_kv_info ---------------------------------------------------------------------------------

def test_info_reads_a_tree_with_one_request_and_parses_json(cluster, lab, prefix):
    run_tree(cluster, prefix, {"a/gateway": "main", "a/capabilities": ["x", "y"], "b/count": 3, "b/text": "not json"})
    since = lab.last_seq()
    result = run_module("consul_kv_info", conn(cluster, prefix=prefix))
    assert result["exists"] is True and result["changed"] is False
    assert result["tree"] == {"a/gateway": "main", "a/capabilities": ["x", "y"], "b/count": 3, "b/text": "not json"}
    assert result["index"] > 0
    assert summary(calls(lab, since)) == (1, 0, 0)
    raw = run_module("consul_kv_info", conn(cluster, prefix=prefix, parse_json=False))
    assert raw["tree"]["a/capabilities"] == '["x","y"]'


def test_info_on_missing_key_and_empty_prefix_is_not_an_error(cluster, prefix):
    missing = run_module("consul_kv_info", conn(cluster, key=f"{prefix}/nothing"))
    assert (missing["exists"], missing["value"], missing["index"]) == (False, None, 0)
    empty = run_module("consul_kv_info", conn(cluster, prefix=f"{prefix}/empty"))
    assert (empty["exists"], empty["tree"], empty["index"]) == (False, {}, 0)


def test_info_reads_one_key_and_names_a_bad_key(cluster, prefix):
    run_module("consul_kv", conn(cluster, key=f"{prefix}/one", value={"k": 1}))
    result = run_module("consul_kv_info", conn(cluster, key=f"{prefix}/one"))
    assert (result["exists"], result["value"]) == (True, {"k": 1})
    bad = run_module("consul_kv_info", conn(cluster, key=f"{prefix}/../x"))
    assert bad["failed"] and bad["msg"].startswith("key:")
