# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A set of Consul ACL policies and tokens in one module call (octant.openclaw.consul_acl).
Every entry is run by _consul_acl's run_policy / run_token, policies first; what two entries
would read twice is read once: the token list at most once per call, a Nomad Variable once per
path (then kept as this call writes it). A failure names the entries done before it."""

from __future__ import annotations

import copy

from ansible_collections.octant.openclaw.plugins.module_utils._consul_acl import run_policy, run_token
from ansible_collections.octant.openclaw.plugins.module_utils._errors import (
    InputError,
    ModuleError,
    OperationError,
    ServiceError,
)

KINDS = (("policies", "policy", "name"), ("tokens", "token", "description"))


class SharedTokenList:
    """A ConsulApi whose acl_token_list is read at most once; the kept list follows this call's
    own token writes and deletes (so a later entry sees a token an earlier one created)."""

    def __init__(self, api):
        self._api = api
        self._tokens = None

    def __getattr__(self, name):
        return getattr(self._api, name)

    def acl_token_list(self):
        if self._tokens is None:
            self._tokens = self._api.acl_token_list()
        return copy.deepcopy(self._tokens)

    def acl_token_write(self, token, accessor_id=None):
        written = self._api.acl_token_write(token, accessor_id)
        if self._tokens is not None:
            self._forget(written.get("AccessorID"))
            self._tokens.append(copy.deepcopy(written))
        return written

    def acl_token_delete(self, accessor_id, description=None):
        self._api.acl_token_delete(accessor_id, description)
        if self._tokens is not None:
            self._forget(accessor_id)

    def _forget(self, accessor_id):
        self._tokens = [t for t in self._tokens if t.get("AccessorID") != accessor_id]


class SharedVariables:
    """A NomadApi whose get_variable reads each path once; a successful put_variable replaces
    the kept copy (several tokens may store into one variable), a failed one drops it so the
    next get reads Nomad again (store_secret's check-and-set retry)."""

    def __init__(self, nomad):
        self._nomad = nomad
        self._kept = {}

    def __getattr__(self, name):
        return getattr(self._nomad, name)

    def get_variable(self, path, namespace=None):
        key = (path.strip("/"), namespace)
        if key not in self._kept:
            self._kept[key] = self._nomad.get_variable(path, namespace=namespace)
        return copy.deepcopy(self._kept[key])

    def put_variable(self, path, items, cas, namespace=None):
        key = (path.strip("/"), namespace)
        self._kept.pop(key, None)
        reply = self._nomad.put_variable(path, items, cas, namespace=namespace)
        if isinstance(reply, dict) and isinstance(reply.get("ModifyIndex"), int):
            self._kept[key] = dict(reply, Items=dict(items))
        return reply


def run_acl_set(api, params, ctx, nomad_factory=None):
    """`params`: {policies: [...], tokens: [...]}, each entry the options of consul_acl_policy /
    consul_acl_token (validated by the module's argument spec). Never returns a SecretID: a token
    to create needs store_secret_in."""
    for kind, _one, key in KINDS:
        _check_unique(params.get(kind) or [], kind, key)
    consul = SharedTokenList(api)
    shared = []

    def nomad():
        if not shared:
            shared.append(SharedVariables(nomad_factory()))
        return shared[0]

    token_ctx = copy.copy(ctx)  # same secrets set and warnings; no_log off so run_token never returns a SecretID
    token_ctx.no_log = False
    done = {"policies": [], "tokens": []}
    diffs = []
    changed = False
    for kind, one, key in KINDS:
        entries = params.get(kind) or []
        for number, entry in enumerate(entries, 1):
            try:
                if kind == "policies":
                    result = run_policy(consul, entry, ctx)
                else:
                    result = run_token(consul, entry, token_ctx, nomad_factory=nomad)
            except ModuleError as err:
                raise _half_way(err, one, entry, key, f"{number} of {len(entries)}", done, changed, params,
                                ctx.check_mode) from None
            changed = changed or result["changed"]
            done[kind].append(_entry(kind, entry, result))
            if result.get("diff"):
                diffs.append(result["diff"])
    result = dict(done, changed=changed)
    if ctx.diff and diffs:
        result["diff"] = diffs
    return result


def _check_unique(entries, kind, key):
    seen = set()
    for entry in entries:
        if entry[key] in seen:
            raise InputError(f"{kind}: two entries have {key} {entry[key]!r}; {key} identifies an entry",
                             hint=f"give each entry of {kind} its own {key} (or merge the two)")
        seen.add(entry[key])


def _entry(kind, entry, result):
    if kind == "policies":
        return {"name": entry["name"], "operation": result["operation"], "changes": result.get("changes", [])}
    return {"description": entry["description"], "operation": result["operation"],
            "changes": result.get("changes", []), "secret_stored": bool(result.get("secret_stored")),
            "token": result.get("token")}


def _entries(count):
    return f"{count} {'entry' if count == 1 else 'entries'}"


def _half_way(err, one, entry, key, position, done, changed, params, check_mode):
    """The entry's error, saying what this call did before it (every entry before it ran to the end;
    nothing after it was tried)."""
    applied = [f"{'policy' if kind == 'policies' else 'token'} {e.get('name') or e.get('description')!r} "
               f"({e['operation']})" for kind in ("policies", "tokens") for e in done[kind] if e["operation"] != "none"]
    unchanged = sum(1 for kind in done for e in done[kind] if e["operation"] == "none")
    total = len(params.get("policies") or []) + len(params.get("tokens") or [])
    left = total - sum(len(v) for v in done.values()) - 1
    text = (f"{one} {entry[key]!r} ({one} {position}) failed: {err.text}. Before it, this task "
            f"{'would have done (check mode)' if check_mode else 'did'}: {', '.join(applied) or 'no change'}"
            f"{f' ({_entries(unchanged)} already as wanted)' if unchanged else ''}; "
            f"{_entries(left) + ' after it' if left else 'no entry after it'} {'was' if left == 1 else 'were'} "
            "not tried")
    hint = err.hint
    if one == "token" and not entry.get("store_secret_in") and "refusing to create" in err.text:
        hint = "give the token store_secret_in: this module never returns a SecretID"
    failed = dict(err.result, **{key: entry[key], "kind": one})
    result = dict(done, failed_entry=failed, changed=changed or bool(err.result.get("changed")))
    service = err.service if isinstance(err, ServiceError) else "consul"
    status = err.status if isinstance(err, ServiceError) else None
    return OperationError(service, f"ACL {one} {entry[key]!r}", hint=hint, result=result, status=status, text=text)
