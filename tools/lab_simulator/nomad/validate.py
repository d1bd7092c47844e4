"""Job validation with Nomad's messages (structs Job/TaskGroup/Task/Constraint Validate and the
jobValidate admission hook). Errors nest like go-multierror: a list is a multierror, so the text
of a bad task is "1 error occurred:\\n\\t* Task group web validation failed: 1 error occurred:...".
A reasonable subset of the checks; see the report for what is left out."""

from __future__ import annotations

import re

from .common import go_duration, multierror

_JOB_TYPES = ("service", "batch", "system", "sysbatch")
_OPERANDS = ("=", "==", "is", "!=", "not", "<", "<=", ">", ">=")
_SETS = ("set_contains", "set_contains_all", "set_contains_any")


def job_errors(job, max_count=0):
    """The error text Nomad answers (HTTP 500) for an invalid job, or None. `max_count` is the server's
    job_max_count (0: no limit), checked by the jobValidate admission hook like Nomad does."""
    errors = _job(job)
    if not 1 <= job["Priority"] <= 100:
        errors.append("job priority must be between [1, 100]")
    total = sum(group["Count"] for group in job["TaskGroups"] or [])
    if max_count > 0 and total > max_count:
        errors.append(f"total count was greater than configured job_max_count: {total} > {max_count}")
    return multierror(errors) if errors else None


def _job(job):
    errors = []
    if not job["ID"]:
        errors.append("Missing job ID")
    elif " " in job["ID"]:
        errors.append("Job ID contains a space")
    if not job["Name"]:
        errors.append("Missing job name")
    if job["Type"] not in _JOB_TYPES:
        errors.append(f'Invalid job type: "{job["Type"]}"')
    if any(dc == "" for dc in job["Datacenters"]):
        errors.append("Job datacenter must be non-empty string")
    groups = job["TaskGroups"] or []
    if not groups:
        errors.append("Missing job task groups")
    errors += _constraints(job["Constraints"])
    seen = {}
    for idx, group in enumerate(groups, 1):
        errors += _name_clash(seen, idx, group["Name"], "Job task group", "group")
        if job["Type"] == "system" and group["Count"] > 1:
            errors.append(f"Job task group {group['Name']} has count {group['Count']}. "
                          "Count cannot exceed 1 with system scheduler")
    for group in groups:
        group_errors = _group(job, group)
        if group_errors:
            errors.append(f"Task group {group['Name']} validation failed: {multierror(group_errors)}")
    return errors


def _name_clash(seen, idx, name, label, kind):
    """Nomad's error for a group (task) without a name or with the name of an earlier one, as a list of
    at most one; records the name in `seen`."""
    if not name:
        return [f"{label} {idx} missing name"]
    if name in seen:
        return [f"{label} {idx} redefines '{name}' from {kind} {seen[name]}"]
    seen[name] = idx
    return []


def _group(job, group):
    errors = []
    if not group["Name"]:
        errors.append("Missing task group name")
    if group["Count"] < 0:
        errors.append("Task group count can't be negative")
    tasks = group["Tasks"] or []
    if not tasks:
        errors.append("Missing tasks for task group")
    errors += _constraints(group["Constraints"])
    if job["Type"] in ("system", "sysbatch") and group["ReschedulePolicy"] is not None:
        errors.append("System or sysbatch jobs should not have a reschedule policy")
    if group["Update"] is not None:
        if job["Type"] not in ("service", "system"):
            errors.append(f'Job type "{job["Type"]}" does not allow update block')
        errors += _update(group["Update"])
    if group["Migrate"] is not None and job["Type"] != "service":
        errors.append(f'Job type "{job["Type"]}" does not allow migrate block')
    seen, leaders = {}, 0
    for idx, task in enumerate(tasks, 1):
        errors += _name_clash(seen, idx, task["Name"], "Task", "task")
        leaders += bool(task["Leader"])
    if leaders > 1:
        errors.append("Only one task may be marked as leader")
    for task in tasks:
        task_errors = _task(job, group, task)
        if task_errors:
            errors.append(f"Task {task['Name']} validation failed: {multierror(task_errors)}")
    return errors


def _update(update):
    errors = []
    if update["HealthCheck"] not in ("checks", "task_states", "manual"):
        errors.append(f'Invalid health check given: "{update["HealthCheck"]}"')
    if update["MaxParallel"] < 0:
        errors.append(f"Max parallel can not be less than zero: {update['MaxParallel']} < 0")
    if update["Canary"] < 0:
        errors.append(f"Canary count can not be less than zero: {update['Canary']} < 0")
    if update["Canary"] == 0 and update["AutoPromote"]:
        errors.append("Auto Promote requires a Canary count greater than zero")
    min_healthy, deadline, progress = update["MinHealthyTime"], update["HealthyDeadline"], update["ProgressDeadline"]
    if min_healthy < 0:
        errors.append(f"Minimum healthy time may not be less than zero: {go_duration(min_healthy)}")
    if deadline <= 0:
        errors.append(f"Healthy deadline must be greater than zero: {go_duration(deadline)}")
    if progress < 0:
        errors.append(f"Progress deadline must be zero or greater: {go_duration(progress)}")
    if min_healthy >= deadline:
        errors.append("Minimum healthy time must be less than healthy deadline: "
                      f"{go_duration(min_healthy)} > {go_duration(deadline)}")
    if progress != 0 and deadline >= progress:
        errors.append("Healthy deadline must be less than progress deadline: "
                      f"{go_duration(deadline)} > {go_duration(progress)}")
    if update["Stagger"] <= 0:
        errors.append(f"Stagger must be greater than zero: {go_duration(update['Stagger'])}")
    return errors


def _task(job, group, task):
    errors = []
    if not task["Name"]:
        errors.append("Missing task name")
    if task["Name"] == "alloc":
        errors.append('Task cannot be named "alloc"')
    if "/" in task["Name"] or "\\" in task["Name"]:
        errors.append("Task name cannot include slashes")
    if not task["Driver"]:
        errors.append("Missing task driver")
    update = group["Update"]
    if task["KillTimeout"] < 0:
        errors.append("KillTimeout must be a positive value")
    elif job["Type"] == "service" and update and 0 < update["ProgressDeadline"] < task["KillTimeout"]:
        errors.append(f"KillTimout ({go_duration(task['KillTimeout'])}) longer than the group's "
                      f"ProgressDeadline ({go_duration(update['ProgressDeadline'])})")
    if task["ShutdownDelay"] < 0:
        errors.append("ShutdownDelay must be a positive value")
    resource_errors = _resources(task["Resources"])
    if resource_errors:
        errors.append(resource_errors)
    errors += _constraints(task["Constraints"])
    return errors


def _resources(resources):
    errors = []
    if resources["Cores"] > 0 and resources["CPU"] > 0:
        errors.append("Task can only ask for 'cpu' or 'cores' resource, not both.")
    minimum = []
    if resources["CPU"] < 1 and resources["Cores"] == 0:
        minimum.append(f"minimum CPU value is 1; got {resources['CPU']}")
    if resources["MemoryMB"] < 10:
        minimum.append(f"minimum MemoryMB value is 10; got {resources['MemoryMB']}")
    if minimum:
        errors.append(minimum)
    return errors


def _constraints(constraints):
    errors = []
    for idx, constraint in enumerate(constraints or (), 1):
        problems = constraint_problems(constraint)
        if problems:
            errors.append(f"Constraint {idx} validation failed: {multierror(problems)}")
    return errors


def constraint_problems(constraint):
    operand, ltarget, rtarget = constraint["Operand"], constraint["LTarget"], constraint["RTarget"]
    problems = []
    if operand == "":
        problems.append("Missing constraint operand")
    if operand in _SETS and rtarget == "":
        problems.append("Set contains constraint requires an RTarget")
    elif operand == "regexp":
        try:
            re.compile(rtarget)
        except re.error as exc:
            problems.append(f"Regular expression failed to compile: {exc}")
    elif operand in ("is_set", "is_not_set") and rtarget != "":
        problems.append(f'Operator "{operand}" does not support an RTarget')
    elif operand in _OPERANDS and rtarget == "":
        problems.append(f'Operator "{operand}" requires an RTarget')
    elif operand not in _OPERANDS + _SETS + ("regexp", "version", "semver", "distinct_hosts",
                                              "distinct_property", "is_set", "is_not_set"):
        problems.append(f'Unknown constraint type "{operand}"')
    if operand != "distinct_hosts" and ltarget == "":
        problems.append("no attribute provided but is required by operator")
    return problems


def job_warnings(job, config):
    """The Warnings string of register and plan: the admission validators' warnings merged as
    helper.MergeMultierrorWarnings does ("" when none). Here: memoryOversubscriptionValidate, for a
    scheduler configuration without memory oversubscription (Nomad's default)."""
    warnings = []
    if not config.get("memory_oversubscription"):
        warnings += [f'Memory oversubscription is not enabled; Task "{group["Name"]}.{task["Name"]}" memory_max '
                     "value will be ignored. Update the Scheduler Configuration to allow oversubscription."
                     for group in job["TaskGroups"] or () for task in group["Tasks"] or ()
                     if task["Resources"] and task["Resources"]["MemoryMaxMB"]]
    if not warnings:
        return ""
    head = "1 warning:\n" if len(warnings) == 1 else f"{len(warnings)} warnings:\n"
    return head + "".join(f"\n* {text.strip()}" for text in warnings)
