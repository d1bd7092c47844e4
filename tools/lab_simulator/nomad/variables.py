"""Nomad Variables: /v1/var/<path> and /v1/vars (command/agent/variable_endpoint.go,
nomad/variables_endpoint.go, nomad/state/state_store_variables.go). Values are stored in clear
text here; Nomad encrypts them at rest. Locks (?lock-acquire etc.) are not simulated."""

from __future__ import annotations

import re

from .acl import authorize
from .common import INVALID_METHOD, fail, nanos, reply

MAX_SIZE = 65536
_VALID_PATH = re.compile(r"^[a-zA-Z0-9\-_~/]{1,128}$")
_LOCK_PARAMS = ("lock-acquire", "lock-release", "lock-renew")


def _key(namespace, path):
    return f"{namespace}/{path}"


def _metadata(variable):
    return {k: variable[k] for k in ("Namespace", "Path", "CreateIndex", "CreateTime", "ModifyIndex", "ModifyTime")}


def _path_problem(path):
    """structs.ValidatePath."""
    if not _VALID_PATH.match(path):
        return f'invalid path "{path}"'
    parts = path.split("/")
    if parts[0] != "nomad":
        return None
    if len(parts) == 1:
        return ('"nomad" is a reserved top-level directory path, but you may write variables to "nomad/jobs", '
                '"nomad/job-templates", "nomad/sentinel", or below')
    if parts[1] in ("jobs", "sentinel") or (parts[1] == "job-templates" and len(parts) == 3):
        return None
    if parts[1] == "job-templates":
        return ('"nomad/job-templates" is a reserved directory path, but you may write variables at the level '
                'below it, for example, "nomad/job-templates/template-name"')
    return 'only paths at "nomad/jobs" or "nomad/job-templates" and below are valid paths under the top-level ' \
           '"nomad" directory'


def _problem(namespace, path, items):
    """VariableDecrypted.Validate."""
    if namespace == "*":
        return 'can not target wildcard ("*")namespace'
    if sum(len(k) + len(v) for k, v in items.items()) > MAX_SIZE:
        return "variables are limited to 64KiB in total size"
    return _path_problem(path)


def list_variables(nomad, request):
    if request.method != "GET":
        fail(405, INVALID_METHOD)
    st = nomad.st
    namespace = request.arg("namespace") or "default"
    prefix = request.arg("prefix", "")
    auth = authorize(st, request)

    def body():
        found = [v for v in st.variables.values() if namespace in ("*", v["Namespace"]) and v["Path"].startswith(prefix)
                 and auth.var_allows(v["Namespace"], v["Path"], "list")]
        return [_metadata(v) for v in sorted(found, key=lambda v: (v["Namespace"], v["Path"]))]
    return nomad.blocking(request, lambda: st.tables["variables"], body)


def variable(nomad, request, path):
    if not path:
        fail(400, "missing variable path")
    if request.method == "GET":
        return _read(nomad, request, path)
    if request.method in ("PUT", "POST"):
        return _write(nomad, request, path)
    if request.method == "DELETE":
        return _delete(nomad, request, path)
    fail(400, INVALID_METHOD)  # Nomad answers 400 here, not 405


def _read(nomad, request, path):
    st = nomad.st
    namespace = request.arg("namespace") or "default"
    authorize(st, request).require_var(namespace, path, "read")

    def body():
        found = st.variables.get(_key(namespace, path))
        if found is None:
            fail(404, "variable not found")
        return dict(found)
    return nomad.blocking(request, lambda: (st.variables.get(_key(namespace, path)) or {}).get(
        "ModifyIndex", st.tables["variables"]), body)


def _cas(request):
    raw = request.arg("cas", "")
    if raw == "":
        return None
    if not raw.isdigit():
        fail(400, f'can not parse cas: strconv.ParseUint: parsing "{raw}": invalid syntax')
    return int(raw)


def _cas_conflict(cas, existing):
    """?cas=0 means "must not exist"; ?cas=N means "must exist with ModifyIndex N"."""
    if cas is None:
        return False
    if existing is None:
        return cas != 0
    return cas != existing["ModifyIndex"]


def _conflict(auth, existing, namespace, path):
    """409 with the current variable (its Items only if the caller may read them)."""
    if existing is None:
        body = {"Namespace": namespace, "Path": path, "CreateIndex": 0, "CreateTime": 0, "ModifyIndex": 0,
                "ModifyTime": 0}
    else:
        body = _metadata(existing)
        if auth.var_allows(namespace, path, "read"):
            body["Items"] = dict(existing["Items"])
    return reply(body, body["ModifyIndex"], query_meta=False, status=409)


def _write(nomad, request, path):
    st = nomad.st
    if any(request.has(p) for p in _LOCK_PARAMS):
        fail(400, "variable locks are not simulated by the lab; use a real Nomad for lock operations")
    namespace = request.arg("namespace") or "default"
    if not request.body:
        fail(400, "Request body is empty")
    body = request.json() or {}
    if not isinstance(body, dict):
        fail(400, "json: cannot unmarshal array into Go value of type structs.VariableDecrypted")
    items = next((v for k, v in body.items() if k.lower() == "items"), None)
    if items is not None and (not isinstance(items, dict) or not all(isinstance(v, str) for v in items.values())):
        fail(400, "json: cannot unmarshal number into Go struct field VariableDecrypted.Items of type string")
    if not items:
        fail(400, "variable missing required Items object")
    cas = _cas(request)
    auth = authorize(st, request)
    auth.require_var(namespace, path, "write")
    problem = _problem(namespace, path, items)
    if problem:
        # Variables.Apply wraps the already-coded validation error once more, so the HTTP body
        # keeps the inner "RPC Error:: 400," prefix (nomad/variables_endpoint.go).
        fail(400, f"RPC Error:: 400,{problem}")
    existing = st.variables.get(_key(namespace, path))
    if _cas_conflict(cas, existing):
        return _conflict(auth, existing, namespace, path)
    index = st.bump("variables")
    now = nanos(st.lab.now())
    stored = {"Namespace": namespace, "Path": path,
              "CreateIndex": existing["CreateIndex"] if existing else index,
              "CreateTime": existing["CreateTime"] if existing else now,
              "ModifyIndex": index, "ModifyTime": now, "Items": dict(items)}
    st.variables[_key(namespace, path)] = stored
    return reply(dict(stored), index, query_meta=False)


def _delete(nomad, request, path):
    st = nomad.st
    namespace = request.arg("namespace") or "default"
    cas = _cas(request)
    auth = authorize(st, request)
    auth.require_var(namespace, path, "destroy")
    existing = st.variables.get(_key(namespace, path))
    if _cas_conflict(cas, existing):
        return _conflict(auth, existing, namespace, path)
    index = st.bump("variables")
    st.variables.pop(_key(namespace, path), None)
    return reply(..., index, query_meta=False, status=204)
