# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.consul_acl through AnsibleModule, Consul and Nomad replaced by the shared fakes:
policies then tokens in one run, shared reads, check and diff mode, a failure half-way naming
what was done, and no SecretID in any result."""

from __future__ import annotations

import json

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._errors import ServiceError
from ansible_collections.octant.openclaw.plugins.modules import consul_acl
from ansible_collections.octant.openclaw.tests.unit.plugins.consul_fake import FakeConsul, FakeNomad

CONN = {"consul_address": "http://consul.test:8500", "consul_token": "token-module-mgmt-5f1c2e"}
RULES = 'key_prefix "openclaw/bus/%s/in/" { policy = "read" }'
BUS_VAR = "nomad/jobs/openclaw-bus-jerry"
WATCH_VAR = "nomad/jobs/openclaw-bus-jerry/bus/watch"


@pytest.fixture
def fakes(monkeypatch):
    api, nomad = FakeConsul(), FakeNomad()
    monkeypatch.setattr(consul_acl, "ConsulApi", lambda params: api)
    monkeypatch.setattr(consul_acl, "NomadApi", lambda params: nomad)
    return api, nomad


def bus_args(agents=("bobby", "billy")):
    """The shape roles/bus gives it: one policy and one token per agent (the agents' tokens in one
    variable), plus the watcher's in another."""
    policies = [{"name": f"openclaw-bus-agent-{a}", "description": "bus", "rules": RULES % a} for a in agents]
    policies.append({"name": "openclaw-bus-watch-jerry", "rules": RULES % "watch"})
    tokens = [{"description": f"openclaw-bus agent {a}", "policies": [f"openclaw-bus-agent-{a}"],
               "store_secret_in": {"path": BUS_VAR, "item": f"BUS_CONSUL_TOKEN_{a.upper()}"}} for a in agents]
    tokens.append({"description": "openclaw-bus watcher jerry", "policies": ["openclaw-bus-watch-jerry"],
                   "store_secret_in": {"path": WATCH_VAR, "item": "BUS_WATCH_CONSUL_TOKEN"}})
    return dict(CONN, policies=policies, tokens=tokens)


def run(run_module, args, **kwargs):
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(consul_acl, args, **kwargs)
    return caught.value.result


def assert_no_secret(api, result):
    text = json.dumps(result)
    assert api.tokens and not [t for t in api.tokens.values() if t["SecretID"] in text]


def test_creates_policies_then_tokens_storing_each_secret(run_module, fakes):
    api, nomad = fakes
    result = run(run_module, bus_args())
    assert result["changed"] is True
    assert [(p["name"], p["operation"]) for p in result["policies"]] == [
        ("openclaw-bus-agent-bobby", "create"), ("openclaw-bus-agent-billy", "create"),
        ("openclaw-bus-watch-jerry", "create")]
    assert [(t["description"], t["operation"], t["secret_stored"]) for t in result["tokens"]] == [
        ("openclaw-bus agent bobby", "create", True), ("openclaw-bus agent billy", "create", True),
        ("openclaw-bus watcher jerry", "create", True)]
    by_description = {t["Description"]: t for t in api.tokens.values()}
    items = nomad.variables[BUS_VAR]["Items"]
    for agent in ("bobby", "billy"):
        token = by_description[f"openclaw-bus agent {agent}"]
        assert items[f"BUS_CONSUL_TOKEN_{agent.upper()}"] == token["SecretID"]
        assert items[f"BUS_CONSUL_TOKEN_{agent.upper()}_ACCESSOR"] == token["AccessorID"]
        assert [p["Name"] for p in token["Policies"]] == [f"openclaw-bus-agent-{agent}"]
    assert nomad.variables[WATCH_VAR]["Items"]["BUS_WATCH_CONSUL_TOKEN"] == \
        by_description["openclaw-bus watcher jerry"]["SecretID"]
    # policies before tokens; each variable read once although two tokens store into BUS_VAR
    writes = [c[0] for c in api.writes()]
    assert writes == ["acl_policy_write"] * 3 + ["acl_token_write"] * 3
    assert [c for c in nomad.calls if c[0] == "get_variable"] == [("get_variable", BUS_VAR),
                                                                  ("get_variable", WATCH_VAR)]
    assert api.count("acl_token_list") == 1
    assert result["tokens"][0]["token"]["Description"] == "openclaw-bus agent bobby"
    assert_no_secret(api, result)


def test_second_run_changes_and_writes_nothing_and_lists_no_tokens(run_module, fakes):
    api, nomad = fakes
    run(run_module, bus_args())
    api.calls.clear()
    nomad.calls.clear()
    result = run(run_module, bus_args(), diff=True)
    assert result["changed"] is False and "diff" not in result
    assert {p["operation"] for p in result["policies"]} == {"none"}
    assert {t["operation"] for t in result["tokens"]} == {"none"}
    assert all(t["secret_stored"] for t in result["tokens"])
    assert api.writes() == [] and [c for c in nomad.calls if c[0] == "put_variable"] == []
    assert api.count("acl_token_list") == 0 and api.count("acl_token_get") == 3  # read by stored accessor
    assert_no_secret(api, result)


def test_check_mode_writes_nothing_and_diffs_every_entry(run_module, fakes):
    api, nomad = fakes
    result = run(run_module, bus_args(), check_mode=True, diff=True)
    assert result["changed"] is True
    assert api.writes() == [] and nomad.variables == {} and api.policies == {} and api.tokens == {}
    assert {t["operation"] for t in result["tokens"]} == {"create"}
    headers = [d["after_header"] for d in result["diff"]]
    assert headers == ["consul acl policy openclaw-bus-agent-bobby (after)",
                       "consul acl policy openclaw-bus-agent-billy (after)",
                       "consul acl policy openclaw-bus-watch-jerry (after)",
                       "consul acl token 'openclaw-bus agent bobby' (after)",
                       "consul acl token 'openclaw-bus agent billy' (after)",
                       "consul acl token 'openclaw-bus watcher jerry' (after)"]


def test_diff_only_for_the_changed_entries(run_module, fakes):
    api, _nomad = fakes
    run(run_module, bus_args())
    args = bus_args()
    args["policies"][1]["rules"] = RULES % "elsewhere"
    args["tokens"][0]["policies"] = ["openclaw-bus-agent-bobby", "openclaw-bus-watch-jerry"]
    result = run(run_module, args, diff=True)
    assert result["changed"] is True
    (policy_diff, token_diff) = result["diff"]
    assert policy_diff["before_header"] == "consul acl policy openclaw-bus-agent-billy (before)"
    assert '"openclaw/bus/billy/in/"' in policy_diff["before"]["rules"]
    assert '"openclaw/bus/elsewhere/in/"' in policy_diff["after"]["rules"]
    assert token_diff["before_header"] == "consul acl token 'openclaw-bus agent bobby' (before)"
    assert token_diff["after"]["policies"] == ["openclaw-bus-agent-bobby", "openclaw-bus-watch-jerry"]
    assert [p["changes"] for p in result["policies"]] == [[], ["rules"], []]
    assert [t["changes"] for t in result["tokens"]] == [["policies"], [], []]
    assert_no_secret(api, result)


def test_the_token_list_is_read_once_for_several_unknown_tokens(run_module, fakes):
    api, nomad = fakes
    for agent in ("bobby", "billy"):  # tokens that exist, their accessors stored nowhere yet
        api.add_token(f"openclaw-bus agent {agent}", policies=[f"openclaw-bus-agent-{agent}"])
    api.add_token("openclaw-bus watcher jerry", policies=["openclaw-bus-watch-jerry"])
    api.add_token("someone else's token")
    result = run(run_module, bus_args())
    assert api.count("acl_token_list") == 1
    assert [t["operation"] for t in result["tokens"]] == ["store"] * 3
    assert [c[0] for c in api.writes()] == ["acl_policy_write"] * 3  # no token written, none created
    assert len(api.tokens) == 4
    assert len([c for c in nomad.calls if c[0] == "put_variable"]) == 3
    assert_no_secret(api, result)


def test_a_failure_half_way_says_what_was_done(run_module, fakes, monkeypatch):
    api, nomad = fakes
    real = api.acl_token_write

    def second_fails(token, accessor_id=None):
        if token["Description"] == "openclaw-bus agent billy":
            raise ServiceError("consul", "ACL token write", 500, "rpc error: leadership lost")
        return real(token, accessor_id)

    monkeypatch.setattr(api, "acl_token_write", second_fails)
    with pytest.raises(run_module.FailJson) as caught:
        run_module(consul_acl, bus_args())
    result = caught.value.result
    msg = result["msg"]
    assert msg.startswith("token 'openclaw-bus agent billy' (token 2 of 3) failed: Consul ACL token write failed "
                          "(HTTP 500): rpc error: leadership lost")
    assert ("did: policy 'openclaw-bus-agent-bobby' (create), policy 'openclaw-bus-agent-billy' (create), "
            "policy 'openclaw-bus-watch-jerry' (create), token 'openclaw-bus agent bobby' (create); "
            "1 entry after it was not tried") in msg
    assert result["changed"] is True
    assert [p["operation"] for p in result["policies"]] == ["create"] * 3
    assert [t["description"] for t in result["tokens"]] == ["openclaw-bus agent bobby"]
    assert result["failed_entry"] == {"kind": "token", "description": "openclaw-bus agent billy"}
    assert WATCH_VAR not in nomad.variables and len(api.tokens) == 1
    assert_no_secret(api, result)


def test_a_token_without_store_secret_in_is_not_created(run_module, fakes):
    api, _nomad = fakes
    args = dict(CONN, tokens=[{"description": "ci", "policies": ["p"]}])
    with pytest.raises(run_module.FailJson) as caught:
        run_module(consul_acl, args, no_log=True)  # even a no_log task gets no SecretID back
    assert "refusing to create a token" in caught.value.result["msg"]
    assert caught.value.result["msg"].endswith("Hint: give the token store_secret_in: this module never returns "
                                               "a SecretID")
    assert api.tokens == {}


@pytest.mark.parametrize("args, field", [
    ({"policies": [{"rules": "x"}]}, "name"),
    ({"tokens": [{"description": "t", "store_secret_in": {"item": "X"}}]}, "path"),
    ({"tokens": [{"description": "t", "state": "gone"}]}, "state"),
    ({"policies": [{"name": "p", "rule": "x"}]}, "rule"),
])
def test_bad_entries_fail_naming_the_field_before_any_call(run_module, fakes, args, field):
    api, nomad = fakes
    with pytest.raises(run_module.FailJson) as caught:
        run_module(consul_acl, dict(CONN, **args))
    assert field in caught.value.result["msg"]
    assert api.calls == [] and nomad.calls == []


def test_two_entries_with_one_identity_fail_before_any_call(run_module, fakes):
    api, _nomad = fakes
    args = bus_args()
    args["tokens"][2]["description"] = "openclaw-bus agent bobby"
    with pytest.raises(run_module.FailJson) as caught:
        run_module(consul_acl, args)
    assert caught.value.result["msg"].startswith("tokens: two entries have description 'openclaw-bus agent bobby'")
    assert api.calls == []
