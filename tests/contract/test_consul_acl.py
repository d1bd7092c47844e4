"""Contract: Consul ACLs - policies, tokens, rule matching and how denials look on each endpoint."""

import uuid

import pytest

pytestmark = pytest.mark.acl

ANONYMOUS = "00000000-0000-0000-0000-000000000002"


@pytest.fixture
def acl_prefix(acl_consul):
    value = f"octant-contract/{uuid.uuid4().hex[:12]}/"
    yield value
    acl_consul.delete(f"/v1/kv/{value}", params={"recurse": ""})


@pytest.fixture
def grant(acl_consul):
    """grant(*rules) -> (Api using a new token whose policies hold those rules, its AccessorID).
    Each rules string becomes its own policy; everything is deleted afterwards."""
    tokens, policies = [], []

    def make(*rules):
        links = []
        for text in rules:
            created = acl_consul.put("/v1/acl/policy", json={
                "Name": f"octant-contract-{uuid.uuid4().hex[:10]}", "Rules": text})
            assert created.status_code == 200, created.text
            policies.append(created.json()["ID"])
            links.append({"Name": created.json()["Name"]})
        token = acl_consul.put("/v1/acl/token", json={"Description": "contract test", "Policies": links})
        assert token.status_code == 200, token.text
        tokens.append(token.json()["AccessorID"])
        return acl_consul.with_token(token.json()["SecretID"]), token.json()["AccessorID"]

    yield make
    for accessor in tokens:
        acl_consul.delete(f"/v1/acl/token/{accessor}")
    for policy_id in policies:
        acl_consul.delete(f"/v1/acl/policy/{policy_id}")


def denied(response, access, name, accessor):
    assert response.status_code == 403
    assert response.text == f"Permission denied: token with AccessorID '{accessor}' lacks permission '{access}' " \
                            f'on "{name}"'


def write_prefix(prefix, level="write"):
    return f'key_prefix "{prefix}" {{ policy = "{level}" }}'


def test_the_anonymous_token_is_denied_by_default(acl_consul, acl_prefix):
    response = acl_consul.get(f"/v1/kv/{acl_prefix}k", token=None)
    assert response.status_code == 403
    assert response.text.startswith("Permission denied: ")
    assert "anonymous token" in response.text or ANONYMOUS in response.text


def test_an_unknown_token_is_acl_not_found(acl_consul, acl_prefix):
    response = acl_consul.get(f"/v1/kv/{acl_prefix}k", token=str(uuid.uuid4()))
    assert (response.status_code, response.text) == (403, "ACL not found")


def test_policy_create_read_by_id_and_name_update_list_delete(acl_consul):
    name = f"octant-contract-{uuid.uuid4().hex[:10]}"
    created = acl_consul.put("/v1/acl/policy", json={"Name": name, "Description": "d", "Rules": write_prefix("a/")})
    assert created.status_code == 200
    policy = created.json()
    assert (policy["Name"], policy["Description"], policy["Rules"]) == (name, "d", write_prefix("a/"))
    assert acl_consul.get(f"/v1/acl/policy/{policy['ID']}").json()["Name"] == name
    assert acl_consul.get(f"/v1/acl/policy/name/{name}").json()["ID"] == policy["ID"]
    updated = acl_consul.put(f"/v1/acl/policy/{policy['ID']}", json={"Name": name, "Rules": write_prefix("b/")})
    assert updated.json()["Rules"] == write_prefix("b/")
    assert updated.json()["ModifyIndex"] > policy["ModifyIndex"]
    listed = {p["ID"]: p for p in acl_consul.get("/v1/acl/policies").json()}
    assert listed[policy["ID"]]["Name"] == name
    assert "Rules" not in listed[policy["ID"]]
    assert acl_consul.delete(f"/v1/acl/policy/{policy['ID']}").json() is True
    missing = acl_consul.get(f"/v1/acl/policy/{policy['ID']}")
    assert (missing.status_code, missing.text) == (404, "Requested policy does not exist: ACL not found")


def test_a_duplicate_policy_name_is_refused(acl_consul):
    name = f"octant-contract-{uuid.uuid4().hex[:10]}"
    first = acl_consul.put("/v1/acl/policy", json={"Name": name})
    try:
        again = acl_consul.put("/v1/acl/policy", json={"Name": name})
        assert (again.status_code, again.text) == (500, f'Invalid Policy: A Policy with Name "{name}" already exists')
    finally:
        acl_consul.delete(f"/v1/acl/policy/{first.json()['ID']}")


def test_tokens_link_policies_by_name_and_read_themselves(acl_consul, grant):
    api, accessor = grant(write_prefix("x/"))
    token = acl_consul.get(f"/v1/acl/token/{accessor}").json()
    assert token["AccessorID"] == accessor
    assert [p["Name"] for p in token["Policies"]][0].startswith("octant-contract-")
    assert token["Policies"][0]["ID"]
    me = api.get("/v1/acl/token/self")
    assert (me.status_code, me.json()["AccessorID"]) == (200, accessor)
    assert accessor in [t["AccessorID"] for t in acl_consul.get("/v1/acl/tokens").json()]


def test_key_prefix_write_allows_inside_and_denies_outside(grant, acl_prefix):
    api, accessor = grant(write_prefix(f"{acl_prefix}mine/"))
    assert api.put(f"/v1/kv/{acl_prefix}mine/k", data="v").json() is True
    denied(api.put(f"/v1/kv/{acl_prefix}other", data="v"), "key:write", f"{acl_prefix}other", accessor)
    denied(api.get(f"/v1/kv/{acl_prefix}other"), "key:read", f"{acl_prefix}other", accessor)


def test_the_token_may_come_as_a_bearer_header(acl_consul, grant, acl_prefix):
    api, _ = grant(write_prefix(acl_prefix))
    response = acl_consul.put(f"/v1/kv/{acl_prefix}b", data="v", token=None,
                              headers={"Authorization": f"Bearer {api.token}"})
    assert (response.status_code, response.json()) == (200, True)


def test_recursive_reads_are_filtered_to_readable_keys(acl_consul, grant, acl_prefix):
    for key in ("pub/a", "pub/b", "priv/c"):
        acl_consul.put(f"/v1/kv/{acl_prefix}{key}", data="v")
    api, _ = grant(write_prefix(f"{acl_prefix}pub/", "read"))
    listed = api.get(f"/v1/kv/{acl_prefix}", params={"recurse": ""})
    assert [e["Key"] for e in listed.json()] == [f"{acl_prefix}pub/a", f"{acl_prefix}pub/b"]
    assert api.get(f"/v1/kv/{acl_prefix}", params={"keys": ""}).json() == [f"{acl_prefix}pub/a", f"{acl_prefix}pub/b"]
    assert api.get(f"/v1/kv/{acl_prefix}priv/", params={"recurse": ""}).status_code == 404


def test_a_recursive_delete_needs_write_on_everything_below(acl_consul, grant, acl_prefix):
    acl_consul.put(f"/v1/kv/{acl_prefix}t/a", data="v")
    acl_consul.put(f"/v1/kv/{acl_prefix}t/ro/b", data="v")
    api, accessor = grant(write_prefix(f"{acl_prefix}t/") + "\n" + write_prefix(f"{acl_prefix}t/ro/", "read"))
    denied(api.delete(f"/v1/kv/{acl_prefix}t/", params={"recurse": ""}), "key:write", f"{acl_prefix}t/", accessor)
    assert api.delete(f"/v1/kv/{acl_prefix}t/a").json() is True  # a single key is fine
    writer, _ = grant(write_prefix(f"{acl_prefix}t/"))
    assert writer.delete(f"/v1/kv/{acl_prefix}t/", params={"recurse": ""}).json() is True


def test_deny_beats_write_for_the_same_rule_across_policies(grant, acl_prefix):
    api, accessor = grant(write_prefix(acl_prefix), write_prefix(acl_prefix, "deny"))
    denied(api.put(f"/v1/kv/{acl_prefix}k", data="v"), "key:write", f"{acl_prefix}k", accessor)


def test_the_longest_prefix_and_exact_key_rules_win(grant, acl_prefix):
    rules = "\n".join([write_prefix(acl_prefix), write_prefix(f"{acl_prefix}ro/", "read"),
                       f'key "{acl_prefix}ro/exception" {{ policy = "write" }}'])
    api, accessor = grant(rules)
    assert api.put(f"/v1/kv/{acl_prefix}free", data="v").json() is True
    denied(api.put(f"/v1/kv/{acl_prefix}ro/k", data="v"), "key:write", f"{acl_prefix}ro/k", accessor)
    assert api.put(f"/v1/kv/{acl_prefix}ro/exception", data="v").json() is True
    denied(api.put(f"/v1/kv/{acl_prefix}ro/exception2", data="v"), "key:write", f"{acl_prefix}ro/exception2",
           accessor)


def test_json_rules_work_like_hcl(grant, acl_prefix):
    api, _ = grant(f'{{"key_prefix": {{"{acl_prefix}": {{"policy": "write"}}}}}}')
    assert api.put(f"/v1/kv/{acl_prefix}j", data="v").json() is True


def test_a_denied_txn_operation_is_a_409_and_get_tree_is_filtered(acl_consul, grant, acl_prefix):
    acl_consul.put(f"/v1/kv/{acl_prefix}secret", data="s")
    api, accessor = grant(write_prefix(f"{acl_prefix}open/"))
    refused = api.put("/v1/txn", json=[{"KV": {"Verb": "set", "Key": f"{acl_prefix}open/a", "Value": "eA=="}},
                                       {"KV": {"Verb": "set", "Key": f"{acl_prefix}secret", "Value": "eA=="}}])
    assert refused.status_code == 409
    [error] = refused.json()["Errors"]
    assert error["OpIndex"] == 1
    assert error["What"].startswith("Permission denied")
    assert api.get(f"/v1/kv/{acl_prefix}open/a").status_code == 404  # nothing was applied
    api.put(f"/v1/kv/{acl_prefix}open/a", data="v")
    tree = api.put("/v1/txn", json=[{"KV": {"Verb": "get-tree", "Key": acl_prefix}}])
    assert [r["KV"]["Key"] for r in tree.json()["Results"]] == [f"{acl_prefix}open/a"]


def test_session_rules_gate_session_create(acl_consul, grant):
    node = acl_consul.get("/v1/agent/self").json()["Config"]["NodeName"]
    api, accessor = grant('key_prefix "" { policy = "read" }')
    denied(api.put("/v1/session/create", json={}), "session:write", node, accessor)
    allowed, _ = grant(f'session "{node}" {{ policy = "write" }}')
    created = allowed.put("/v1/session/create", json={})
    assert created.status_code == 200
    assert acl_consul.put(f"/v1/session/destroy/{created.json()['ID']}").json() is True


def test_token_update_replaces_its_policies(acl_consul, grant, acl_prefix):
    api, accessor = grant(write_prefix(f"{acl_prefix}one/"))
    other = acl_consul.put("/v1/acl/policy", json={"Name": f"octant-contract-{uuid.uuid4().hex[:10]}",
                                                   "Rules": write_prefix(f"{acl_prefix}two/")}).json()
    try:
        updated = acl_consul.put(f"/v1/acl/token/{accessor}", json={"Policies": [{"ID": other["ID"]}]})
        assert [p["ID"] for p in updated.json()["Policies"]] == [other["ID"]]
        assert api.put(f"/v1/kv/{acl_prefix}two/k", data="v").json() is True
        denied(api.put(f"/v1/kv/{acl_prefix}one/k", data="v"), "key:write", f"{acl_prefix}one/k", accessor)
    finally:
        acl_consul.put(f"/v1/acl/token/{accessor}", json={"Policies": []})
        acl_consul.delete(f"/v1/acl/policy/{other['ID']}")


def test_a_deleted_token_is_acl_not_found(acl_consul, grant, acl_prefix):
    api, accessor = grant(write_prefix(acl_prefix))
    assert acl_consul.delete(f"/v1/acl/token/{accessor}").json() is True
    assert (api.get(f"/v1/kv/{acl_prefix}k").status_code, api.get(f"/v1/kv/{acl_prefix}k").text) == (
        403, "ACL not found")
    missing = acl_consul.get(f"/v1/acl/token/{accessor}")
    assert (missing.status_code, missing.text) == (404, "Requested token does not exist: ACL not found")


def test_acl_management_needs_acl_write(grant):
    api, accessor = grant('acl = "read"')
    assert api.get("/v1/acl/policies").status_code == 200
    response = api.put("/v1/acl/policy", json={"Name": f"octant-contract-{uuid.uuid4().hex[:10]}"})
    assert (response.status_code, response.text) == (
        403, f"Permission denied: token with AccessorID '{accessor}' lacks permission 'acl:write'")


def test_service_rules_gate_registration(grant):
    api, accessor = grant('service_prefix "octant-contract-ok" { policy = "write" }')
    name = f"octant-contract-no-{uuid.uuid4().hex[:6]}"
    denied(api.put("/v1/agent/service/register", json={"Name": name}), "service:write", name, accessor)


@pytest.mark.simulator_only
def test_acl_enforcement_sends_a_deny_default_policy_header(acl_consul):
    assert acl_consul.get("/v1/status/leader").headers["X-Consul-Default-ACL-Policy"] == "deny"


@pytest.mark.simulator_only
def test_with_key_list_policy_a_recursive_read_needs_list(acl_consul, acl_lab, grant, acl_prefix):
    acl_consul.put(f"/v1/kv/{acl_prefix}a", data="v")
    reader, accessor = grant(write_prefix(acl_prefix, "read"))
    lister, _ = grant(write_prefix(acl_prefix, "list"))
    acl_lab.config(consul_key_list_policy=True)
    try:
        denied(reader.get(f"/v1/kv/{acl_prefix}", params={"recurse": ""}), "key:list", acl_prefix, accessor)
        assert lister.get(f"/v1/kv/{acl_prefix}", params={"recurse": ""}).status_code == 200
    finally:
        acl_lab.config(consul_key_list_policy=False)
