# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn a Nomad plan (POST /v1/job/<id>/plan with Diff: true) into what a user can read:
a before/after of only the fields that change, keyed by their path in the job
(`TaskGroups.web.Tasks.app.Config.image`), and a short plan summary.

Values that may be secret are never copied: every value of a task's `Env` and every field
whose name looks like a credential (password, secret, token, ...) is shown as `(hidden)`; the
key still appears, so the user sees *that* it changes, never *what* it is."""

from __future__ import annotations

import re

HIDDEN = "(hidden)"
ADDED = "(added)"
REMOVED = "(removed)"
# Objects whose values are hidden as a whole (their keys are shown). Nomad flattens a task's Env
# map into fields named `Env[KEY]`; older releases nest it as an object named `Env`.
HIDDEN_OBJECTS = frozenset(("Env",))
HIDDEN_FIELD_PREFIXES = ("Env[",)
# SecretsMB is the size of a task's secrets dir, not a secret.
SECRET_NAME = re.compile(r"(password|passwd|secret(?!smb)|token|credential|api[_-]?key|private[_-]?key)",
                         re.IGNORECASE)
UPDATE_KINDS = ("Place", "Stop", "Migrate", "InPlaceUpdate", "DestructiveUpdate", "Canary", "Preemptions", "Ignore")


def is_changed(plan):
    """The plan changes something unless its Diff type is None (a plan without a Diff, which a
    server only sends when Diff was not requested, counts as a change)."""
    diff = (plan or {}).get("Diff")
    if not diff:
        return True
    return diff.get("Type", "None") != "None"


def readable_diff(diff):
    """(before, after) dicts of the changed fields only, keyed by path."""
    before, after = {}, {}
    if not diff:
        return before, after
    _walk_fields(diff.get("Fields"), "", before, after, hidden=False)
    _walk_objects(diff.get("Objects"), "", before, after, hidden=False)
    for group in diff.get("TaskGroups") or []:
        _walk_entity(group, f"TaskGroups.{group.get('Name')}", before, after)
        for task in group.get("Tasks") or []:
            _walk_entity(task, f"TaskGroups.{group.get('Name')}.Tasks.{task.get('Name')}", before, after)
    return before, after


def _walk_entity(entity, prefix, before, after):
    kind = entity.get("Type", "None")
    if kind == "None":
        return
    count = len(before) + len(after)
    _walk_fields(entity.get("Fields"), prefix, before, after, hidden=False)
    _walk_objects(entity.get("Objects"), prefix, before, after, hidden=False)
    nested = entity.get("Tasks") or []
    if len(before) + len(after) == count and not any(t.get("Type", "None") != "None" for t in nested):
        # A whole group or task added or removed with no field detail: say so.
        if kind == "Added":
            _put(after, prefix, ADDED)
        elif kind == "Deleted":
            _put(before, prefix, REMOVED)


def _walk_objects(objects, prefix, before, after, hidden):
    for obj in objects or []:
        if obj.get("Type", "None") == "None":
            continue
        name = obj.get("Name") or "?"
        path = _join(prefix, name)
        hide = hidden or name in HIDDEN_OBJECTS or bool(SECRET_NAME.search(name))
        _walk_fields(obj.get("Fields"), path, before, after, hide)
        _walk_objects(obj.get("Objects"), path, before, after, hide)


def _walk_fields(fields, prefix, before, after, hidden):
    for field in fields or []:
        kind = field.get("Type", "None")
        if kind == "None":
            continue
        name = field.get("Name") or "?"
        path = _join(prefix, name)
        hide = hidden or name.startswith(HIDDEN_FIELD_PREFIXES) or bool(SECRET_NAME.search(name))
        if kind in ("Edited", "Deleted"):
            _put(before, path, HIDDEN if hide else field.get("Old"))
        if kind in ("Edited", "Added"):
            _put(after, path, HIDDEN if hide else field.get("New"))


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _put(side, key, value):
    """Set-like Nomad fields (Datacenters, Constraint, ...) repeat a name: collect a list."""
    if key not in side:
        side[key] = value
    elif isinstance(side[key], list):
        side[key].append(value)
    else:
        side[key] = [side[key], value]


def task_annotations(diff):
    """{"web/app": ["forces create/destroy update"]} from the task diffs."""
    notes = {}
    for group in (diff or {}).get("TaskGroups") or []:
        for task in group.get("Tasks") or []:
            if task.get("Annotations"):
                notes[f"{group.get('Name')}/{task.get('Name')}"] = list(task["Annotations"])
    return notes


def desired_updates(plan):
    """DesiredTGUpdates without the zero counts: {"web": {"DestructiveUpdate": 2}}."""
    raw = ((plan or {}).get("Annotations") or {}).get("DesiredTGUpdates") or {}
    result = {}
    for group, counts in raw.items():
        result[group] = {k: v for k, v in (counts or {}).items() if v}
    return result


def failed_allocations(plan):
    """FailedTGAllocs (placements the scheduler could not make) as short per-group texts."""
    result = {}
    for group, metric in ((plan or {}).get("FailedTGAllocs") or {}).items():
        metric = metric or {}
        parts = []
        if metric.get("NodesEvaluated") is not None:
            parts.append(f"{metric.get('NodesEvaluated')} nodes evaluated")
        for key in ("ConstraintFiltered", "ClassFiltered", "DimensionExhausted"):
            if metric.get(key):
                parts.append(f"{key}: {', '.join(f'{k}={v}' for k, v in sorted(metric[key].items()))}")
        if metric.get("CoalescedFailures"):
            parts.append(f"{metric['CoalescedFailures']} more like it")
        result[group] = "; ".join(parts) or "placement failed"
    return result


def plan_summary(plan):
    """What the module returns as `plan`: no raw Diff (it can carry Env values)."""
    diff = (plan or {}).get("Diff") or {}
    before, after = readable_diff(diff)
    return {
        "diff_type": diff.get("Type", "None") if diff else "Unknown",
        "job_modify_index": (plan or {}).get("JobModifyIndex", 0),
        "changes": {"before": before, "after": after},
        "desired_updates": desired_updates(plan),
        "annotations": task_annotations(diff),
        "failed_allocations": failed_allocations(plan),
        "warnings": (plan or {}).get("Warnings") or "",
    }
