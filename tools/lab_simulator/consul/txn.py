"""PUT /v1/txn: KV operations applied atomically, in order, at one Raft index; any failure rolls all of
them back and answers 409 with every failing operation's error."""

from __future__ import annotations

import base64
import binascii
import json

from ..httpcore import HttpError
from .common import StateError, check_query_options, json_ok
from .common import field as json_field
from .kvstore import Entry

WRITE_VERBS = {"set", "cas", "lock", "unlock", "delete", "delete-cas", "delete-tree"}
READ_VERBS = {"get", "get-tree", "get-or-empty"}  # ACL filters their results instead of refusing them
CHECK_VERBS = {"check-index", "check-session"}   # need key read
# Consul's txn_max_req_len default: the cumulative request size limit.
TXN_MAX_REQ_LEN = 512 * 1024


def register(router):
    router.add("PUT", r"/v1/txn", txn)


def _decode(state, request):
    limit = max(TXN_MAX_REQ_LEN, state.lab.config["kv_max_value_size"])
    if len(request.body) > limit:
        raise HttpError(413, f"Request body too large, max size: {limit} bytes")
    try:
        raw = json.loads(request.body or b"null")
        if not isinstance(raw, list):
            raise ValueError("expected a JSON array of operations")
    except ValueError as exc:
        raise HttpError(400, f"Failed to parse body: {exc}") from None
    max_ops = state.lab.config["txn_max_ops"]
    if len(raw) > max_ops:
        raise HttpError(413, f"Transaction contains too many operations ({len(raw)} > {max_ops})")
    ops = []
    for item in raw:
        kv = json_field(item, "KV")
        if not isinstance(kv, dict):
            raise HttpError(400, "Failed to parse body: labsim supports only KV operations in /v1/txn")
        value = json_field(kv, "Value")
        try:
            value = base64.b64decode(value, validate=True) if value else None
        except (binascii.Error, TypeError) as exc:
            raise HttpError(400, f"Failed to parse body: failed to decode value: {exc}") from None
        key = json_field(kv, "Key") or ""
        if value and len(value) > state.lab.config["kv_max_value_size"]:
            raise HttpError(413, f'Value for key "{key}" is too large ({len(value)} > '
                                 f'{state.lab.config["kv_max_value_size"]} bytes)')
        ops.append({"verb": json_field(kv, "Verb") or "", "key": key, "value": value,
                    "flags": json_field(kv, "Flags") or 0, "index": json_field(kv, "Index") or 0,
                    "session": json_field(kv, "Session") or ""})
    return ops


def _precheck(state, authz, ops):
    """Checks made before Raft (kvsPreApply): key presence, ACLs, lock-delay."""
    errors = []
    for i, op in enumerate(ops):
        verb, key = op["verb"], op["key"]
        try:
            if not key and verb != "delete-tree":
                raise StateError("Must provide key")
            if verb == "delete-tree":
                authz.require_key_write_prefix(key)
            elif verb in CHECK_VERBS:
                authz.require("key", key, "read")
            elif verb not in READ_VERBS:
                authz.require("key", key, "write")
            if verb == "lock" and state.kv.lock_delayed(key):
                raise StateError(f'failed to lock key "{key}" due to lock delay')
        except HttpError as err:
            errors.append({"OpIndex": i, "What": err.body})
        except StateError as err:
            errors.append({"OpIndex": i, "What": str(err)})
    return errors


def _run(kv, op, idx):
    """One operation -> its results as (entry, include the value) pairs."""
    verb, key = op["verb"], op["key"]
    entry = Entry(key, op["value"], op["flags"], op["session"])
    if verb == "set":
        return [(kv.set(entry, idx), False)]
    if verb == "cas":
        return [(_must(kv.cas(entry, idx, op["index"]), f'failed to set key "{key}", index is stale'), False)]
    if verb == "lock":
        return [(_must(kv.lock(entry, idx), f'failed to lock key "{key}", lock is already held'), False)]
    if verb == "unlock":
        return [(_must(kv.unlock(entry, idx),
                       f'failed to unlock key "{key}", lock isn\'t held, or is held by another session'), False)]
    if verb == "get":
        return [(_must(kv.get(key), f'key "{key}" doesn\'t exist'), True)]
    if verb == "get-or-empty":
        return [(kv.get(key) or Entry(key, None, op["flags"], op["session"], modify_index=op["index"]), True)]
    if verb == "get-tree":
        return [(e, True) for e in kv.list(key)]
    if verb == "check-index":
        return [(kv.check_index(key, op["index"]), False)]
    if verb == "check-session":
        return [(kv.check_session(key, op["session"]), False)]
    if verb == "check-not-exists":
        _must(not kv.get(key), f'key "{key}" exists')
    elif verb == "delete":
        kv.delete(key, idx)
    elif verb == "delete-cas":
        _must(kv.delete_cas(key, idx, op["index"]), f'failed to delete key "{key}", index is stale')
    elif verb == "delete-tree":
        kv.delete_tree(key, idx)
    else:
        raise StateError(f'unknown KV verb "{verb}"')
    return []


def _must(result, error):
    if not result:
        raise StateError(error)
    return result


def txn(state, request):
    ops = _decode(state, request)
    read_only = not any(op["verb"] in WRITE_VERBS for op in ops)
    if read_only:
        check_query_options(request)
    # A read-only txn bypasses Raft and carries only leader metadata; a write carries none.
    headers = {"X-Consul-KnownLeader": "true", "X-Consul-LastContact": "0"} if read_only else {}
    with state.lab.cond:
        authz = state.acl.authorize(request)
        errors = _precheck(state, authz, ops)
        if errors:
            return json_ok({"Results": None, "Errors": errors}, headers, status=409)
        idx = 0 if read_only else state.raft()
        snapshot = state.kv.snapshot(), dict(state.tables)
        results = []
        for i, op in enumerate(ops):
            try:
                results.extend(_run(state.kv, op, idx))
            except StateError as err:
                errors.append({"OpIndex": i, "What": str(err)})
        if errors:
            state.kv.rollback(snapshot[0])
            state.tables = snapshot[1]
            return json_ok({"Results": None, "Errors": errors}, headers, status=409)
        if not read_only:
            state.lab.notify()
    visible = [{"KV": e.to_json(with_value)} for e, with_value in results if authz.allowed("key", e.key, "read")]
    return json_ok({"Results": visible, "Errors": None}, headers)
