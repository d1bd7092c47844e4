"""The scheduler's decisions, reduced to what the lab needs: which nodes can run a group
(datacenter, node pool, drivers, constraints; resources are never exhausted here), how an
existing allocation is affected by a new job version (scheduler/util.go tasksUpdated: destructive
vs in-place), the plan's DesiredTGUpdates, and the diff annotations of scheduler/annotate.go."""

from __future__ import annotations

import fnmatch
import re

from .diff import ADDED, DELETED, NONE

# -- feasibility --------------------------------------------------------------------------------

def _resolve(target, node):
    """scheduler/feasible.go resolveTarget: (value, found). A literal is itself; an attribute or meta key
    the node does not have is ("", False), as is any other interpolation."""
    if not target.startswith("${"):
        return target, True
    fixed = {"${node.unique.id}": "ID", "${node.datacenter}": "Datacenter", "${node.unique.name}": "Name",
             "${node.class}": "NodeClass", "${node.pool}": "NodePool"}
    if target in fixed:
        return node[fixed[target]], True
    for prefix, table in (("${attr.", node["Attributes"]), ("${meta.", node["Meta"] or {})):
        if target.startswith(prefix):
            name = target[len(prefix):].removesuffix("}")
            return table.get(name, ""), name in table
    return "", False


def _version(text):
    parts = re.findall(r"\d+", text.split("-")[0].split("+")[0])
    return tuple(int(p) for p in parts[:3]) + (0,) * (3 - len(parts[:3])) if parts else None


def _version_ok(value, spec):
    have = _version(value)
    if have is None:
        return False
    for clause in spec.split(","):
        match = re.fullmatch(r"\s*(>=|<=|!=|~>|>|<|=)?\s*v?([0-9][^\s]*)\s*", clause)
        if not match:
            return False
        op, want = match.group(1) or "=", _version(match.group(2))
        ok = {">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want, "=": have == want,
              "!=": have != want, "~>": have >= want and have[0] == want[0]}[op]
        if not ok:
            return False
    return True


def _order(left, right, op):
    try:
        left, right = float(left), float(right)
    except ValueError:
        pass
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def constraint_ok(constraint, node):
    """checkConstraint: operands that need a value fail when either side is not found."""
    operand = constraint["Operand"]
    if operand in ("distinct_hosts", "distinct_property"):
        return True  # placement spreads distinct_hosts; distinct_property is not simulated
    (left, l_found), (right, r_found) = _resolve(constraint["LTarget"], node), _resolve(constraint["RTarget"], node)
    if operand == "is_set":
        return l_found
    if operand == "is_not_set":
        return not l_found
    if operand in ("!=", "not"):
        return left != right
    if not (l_found and r_found):
        return False
    if operand in ("=", "==", "is"):
        return left == right
    if operand in ("<", "<=", ">", ">="):
        return _order(left, right, operand)
    if operand == "regexp":
        return re.search(right, left) is not None
    if operand in ("version", "semver"):
        return _version_ok(left, right)
    have = {v.strip() for v in left.split(",")}
    want = {v.strip() for v in right.split(",")}
    if operand in ("set_contains", "set_contains_all"):
        return want <= have
    if operand == "set_contains_any":
        return bool(want & have)
    return False


def _constraint_text(constraint):
    return f"{constraint['LTarget']} {constraint['Operand']} {constraint['RTarget']}"


def feasible_nodes(job, group, nodes):
    """(eligible nodes, AllocMetric) for a task group; `nodes` are full node records."""
    in_pool = [n for n in nodes if job["NodePool"] in ("all", n["NodePool"])]
    ready = [n for n in in_pool if n["Status"] == "ready" and n["SchedulingEligibility"] == "eligible"
             and any(fnmatch.fnmatchcase(n["Datacenter"], dc) for dc in job["Datacenters"])]
    metric = {"NodesEvaluated": len(ready), "NodesFiltered": 0, "NodesInPool": len(in_pool),
              "NodePool": job["NodePool"], "NodesAvailable": {}, "ClassFiltered": None, "ConstraintFiltered": None,
              "NodesExhausted": 0, "ClassExhausted": None, "DimensionExhausted": None, "QuotaExhausted": None,
              "ResourcesExhausted": None, "Scores": None, "ScoreMetaData": None, "AllocationTime": 0,
              "CoalescedFailures": 0}
    for node in ready:
        metric["NodesAvailable"][node["Datacenter"]] = metric["NodesAvailable"].get(node["Datacenter"], 0) + 1
    for dc in job["Datacenters"]:
        if "*" not in dc:
            metric["NodesAvailable"].setdefault(dc, 0)
    tasks = group["Tasks"] or []
    group_constraints = list(group["Constraints"] or []) + [c for t in tasks for c in t["Constraints"] or []]
    eligible = []
    for node in ready:
        # The feasibility wrapper's order: job constraints, then the group's drivers, then group and task ones.
        failed = next((c for c in job["Constraints"] or () if not constraint_ok(c, node)), None)
        reason = _constraint_text(failed) if failed else None
        for task in tasks if reason is None else ():
            driver = node["Drivers"].get(task["Driver"])
            if not driver or not driver["Detected"] or not driver["Healthy"]:
                reason = "missing drivers"
                break
        if reason is None:
            failed = next((c for c in group_constraints if not constraint_ok(c, node)), None)
            reason = _constraint_text(failed) if failed else None
        if reason:
            metric["NodesFiltered"] += 1
            metric["ConstraintFiltered"] = metric["ConstraintFiltered"] or {}
            metric["ConstraintFiltered"][reason] = metric["ConstraintFiltered"].get(reason, 0) + 1
        else:
            eligible.append(node)
    return eligible, metric


def distinct_hosts(job, group):
    everything = list(job["Constraints"] or []) + list(group["Constraints"] or [])
    return any(c["Operand"] == "distinct_hosts" and c["RTarget"] in ("", "true") for c in everything)


# -- how a new job version affects a running allocation ------------------------------------------

def _task_meta(job, group, task):
    meta = dict(job["Meta"] or {})
    meta.update(group["Meta"] or {})
    meta.update(task["Meta"] or {})
    return meta


def destructive(old_job, new_job, group_name):
    """tasksUpdated: does moving an allocation from old_job to new_job need a new allocation?"""
    old = next(g for g in old_job["TaskGroups"] if g["Name"] == group_name)
    new = next(g for g in new_job["TaskGroups"] if g["Name"] == group_name)
    if len(old["Tasks"] or ()) != len(new["Tasks"] or ()):
        return True
    for key in ("EphemeralDisk", "Networks", "Consul", "Volumes"):
        if old[key] != new[key]:
            return True
    if old["RestartPolicy"]["RenderTemplates"] != new["RestartPolicy"]["RenderTemplates"]:
        return True
    new_tasks = {t["Name"]: t for t in new["Tasks"] or ()}
    for task in old["Tasks"] or ():
        other = new_tasks.get(task["Name"])
        if other is None:
            return True
        for key in ("Driver", "User", "Config", "Env", "Artifacts", "Vault", "Secrets", "Consul", "Templates",
                    "CSIPluginConfig", "VolumeMounts", "Identity", "Identities"):
            if task[key] != other[key]:
                return True
        if _task_meta(old_job, old, task) != _task_meta(new_job, new, other):
            return True
        for key in ("Networks", "CPU", "Cores", "MemoryMB", "MemoryMaxMB", "Devices", "NUMA", "SecretsMB"):
            if task["Resources"][key] != other["Resources"][key]:
                return True
        if task["LogConfig"]["Disabled"] != other["LogConfig"]["Disabled"]:
            return True
        if task["RestartPolicy"]["RenderTemplates"] != other["RestartPolicy"]["RenderTemplates"]:
            return True
    return False


def desired_updates():
    return {"Ignore": 0, "Place": 0, "Migrate": 0, "Stop": 0, "InPlaceUpdate": 0, "DestructiveUpdate": 0,
            "Canary": 0, "Preemptions": 0, "Disconnect": 0, "Reconnect": 0, "RescheduleNow": 0,
            "RescheduleLater": 0}


# -- annotate.go ----------------------------------------------------------------------------------

_UPDATE_NAMES = (("Ignore", "ignore"), ("Place", "create"), ("Migrate", "migrate"), ("Stop", "destroy"),
                 ("Canary", "canary"), ("InPlaceUpdate", "in-place update"),
                 ("DestructiveUpdate", "create/destroy update"))


def annotate(job_diff, desired):
    for group in job_diff["TaskGroups"] or ():
        counts = desired.get(group["Name"])
        if counts is not None:
            group["Updates"] = {name: counts[key] for key, name in _UPDATE_NAMES if counts[key]}
        for field in group["Fields"] or ():
            if field["Name"] == "Count":
                old, new = int(field["Old"] or 0), int(field["New"] or 0)
                if old != new:
                    field["Annotations"] = ["forces create" if old < new else "forces destroy"]
        for task in group["Tasks"] or ():
            _annotate_task(task, group)


def _annotate_task(task, group):
    if task["Type"] == NONE:
        return
    if group["Type"] in (ADDED, DELETED) and task["Type"] in (ADDED, DELETED):
        task["Annotations"] = ["forces create" if task["Type"] == ADDED else "forces destroy"]
        return
    destroy = any(f["Name"] != "KillTimeout" for f in task["Fields"] or ())
    for obj in task["Objects"] or ():
        if destroy:
            break
        if obj["Name"] == "LogConfig":
            # As annotate.go: any Disabled field, even an unchanged one listed for context.
            destroy = any(f["Name"] == "Disabled" for f in obj["Fields"] or ())
        elif obj["Name"] not in ("Service", "Constraint", "Affinity", "Spread"):
            destroy = True
    task["Annotations"] = ["forces create/destroy update" if destroy else "forces in-place update"]
