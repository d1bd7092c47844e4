"""nomad_variable against the lab simulator (or a live cluster with OCTANT_LIVE=1), in-process.
Request counts are asserted only against the simulator."""

from __future__ import annotations

import json
import uuid

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils import _nomad as nomad_utils

from tests.integration.conftest import run_module
from tools.testsupport.labclient import LabAdmin

SECRET_1 = "sk-ant-Integration-7Hq2"
SECRET_2 = "discord-Integration-Lw9c"
SECRET_3 = "litellm-Integration-Xe4p"
THEIRS = "someone-elses-value-R5t"
ALL_SECRETS = (SECRET_1, SECRET_2, SECRET_3, THEIRS)


@pytest.fixture
def log(labsim):
    if labsim is None:
        return None
    admin = LabAdmin(labsim.admin_addr)
    yield admin
    admin.clear_faults()


@pytest.fixture
def path(cluster):
    name = f"nomad/jobs/octant-it-{uuid.uuid4().hex[:8]}"
    yield name
    cluster["nomad"].delete(f"/v1/var/{name}")


def nomad(cluster, **args):
    return dict({"nomad_address": cluster["nomad_address"], "nomad_token": cluster["nomad_token"]}, **args)


def rows(log, since):
    return [(r["method"], r["path"], r["query"]) for r in log.requests(service="nomad", since=since)]


def items_of(cluster, path):
    return cluster["nomad"].get(f"/v1/var/{path}").json()["Items"]


def assert_no_secret(result):
    text = json.dumps(result)
    for secret in ALL_SECRETS:
        assert secret not in text, f"a secret value leaked into {text[:300]}"


def test_create_then_rerun_reads_once_and_writes_nothing(cluster, log, path):
    created = run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_1, "B": SECRET_2}))
    assert created["changed"] is True and created["keys"] == ["A", "B"] and created["added_keys"] == ["A", "B"]
    assert created["modify_index"]
    assert_no_secret(created)
    assert items_of(cluster, path) == {"A": SECRET_1, "B": SECRET_2}
    since = log.last_seq() if log else 0
    again = run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_1, "B": SECRET_2}))
    assert again["changed"] is False and again["modify_index"] == created["modify_index"]
    if log:
        assert [(m, p) for m, p, _ in rows(log, since)] == [("GET", f"/v1/var/{path}")]


def test_create_uses_cas_zero_and_update_the_read_index(cluster, log, path):
    if log is None:
        pytest.skip("reads the simulator's request log")
    since = log.last_seq()
    created = run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_1}))
    assert [(m, q) for m, _, q in rows(log, since)] == [("GET", ""), ("PUT", "cas=0")]
    since = log.last_seq()
    run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_2}))
    assert [(m, q) for m, _, q in rows(log, since)] == [("GET", ""), ("PUT", f"cas={created['modify_index']}")]


def test_diff_shows_keys_never_values(cluster, log, path):
    run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_1, "B": SECRET_2}))
    result = run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_3, "C": SECRET_2}), diff=True)
    assert result["changed"] is True
    assert (result["added_keys"], result["changed_keys"], result["removed_keys"]) == (["C"], ["A"], ["B"])
    assert result["diff"]["before"] == {"A": "(hidden)", "B": "(hidden)"}
    assert result["diff"]["after"] == {"A": "(hidden) changed", "C": "(hidden) added"}
    assert_no_secret(result)


def test_check_mode_writes_nothing(cluster, log, path):
    run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_1}))
    since = log.last_seq() if log else 0
    result = run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_2}), check=True, diff=True)
    assert result["changed"] is True and result["changed_keys"] == ["A"]
    gone = run_module("nomad_variable", nomad(cluster, path=path, state="absent"), check=True)
    assert gone["changed"] is True
    if log:
        assert [m for m, _, _ in rows(log, since)] == ["GET", "GET"]
    assert items_of(cluster, path) == {"A": SECRET_1}


def test_merge_keeps_other_keys(cluster, log, path):
    run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_1, "B": SECRET_2}))
    result = run_module("nomad_variable", nomad(cluster, path=path, items={"C": SECRET_3}, purge_items=False))
    assert result["keys"] == ["A", "B", "C"] and result["removed_keys"] == []
    assert items_of(cluster, path) == {"A": SECRET_1, "B": SECRET_2, "C": SECRET_3}
    assert run_module("nomad_variable", nomad(cluster, path=path, items={"C": SECRET_3},
                                              purge_items=False))["changed"] is False


def test_concurrent_change_is_detected_and_not_overwritten(cluster, log, path, monkeypatch):
    """Someone writes the variable between the module's read and its write: the CAS write is
    refused (409) and the task fails naming the path; their value stays."""
    run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_1}))
    original_get = nomad_utils.NomadApi.get_variable

    def read_then_someone_else_writes(self, var_path, namespace=None):
        current = original_get(self, var_path, namespace)
        assert cluster["nomad"].put(f"/v1/var/{var_path}", json={"Items": {"A": THEIRS}}).status_code == 200
        return current

    monkeypatch.setattr(nomad_utils.NomadApi, "get_variable", read_then_someone_else_writes)
    result = run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_2}))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Nomad variable '{path}' (namespace default) changed since this task read it "
                                    f"(it had ModifyIndex ")
    assert result["msg"].endswith("nothing was written. Re-run the task to apply it against the current content.")
    assert_no_secret(result)
    assert items_of(cluster, path) == {"A": THEIRS}


def test_concurrent_create_is_detected(cluster, log, path, monkeypatch):
    original_get = nomad_utils.NomadApi.get_variable

    def read_then_someone_else_creates(self, var_path, namespace=None):
        current = original_get(self, var_path, namespace)
        cluster["nomad"].put(f"/v1/var/{var_path}", json={"Items": {"A": THEIRS}})
        return current

    monkeypatch.setattr(nomad_utils.NomadApi, "get_variable", read_then_someone_else_creates)
    result = run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_1}))
    assert "(it did not exist, now ModifyIndex " in result["msg"]
    assert items_of(cluster, path) == {"A": THEIRS}


def test_absent(cluster, log, path):
    since = log.last_seq() if log else 0
    missing = run_module("nomad_variable", nomad(cluster, path=path, state="absent"))
    assert missing["changed"] is False
    if log:
        assert [m for m, _, _ in rows(log, since)] == ["GET"]
    run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_1}))
    deleted = run_module("nomad_variable", nomad(cluster, path=path, state="absent"), diff=True)
    assert deleted["changed"] is True and deleted["removed_keys"] == ["A"]
    assert deleted["diff"]["before"] == {"A": "(hidden)"} and deleted["diff"]["after"] == {}
    assert cluster["nomad"].get(f"/v1/var/{path}").status_code == 404
    assert_no_secret(deleted)


def test_too_large_is_refused_with_the_server_text(cluster, log, path):
    result = run_module("nomad_variable", nomad(cluster, path=path, items={"BIG": "x" * 70000}))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Nomad PUT /v1/var/{path} failed (HTTP ")
    assert "64KiB" in result["msg"]
    assert "x" * 100 not in result["msg"]


def test_reserved_path_is_refused_before_any_call(cluster, log):
    since = log.last_seq() if log else 0
    result = run_module("nomad_variable", nomad(cluster, path="nomad", items={"A": SECRET_1}))
    assert "'nomad' alone is reserved" in result["msg"]
    if log:
        assert rows(log, since) == []


def test_denied_read_is_reported(cluster, log, path):
    if log is None:
        pytest.skip("needs fault injection")
    log.fault(f"/v1/var/{path}", status=403, body="Permission denied", service="nomad")
    result = run_module("nomad_variable", nomad(cluster, path=path, items={"A": SECRET_1}))
    assert result["msg"] == (f"Nomad GET /v1/var/{path} failed (HTTP 403): Permission denied. Hint: the nomad token "
                             f"lacks the needed capability; check its policy (or set NOMAD_TOKEN)")
