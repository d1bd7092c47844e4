# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.consul_acl_token through AnsibleModule (so AnsibleModule's own no_log
masking runs), Consul and Nomad replaced by fakes: the SecretID reaches the output only for the
no_log task that created it."""

from __future__ import annotations

import json

import pytest
from ansible_collections.octant.openclaw.plugins.modules import consul_acl_token
from ansible_collections.octant.openclaw.tests.unit.plugins.consul_fake import (
    FakeConsul,
    FakeNomad,
)

CONN = {"consul_address": "http://consul.test:8500", "consul_token": "token-module-mgmt-5f1c2e"}


@pytest.fixture
def fakes(monkeypatch):
    api, nomad = FakeConsul(), FakeNomad()
    monkeypatch.setattr(consul_acl_token, "ConsulApi", lambda params: api)
    monkeypatch.setattr(consul_acl_token, "NomadApi", lambda params: nomad)
    return api, nomad


def secrets_of(api):
    return [t["SecretID"] for t in api.tokens.values()]


def test_created_secret_returned_to_a_no_log_task_unmasked(run_module, fakes):
    api, _nomad = fakes
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(consul_acl_token, dict(CONN, description="ci", policies=["p"]), no_log=True)
    (secret,) = secrets_of(api)
    assert caught.value.result["secret_id"] == secret
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(consul_acl_token, dict(CONN, description="ci", policies=["p"]), no_log=True)
    assert secret not in json.dumps(caught.value.result) and len(api.tokens) == 1


def test_create_refused_without_no_log_or_store(run_module, fakes):
    api, _nomad = fakes
    with pytest.raises(run_module.FailJson) as caught:
        run_module(consul_acl_token, dict(CONN, description="ci"))
    assert "refusing to create a token whose SecretID would be printed or lost" in caught.value.result["msg"]
    assert api.tokens == {}


def test_store_secret_in_keeps_the_secret_out_of_the_output(run_module, fakes):
    api, nomad = fakes
    args = dict(CONN, description="bus bobby", policies=["p"],
                store_secret_in={"path": "nomad/jobs/bus-bobby"})
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(consul_acl_token, args, diff=True)
    (secret,) = secrets_of(api)
    assert secret not in json.dumps(caught.value.result)
    assert caught.value.result["secret_stored"] is True
    (accessor,) = api.tokens
    assert nomad.variables["nomad/jobs/bus-bobby"]["Items"] == {"CONSUL_HTTP_TOKEN": secret,
                                                                "CONSUL_HTTP_TOKEN_ACCESSOR": accessor}


def test_existing_tokens_secrets_are_masked_even_if_they_slipped_in(run_module, fakes, monkeypatch):
    api, _nomad = fakes
    token = api.add_token("ci", policies=["p"])
    # a bug that would put the secret in the description of the result must still be masked
    real = consul_acl_token.run_token

    def leaky(*args, **kwargs):
        result = real(*args, **kwargs)
        result["debug"] = f"oops {token['SecretID']}"
        return result

    monkeypatch.setattr(consul_acl_token, "run_token", leaky)
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(consul_acl_token, dict(CONN, description="ci"))
    assert token["SecretID"] not in json.dumps(caught.value.result)
    assert caught.value.result["debug"] == "oops ********"


def test_duplicate_descriptions_fail(run_module, fakes):
    api, _nomad = fakes
    api.add_token("dup")
    api.add_token("dup")
    with pytest.raises(run_module.FailJson) as caught:
        run_module(consul_acl_token, dict(CONN, description="dup", policies=["p"]))
    assert "2 tokens have this description" in caught.value.result["msg"]
    assert not any(s in json.dumps(caught.value.result) for s in secrets_of(api))
