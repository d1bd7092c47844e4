# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.consul_acl_policy and consul_acl_token against the lab simulator (ACLs on,
management token), in-process so the request log counts their calls. Every result is searched
for every SecretID the test knows of."""

from __future__ import annotations

import json
import uuid

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import NomadApi

from tests.integration.conftest import ACL_TOKEN, run_module

pytestmark = pytest.mark.acl

RULES = """
key_prefix "openclaw/bus/bobby/in/" {
  policy = "read"
}
key_prefix "openclaw/bus/jerry/in/bobby/" {
  policy = "write"
}
session_prefix "" {
  policy = "write"
}
"""
SAME_RULES_AS_JSON = json.dumps({
    "session_prefix": {"": {"policy": "write"}},
    "key_prefix": {"openclaw/bus/jerry/in/bobby/": {"policy": "write"}, "openclaw/bus/bobby/in/": {"policy": "read"}},
})


@pytest.fixture
def name(cluster):
    """A random name; the tokens, policies and variables the test made under it are removed after."""
    name = f"octant-test-{uuid.uuid4().hex[:8]}"
    yield name
    api = cluster["consul"]
    for token in api.get("/v1/acl/tokens").json():
        if (token.get("Description") or "").startswith(name):
            api.delete(f"/v1/acl/token/{token['AccessorID']}")
    for policy in api.get("/v1/acl/policies").json():
        if policy["Name"].startswith(name):
            api.delete(f"/v1/acl/policy/{policy['ID']}")
    for var in cluster["nomad"].get("/v1/vars", params={"prefix": f"nomad/jobs/{name}"}).json() or []:
        cluster["nomad"].delete(f"/v1/var/{var['Path']}")


def consul(cluster, **extra):
    return dict({"consul_address": cluster["consul_address"], "consul_token": cluster["consul_token"]}, **extra)


def both(cluster, **extra):
    return consul(cluster, nomad_address=cluster["nomad_address"], nomad_token=cluster["nomad_token"], **extra)


def counts(lab, since, service="consul"):
    rows = lab.requests(service=service, since=since)
    return (sum(r["method"] == "GET" for r in rows), sum(r["method"] in ("PUT", "POST", "DELETE") for r in rows))


def paths(lab, since, service="consul"):
    return [(r["method"], r["path"]) for r in lab.requests(service=service, since=since)]


def secrets_of(cluster, description=None):
    tokens = cluster["consul"].get("/v1/acl/tokens").json()
    return [t["SecretID"] for t in tokens if description is None or t["Description"] == description]


def token_of(cluster, description):
    matches = [t for t in cluster["consul"].get("/v1/acl/tokens").json() if t["Description"] == description]
    assert len(matches) <= 1
    return matches[0] if matches else None


def no_secret_in(cluster, *results):
    text = json.dumps(results)
    leaked = [s for s in secrets_of(cluster) + [ACL_TOKEN] if len(s) > 16 and s in text]
    assert leaked == [], "a SecretID appears in a module result"


def variable(cluster, path):
    reply = cluster["nomad"].get(f"/v1/var/{path}")
    return reply.json() if reply.status_code == 200 else None


# -- policies ------------------------------------------------------------------------------------------

def test_policy_lifecycle(cluster, lab, name):
    seq = lab.last_seq()
    check = run_module("consul_acl_policy", consul(cluster, name=name, rules=RULES, description="bus bobby"),
                       check=True, diff=True)
    assert check["changed"] is True and check["operation"] == "create"
    assert counts(lab, seq) == (1, 0)

    created = run_module("consul_acl_policy", consul(cluster, name=name, rules=RULES, description="bus bobby"),
                         diff=True)
    assert created["operation"] == "create" and created["policy"]["ID"]
    assert created["diff"]["after"]["rules"].startswith('key_prefix "openclaw/bus/bobby/in/" {\n  policy = "read"')

    seq = lab.last_seq()
    same = run_module("consul_acl_policy", consul(cluster, name=name, rules=SAME_RULES_AS_JSON,
                                                  description="bus bobby"), diff=True)
    assert same["changed"] is False and "diff" not in same
    assert counts(lab, seq) == (1, 0)

    changed = run_module("consul_acl_policy", consul(cluster, name=name, rules=RULES.replace('"read"', '"list"')),
                         diff=True)
    assert changed["operation"] == "update" and changed["changes"] == ["rules"]
    assert '"read"' in changed["diff"]["before"]["rules"] and '"list"' in changed["diff"]["after"]["rules"]
    stored = cluster["consul"].get(f"/v1/acl/policy/name/{name}").json()
    assert stored["Description"] == "bus bobby"  # kept: not given in the update task
    assert stored["ID"] == created["policy"]["ID"]

    gone = run_module("consul_acl_policy", consul(cluster, name=name, state="absent"))
    assert gone["operation"] == "delete"
    assert cluster["consul"].get(f"/v1/acl/policy/name/{name}").status_code == 404
    seq = lab.last_seq()
    assert run_module("consul_acl_policy", consul(cluster, name=name, state="absent"))["changed"] is False
    assert counts(lab, seq) == (1, 0)


def test_policy_syntax_error_makes_no_call(cluster, lab, name):
    seq = lab.last_seq()
    result = run_module("consul_acl_policy", consul(cluster, name=name, rules='key_prefix "x" {\n  policy = "read"'))
    assert result["failed"] is True
    assert result["msg"] == (f"Consul ACL policy {name!r}: the rules do not parse: line 2: expected '}}', found end "
                             "of text")
    assert counts(lab, seq) == (0, 0)


# -- restricted tokens ----------------------------------------------------------------------------------

@pytest.fixture
def acl_reader(cluster, name):
    """A token with acl = "read" only."""
    policy = cluster["consul"].put("/v1/acl/policy", json={"Name": f"{name}-r", "Rules": 'acl = "read"'}).json()
    token = cluster["consul"].put("/v1/acl/token", json={"Description": f"{name} reader",
                                                        "Policies": [{"ID": policy["ID"]}]}).json()
    yield token["SecretID"]
    cluster["consul"].delete(f"/v1/acl/token/{token['AccessorID']}")
    cluster["consul"].delete(f"/v1/acl/policy/{policy['ID']}")


def test_policy_403_names_acl_write(cluster, name, acl_reader):
    result = run_module("consul_acl_policy", consul(cluster, consul_token=acl_reader, name=name, rules=RULES))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Consul ACL policy create of {name!r} failed (HTTP 403): Permission denied: "
                                    "token with AccessorID")
    assert "Hint: the token's policy lacks 'acl:write'" in result["msg"]
    no_secret_in(cluster, result)


def test_token_403_on_list_names_acl_read(cluster, name, lab):
    rules = 'key_prefix "" { policy = "read" }'
    policy = cluster["consul"].put("/v1/acl/policy", json={"Name": f"{name}-kv", "Rules": rules}).json()
    token = cluster["consul"].put("/v1/acl/token", json={"Description": f"{name} kv",
                                                        "Policies": [{"ID": policy["ID"]}]}).json()
    result = run_module("consul_acl_token", both(cluster, consul_token=token["SecretID"], description=name,
                                                 _ansible_no_log=True))
    assert result["failed"] is True
    assert result["msg"].startswith("Consul ACL token list failed (HTTP 403): Permission denied")
    assert "lacks 'acl:read'" in result["msg"]
    no_secret_in(cluster, result)


# -- tokens ------------------------------------------------------------------------------------------------

@pytest.fixture
def policy(cluster, name):
    created = run_module("consul_acl_policy", consul(cluster, name=name, rules=RULES))
    return created["policy"]["Name"]


def test_token_stored_in_a_nomad_variable_never_in_the_result(cluster, lab, name, policy):
    path = f"nomad/jobs/{name}"
    cluster["nomad"].put(f"/v1/var/{path}", json={"Path": path, "Items": {"DISCORD_TOKEN": "kept-as-it-is"}})
    args = both(cluster, description=f"{name} bus", policies=[policy],
                store_secret_in={"path": path, "item": "OPENCLAW_BUS_CONSUL_TOKEN"})

    seq_c, seq_n = lab.last_seq(), lab.last_seq()
    check = run_module("consul_acl_token", args, check=True, diff=True)
    assert check["changed"] is True and check["operation"] == "create" and check["secret_stored"] is True
    assert counts(lab, seq_c) == (1, 0) and counts(lab, seq_n, "nomad") == (1, 0)
    assert token_of(cluster, f"{name} bus") is None

    created = run_module("consul_acl_token", args, diff=True)
    token = token_of(cluster, f"{name} bus")
    assert created["operation"] == "create" and created["token"]["AccessorID"] == token["AccessorID"]
    assert "secret_id" not in created and "SecretID" not in created["token"]
    assert created["diff"]["after"] == {"description": f"{name} bus", "policies": [policy], "roles": [],
                                        "local": False}
    items = variable(cluster, path)["Items"]
    assert items == {"DISCORD_TOKEN": "kept-as-it-is", "OPENCLAW_BUS_CONSUL_TOKEN": token["SecretID"],
                     "OPENCLAW_BUS_CONSUL_TOKEN_ACCESSOR": token["AccessorID"]}  # one CAS write for both
    no_secret_in(cluster, check, created)

    seq = lab.last_seq()
    again = run_module("consul_acl_token", args, diff=True)
    assert again["changed"] is False and again["secret_stored"] is True and "diff" not in again
    # the token read by its stored accessor (it carries the SecretID to compare), never the list
    assert paths(lab, seq) == [("GET", f"/v1/acl/token/{token['AccessorID']}")]
    assert counts(lab, seq, "nomad") == (1, 0)    # the variable, unchanged
    no_secret_in(cluster, again)

    # the variable lost the items (someone edited it): the next run lists, finds it and puts both back
    cluster["nomad"].put(f"/v1/var/{path}", json={"Path": path, "Items": {"DISCORD_TOKEN": "kept-as-it-is"}})
    seq = lab.last_seq()
    repaired = run_module("consul_acl_token", args)
    assert repaired["changed"] is True and repaired["operation"] == "store"
    assert repaired["changes"] == ["stored_secret", "stored_accessor"]
    assert paths(lab, seq) == [("GET", "/v1/acl/tokens")]
    assert counts(lab, seq, "nomad") == (1, 1)
    assert variable(cluster, path)["Items"]["OPENCLAW_BUS_CONSUL_TOKEN"] == token["SecretID"]
    assert len(secrets_of(cluster, f"{name} bus")) == 1  # never a second token
    no_secret_in(cluster, repaired)


def test_variable_changed_between_read_and_write_is_merged(cluster, name, policy, monkeypatch):
    path = f"nomad/jobs/{name}"
    real = NomadApi.get_variable
    writes = []

    def racing(self, path_, namespace=None):
        current = real(self, path_, namespace=namespace)
        if not writes:  # a concurrent writer adds an item right after our first read
            writes.append(cluster["nomad"].put(f"/v1/var/{path_}", json={"Path": path_, "Items": {"OTHER": "x"}}))
        return current

    monkeypatch.setattr(NomadApi, "get_variable", racing)
    result = run_module("consul_acl_token", both(cluster, description=f"{name} race", policies=[policy],
                                                 store_secret_in={"path": path}))
    assert result["changed"] is True and writes[0].status_code == 200
    token = token_of(cluster, f"{name} race")
    assert variable(cluster, path)["Items"] == {"OTHER": "x", "CONSUL_HTTP_TOKEN": token["SecretID"],
                                                "CONSUL_HTTP_TOKEN_ACCESSOR": token["AccessorID"]}


def test_token_for_a_no_log_task(cluster, lab, name, policy):
    args = both(cluster, description=f"{name} ci", policies=[policy], _ansible_no_log=True)
    created = run_module("consul_acl_token", args)
    token = token_of(cluster, f"{name} ci")
    assert created["secret_id"] == token["SecretID"]
    again = run_module("consul_acl_token", args)
    assert again["changed"] is False and "secret_id" not in again
    no_secret_in(cluster, again)


def test_token_create_refused_when_the_secret_would_be_printed(cluster, lab, name, policy):
    seq = lab.last_seq()
    result = run_module("consul_acl_token", both(cluster, description=f"{name} loud", policies=[policy]))
    assert result["failed"] is True
    assert result["msg"] == (f"Consul ACL token create of '{name} loud': refusing to create a token whose SecretID "
                             "would be printed or lost. Hint: use store_secret_in to write the SecretID into a Nomad "
                             "Variable, or set no_log: true on the task to get it in the secret_id return value")
    assert counts(lab, seq) == (1, 0)
    assert token_of(cluster, f"{name} loud") is None


def test_token_update_and_absent(cluster, lab, name, policy):
    other = run_module("consul_acl_policy", consul(cluster, name=f"{name}-2", rules='operator = "read"'))
    args = both(cluster, description=f"{name} upd", policies=[policy], _ansible_no_log=True)
    run_module("consul_acl_token", args)
    accessor = token_of(cluster, f"{name} upd")["AccessorID"]
    updated = run_module("consul_acl_token", dict(args, policies=[other["policy"]["Name"], policy]), diff=True)
    assert updated["operation"] == "update" and updated["changes"] == ["policies"]
    assert updated["diff"]["after"]["policies"] == sorted([policy, f"{name}-2"])
    token = token_of(cluster, f"{name} upd")
    assert token["AccessorID"] == accessor and sorted(p["Name"] for p in token["Policies"]) == sorted(
        [policy, f"{name}-2"])
    no_secret_in(cluster, updated)

    local = run_module("consul_acl_token", dict(args, local=True))
    assert local["failed"] and "Consul cannot change that" in local["msg"]

    seq = lab.last_seq()
    check = run_module("consul_acl_token", dict(args, state="absent"), check=True)
    assert check["changed"] is True and counts(lab, seq) == (1, 0)
    gone = run_module("consul_acl_token", dict(args, state="absent"))
    assert gone["operation"] == "delete" and token_of(cluster, f"{name} upd") is None
    assert run_module("consul_acl_token", dict(args, state="absent"))["changed"] is False


def test_duplicate_descriptions_fail_and_list_them(cluster, name, policy):
    ids = sorted(cluster["consul"].put("/v1/acl/token", json={"Description": f"{name} dup"}).json()["AccessorID"]
                 for _ in range(2))
    result = run_module("consul_acl_token", both(cluster, description=f"{name} dup", policies=[policy],
                                                 _ansible_no_log=True))
    assert result["failed"] is True
    assert f"2 tokens have this description (AccessorIDs: {ids[0]}, {ids[1]})" in result["msg"]
    assert len(secrets_of(cluster, f"{name} dup")) == 2
    no_secret_in(cluster, result)


def test_unknown_policy_name(cluster, name):
    result = run_module("consul_acl_token", both(cluster, description=f"{name} x", policies=["no-such-policy"],
                                                 _ansible_no_log=True))
    assert result["failed"] is True
    # Consul answers an unknown policy name with a 500 (an RPC error, not a typed HTTP error)
    assert result["msg"] == (f"Consul ACL token create of '{name} x' failed (HTTP 500): No such ACL policy with name "
                             '"no-such-policy". Hint: a policy or role named in the task does not exist; create it '
                             "first (for a policy, with octant.openclaw.consul_acl_policy) or fix the name")


def test_nomad_down_fails_before_creating_the_token(cluster, lab, name, policy):
    args = both(cluster, description=f"{name} down", policies=[policy], store_secret_in={"path": f"nomad/jobs/{name}"})
    lab.service("nomad", up=False)
    seq = lab.last_seq()
    try:
        failed = run_module("consul_acl_token", args)
    finally:
        lab.service("nomad", up=True)
    assert failed["failed"] is True and not failed.get("changed")
    assert "connection refused" in failed["msg"] and "NOMAD_ADDR" in failed["msg"]
    assert counts(lab, seq) == (0, 0) and token_of(cluster, f"{name} down") is None


def test_variable_write_failing_after_create_is_repaired_by_the_next_run(cluster, lab, name, policy):
    path = f"nomad/jobs/{name}"
    args = both(cluster, description=f"{name} down", policies=[policy], store_secret_in={"path": path})
    lab.fault(f"/v1/var/{path}", status=500, service="nomad", method="PUT")
    failed = run_module("consul_acl_token", args)
    token = token_of(cluster, f"{name} down")
    assert failed["failed"] is True and failed["changed"] is True
    assert f"the token was created (AccessorID {token['AccessorID']}) but storing its SecretID" in failed["msg"]
    assert "HTTP 500" in failed["msg"] and "re-run the task" in failed["msg"]
    no_secret_in(cluster, failed)
    repaired = run_module("consul_acl_token", args)
    assert repaired["operation"] == "store"
    assert variable(cluster, path)["Items"] == {"CONSUL_HTTP_TOKEN": token["SecretID"],
                                                "CONSUL_HTTP_TOKEN_ACCESSOR": token["AccessorID"]}
    assert len(secrets_of(cluster, f"{name} down")) == 1


def test_known_accessor_reads_one_token_whatever_the_number_of_tokens(cluster, lab, name, policy):
    for i in range(30):  # other tokens in the cluster: a listing would carry them all
        cluster["consul"].put("/v1/acl/token", json={"Description": f"{name} other {i}"})
    path = f"nomad/jobs/{name}"
    args = both(cluster, description=f"{name} bus", policies=[policy], store_secret_in={"path": path})
    run_module("consul_acl_token", args)
    accessor = token_of(cluster, f"{name} bus")["AccessorID"]
    for task in (args, both(cluster, description=f"{name} bus", policies=[policy], accessor_id=accessor)):
        seq = lab.last_seq()
        again = run_module("consul_acl_token", task)
        assert again["changed"] is False and again["token"]["AccessorID"] == accessor
        assert paths(lab, seq) == [("GET", f"/v1/acl/token/{accessor}")]  # 1 read, 0 writes, no list
        no_secret_in(cluster, again)
    # an accessor of a deleted token: back to the list, which finds the token by its description
    seq = lab.last_seq()
    gone = run_module("consul_acl_token", both(cluster, description=f"{name} bus", policies=[policy],
                                               accessor_id=str(uuid.uuid4())))
    assert gone["changed"] is False and gone["token"]["AccessorID"] == accessor
    assert [p for _m, p in paths(lab, seq)][1:] == ["/v1/acl/tokens"]
    bad = run_module("consul_acl_token", both(cluster, description=f"{name} bus", accessor_id="bobby"))
    assert bad["failed"] is True and "accessor_id 'bobby' is not an AccessorID" in bad["msg"]
