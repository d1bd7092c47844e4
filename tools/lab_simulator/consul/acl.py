"""/v1/acl/*: policies, tokens, token/self and bootstrap. With ACLs off every one answers 401
"ACL support disabled", as Consul does."""

from __future__ import annotations

from ..httpcore import HttpError
from .aclstore import request_secret
from .common import field as json_field
from .common import json_ok, query_meta


def register(router):
    router.add("PUT", r"/v1/acl/bootstrap", bootstrap)
    router.add("PUT", r"/v1/acl/policy", policy_create)
    router.add("GET", r"/v1/acl/policy/name/(?P<name>.*)", policy_read_by_name)
    router.add(("GET", "PUT", "DELETE"), r"/v1/acl/policy/(?P<policy_id>.*)", policy_crud)
    router.add("GET", r"/v1/acl/policies", policy_list)
    router.add("PUT", r"/v1/acl/token", token_create)
    router.add("GET", r"/v1/acl/token/self", token_self)
    router.add(("GET", "PUT", "DELETE"), r"/v1/acl/token/(?P<accessor>.*)", token_crud)
    router.add("GET", r"/v1/acl/tokens", token_list)


def _store(state):
    if not state.acl.enabled:
        raise HttpError(401, "ACL support disabled")
    return state.acl


def _body(request, what):
    body = request.json(what=f"{what} decoding failed") or {}
    if not isinstance(body, dict):
        raise HttpError(400, f"{what} decoding failed: expected a JSON object")
    return body


def _require_acl(store, request, access):
    authz = store.authorize(request)
    authz.require("acl", "", access)
    return authz


def bootstrap(state, request):
    store = _store(state)
    raise HttpError(403, f"Permission denied: ACL bootstrap no longer allowed (reset index: {store.bootstrap_index})")


def policy_create(state, request):
    store = _store(state)
    body = _body(request, "Policy")
    if json_field(body, "ID"):
        raise HttpError(400, "Cannot specify the ID when creating a new policy")
    with state.lab.cond:
        _require_acl(store, request, "write")
        policy = store.put_policy(body)
        state.lab.notify()
    return json_ok(policy)


def _policy_read(state, request, find, label):
    store = _store(state)
    with state.lab.cond:
        _require_acl(store, request, "read")
        policy = find(store)
        headers = query_meta(request, state.table_index("acl-policies"))
    if policy is None:
        raise HttpError(404, f"Requested {label} does not exist: ACL not found", headers)
    return json_ok(policy, headers)


def policy_read_by_name(state, request, name):
    if not name:
        _store(state)
        raise HttpError(400, "Missing policy Name")
    return _policy_read(state, request, lambda store: store.policy_by_name(name), "policy")


def policy_crud(state, request, policy_id):
    store = _store(state)
    if not policy_id and request.method != "PUT":
        raise HttpError(400, "Missing policy ID")
    if request.method == "GET":
        return _policy_read(state, request, lambda s: s.policies.get(policy_id), "policy")
    if request.method == "DELETE":
        with state.lab.cond:
            _require_acl(store, request, "write")
            store.delete_policy(policy_id)
            state.lab.notify()
        return json_ok(True)
    body = _body(request, "Policy")
    if json_field(body, "ID") and json_field(body, "ID") != policy_id:
        raise HttpError(400, "Policy ID in URL and payload do not match")
    with state.lab.cond:
        _require_acl(store, request, "write")
        policy = store.put_policy(body, policy_id)
        state.lab.notify()
    return json_ok(policy)


def policy_list(state, request):
    store = _store(state)
    with state.lab.cond:
        _require_acl(store, request, "read")
        stubs = [{k: p[k] for k in ("ID", "Name", "Description", "Datacenters", "Hash", "CreateIndex",
                                    "ModifyIndex")} for p in store.policies.values()]
        return json_ok(stubs, query_meta(request, state.table_index("acl-policies")))


def token_create(state, request):
    store = _store(state)
    body = _body(request, "Token")
    with state.lab.cond:
        _require_acl(store, request, "write")
        token = store.create_token(body)
        state.lab.notify()
        return json_ok(store.token_json(token))


def token_self(state, request):
    store = _store(state)
    secret = request_secret(request)
    with state.lab.cond:
        token = store.by_secret(secret) if secret else None
        headers = query_meta(request, state.table_index("acl-tokens"))
        if token is None:
            raise HttpError(404, "Supplied token does not exist", headers)
        return json_ok(store.token_json(token), headers)


def token_crud(state, request, accessor):
    store = _store(state)
    if not accessor and request.method != "PUT":
        raise HttpError(400, "Missing token AccessorID")
    with state.lab.cond:
        if request.method == "GET":
            authz = _require_acl(store, request, "read")
            token = store.tokens.get(accessor)
            headers = query_meta(request, state.table_index("acl-tokens"))
            if token is None:
                raise HttpError(404, "Requested token does not exist: ACL not found", headers)
            return json_ok(store.token_json(token, authz.allowed("acl", "", "write")), headers)
        if request.method == "DELETE":
            _require_acl(store, request, "write")
            store.delete_token(accessor, request_secret(request))
            state.lab.notify()
            return json_ok(True)
        body = _body(request, "Token")
        if json_field(body, "AccessorID") and json_field(body, "AccessorID") != accessor:
            raise HttpError(400, "Token Accessor ID in URL and payload do not match")
        _require_acl(store, request, "write")
        token = store.update_token(accessor, body)
        state.lab.notify()
        return json_ok(store.token_json(token))


def token_list(state, request):
    store = _store(state)
    with state.lab.cond:
        authz = _require_acl(store, request, "read")
        show = authz.allowed("acl", "", "write")
        tokens = [store.token_json(t, show) for t in store.tokens.values()]
        return json_ok(tokens, query_meta(request, state.table_index("acl-tokens")))
