"""Contract: Consul KV (/v1/kv) as reference/consul-nomad-api.md states it."""

import base64

import pytest


def b64(text):
    return base64.b64encode(text.encode()).decode()


def put(consul, key, data="", **params):
    return consul.put(f"/v1/kv/{key}", data=data, params=params)


def entry(consul, key):
    response = consul.get(f"/v1/kv/{key}")
    assert response.status_code == 200, response.text
    return response.json()[0]


def test_missing_key_is_404_with_empty_body_and_index_headers(consul, prefix):
    response = consul.get(f"/v1/kv/{prefix}missing")
    assert response.status_code == 404
    assert response.content == b""
    assert int(response.headers["X-Consul-Index"]) >= 1
    assert response.headers["X-Consul-KnownLeader"] == "true"
    assert response.headers["X-Consul-LastContact"].isdigit()


def test_put_answers_true_and_get_returns_the_entry(consul, prefix):
    response = put(consul, f"{prefix}a", "hello")
    assert response.status_code == 200
    assert response.json() is True
    got = consul.get(f"/v1/kv/{prefix}a")
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "application/json"
    [item] = got.json()
    assert set(item) == {"CreateIndex", "ModifyIndex", "LockIndex", "Key", "Flags", "Value"}  # no Session
    assert (item["Key"], item["Value"], item["Flags"], item["LockIndex"]) == (f"{prefix}a", b64("hello"), 0, 0)
    assert item["CreateIndex"] == item["ModifyIndex"]
    assert int(got.headers["X-Consul-Index"]) == item["ModifyIndex"]


def test_empty_body_stores_a_null_value(consul, prefix):
    assert put(consul, f"{prefix}empty").json() is True
    assert entry(consul, f"{prefix}empty")["Value"] is None


def test_raw_returns_the_bare_value(consul, prefix):
    put(consul, f"{prefix}raw", "plain bytes")
    response = consul.get(f"/v1/kv/{prefix}raw", params={"raw": ""})
    assert response.status_code == 200
    assert response.content == b"plain bytes"
    assert response.headers["Content-Type"] == "text/plain"
    assert consul.get(f"/v1/kv/{prefix}nope", params={"raw": ""}).status_code == 404


def test_recurse_lists_every_entry_under_the_prefix_in_key_order(consul, prefix):
    for key in ("b", "a/1", "a/2", "c"):
        put(consul, f"{prefix}{key}", key)
    put(consul, f"{prefix[:-1]}-sibling", "outside")
    response = consul.get(f"/v1/kv/{prefix}", params={"recurse": ""})
    assert [e["Key"] for e in response.json()] == [f"{prefix}{k}" for k in ("a/1", "a/2", "b", "c")]
    assert int(response.headers["X-Consul-Index"]) == max(e["ModifyIndex"] for e in response.json())
    consul.delete(f"/v1/kv/{prefix[:-1]}-sibling")


def test_recurse_on_a_prefix_without_keys_is_404(consul, prefix):
    response = consul.get(f"/v1/kv/{prefix}", params={"recurse": ""})
    assert response.status_code == 404
    assert response.content == b""
    assert "X-Consul-Index" in response.headers


def test_keys_lists_names_and_separator_folds_deeper_keys(consul, prefix):
    for key in ("x", "dir/1", "dir/2", "dir/sub/3"):
        put(consul, f"{prefix}{key}")
    names = consul.get(f"/v1/kv/{prefix}", params={"keys": ""}).json()
    assert names == [f"{prefix}{k}" for k in ("dir/1", "dir/2", "dir/sub/3", "x")]
    folded = consul.get(f"/v1/kv/{prefix}", params={"keys": "", "separator": "/"}).json()
    assert folded == [f"{prefix}dir/", f"{prefix}x"]


def test_keys_under_an_empty_prefix_is_404_but_the_root_is_a_list(consul, prefix):
    assert consul.get(f"/v1/kv/{prefix}", params={"keys": ""}).status_code == 404
    root = consul.get("/v1/kv/", params={"keys": "", "separator": "/"})
    assert root.status_code == 200
    assert isinstance(root.json(), list)


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_an_empty_key_without_recurse_is_400_missing_key_name(consul, method):
    response = consul.request(method, "/v1/kv/")
    assert response.status_code == 400
    assert response.text == "Missing key name"


def test_cas_zero_creates_only_if_missing(consul, prefix):
    assert put(consul, f"{prefix}once", "1", cas=0).json() is True
    assert put(consul, f"{prefix}once", "2", cas=0).json() is False
    assert base64.b64decode(entry(consul, f"{prefix}once")["Value"]) == b"1"


def test_cas_index_must_equal_modify_index(consul, prefix):
    put(consul, f"{prefix}k", "v1")
    index = entry(consul, f"{prefix}k")["ModifyIndex"]
    assert put(consul, f"{prefix}k", "v2", cas=index + 1000).json() is False
    assert put(consul, f"{prefix}k", "v2", cas=index).json() is True
    assert put(consul, f"{prefix}k", "v3", cas=index).json() is False  # the index moved on
    assert put(consul, f"{prefix}never", "v", cas=index).json() is False  # non-zero cas, missing key


def test_identical_write_keeps_modify_index_but_new_flags_change_it(consul, prefix):
    put(consul, f"{prefix}same", "v", flags=0)
    first = entry(consul, f"{prefix}same")["ModifyIndex"]
    put(consul, f"{prefix}same", "v")
    assert entry(consul, f"{prefix}same")["ModifyIndex"] == first
    put(consul, f"{prefix}same", "v", flags=7)
    again = entry(consul, f"{prefix}same")
    assert again["ModifyIndex"] > first
    assert again["Flags"] == 7


def test_a_write_without_flags_resets_them_to_zero(consul, prefix):
    put(consul, f"{prefix}f", "v", flags=42)
    assert entry(consul, f"{prefix}f")["Flags"] == 42
    put(consul, f"{prefix}f", "v")
    assert entry(consul, f"{prefix}f")["Flags"] == 0


@pytest.mark.parametrize("params", [{"cas": "0", "acquire": "x"}, {"acquire": "x", "release": "x"}])
def test_conflicting_put_flags_are_400(consul, prefix, params):
    response = consul.put(f"/v1/kv/{prefix}c", params=params)
    assert response.status_code == 400
    assert response.text.startswith("Conflicting flags: ")


def test_value_over_the_max_size_is_413(consul, prefix):
    size = 512 * 1024 + 1
    response = consul.put(f"/v1/kv/{prefix}big", data=b"x" * size)
    assert response.status_code == 413
    assert response.text.startswith(f"Request body({size} bytes) too large, max size: {512 * 1024} bytes")
    assert consul.get(f"/v1/kv/{prefix}big").status_code == 404


def test_delete_answers_true_even_for_a_missing_key(consul, prefix):
    put(consul, f"{prefix}d", "v")
    response = consul.delete(f"/v1/kv/{prefix}d")
    assert (response.status_code, response.json()) == (200, True)
    assert consul.get(f"/v1/kv/{prefix}d").status_code == 404
    assert consul.delete(f"/v1/kv/{prefix}d").json() is True


def test_recursive_delete_removes_only_the_subtree(consul, prefix):
    for key in ("tree/a", "tree/b/c", "treehouse", "keep"):
        put(consul, f"{prefix}{key}")
    assert consul.delete(f"/v1/kv/{prefix}tree/", params={"recurse": ""}).json() is True
    left = consul.get(f"/v1/kv/{prefix}", params={"keys": ""}).json()
    assert left == [f"{prefix}keep", f"{prefix}treehouse"]


def test_delete_cas(consul, prefix):
    put(consul, f"{prefix}dc", "v")
    index = entry(consul, f"{prefix}dc")["ModifyIndex"]
    assert consul.delete(f"/v1/kv/{prefix}dc", params={"cas": index + 1000}).json() is False
    assert consul.delete(f"/v1/kv/{prefix}dc", params={"cas": index}).json() is True
    assert consul.delete(f"/v1/kv/{prefix}dc", params={"cas": index}).json() is True  # gone: true


def test_recursive_delete_with_cas_is_400(consul, prefix):
    response = consul.delete(f"/v1/kv/{prefix}", params={"recurse": "", "cas": "1"})
    assert response.status_code == 400
    assert response.text.startswith("Conflicting flags: ")


def test_a_prefix_index_covers_deletions_through_tombstones(consul, prefix):
    put(consul, f"{prefix}t/a", "1")
    put(consul, f"{prefix}t/b", "2")
    before = int(consul.get(f"/v1/kv/{prefix}t/", params={"recurse": ""}).headers["X-Consul-Index"])
    consul.delete(f"/v1/kv/{prefix}t/b")
    after = consul.get(f"/v1/kv/{prefix}t/", params={"recurse": ""})
    assert [e["Key"] for e in after.json()] == [f"{prefix}t/a"]
    assert int(after.headers["X-Consul-Index"]) > before


def test_an_unsupported_method_is_405(consul, prefix):
    response = consul.post(f"/v1/kv/{prefix}m")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"] and "PUT" in response.headers["Allow"]


def test_an_unclean_path_is_redirected_to_the_clean_one(consul, prefix):
    response = consul.get(f"/v1/kv/{prefix}a//b", allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"] == f"/v1/kv/{prefix}a/b"


@pytest.mark.simulator_only
def test_strict_key_mode_rejects_what_newer_consul_rejects(consul, lab, prefix):
    lab.config(consul_strict_keys=True)
    try:
        bad_char = put(consul, f"{prefix}a b")
        assert (bad_char.status_code, bad_char.text) == (400, (
            f"key contains invalid character ' ' at position {len(prefix) + 1}. "
            "Only alphanumeric characters and ,-_./ are allowed"))
        suffix = put(consul, f"{prefix}config.json")
        assert suffix.status_code == 400
        assert suffix.text == "key contains suspicious file extension '.json' that may be cached by proxies"
        assert put(consul, f"{prefix}config_v1").json() is True
    finally:
        lab.config(consul_strict_keys=False)
