# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul KV logic of the consul_kv module: one key (value, flags, cas, lock acquire/release) and
a whole tree under a prefix (plan the set/delete operations from one recursive read, write them
with as few guarded /v1/txn calls as the operation limit allows, report exactly what was applied
when a later transaction fails).

Every write is guarded: a new key is written with CAS index 0 (create only), a changed key with
CAS on the ModifyIndex that was read, a removed key with delete-cas on that index. A concurrent
change between the read and the write therefore fails the transaction instead of being
overwritten, and Consul rolls back the whole transaction it belongs to."""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass

from ansible_collections.octant.openclaw.plugins.module_utils._errors import (
    InputError,
    OperationError,
    ServiceError,
    UnexpectedAnswerError,
)
from ansible_collections.octant.openclaw.plugins.module_utils._module import Context

# Consul's per-transaction limits: 64 operations before Consul 1.14, 128 from 1.14; and the request
# body limit (limits.txn_max_req_len, default 512 KiB, the same as kv_max_value_size).
TXN_MAX_OPS_DEFAULT = 64
TXN_MAX_OPS_LIMIT = 128
TXN_MAX_BYTES = 512 * 1024

SAFE_KEY = re.compile(r"^[A-Za-z0-9_./-]+$")

# Words of the txn errors that mean "someone else changed the key after we read it".
CONFLICT_MARKERS = ("index is stale", "exists", "failed index check", "does not exist", "cas failed")


# -- values -----------------------------------------------------------------------------------

def encode_value(value):
    """The bytes stored for a desired value: strings as UTF-8, dicts and lists as canonical JSON
    (sorted keys, no spaces), booleans as `true`/`false`, numbers as text, None as empty."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return str(value).encode("utf-8")


def same_value(desired, existing):
    """True when the stored bytes `existing` already hold the desired value. A dict or list is
    compared as JSON, so a value written with other spacing or key order is not rewritten."""
    if existing is None:
        return False
    if encode_value(desired) == existing:
        return True
    if isinstance(desired, (dict, list)):
        try:
            return json.loads(existing.decode("utf-8")) == desired
        except ValueError:  # includes UnicodeDecodeError
            return False
    return False


def display(value):
    """A stored value as text for diff and return values."""
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(value)} bytes of binary data>"


def check_key(key, what="key"):
    """An error text when `key` is outside the project's safe key alphabet, else None."""
    if not key:
        return f"{what} must not be empty"
    if not SAFE_KEY.match(key):
        return f"{what} {key!r} has characters outside [A-Za-z0-9_./-]"
    if key.startswith("/"):
        return f"{what} {key!r} must not start with '/'"
    if "//" in key:
        return f"{what} {key!r} must not contain '//'"
    if ".." in key.split("/"):
        return f"{what} {key!r} must not contain a '..' segment"
    return None


def normalize_prefix(prefix):
    """`openclaw/agents` and `openclaw/agents/` -> `openclaw/agents/`."""
    prefix = (prefix or "").strip()
    error = check_key(prefix.rstrip("/"), "prefix")
    if error:
        raise ValueError(error)
    return prefix.rstrip("/") + "/"


# -- tree planning ------------------------------------------------------------------------------

@dataclass(eq=False)
class Change:
    """One planned write: `action` create, update or delete of `key` (full key), `rel` its key
    relative to the prefix, `old`/`new` the stored and desired bytes, `index` the ModifyIndex
    read (0 for a new key), `flags` the flags to write."""

    action: str
    key: str
    rel: str
    old: bytes | None = None
    new: bytes | None = None
    index: int = 0
    flags: int = 0

    def operation(self):
        """The guarded /v1/txn operation for this change."""
        if self.action == "delete":
            return {"KV": {"Verb": "delete-cas", "Key": self.key, "Index": self.index}}
        return {"KV": {"Verb": "cas", "Key": self.key, "Value": _b64(self.new), "Flags": self.flags,
                       "Index": self.index}}

    def __repr__(self):
        return f"Change({self.action} {self.key} @{self.index})"


class TreePlan:
    """What to do under a prefix: `changes` (creates and updates sorted by key, then deletes
    sorted by key, so a failure part-way leaves new values visible before old keys vanish) and
    the number of listed keys that are already right."""

    def __init__(self, prefix, changes, unchanged):
        self.prefix = prefix
        self.changes = changes
        self.unchanged = unchanged

    def keys(self, action):
        return [c.rel for c in self.changes if c.action == action]

    def counts(self):
        return {"created": len(self.keys("create")), "updated": len(self.keys("update")),
                "deleted": len(self.keys("delete")), "unchanged": self.unchanged}

    def diff(self):
        """Ansible diff: the affected keys only (relative to the prefix) with their values."""
        before = {c.rel: display(c.old) for c in self.changes if c.action != "create"}
        after = {c.rel: display(c.new) for c in self.changes if c.action != "delete"}
        return {"before": before, "after": after,
                "before_header": f"consul kv {self.prefix} (before)",
                "after_header": f"consul kv {self.prefix} (after)"}


def validate_tree(tree):
    """Raise ValueError naming every relative key outside the safe alphabet."""
    errors = [e for e in (check_key(rel, "tree key") for rel in sorted(tree or {})) if e]
    if errors:
        raise ValueError("; ".join(errors))


def plan_tree(prefix, tree, entries, delete_unlisted=False, flags=None, absent=False):
    """Plan the writes that make the keys under `prefix` match `tree` (relative key -> value).

    `entries` is the recursive read of the prefix (Values as bytes). With `delete_unlisted`,
    keys under the prefix that `tree` does not list are deleted. With `absent`, the listed keys
    (or, when `tree` is empty, every key under the prefix) are deleted instead. `flags`, when
    given, is part of the desired state of every listed key; otherwise existing flags are kept.
    The prefix's own folder entry (`prefix/` itself) is never touched."""
    tree = tree or {}
    validate_tree(tree)
    existing = {}
    for entry in entries:
        key = entry["Key"]
        if not key.startswith(prefix) or key == prefix:
            continue
        existing[key[len(prefix):]] = entry
    writes, deletes, unchanged = [], [], 0
    if absent:
        targets = sorted(tree) if tree else sorted(existing)
        for rel in targets:
            entry = existing.get(rel)
            if entry is not None:
                deletes.append(Change("delete", prefix + rel, rel, old=entry["Value"], index=entry["ModifyIndex"]))
        return TreePlan(prefix, deletes, 0)
    for rel in sorted(tree):
        desired = tree[rel]
        entry = existing.get(rel)
        if entry is None:
            writes.append(Change("create", prefix + rel, rel, new=encode_value(desired), index=0, flags=flags or 0))
            continue
        flags_ok = flags is None or entry.get("Flags", 0) == flags
        if same_value(desired, entry["Value"]) and flags_ok:
            unchanged += 1
            continue
        writes.append(Change("update", prefix + rel, rel, old=entry["Value"], new=encode_value(desired),
                             index=entry["ModifyIndex"], flags=entry.get("Flags", 0) if flags is None else flags))
    if delete_unlisted:
        for rel in sorted(set(existing) - set(tree)):
            entry = existing[rel]
            deletes.append(Change("delete", prefix + rel, rel, old=entry["Value"], index=entry["ModifyIndex"]))
    return TreePlan(prefix, writes + deletes, unchanged)


def batch(changes, max_ops=TXN_MAX_OPS_DEFAULT, max_bytes=TXN_MAX_BYTES):
    """Split the changes into transactions of at most `max_ops` operations and `max_bytes` of
    request body, keeping their order. A single operation larger than `max_bytes` is an error."""
    if max_ops < 1 or max_ops > TXN_MAX_OPS_LIMIT:
        raise ValueError(f"txn_max_ops must be between 1 and {TXN_MAX_OPS_LIMIT}, got {max_ops}")
    batches, current, size = [], [], 2  # "[" and "]"
    for change in changes:
        op_size = len(json.dumps(change.operation())) + 2  # ", " separator
        if op_size + 2 > max_bytes:
            raise ValueError(f"the value of key {change.key!r} is too large for a transaction "
                             f"({op_size} bytes encoded, limit {max_bytes})")
        if current and (len(current) >= max_ops or size + op_size > max_bytes):
            batches.append(current)
            current, size = [], 2
        current.append(change)
        size += op_size
    if current:
        batches.append(current)
    return batches


def min_transactions(count, max_ops=TXN_MAX_OPS_DEFAULT):
    """The fewest transactions `count` operations need: ceil(count / max_ops)."""
    return math.ceil(count / max_ops) if count else 0


# -- tree apply ---------------------------------------------------------------------------------

def apply_plan(api, plan, max_ops=TXN_MAX_OPS_DEFAULT, max_bytes=TXN_MAX_BYTES):
    """Write the plan with one /v1/txn call per batch. Returns the number of transactions used.
    Raises OperationError when a transaction fails; its `result` says which keys earlier transactions
    applied, which were not applied, and which are uncertain (no answer from Consul)."""
    batches = batch(plan.changes, max_ops, max_bytes)
    applied = []
    for number, changes in enumerate(batches, start=1):
        what = f"transaction {number} of {len(batches)} under {plan.prefix!r}"
        try:
            reply = api.txn([c.operation() for c in changes], what=what,
                            needs=f'key_prefix "{plan.prefix}" write')
        except ServiceError as err:
            uncertain = _outcome_unknown(err)
            hint = err.hint
            if err.status == 413 and "too many operations" in err.body:
                hint = (f"this Consul accepts fewer operations per transaction than txn_max_ops={max_ops}; "
                        f"use txn_max_ops: 64 (the limit before Consul 1.14)")
            err.hint = None  # the hint is appended once, after the summary
            text = err.message
            raise _partial_failure(plan, batches, number, applied, text, uncertain, err.status, hint) from None
        if reply.status == 409:
            message, hint = _txn_conflict(reply.body, changes, plan.prefix)
            raise _partial_failure(plan, batches, number, applied, f"Consul {what} was rolled back (HTTP 409): "
                                   f"{message}", False, 409, hint) from None
        applied.extend(changes)
    return len(batches)


def _outcome_unknown(err):
    """No answer (other than a refused connection), a server error or an answer that is not
    Consul's: the transaction may or may not have been committed."""
    if isinstance(err, UnexpectedAnswerError):
        return True
    if err.status is None:
        return err.body != "connection refused"
    return err.status >= 500


def _txn_conflict(body, changes, prefix):
    errors = (body.get("Errors") if isinstance(body, dict) else None) or []
    texts, denied, conflict = [], False, False
    for error in errors:
        index = error.get("OpIndex")
        index = -1 if index is None else index
        what = error.get("What") or ""
        key = changes[index].key if 0 <= index < len(changes) else "?"
        texts.append(f"operation {index} (key {key!r}): {what}")
        denied = denied or "Permission denied" in what or "permission denied" in what
        conflict = conflict or any(marker in what for marker in CONFLICT_MARKERS)
    message = "; ".join(texts) or "Consul named no failed operation"
    hint = None
    if denied:
        hint = f'the Consul token lacks key_prefix "{prefix}" write (needed for every key the task writes or deletes)'
    elif conflict:
        hint = ("the key was changed by someone else after this task read it; nothing of this transaction was "
                "written; re-run the task to apply the desired state on top of the new values")
    return message, hint


def _partial_failure(plan, batches, number, applied, message, uncertain, status, hint):
    failed = batches[number - 1]
    later = [c for b in batches[number:] for c in b]
    result = {
        "changed": bool(applied),
        "prefix": plan.prefix,
        "failed_transaction": number,
        "transactions": len(batches),
        "applied": _by_action(applied),
        "not_applied": sorted(c.rel for c in later + ([] if uncertain else failed)),
        "uncertain": sorted(c.rel for c in failed) if uncertain else [],
    }
    count = len(applied)
    if count:
        earlier = "transaction 1" if number == 2 else f"transactions 1-{number - 1}"
        summary = f"{count} key change(s) were applied by {earlier} before it failed (see 'applied')"
    else:
        summary = "nothing was applied"
    if uncertain:
        summary += (f"; whether the {len(failed)} change(s) of transaction {number} were applied is unknown "
                    f"(see 'uncertain')")
    text = f"{message}. {summary}; {len(result['not_applied'])} change(s) were not applied (see 'not_applied')"
    return OperationError("consul", f"KV tree write under {plan.prefix!r}", status=status, hint=hint, result=result,
                          text=text)


def _by_action(changes):
    return {"created": [c.rel for c in changes if c.action == "create"],
            "updated": [c.rel for c in changes if c.action == "update"],
            "deleted": [c.rel for c in changes if c.action == "delete"]}


def _b64(value):
    return base64.b64encode(value or b"").decode("ascii")


# -- the module's two modes ---------------------------------------------------------------------

def run_kv(api, params, ctx=None):
    """consul_kv: a tree with `prefix`, else one key."""
    if params.get("prefix") is not None:
        return run_tree(api, params, ctx)
    if params.get("delete_unlisted"):
        raise InputError("delete_unlisted needs tree mode (prefix)")
    return run_key(api, params, ctx)


def run_tree(api, params, ctx=None):
    """consul_kv with `prefix`: one recursive read, then the planned transactions."""
    ctx = ctx or Context()
    try:
        prefix = normalize_prefix(params["prefix"])
        tree = params.get("tree") or {}
        plan_args = dict(delete_unlisted=params.get("delete_unlisted", False), flags=params.get("flags"),
                         absent=params.get("state") == "absent")
        max_ops = params.get("txn_max_ops") or TXN_MAX_OPS_DEFAULT
        batch([], max_ops)    # checks the limit,
        validate_tree(tree)   # and the keys, before any call
        entries = api.kv_get_tree(prefix)
        plan = plan_tree(prefix, tree, entries, **plan_args)
        batches = batch(plan.changes, max_ops)
    except ValueError as exc:
        raise OperationError("consul", "KV tree check", str(exc)) from None
    result = {"changed": bool(plan.changes), "prefix": prefix,
              "created": plan.keys("create"), "updated": plan.keys("update"), "deleted": plan.keys("delete"),
              "counts": dict(plan.counts(), transactions=len(batches))}
    if plan.changes and not ctx.check_mode:
        apply_plan(api, plan, max_ops)
    if ctx.diff and plan.changes:
        result["diff"] = plan.diff()
    return result


def run_key(api, params, ctx=None):
    """consul_kv with `key`: read the key once, write only when needed."""
    ctx = ctx or Context()
    check_mode, diff = ctx.check_mode, ctx.diff
    key = params["key"]
    state = params.get("state") or "present"
    value = params.get("value")
    flags = params.get("flags")
    cas = params.get("cas")
    session = params.get("session")
    if not key or key.startswith("/"):
        raise OperationError("consul", f"KV key {key!r}", "the key must not be empty nor start with '/'")
    if state in ("acquire", "release") and not session:
        raise OperationError("consul", f"KV {state} of {key!r}", f"state={state} needs the session option")
    if state == "present" and value is None:
        raise OperationError("consul", f"KV write of {key!r}", "state=present with key needs the value option")
    entry = api.kv_get(key)
    old = _key_view(entry)
    holder = entry.get("Session") if entry else None
    operation, new_value, new_flags, new_session = "none", None, None, holder
    if entry:
        new_value, new_flags = entry["Value"], entry.get("Flags", 0)

    if state == "absent":
        if entry is not None:
            operation = "delete"
    elif state == "present":
        wanted = encode_value(value)
        flags_ok = flags is None or (entry or {}).get("Flags", 0) == flags
        if entry is None or not same_value(value, entry["Value"]) or not flags_ok:
            operation = "create" if entry is None else "update"
            new_value = wanted
            new_flags = flags if flags is not None else (entry or {}).get("Flags", 0)
    elif state == "acquire":
        if holder and holder != session:
            raise OperationError("consul", f"KV acquire of {key!r}", f"the key is locked by another session ({holder})",
                                 hint="wait for that session to release the lock or to be invalidated",
                                 result={"changed": False, "key": key, "session": holder})
        wanted = encode_value(value) if value is not None else (entry["Value"] if entry else b"")
        flags_ok = flags is None or (entry or {}).get("Flags", 0) == flags
        if holder != session or (entry and wanted != entry["Value"]) or not flags_ok:
            operation = "acquire"
            new_value, new_session = wanted, session
            new_flags = flags if flags is not None else (entry or {}).get("Flags", 0)
    elif state == "release":
        if holder and holder != session:
            raise OperationError("consul", f"KV release of {key!r}",
                                 f"the key is locked by another session ({holder}), not by {session}",
                                 result={"changed": False, "key": key, "session": holder})
        if holder == session:
            operation = "release"
            new_value = encode_value(value) if value is not None else entry["Value"]
            new_session = None
            new_flags = flags if flags is not None else entry.get("Flags", 0)

    if operation != "none" and not check_mode:
        _write_key(api, key, operation, entry, new_value, new_flags, cas, session)
    if operation == "delete":
        new_value, new_flags, new_session = None, None, None
    result = {"changed": operation != "none", "key": key, "operation": operation,
              "value": display(new_value), "flags": new_flags, "session": new_session}
    if diff and operation != "none":
        after = {}
        if operation != "delete":
            after = {"value": display(new_value), "flags": new_flags, "session": new_session}
        result["diff"] = {"before": old, "after": after,
                          "before_header": f"consul kv {key} (before)", "after_header": f"consul kv {key} (after)"}
    return result


def _key_view(entry):
    if entry is None:
        return {}
    return {"value": display(entry["Value"]), "flags": entry.get("Flags", 0), "session": entry.get("Session")}


def _write_key(api, key, operation, entry, value, flags, cas, session):
    index = entry["ModifyIndex"] if entry else 0
    if operation == "delete":
        ok = api.kv_delete(key, cas=index if cas is None else cas)
    elif operation in ("create", "update"):
        ok = api.kv_put(key, value, flags=flags, cas=index if cas is None else cas)
    elif operation == "acquire":
        ok = api.kv_put(key, value, flags=flags, acquire=session)
    else:
        ok = api.kv_put(key, value, flags=flags, release=session)
    if ok:
        return
    if operation == "acquire":
        raise OperationError("consul", f"KV acquire of {key!r}", f"Consul did not grant the lock to session {session}",
                             hint="another session took it after it was read, or the lock-delay of a previous "
                             "holder is still running (up to 60 s); retry later")
    if operation == "release":
        raise OperationError("consul", f"KV release of {key!r}",
                             f"Consul did not release the lock of session {session}",
                             hint="the lock changed hands after it was read")
    if cas is not None:
        raise OperationError("consul", f"KV {operation} of {key!r}",
                             f"check-and-set failed: cas={cas} does not match the key's "
                             f"ModifyIndex (read: {index if entry else 'key absent'})",
                             hint="cas=0 writes only a missing key; another value means the ModifyIndex you read")
    raise OperationError("consul", f"KV {operation} of {key!r}",
                         "the key was changed by someone else after this task read it; nothing was written",
                         hint="re-run the task to apply the desired state on top of the new value")


# -- consul_kv_info -----------------------------------------------------------------------------

def value_of(raw, parse_json):
    """A stored value as text, or as the JSON it holds (with `parse_json`)."""
    text = display(raw)
    if not parse_json or not text:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def run_kv_info(api, params, ctx=None):
    """consul_kv_info: one key, or every key under a prefix (one recursive read)."""
    if params.get("key") is not None:
        error = check_key(params["key"])
        if error:
            raise InputError(f"key: {error}")
        entry = api.kv_get(params["key"])
        return {"changed": False, "exists": entry is not None,
                "value": value_of(entry["Value"], params["parse_json"]) if entry else None,
                "index": entry["ModifyIndex"] if entry else 0}
    try:
        prefix = normalize_prefix(params["prefix"])
    except ValueError as err:
        raise InputError(f"prefix: {err}") from None
    entries = api.kv_get_tree(prefix)
    tree = {entry["Key"][len(prefix):]: value_of(entry["Value"], params["parse_json"])
            for entry in entries if entry["Key"] != prefix}
    return {"changed": False, "exists": bool(tree), "tree": tree,
            "index": max((entry["ModifyIndex"] for entry in entries), default=0)}
