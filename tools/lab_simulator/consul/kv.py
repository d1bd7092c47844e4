"""/v1/kv/<key>: GET (single, recurse, keys, raw), PUT (set, cas, acquire, release) and DELETE."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from ..httpcore import HttpError, Response
from .common import StateError, blocking, check_query_options, empty, json_ok, parse_uint, query_meta
from .kvstore import Entry

KV_SIZE_DOC = "https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size"

# Strict key mode: the checks newer Consul releases (validateKVKey) apply to every key.
_SAFE_SPECIAL = set(",-_./")
_SUSPICIOUS_EXTENSIONS = (
    ".js", ".css", ".html", ".htm", ".xml", ".json", ".txt", ".log", ".php", ".asp", ".jsp", ".cgi", ".pl",
    ".py", ".rb", ".sh", ".exe", ".dll", ".bat", ".cmd", ".com", ".scr", ".vbs", ".pdf", ".doc", ".docx",
    ".xls", ".xlsx", ".ppt", ".pptx", ".zip", ".rar", ".tar", ".gz", ".7z", ".bz2", ".jpg", ".jpeg", ".png",
    ".gif", ".svg", ".ico", ".bmp", ".mp3", ".mp4", ".avi", ".mov", ".wmv", ".flv", ".swf", ".woff",
    ".woff2", ".ttf", ".eot", ".otf")


def register(router):
    router.add(("GET", "PUT", "DELETE"), r"/v1/kv/(?P<key>.*)", handle)


def handle(state, request, key):
    if state.lab.config["consul_strict_keys"] and key:
        _validate_key(key)
    if request.method == "GET":
        return _get_keys(state, request, key) if request.has("keys") else _get(state, request, key)
    if request.method == "PUT":
        return _put(state, request, key)
    return _delete(state, request, key)


def _validate_key(key):
    if key.startswith("/"):
        raise HttpError(400, "key must not begin with a '/'")
    for i, char in enumerate(key):
        if not (char.isascii() and char.isalnum()) and char not in _SAFE_SPECIAL:
            raise HttpError(400, f"key contains invalid character '{char}' at position {i}. Only alphanumeric "
                                 "characters and ,-_./ are allowed")
    if "../" in key:
        raise HttpError(400, "key contains path traversal sequence")
    for ext in _SUSPICIOUS_EXTENSIONS:
        if key.lower().endswith(ext):
            raise HttpError(400, f"key contains suspicious file extension '{ext}' that may be cached by proxies")


def _conflicting(request, *flags):
    if sum(request.has(f) for f in flags) > 1:
        pairs = sorted(parse_qsl(request.raw_query, keep_blank_values=True), key=lambda kv: kv[0])
        raise HttpError(400, f"Conflicting flags: {urlencode(pairs)}\n")


# -- GET ---------------------------------------------------------------------------------------------------

def _get(state, request, key):
    recurse = request.has("recurse")
    if not recurse and not key:
        raise HttpError(400, "Missing key name")
    authz = state.acl.authorize(request)
    if recurse and state.lab.config["consul_key_list_policy"]:
        authz.require("key", key, "list")
    kv = state.kv

    def single():
        authz.require("key", key, "read")
        entry = kv.get(key)
        return (entry.modify_index, [entry], False) if entry else (kv.max_index(), [], True)

    def listing():
        entries = kv.list(key)
        index = kv.list_index(key, entries)
        return index, [e for e in entries if authz.allowed("key", e.key, "read")], False

    index, entries = blocking(state, request, listing if recurse else single)
    headers = query_meta(request, index)
    if not entries:
        return empty(404, headers)
    if request.has("raw") and not recurse:
        headers.update({"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})
        return Response(200, entries[0].value or b"", headers, content_type="text/plain")
    return json_ok([e.to_json() for e in entries], headers)


def _get_keys(state, request, prefix):
    separator = request.arg("separator", request.arg("seperator", ""))
    authz = state.acl.authorize(request)
    if state.lab.config["consul_key_list_policy"]:
        authz.require("key", prefix, "list")

    def listing():
        entries = state.kv.list(prefix)
        index = state.kv.list_index(prefix, entries)
        keys = []
        for entry in entries:
            if not authz.allowed("key", entry.key, "read"):
                continue
            cut = entry.key.find(separator, len(prefix)) if separator else -1
            name = entry.key[:cut + len(separator)] if cut >= 0 else entry.key
            if not keys or keys[-1] != name:
                keys.append(name)
        return index, keys, False

    index, keys = blocking(state, request, listing)
    headers = query_meta(request, index)
    if not keys and prefix:
        return empty(404, headers)
    return json_ok(keys, headers)


# -- PUT ---------------------------------------------------------------------------------------------------

def _put(state, request, key):
    check_query_options(request)
    if not key:
        raise HttpError(400, "Missing key name")
    _conflicting(request, "cas", "acquire", "release")
    flags = parse_uint(request.arg("flags")) if request.has("flags") else 0
    cas = parse_uint(request.arg("cas")) if request.has("cas") else None
    limit = state.lab.config["kv_max_value_size"]
    if len(request.body) > limit:
        raise HttpError(413, f"Request body({len(request.body)} bytes) too large, max size: {limit} bytes. "
                             f"See {KV_SIZE_DOC}.")
    entry = Entry(key, request.body or None, flags)
    with state.lab.cond:
        state.acl.authorize(request).require("key", key, "write")
        if request.has("acquire"):
            entry = Entry(key, entry.value, flags, request.arg("acquire"))
            if state.kv.lock_delayed(key):  # refused before Raft, like kvsPreApply
                return json_ok(False)
            result = _apply(state, lambda idx: state.kv.lock(entry, idx)) is not None
        elif request.has("release"):
            entry = Entry(key, entry.value, flags, request.arg("release"))
            result = _apply(state, lambda idx: state.kv.unlock(entry, idx)) is not None
        elif cas is not None:
            result = _apply(state, lambda idx: state.kv.cas(entry, idx, cas)) is not None
        else:
            _apply(state, lambda idx: state.kv.set(entry, idx))
            result = True
    return json_ok(result)


def _apply(state, write):
    idx = state.raft()
    try:
        result = write(idx)
    except StateError as err:
        raise HttpError(500, str(err)) from None
    state.lab.notify()
    return result


# -- DELETE ------------------------------------------------------------------------------------------------

def _delete(state, request, key):
    check_query_options(request)
    _conflicting(request, "recurse", "cas")
    recurse = request.has("recurse")
    if not recurse and not key:
        raise HttpError(400, "Missing key name")
    cas = parse_uint(request.arg("cas")) if request.has("cas") else None
    with state.lab.cond:
        authz = state.acl.authorize(request)
        if recurse:
            authz.require_key_write_prefix(key)
            _apply(state, lambda idx: state.kv.delete_tree(key, idx))
            return json_ok(True)
        authz.require("key", key, "write")
        if cas is not None:
            return json_ok(_apply(state, lambda idx: state.kv.delete_cas(key, idx, cas)))
        _apply(state, lambda idx: state.kv.delete(key, idx))
    return json_ok(True)
