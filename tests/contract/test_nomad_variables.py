"""Nomad Variables (/v1/var/<path>, /v1/vars): where the collection keeps a job's secrets."""

import threading
import uuid

import pytest


@pytest.fixture
def var_path(nomad):
    """A unique variable path for one test; everything under it is deleted afterwards."""
    path = f"octant-contract/{uuid.uuid4().hex[:12]}"
    yield path
    for variable in nomad.get("/v1/vars", params={"prefix": path}).json():
        nomad.delete(f"/v1/var/{variable['Path']}")


def _put(nomad, path, items, **params):
    return nomad.put(f"/v1/var/{path}", json={"Items": items}, params=params)


def test_put_then_get_round_trip(nomad, var_path):
    written = _put(nomad, var_path, {"token": "s3cret"})
    body = written.json()
    assert written.status_code == 200
    assert (body["Namespace"], body["Path"], body["Items"]) == ("default", var_path, {"token": "s3cret"})
    assert body["CreateIndex"] == body["ModifyIndex"] == int(written.headers["X-Nomad-Index"])
    read = nomad.get(f"/v1/var/{var_path}")
    assert read.json() == body
    assert read.headers["X-Nomad-Index"] == str(body["ModifyIndex"])
    assert set(body) == {"Namespace", "Path", "CreateIndex", "CreateTime", "ModifyIndex", "ModifyTime", "Items"}


def test_missing_variable_is_404(nomad, var_path):
    response = nomad.get(f"/v1/var/{var_path}")
    assert (response.status_code, response.text) == (404, "variable not found")


def test_cas_zero_creates_only(nomad, var_path):
    created = _put(nomad, var_path, {"a": "1"}, cas=0)
    assert created.status_code == 200
    conflict = _put(nomad, var_path, {"a": "2"}, cas=0)
    assert conflict.status_code == 409
    assert conflict.json() == created.json()
    assert conflict.headers["X-Nomad-Index"] == str(created.json()["ModifyIndex"])


def test_cas_with_index_updates_or_conflicts(nomad, var_path):
    first = _put(nomad, var_path, {"a": "1"}).json()
    second = _put(nomad, var_path, {"a": "2"}, cas=first["ModifyIndex"])
    assert second.status_code == 200
    assert (second.json()["CreateIndex"], second.json()["Items"]) == (first["CreateIndex"], {"a": "2"})
    assert second.json()["ModifyIndex"] > first["ModifyIndex"]
    stale = _put(nomad, var_path, {"a": "3"}, cas=first["ModifyIndex"])
    assert stale.status_code == 409
    assert stale.json()["Items"] == {"a": "2"}


def test_cas_on_missing_variable_conflicts_with_zero_value(nomad, var_path):
    response = _put(nomad, var_path, {"a": "1"}, cas=5)
    assert response.status_code == 409
    assert response.json() == {"Namespace": "default", "Path": var_path, "CreateIndex": 0, "CreateTime": 0,
                               "ModifyIndex": 0, "ModifyTime": 0}


def test_delete_with_cas(nomad, var_path):
    index = _put(nomad, var_path, {"a": "1"}).json()["ModifyIndex"]
    stale = nomad.delete(f"/v1/var/{var_path}", params={"cas": index - 1})
    assert stale.status_code == 409 and stale.json()["ModifyIndex"] == index
    deleted = nomad.delete(f"/v1/var/{var_path}", params={"cas": index})
    assert (deleted.status_code, deleted.text) == (204, "")
    assert int(deleted.headers["X-Nomad-Index"]) > index
    assert nomad.get(f"/v1/var/{var_path}").status_code == 404


def test_delete_missing_variable_is_204(nomad, var_path):
    assert nomad.delete(f"/v1/var/{var_path}").status_code == 204


def test_put_without_items_is_400(nomad, var_path):
    for body in ({}, {"Items": {}}):
        response = nomad.put(f"/v1/var/{var_path}", json=body)
        assert (response.status_code, response.text) == (400, "variable missing required Items object")


def test_reserved_and_invalid_paths(nomad):
    """Nomad wraps these validation errors twice, so the text keeps an "RPC Error:: 400," prefix."""
    cases = {
        "nomad": '"nomad" is a reserved top-level directory path, but you may write variables to "nomad/jobs", '
                 '"nomad/job-templates", "nomad/sentinel", or below',
        "nomad/other": 'only paths at "nomad/jobs" or "nomad/job-templates" and below are valid paths under the '
                       'top-level "nomad" directory',
        "bad%20path": 'invalid path "bad path"',
    }
    for path, text in cases.items():
        response = nomad.put(f"/v1/var/{path}", json={"Items": {"a": "1"}})
        assert (response.status_code, response.text) == (400, f"RPC Error:: 400,{text}")


def test_size_limit_is_64_kib(nomad, var_path):
    response = _put(nomad, var_path, {"blob": "x" * 65536})
    assert response.status_code == 400
    assert response.text == "RPC Error:: 400,variables are limited to 64KiB in total size"
    assert _put(nomad, var_path, {"blob": "x" * (65536 - len("blob"))}).status_code == 200


def test_list_by_prefix_returns_metadata_only(nomad, var_path):
    for name in ("b", "a"):
        _put(nomad, f"{var_path}/{name}", {"k": "v"})
    response = nomad.get("/v1/vars", params={"prefix": var_path})
    listed = response.json()
    assert [v["Path"] for v in listed] == [f"{var_path}/a", f"{var_path}/b"]
    assert all("Items" not in v for v in listed)
    assert int(response.headers["X-Nomad-Index"]) >= max(v["ModifyIndex"] for v in listed)


def test_variables_are_namespaced(nomad, var_path):
    _put(nomad, var_path, {"a": "1"})
    assert nomad.get(f"/v1/var/{var_path}", params={"namespace": "default"}).status_code == 200
    listed = nomad.get("/v1/vars", params={"prefix": var_path, "namespace": "*"}).json()
    assert [(v["Namespace"], v["Path"]) for v in listed] == [("default", var_path)]


def test_blocking_read_wakes_on_write(nomad, var_path):
    index = _put(nomad, var_path, {"a": "1"}).json()["ModifyIndex"]
    timer = threading.Timer(0.3, _put, (nomad, var_path, {"a": "2"}))
    timer.start()
    response = nomad.get(f"/v1/var/{var_path}", params={"index": index, "wait": "30s"})
    timer.join()
    assert response.json()["Items"] == {"a": "2"}
    assert int(response.headers["X-Nomad-Index"]) > index
