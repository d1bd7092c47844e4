# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the nomad_variable module: read once, compare, write with CAS.

Item values are secrets: they are registered for masking (Context.hide; the ones read from
Nomad too), never returned, never put in a diff or an error message. Results and diffs
name item KEYS only."""

from __future__ import annotations

import re

from ansible_collections.octant.openclaw.plugins.module_utils._errors import InputError
from ansible_collections.octant.openclaw.plugins.module_utils._module import Context

PATH_PATTERN = re.compile(r"^[a-zA-Z0-9\-_~/]{1,128}$")
HIDDEN = "(hidden)"


def validate_path(path):
    if not PATH_PATTERN.match(path or ""):
        raise InputError(f"path {path!r} is not a valid Nomad variable path: 1 to 128 characters of "
                         f"letters, digits, -, _, ~ and /")
    if path.strip("/") == "nomad" or path.startswith("/") or path.endswith("/") or "//" in path:
        raise InputError(f"path {path!r} is not usable: 'nomad' alone is reserved, and a path has no leading, "
                         f"trailing or doubled /")
    return path


def item_value(key, value):
    """Nomad items are strings. Numbers become their text, booleans `true`/`false`; a list, a
    dict or null is refused (naming the key, never the value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    kind = "null" if value is None else type(value).__name__
    raise InputError(f"item {key!r} is a {kind}; Nomad variable items are strings (convert it, e.g. with "
                     f"| to_json)")


def key_changes(current, desired):
    """(added, changed, removed, unchanged) sorted key lists between two item dicts."""
    current = current or {}
    added = sorted(k for k in desired if k not in current)
    changed = sorted(k for k in desired if k in current and current[k] != desired[k])
    removed = sorted(k for k in current if k not in desired)
    unchanged = sorted(k for k in desired if k in current and current[k] == desired[k])
    return added, changed, removed, unchanged


def key_diff(current, desired, path):
    """A diff that shows item keys and whether they change, never a value."""
    added, changed, _removed, _unchanged = key_changes(current, desired or {})
    before = {k: HIDDEN for k in sorted(current or {})}
    after = {}
    for key in sorted(desired or {}):
        if key in added:
            after[key] = f"{HIDDEN} added"
        elif key in changed:
            after[key] = f"{HIDDEN} changed"
        else:
            after[key] = HIDDEN
    return {"before": before, "after": after,
            "before_header": f"nomad variable {path}" + ("" if current is not None else " (absent)"),
            "after_header": f"nomad variable {path}" + ("" if desired is not None else " (absent)")}


def run_variable(api, params, ctx=None):
    """nomad_variable: state present or absent of one variable."""
    return NomadVariable(api, params, ctx or Context()).run()


class NomadVariable:
    """state present/absent of one variable. Every item value seen is registered for masking
    (ctx.hide) before anything is compared or returned."""

    def __init__(self, api, params, ctx):
        self.api = api
        self.params = params
        self.check_mode = ctx.check_mode
        self.diff_mode = ctx.diff
        self.ctx = ctx
        self.namespace = params.get("nomad_namespace")

    def _register(self, items):
        for value in (items or {}).values():
            self.ctx.hide(value)

    def run(self):
        params = self.params
        path = validate_path(params["path"])
        desired_items = None
        if params["state"] == "present":
            if params.get("items") is None:
                raise InputError("state=present needs items (a dict of string values)")
            desired_items = {str(k): item_value(k, v) for k, v in params["items"].items()}
            self._register(desired_items)
        current = self.api.get_variable(path, self.namespace)
        current_items = None
        if current is not None:
            current_items = current.get("Items") or {}
            self._register(current_items)
        if params["state"] == "absent":
            return self.absent(path, current, current_items)
        return self.present(path, current, current_items, desired_items)

    def _result(self, path, current, keys, changed=False):
        return {"changed": changed, "path": path,
                "namespace": (current or {}).get("Namespace") or self.namespace or "default",
                "modify_index": (current or {}).get("ModifyIndex"), "keys": sorted(keys or []),
                "added_keys": [], "changed_keys": [], "removed_keys": []}

    def present(self, path, current, current_items, desired_items):
        if not self.params.get("purge_items", True) and current_items:
            merged = dict(current_items)
            merged.update(desired_items)
            desired_items = merged
        added, changed, removed, _unchanged = key_changes(current_items, desired_items)
        is_change = current is None or bool(added or changed or removed)
        result = self._result(path, current, desired_items, is_change)
        result.update(added_keys=added, changed_keys=changed, removed_keys=removed)
        if not is_change:
            return result
        if self.diff_mode:
            result["diff"] = key_diff(current_items, desired_items, path)
        if self.check_mode:
            return result
        cas = (current or {}).get("ModifyIndex", 0) if current is not None else 0
        written = self.api.put_variable(path, desired_items, cas, self.namespace)
        # The answer holds the items again: take only the metadata.
        result["modify_index"] = written.get("ModifyIndex", result["modify_index"])
        result["namespace"] = written.get("Namespace") or result["namespace"]
        return result

    def absent(self, path, current, current_items):
        result = self._result(path, current, [])
        if current is None:
            return result
        result["changed"] = True
        result["removed_keys"] = sorted(current_items or {})
        if self.diff_mode:
            result["diff"] = key_diff(current_items, None, path)
        if self.check_mode:
            return result
        self.api.delete_variable(path, current.get("ModifyIndex", 0), self.namespace)
        result["modify_index"] = None
        return result
