# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""consul_acl_policy and consul_acl_token logic: idempotence by name/description, semantic rule
comparison, token matching, and the SecretID that is never returned except to the no_log task
that created it (or stored straight into a Nomad Variable)."""

from __future__ import annotations

import json

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils import _consul_acl as acl
from ansible_collections.octant.openclaw.plugins.module_utils._errors import ServiceError
from ansible_collections.octant.openclaw.plugins.module_utils._module import Context
from ansible_collections.octant.openclaw.tests.unit.plugins.consul_fake import (
    FakeConsul,
    FakeNomad,
)

RULES = 'key_prefix "openclaw/" {\n  policy = "read"\n}\n'


def ctx(**kw):
    return Context(**kw)


def policy_params(**extra):
    params = {"name": "reader", "description": None, "rules": None, "datacenters": None, "state": "present"}
    params.update(extra)
    return params


def token_params(**extra):
    params = {"description": "bus agent bobby", "policies": None, "roles": None, "local": None,
              "expiration_ttl": None, "store_secret_in": None, "state": "present"}
    params.update(extra)
    return params


STORE = {"path": "nomad/jobs/bus", "item": "CONSUL_HTTP_TOKEN", "namespace": None}


def everywhere(value, *things):
    """True when `value` appears anywhere in the JSON of `things`."""
    return any(value in json.dumps(thing, default=str) for thing in things)


# -- policies ----------------------------------------------------------------------------------

def test_policy_create_then_unchanged_when_rules_are_spelled_otherwise():
    api = FakeConsul()
    result = acl.run_policy(api, policy_params(rules=RULES, description="d"), ctx(diff=True))
    assert result["operation"] == "create" and result["changed"]
    assert result["policy"]["Name"] == "reader" and result["policy"]["ID"]
    assert result["diff"]["before"] == {} and result["diff"]["after"]["rules"] == RULES
    api.calls.clear()
    spelled = '{"key_prefix": {"openclaw/": {"policy": "read"}}}'
    result = acl.run_policy(api, policy_params(rules=spelled, description="d"), ctx(diff=True))
    assert result["changed"] is False and "diff" not in result
    assert [c[0] for c in api.calls] == ["acl_policy_by_name"]


def test_policy_update_only_what_differs_and_keep_the_rest():
    api = FakeConsul()
    acl.run_policy(api, policy_params(rules=RULES, description="d", datacenters=["dc1"]), ctx())
    result = acl.run_policy(api, policy_params(description="new"), ctx(diff=True))
    assert result["operation"] == "update" and result["changes"] == ["description"]
    sent = api.calls[-1][1][0]
    assert sent == {"Name": "reader", "Description": "new", "Rules": RULES, "Datacenters": ["dc1"]}
    assert result["diff"]["before"]["description"] == "d" and result["diff"]["after"]["description"] == "new"


def test_policy_rules_change_diff_is_canonical():
    api = FakeConsul()
    acl.run_policy(api, policy_params(rules=RULES), ctx())
    new = 'key_prefix "openclaw/" { policy = "write" }'
    result = acl.run_policy(api, policy_params(rules=new), ctx(diff=True))
    assert result["changes"] == ["rules"]
    assert result["diff"]["after"]["rules"] == 'key_prefix "openclaw/" {\n  policy = "write"\n}\n'


def test_policy_datacenters_compared_as_sets():
    api = FakeConsul()
    acl.run_policy(api, policy_params(rules=RULES, datacenters=["a", "b"]), ctx())
    assert acl.run_policy(api, policy_params(datacenters=["b", "a"]), ctx())["changed"] is False
    assert acl.run_policy(api, policy_params(datacenters=["a"]), ctx())["changes"] == ["datacenters"]


def test_policy_check_mode_writes_nothing():
    api = FakeConsul()
    result = acl.run_policy(api, policy_params(rules=RULES), ctx(check_mode=True))
    assert result["changed"] and result["policy"]["Name"] == "reader"
    assert api.writes() == []


def test_policy_bad_rules_fail_before_any_call():
    api = FakeConsul()
    with pytest.raises(acl.OperationError) as caught:
        acl.run_policy(api, policy_params(rules='key_prefix "x" {\n policy = \n}'), ctx())
    assert "the rules do not parse: line 3: expected a value" in caught.value.message
    assert api.calls == []


def test_policy_absent():
    api = FakeConsul()
    assert acl.run_policy(api, policy_params(state="absent"), ctx())["changed"] is False
    acl.run_policy(api, policy_params(rules=RULES), ctx())
    result = acl.run_policy(api, policy_params(state="absent"), ctx(diff=True))
    assert result["operation"] == "delete" and api.policies == {}
    assert result["diff"]["after"] == {}


# -- token matching ------------------------------------------------------------------------------

def test_find_token_by_exact_description():
    tokens = [{"AccessorID": "1", "Description": "bus agent bobby"}, {"AccessorID": "2", "Description": "bus"}]
    assert acl.find_token(tokens, "bus agent bobby")["AccessorID"] == "1"
    assert acl.find_token(tokens, "bus agent") is None
    assert acl.find_token([], "x") is None


def test_find_token_refuses_to_guess_between_duplicates():
    tokens = [{"AccessorID": "b", "Description": "dup"}, {"AccessorID": "a", "Description": "dup"}]
    with pytest.raises(acl.OperationError) as caught:
        acl.find_token(tokens, "dup")
    assert "2 tokens have this description (AccessorIDs: a, b)" in caught.value.message
    assert "distinct" in caught.value.message


def test_token_public_drops_the_secret():
    token = {"AccessorID": "a", "SecretID": "s" * 36, "Description": "d", "Hash": "h", "Policies": []}
    assert acl.token_public(token) == {"AccessorID": "a", "Description": "d", "Policies": []}
    assert acl.token_public(None) is None


def test_context_hides_only_long_values():
    context = ctx()
    for value in ("anonymous", "", None, "<hidden>", "d3b07384-d9a0-4c1f-8b7e-1f0e0e6b8a11"):
        context.hide(value)
    assert context.secrets == {"d3b07384-d9a0-4c1f-8b7e-1f0e0e6b8a11"}


# -- tokens ------------------------------------------------------------------------------------

def test_token_create_refused_when_the_secret_would_leak_or_be_lost():
    api = FakeConsul()
    for check_mode in (False, True):
        with pytest.raises(acl.OperationError) as caught:
            acl.run_token(api, token_params(policies=["reader"]), ctx(check_mode=check_mode))
        assert "refusing to create a token" in caught.value.message
        assert "store_secret_in" in caught.value.message and "no_log: true" in caught.value.message
    assert api.writes() == []


def test_token_create_in_a_no_log_task_returns_the_secret_once():
    api = FakeConsul()
    context = ctx(no_log=True, diff=True)
    result = acl.run_token(api, token_params(policies=["reader"]), context)
    token = next(iter(api.tokens.values()))
    assert result["operation"] == "create" and result["secret_id"] == token["SecretID"]
    assert "SecretID" not in result["token"]
    assert token["SecretID"] not in context.secrets  # masking it would erase the returned value
    assert result["diff"]["after"] == {"description": "bus agent bobby", "policies": ["reader"], "roles": [],
                                       "local": False}
    # the second run finds it: no new token, no secret
    context = ctx(no_log=True)
    result = acl.run_token(api, token_params(policies=["reader"]), context)
    assert result["changed"] is False and "secret_id" not in result
    assert len(api.tokens) == 1
    assert not everywhere(token["SecretID"], result)
    assert token["SecretID"] in context.secrets  # the list carried it: registered for masking


def test_token_create_with_store_puts_the_secret_only_in_the_variable():
    api, nomad = FakeConsul(), FakeNomad()
    nomad.variables["nomad/jobs/bus"] = {"Items": {"OTHER": "kept"}, "ModifyIndex": 4}
    context = ctx(diff=True)
    result = acl.run_token(api, token_params(policies=["reader"], store_secret_in=STORE), context,
                           nomad_factory=lambda: nomad)
    token = next(iter(api.tokens.values()))
    assert result["secret_stored"] is True and "secret_id" not in result
    assert not everywhere(token["SecretID"], result)
    assert nomad.variables["nomad/jobs/bus"]["Items"] == {"OTHER": "kept", "CONSUL_HTTP_TOKEN": token["SecretID"],
                                                          "CONSUL_HTTP_TOKEN_ACCESSOR": token["AccessorID"]}
    assert [c for c in nomad.calls if c[0] == "put_variable"] == [("put_variable", "nomad/jobs/bus", 4)]
    assert token["SecretID"] in context.secrets
    # re-run: the stored accessor is read directly (no list), nothing written anywhere
    nomad.calls.clear()
    api.calls.clear()
    result = acl.run_token(api, token_params(policies=["reader"], store_secret_in=STORE), ctx(),
                           nomad_factory=lambda: nomad)
    assert result["changed"] is False and result["secret_stored"] is True
    assert api.calls == [("acl_token_get", (token["AccessorID"],))]
    assert [c[0] for c in nomad.calls] == ["get_variable"]
    assert not everywhere(token["SecretID"], result)


def test_store_repairs_a_variable_that_lost_the_secret():
    api, nomad = FakeConsul(), FakeNomad()
    token = api.add_token("bus agent bobby", policies=["reader"])
    result = acl.run_token(api, token_params(store_secret_in=STORE), ctx(), nomad_factory=lambda: nomad)
    assert result["changed"] and result["operation"] == "store"
    assert result["changes"] == ["stored_secret", "stored_accessor"]
    assert nomad.variables["nomad/jobs/bus"]["Items"]["CONSUL_HTTP_TOKEN"] == token["SecretID"]
    assert not everywhere(token["SecretID"], result)


def test_store_retries_a_concurrent_variable_change_and_keeps_its_items():
    api, nomad = FakeConsul(), FakeNomad()
    token = api.add_token("bus agent bobby")
    nomad.conflicts = 1
    acl.run_token(api, token_params(store_secret_in=STORE), ctx(), nomad_factory=lambda: nomad)
    expected = {"OTHER": "written-concurrently", "CONSUL_HTTP_TOKEN": token["SecretID"],
                "CONSUL_HTTP_TOKEN_ACCESSOR": token["AccessorID"]}
    assert nomad.variables["nomad/jobs/bus"]["Items"] == expected


def test_store_gives_up_after_three_conflicts():
    api, nomad = FakeConsul(), FakeNomad()
    api.add_token("bus agent bobby")
    nomad.conflicts = 3
    with pytest.raises(ServiceError, match="changed concurrently 3 times"):
        acl.run_token(api, token_params(store_secret_in=STORE), ctx(), nomad_factory=lambda: nomad)


def test_store_failure_after_create_says_how_to_recover_without_the_secret():
    api = FakeConsul()

    class DownNomad(FakeNomad):  # reachable for the first read, down when the SecretID is written
        def put_variable(self, path, items, cas, namespace=None):
            raise ServiceError("nomad", "PUT /v1/var/x", None, "connection refused")

    with pytest.raises(acl.OperationError) as caught:
        acl.run_token(api, token_params(store_secret_in=STORE), ctx(), nomad_factory=DownNomad)
    token = next(iter(api.tokens.values()))
    err = caught.value
    assert f"the token was created (AccessorID {token['AccessorID']})" in err.message
    assert "re-run the task" in err.message and err.result["changed"] is True
    assert not everywhere(token["SecretID"], err.message, err.result)


def test_store_nomad_down_fails_before_creating_anything():
    api = FakeConsul()

    class DownNomad:
        def get_variable(self, path, namespace=None):
            raise ServiceError("nomad", "GET /v1/var/x", None, "connection refused")

    with pytest.raises(ServiceError, match="connection refused"):
        acl.run_token(api, token_params(store_secret_in=STORE), ctx(), nomad_factory=DownNomad)
    assert api.tokens == {} and api.writes() == []


def test_known_accessor_option_reads_one_token_and_never_lists():
    api = FakeConsul()
    token = api.add_token("bus agent bobby", policies=["reader"])
    result = acl.run_token(api, token_params(policies=["reader"], accessor_id=token["AccessorID"]), ctx())
    assert result["changed"] is False and result["token"]["AccessorID"] == token["AccessorID"]
    assert api.calls == [("acl_token_get", (token["AccessorID"],))]
    # an update reuses the token it read (its SecretID and kept fields) instead of reading it again
    result = acl.run_token(api, token_params(policies=["other"], accessor_id=token["AccessorID"]), ctx())
    assert result["operation"] == "update" and api.count("acl_token_list") == 0 and api.count("acl_token_read") == 0
    assert not everywhere(token["SecretID"], result)


@pytest.mark.parametrize("case", ["gone", "other description", "not a uuid"])
def test_stored_accessor_that_does_not_fit_falls_back_to_the_list_and_is_rewritten(case):
    api, nomad = FakeConsul(), FakeNomad()
    token = api.add_token("bus agent bobby")
    stale = {"gone": "0b6f4a58-4a8e-4b8a-9f55-3f1d2c7a0a11", "not a uuid": "junk"}.get(case)
    stale = stale or api.add_token("another token")["AccessorID"]
    nomad.variables["nomad/jobs/bus"] = {"Items": {"CONSUL_HTTP_TOKEN": token["SecretID"],
                                                   "CONSUL_HTTP_TOKEN_ACCESSOR": stale}, "ModifyIndex": 7}
    result = acl.run_token(api, token_params(store_secret_in=STORE), ctx(), nomad_factory=lambda: nomad)
    assert api.count("acl_token_list") == 1 and api.count("acl_token_get") == (0 if case == "not a uuid" else 1)
    assert result["changes"] == ["stored_accessor"] and result["operation"] == "store"
    assert nomad.variables["nomad/jobs/bus"]["Items"]["CONSUL_HTTP_TOKEN_ACCESSOR"] == token["AccessorID"]
    assert len(api.tokens) == (2 if case == "other description" else 1)  # never a new token


def test_accessor_item_can_be_named_or_turned_off():
    api, nomad = FakeConsul(), FakeNomad()
    token = api.add_token("bus agent bobby")
    acl.run_token(api, token_params(store_secret_in=dict(STORE, accessor_item="BUS_ACCESSOR")), ctx(),
                  nomad_factory=lambda: nomad)
    assert nomad.variables["nomad/jobs/bus"]["Items"] == {"CONSUL_HTTP_TOKEN": token["SecretID"],
                                                          "BUS_ACCESSOR": token["AccessorID"]}
    nomad.variables.clear()
    api.calls.clear()
    for _run in range(2):
        acl.run_token(api, token_params(store_secret_in=dict(STORE, accessor_item="")), ctx(),
                      nomad_factory=lambda: nomad)
    assert nomad.variables["nomad/jobs/bus"]["Items"] == {"CONSUL_HTTP_TOKEN": token["SecretID"]}
    assert api.count("acl_token_list") == 2 and api.count("acl_token_get") == 0


def test_bad_accessor_id_fails_before_any_call():
    api = FakeConsul()
    with pytest.raises(acl.OperationError, match="accessor_id 'bobby' is not an AccessorID"):
        acl.run_token(api, token_params(accessor_id="bobby"), ctx())
    assert api.calls == []


def test_absent_with_a_known_accessor_deletes_without_listing():
    api = FakeConsul()
    token = api.add_token("bus agent bobby")
    result = acl.run_token(api, token_params(state="absent", accessor_id=token["AccessorID"]), ctx())
    assert result["operation"] == "delete" and api.tokens == {}
    assert [c[0] for c in api.calls] == ["acl_token_get", "acl_token_delete"]


def test_store_check_mode_reads_only():
    api, nomad = FakeConsul(), FakeNomad()
    api.add_token("bus agent bobby")
    result = acl.run_token(api, token_params(store_secret_in=STORE), ctx(check_mode=True),
                           nomad_factory=lambda: nomad)
    assert result["changed"] is True and nomad.variables == {}
    assert api.writes() == []


def test_store_reads_the_token_when_the_list_redacts_its_secret():
    api, nomad = FakeConsul(), FakeNomad()
    token = api.add_token("bus agent bobby")
    real_list = api.acl_token_list

    def redacted():
        return [dict(t, SecretID="<hidden>") for t in real_list()]

    api.acl_token_list = redacted
    acl.run_token(api, token_params(store_secret_in=STORE), ctx(), nomad_factory=lambda: nomad)
    assert api.count("acl_token_read") == 1
    assert nomad.variables["nomad/jobs/bus"]["Items"]["CONSUL_HTTP_TOKEN"] == token["SecretID"]


def test_store_uses_the_secret_the_list_carries():
    api, nomad = FakeConsul(), FakeNomad()
    api.add_token("bus agent bobby")
    acl.run_token(api, token_params(store_secret_in=STORE), ctx(), nomad_factory=lambda: nomad)
    assert api.count("acl_token_read") == 0


def test_store_refuses_a_hidden_secret():
    api, nomad = FakeConsul(), FakeNomad()
    token = api.add_token("bus agent bobby")
    token["SecretID"] = "<hidden>"
    with pytest.raises(acl.OperationError, match='acl = "write"'):
        acl.run_token(api, token_params(store_secret_in=STORE), ctx(), nomad_factory=lambda: nomad)


def test_token_update_policies_and_roles_as_sets_keeping_other_fields():
    api = FakeConsul()
    token = api.add_token("bus agent bobby", policies=["a", "b"])
    token["ServiceIdentities"] = [{"ServiceName": "web"}]
    assert acl.run_token(api, token_params(policies=["b", "a", "a"]), ctx())["changed"] is False
    result = acl.run_token(api, token_params(policies=["a"], roles=["ops"]), ctx(diff=True))
    assert result["changes"] == ["policies", "roles"] and result["operation"] == "update"
    sent, accessor = api.calls[-1][1]
    assert accessor == token["AccessorID"] and "SecretID" not in sent
    assert sent["Policies"] == [{"Name": "a"}] and sent["Roles"] == [{"Name": "ops"}]
    assert sent["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert result["diff"]["before"]["policies"] == ["a", "b"] and result["diff"]["after"]["policies"] == ["a"]
    assert not everywhere(token["SecretID"], result)


def test_token_omitted_policies_are_kept():
    api = FakeConsul()
    api.add_token("bus agent bobby", policies=["a"])
    assert acl.run_token(api, token_params(roles=[]), ctx())["changed"] is False


def test_token_local_cannot_change():
    api = FakeConsul()
    api.add_token("bus agent bobby", local=False)
    with pytest.raises(acl.OperationError, match="local=False; Consul cannot change that"):
        acl.run_token(api, token_params(local=True), ctx())


def test_token_expiration_ttl_on_existing_token_warns():
    api = FakeConsul()
    api.add_token("bus agent bobby")
    context = ctx()
    acl.run_token(api, token_params(expiration_ttl="24h"), context)
    assert "only applies when the token is created" in context.warnings[0]


def test_token_create_sends_expiration_and_local():
    api = FakeConsul()
    acl.run_token(api, token_params(policies=["p"], local=True, expiration_ttl="1h"), ctx(no_log=True))
    sent = api.calls[-1][1][0]
    assert sent == {"Description": "bus agent bobby", "Policies": [{"Name": "p"}], "Roles": [], "Local": True,
                    "ExpirationTTL": "1h"}


def test_token_absent():
    api = FakeConsul()
    assert acl.run_token(api, token_params(state="absent"), ctx())["changed"] is False
    token = api.add_token("bus agent bobby")
    result = acl.run_token(api, token_params(state="absent"), ctx(check_mode=True))
    assert result["changed"] and token["AccessorID"] in api.tokens
    result = acl.run_token(api, token_params(state="absent"), ctx())
    assert result["operation"] == "delete" and api.tokens == {}


def test_token_absent_with_duplicates_fails():
    api = FakeConsul()
    api.add_token("bus agent bobby")
    api.add_token("bus agent bobby")
    with pytest.raises(acl.OperationError, match="2 tokens have this description"):
        acl.run_token(api, token_params(state="absent"), ctx())
    assert len(api.tokens) == 2
