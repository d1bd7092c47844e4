# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ConsulApi's HTTP face on the wire (its requests.Session gets a transport adapter): paths and
quoting, parameters, decoding, statuses kept for the modules, and error texts with hints that
name the missing ACL capability."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from ansible_collections.octant.openclaw.plugins.module_utils._consul import ConsulApi, decode_entry, kv_path
from ansible_collections.octant.openclaw.plugins.module_utils._errors import ServiceError, UnexpectedAnswerError
from requests.adapters import BaseAdapter

TOKEN = "consul-unit-token-5d2e9a7c"


class Wire(BaseAdapter):
    """Answers from `routes` {(METHOD, raw path): (status, body)} and records requests."""

    def __init__(self, routes=None):
        super().__init__()
        self.routes = routes or {}
        self.sent = []

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.sent.append({"method": request.method, "path": parts.path, "query": query, "body": request.body,
                          "headers": dict(request.headers)})
        status, payload = self.routes.get((request.method, parts.path), (404, ""))
        response = requests.Response()
        response.status_code = status
        response._content = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def api_with(routes, **settings):
    api = ConsulApi(dict({"consul_address": "http://consul.test:8500", "consul_token": TOKEN}, **settings))
    wire = Wire(routes)
    api.http.session.mount("http://", wire)
    return api, wire


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_kv_path_quotes_but_keeps_slashes():
    assert kv_path("a/b c/ü") == "/v1/kv/a/b%20c/%C3%BC"


def test_decode_entry():
    assert decode_entry({"Key": "k", "Value": b64("v")})["Value"] == b"v"
    assert decode_entry({"Key": "k", "Value": None})["Value"] == b""


def test_kv_get_and_missing():
    api, wire = api_with({("GET", "/v1/kv/app/k"): (200, [{"Key": "app/k", "Value": b64("x"), "Flags": 3,
                                                          "ModifyIndex": 9}])})
    assert api.kv_get("app/k") == {"Key": "app/k", "Value": b"x", "Flags": 3, "ModifyIndex": 9}
    assert wire.sent[0]["headers"]["X-Consul-Token"] == TOKEN
    assert api.kv_get("app/missing") is None


def test_kv_get_tree_is_one_recursive_get():
    entry = {"Key": "app/a", "Value": b64("1"), "ModifyIndex": 7, "Flags": 0}
    api, wire = api_with({("GET", "/v1/kv/app/"): (200, [entry])})
    assert [e["Value"] for e in api.kv_get_tree("app/")] == [b"1"]
    assert wire.sent[0]["query"] == {"recurse": ""}
    assert api.kv_get_tree("none/") == []


def test_kv_put_params_and_raw_body():
    api, wire = api_with({("PUT", "/v1/kv/app/k"): (200, "true")})
    assert api.kv_put("app/k", b"value", flags=2, cas=0) is True
    assert wire.sent[0]["query"] == {"flags": "2", "cas": "0"}
    assert wire.sent[0]["body"] == b"value"
    api, wire = api_with({("PUT", "/v1/kv/app/k"): (200, "false")})
    assert api.kv_put("app/k", b"", acquire="s1") is False
    assert wire.sent[0]["query"] == {"acquire": "s1"}


def test_datacenter_goes_on_every_call():
    api, wire = api_with({("DELETE", "/v1/kv/app/k"): (200, "true")}, consul_datacenter="homelab")
    assert api.kv_delete("app/k", cas=4) is True
    assert wire.sent[0]["query"] == {"dc": "homelab", "cas": "4"}


def test_txn_keeps_409_for_the_caller():
    body = {"Results": None, "Errors": [{"OpIndex": 0, "What": "failed to set key \"k\", index is stale"}]}
    api, wire = api_with({("PUT", "/v1/txn"): (409, body)})
    reply = api.txn([{"KV": {"Verb": "cas", "Key": "k", "Index": 1}}])
    assert reply.status == 409 and reply.body == body
    assert json.loads(wire.sent[0]["body"]) == [{"KV": {"Verb": "cas", "Key": "k", "Index": 1}}]


def test_txn_413_is_an_error_with_a_hint():
    api, _wire = api_with({("PUT", "/v1/txn"): (413, "Transaction contains too many operations (65 > 64)")})
    with pytest.raises(ServiceError) as caught:
        api.txn([], what="transaction 1 of 1")
    assert caught.value.message.startswith("Consul transaction 1 of 1 failed (HTTP 413): Transaction contains too many")
    assert "split it" in caught.value.message


def test_403_without_named_capability_gets_the_one_the_call_needs():
    api, _wire = api_with({("PUT", "/v1/kv/app/k"): (403, "Permission denied")})
    with pytest.raises(ServiceError) as caught:
        api.kv_put("app/k", b"v")
    assert caught.value.message == ("Consul KV write of 'app/k' failed (HTTP 403): Permission denied. Hint: the Consul "
                                    'token lacks key "app/k" write; grant it in the token\'s policy or use a token '
                                    "that has it")


def test_403_with_named_capability_keeps_the_server_one():
    text = "Permission denied: token with AccessorID 'x' lacks permission 'acl:write'"
    api, _wire = api_with({("PUT", "/v1/acl/policy"): (403, text)})
    with pytest.raises(ServiceError) as caught:
        api.acl_policy_write({"Name": "p"})
    assert "Hint: the token's policy lacks 'acl:write'" in caught.value.message


def test_unknown_token_hint():
    api, _wire = api_with({("GET", "/v1/acl/tokens"): (403, "ACL not found")})
    with pytest.raises(ServiceError, match="token is unknown to the cluster"):
        api.acl_token_list()


def test_policy_by_name_missing_and_quoted():
    api, wire = api_with({("GET", "/v1/acl/policy/name/a%2Fb"): (200, {"ID": "1", "Name": "a/b"})})
    assert api.acl_policy_by_name("a/b")["ID"] == "1"
    assert api.acl_policy_by_name("other") is None


def test_token_and_policy_writes_choose_create_or_update():
    routes = {("PUT", "/v1/acl/token"): (200, {"AccessorID": "new"}),
              ("PUT", "/v1/acl/token/abc"): (200, {"AccessorID": "abc"}),
              ("PUT", "/v1/acl/policy/pid"): (200, {"ID": "pid"})}
    api, wire = api_with(routes)
    assert api.acl_token_write({"Description": "d"})["AccessorID"] == "new"
    assert api.acl_token_write({"Description": "d"}, "abc")["AccessorID"] == "abc"
    assert api.acl_policy_write({"Name": "p"}, "pid")["ID"] == "pid"


def test_sessions():
    routes = {("PUT", "/v1/session/create"): (200, {"ID": "s1"}),
              ("PUT", "/v1/session/renew/s1"): (200, [{"ID": "s1", "TTL": "30s"}]),
              ("PUT", "/v1/session/destroy/s1"): (200, "true"),
              ("GET", "/v1/session/node/jerry"): (200, [{"ID": "s1"}]),
              ("GET", "/v1/agent/self"): (200, {"Config": {"NodeName": "jerry"}})}
    api, wire = api_with(routes)
    assert api.session_create({"Name": "n", "Node": "jerry"}) == "s1"
    assert api.session_renew("s1")["TTL"] == "30s"
    assert api.session_renew("gone") is None
    api.session_destroy("s1")
    assert api.session_list_node("jerry") == [{"ID": "s1"}]
    assert api.agent_node_name() == "jerry"


def test_connection_refused_names_the_address_and_variable():
    api = ConsulApi({"consul_address": "http://127.0.0.1:1", "consul_token": TOKEN, "consul_timeout": 2})
    with pytest.raises(ServiceError) as caught:
        api.kv_get_tree("app/")
    message = caught.value.message
    assert "failed (no response): connection refused" in message
    assert "http://127.0.0.1:1" in message and "CONSUL_HTTP_ADDR" in message
    assert TOKEN not in message


def test_explicit_token_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "from-the-environment-0000")
    api, wire = api_with({("GET", "/v1/acl/tokens"): (200, [])})
    api.acl_token_list()
    assert wire.sent[0]["headers"]["X-Consul-Token"] == TOKEN


def test_a_kv_value_that_is_not_base64_is_an_unexpected_answer():
    entry = {"Key": "app/k", "Value": "not base64!", "ModifyIndex": 3, "Flags": 0}
    api, _wire = api_with({("GET", "/v1/kv/app/k"): (200, [entry])})
    with pytest.raises(UnexpectedAnswerError) as failure:
        api.kv_get("app/k")
    assert str(failure.value).startswith("Consul KV read of 'app/k' returned an unexpected answer: HTTP 200 with a "
                                         "KV entry whose Value is not base64 (key 'app/k'). Hint: is "
                                         "http://consul.test:8500 really Consul?")


def test_session_create_without_an_id_is_an_unexpected_answer():
    api, _wire = api_with({("PUT", "/v1/session/create"): (200, ["ID"])})
    with pytest.raises(UnexpectedAnswerError) as failure:
        api.session_create({"Name": "lock", "Node": "jerry"})
    assert "Consul session create of 'lock' returned an unexpected answer: HTTP 200 with a JSON list of 1 item " \
           "where a JSON object with ID was expected" in str(failure.value)


def test_a_txn_conflict_of_another_shape_is_an_unexpected_answer():
    api, _wire = api_with({("PUT", "/v1/txn"): (409, {"Errors": [{"OpIndex": "zero", "What": "x"}]})})
    with pytest.raises(UnexpectedAnswerError) as failure:
        api.txn([], what="transaction 1 of 1")
    assert "whose Errors[0].OpIndex is a JSON string of 4 characters where a JSON integer or JSON null was " \
           "expected" in str(failure.value)


def test_a_kv_write_answered_with_a_login_page_is_not_a_cas_mismatch():
    page = "<html><head><title>Login | Corp SSO</title></head><body>token=abc</body></html>"
    api, _wire = api_with({("PUT", "/v1/kv/app/k"): (200, page)})
    with pytest.raises(UnexpectedAnswerError) as failure:
        api.kv_put("app/k", b"v", cas=0)
    assert "HTTP 200 with an HTML page titled 'Login | Corp SSO' (" in str(failure.value)
    assert "token=abc" not in str(failure.value)
