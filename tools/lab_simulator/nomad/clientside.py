"""What a Nomad client does with a placed allocation before its tasks run, through the real-library
checker (tools/lab_simulator/clientcheck.py): decode the driver config, render the templates. A job
the checker refuses gets its allocation failed with the client's own error text in the task events
(not restarted, as Failed Validation and template failures are not), so the deployment fails."""

from __future__ import annotations

from ..clientcheck import summary
from .common import nanos, rfc3339

# The task events a client emits for each kind of finding (nomad/structs: TaskFailedValidation,
# TaskKilling with FailsTask for template errors, then TaskNotRestarting).
_EVENTS = {"driver-config": "Failed Validation", "template": "Killing", "env-template": "Killing",
           "template-consul": "Killing"}


# Findings that fail only with some values (a secret holding a quote): plan warnings, not a failure.
WARN_ONLY = ("env-template-quoting",)


def findings(st, alloc, node):
    job = st.job_version(alloc["Namespace"], alloc["JobID"], alloc["JobVersion"])
    if job is None:
        return []
    return [f for f in st.lab.client_check.job(job, node)["findings"] if f["kind"] not in WARN_ONLY]


def refuse(st, alloc, node, now):
    """True (and the allocation failed) when the client would refuse it."""
    from .rollout import set_task_states  # rollout calls this module

    found = findings(st, alloc, node)
    if not found:
        return False
    set_task_states(st, alloc, "dead", now, ("Task Setup", "Building Task Directory"))
    for name, state in (alloc["TaskStates"] or {}).items():
        prefix = f"TaskGroups[{alloc['TaskGroup']}].Tasks[{name}]."
        own = [f for f in found if f["path"].startswith(prefix)]
        if not own:
            state["Events"].append(_event("Sibling Task Failed", "Task's sibling failed", now))
            continue
        for finding in own:
            kind = _EVENTS.get(finding["kind"], "Killing")
            event = _event(kind, finding["message"].strip(), now)
            if kind == "Failed Validation":
                event["ValidationError"] = event["Details"]["validation_error"] = finding["message"]
            else:
                event["Details"]["fails_task"] = "true"
            state["Events"].append(event)
        state["Events"].append(_event("Not Restarting", "Error was unrecoverable", now))
        state.update(Failed=True, FinishedAt=rfc3339(now))
    alloc.update(ClientStatus="failed", ClientDescription="Failed tasks",
                 DeploymentStatus={"Healthy": False, "Timestamp": rfc3339(now), "Canary": False, "ModifyIndex": 0},
                 _client_findings=summary(found))
    return True


def _event(kind, message, now):
    return {"Type": kind, "Time": nanos(now), "DisplayMessage": message, "Details": {}, "Message": ""}


def plan_warnings(st, job, node):
    """The plan's Warnings: what the client on `node` would refuse (Nomad's servers never see this)."""
    found = st.lab.client_check.job(job, node)["findings"]
    if not found:
        return ""
    return "lab client check (the job would fail on a Nomad client):\n" + summary(found)
