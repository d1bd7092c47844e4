"""Nomad ACLs: tokens, policies and the namespace/variable capabilities each endpoint checks."""

import uuid

import pytest

from tests.contract.test_nomad_helpers import make_job, ready_node, register

pytestmark = pytest.mark.acl


@pytest.fixture
def names(acl_nomad):
    """Unique names for one test; policies, tokens, jobs and variables made with them are removed."""
    suffix = uuid.uuid4().hex[:10]
    made = {"policy": f"octant-{suffix}", "job": f"contract-acl-{suffix}", "vars": f"octant-acl-{suffix}",
            "tokens": []}
    yield made
    for accessor in made["tokens"]:
        acl_nomad.delete(f"/v1/acl/token/{accessor}")
    acl_nomad.delete(f"/v1/acl/policy/{made['policy']}")
    acl_nomad.delete(f"/v1/job/{made['job']}", params={"purge": "true"})
    for variable in acl_nomad.get("/v1/vars", params={"prefix": made["vars"]}).json():
        acl_nomad.delete(f"/v1/var/{variable['Path']}")


def _client(acl_nomad, names, rules):
    """A client token holding one policy with `rules`; returns an Api using its secret."""
    response = acl_nomad.put(f"/v1/acl/policy/{names['policy']}",
                             json={"Name": names["policy"], "Description": "contract test", "Rules": rules})
    assert response.status_code == 200, response.text
    token = acl_nomad.put("/v1/acl/token", json={"Name": names["policy"], "Type": "client",
                                                 "Policies": [names["policy"]]}).json()
    names["tokens"].append(token["AccessorID"])
    return acl_nomad.with_token(token["SecretID"])


def test_missing_and_unknown_tokens_are_denied(acl_nomad):
    for token in (None, str(uuid.uuid4()), "not-a-uuid"):
        response = acl_nomad.get("/v1/jobs", token=token)
        assert (response.status_code, response.text) == (403, "Permission denied")


def test_management_token_works_in_header_and_as_bearer(acl_nomad):
    assert acl_nomad.get("/v1/jobs").status_code == 200
    bearer = acl_nomad.get("/v1/jobs", token=None, headers={"Authorization": f"Bearer {acl_nomad.token}"})
    assert bearer.status_code == 200
    me = acl_nomad.get("/v1/acl/token/self").json()
    assert (me["Type"], me["SecretID"]) == ("management", acl_nomad.token)


def test_policy_lifecycle(acl_nomad, names):
    name = names["policy"]
    rules = 'namespace "default" {\n  policy = "read"\n}\n'
    written = acl_nomad.put(f"/v1/acl/policy/{name}", json={"Name": name, "Description": "d", "Rules": rules})
    assert (written.status_code, written.text) == (200, "")
    assert int(written.headers["X-Nomad-Index"]) > 0
    policy = acl_nomad.get(f"/v1/acl/policy/{name}").json()
    assert (policy["Name"], policy["Description"], policy["Rules"]) == (name, "d", rules)
    stub = next(p for p in acl_nomad.get("/v1/acl/policies").json() if p["Name"] == name)
    assert "Rules" not in stub and stub["ModifyIndex"] == policy["ModifyIndex"]
    assert acl_nomad.delete(f"/v1/acl/policy/{name}").status_code == 200
    missing = acl_nomad.get(f"/v1/acl/policy/{name}")
    assert (missing.status_code, missing.text) == (404, "ACL policy not found")


def test_invalid_policy_and_token_requests_are_400(acl_nomad, names):
    name = names["policy"]
    bad = acl_nomad.put(f"/v1/acl/policy/{name}",
                        json={"Name": name, "Rules": 'namespace "default" { policy = "superuser" }'})
    assert bad.status_code == 400
    assert bad.text.startswith("policy 0 invalid: 1 error occurred:\n\t* failed to parse rules: Invalid namespace "
                               "policy")
    mismatch = acl_nomad.put(f"/v1/acl/policy/{name}", json={"Name": "other", "Rules": ""})
    assert (mismatch.status_code, mismatch.text) == (400, "ACL policy name does not match request path")
    token = acl_nomad.put("/v1/acl/token", json={"Name": "x", "Type": "client"})
    assert (token.status_code, token.text) == (
        400, "token 0 invalid: 1 error occurred:\n\t* client token missing policies or roles\n\n")


def test_read_policy_token_reads_but_cannot_submit(acl_nomad, names):
    client = _client(acl_nomad, names, 'namespace "default" { policy = "read" }')
    assert client.get("/v1/jobs").status_code == 200
    node = ready_node(acl_nomad)
    denied = client.put("/v1/jobs", json={"Job": make_job(names["job"], node)})
    assert (denied.status_code, denied.text) == (403, "Permission denied")
    assert client.get("/v1/nodes").status_code == 403  # no node policy


def test_submit_job_capability_is_exactly_that(acl_nomad, names):
    client = _client(acl_nomad, names, 'namespace "default" { capabilities = ["submit-job"] }')
    node = ready_node(acl_nomad)
    register(client, make_job(names["job"], node))
    plan = client.post(f"/v1/job/{names['job']}/plan", json={"Job": make_job(names["job"], node)})
    assert plan.status_code == 200
    assert client.get("/v1/jobs").status_code == 403  # list-jobs
    assert client.get(f"/v1/job/{names['job']}").status_code == 403  # read-job
    assert client.delete(f"/v1/job/{names['job']}").status_code == 200


def test_token_self_and_token_admin(acl_nomad, names):
    client = _client(acl_nomad, names, 'namespace "default" { policy = "read" }')
    me = client.get("/v1/acl/token/self").json()
    assert (me["AccessorID"], me["Type"], me["Policies"]) == (names["tokens"][0], "client", [names["policy"]])
    assert client.get("/v1/acl/tokens").status_code == 403
    assert [p["Name"] for p in client.get("/v1/acl/policies").json()] == [names["policy"]]
    assert acl_nomad.get(f"/v1/acl/token/{names['tokens'][0]}").json()["Name"] == names["policy"]


def test_variable_path_rules(acl_nomad, names):
    base = names["vars"]
    for path in (f"{base}/shared/a", f"{base}/private/b"):
        assert acl_nomad.put(f"/v1/var/{path}", json={"Items": {"k": "v"}}).status_code == 200
    rules = (f'namespace "default" {{\n  variables {{\n'
             f'    path "{base}/shared/*" {{ capabilities = ["read"] }}\n  }}\n}}\n')
    client = _client(acl_nomad, names, rules)
    assert client.get(f"/v1/var/{base}/shared/a").json()["Items"] == {"k": "v"}
    assert client.get(f"/v1/var/{base}/private/b").status_code == 403
    assert client.put(f"/v1/var/{base}/shared/a", json={"Items": {"k": "w"}}).status_code == 403
    assert client.delete(f"/v1/var/{base}/shared/a").status_code == 403
    listed = client.get("/v1/vars", params={"prefix": base}).json()
    assert [v["Path"] for v in listed] == [f"{base}/shared/a"]


@pytest.mark.simulator_only
def test_acl_endpoints_without_acls_are_400(nomad):
    response = nomad.get("/v1/acl/policies")
    assert (response.status_code, response.text) == (400, "ACL support disabled")
