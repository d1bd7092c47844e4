"""What the Nomad clients and the deployment watcher do as time passes (Engine.tick, every 0.1 s
under the lab lock, with lab.now()): allocations start, batch work finishes, allocations of a
deployment turn healthy once running for their group's update.min_healthy_time, or unhealthy at
its healthy_deadline when a failure was injected (checks that never pass), deployments succeed (the
job version becomes stable), fail on unhealthy allocations or a passed progress deadline
(RequireProgressBy as the state store keeps it), and auto-revert to the latest stable version.
Every duration is the job's own, multiplied by the lab's time_scale (1 = real time)."""

from __future__ import annotations

import copy

from . import clientside
from .canonical import spec_changed
from .common import nanos, new_id, rfc3339
from .prestart import Prestart
from .state import key

FAILED_ALLOCS = "Failed due to unhealthy allocations"
PROGRESS_DEADLINE = "Failed due to progress deadline"
_ACTIVE = ("running", "paused", "pending", "blocked", "initializing", "unblocking")
BATCH_RUN_SECONDS = 2.0  # how long batch work runs before it completes (scaled like the job's durations)


def set_task_states(st, alloc, state, when, event):
    """TaskStates as a client reports them; `event` is (Type, DisplayMessage) appended to history."""
    job = st.job_version(alloc["Namespace"], alloc["JobID"], alloc["JobVersion"])
    group = next((g for g in (job or {}).get("TaskGroups") or () if g["Name"] == alloc["TaskGroup"]), None)
    states = {}
    for task in (group or {}).get("Tasks") or ():
        previous = (alloc["TaskStates"] or {}).get(task["Name"], {})
        history = previous.get("Events") or [
            {"Type": "Received", "Time": nanos(when), "DisplayMessage": "Task received by client", "Details": {},
             "Message": ""}]
        states[task["Name"]] = {
            "State": state, "Failed": False, "Restarts": 0, "LastRestart": rfc3339(0),
            "StartedAt": previous.get("StartedAt", rfc3339(when) if state == "running" else rfc3339(0)),
            "FinishedAt": rfc3339(when) if state == "dead" else rfc3339(0),
            "Events": history + [{"Type": event[0], "Time": nanos(when), "DisplayMessage": event[1], "Details": {},
                                  "Message": ""}],
            "TaskHandle": None, "Paused": "",
        }
    alloc["TaskStates"] = states or None


def prestart_runner(lab):
    """The lab's one Prestart runner (made on first use)."""
    if getattr(lab, "prestart", None) is None:
        lab.prestart = Prestart(lab)
    return lab.prestart


def _terminated(code, output, now):
    """A task's Terminated event; `lab_output` (the lab's only addition) holds what a client keeps in the task log."""
    return {"Type": "Terminated", "Time": nanos(now), "Message": "", "DisplayMessage": f"Exit Code: {code}",
            "Details": {"exit_code": str(code), "signal": "0", "oom_killed": "false", "lab_output": output[-4000:]}}


def is_active(deployment):
    return deployment["Status"] in _ACTIVE


class Rollout:
    def __init__(self, engine):
        self.engine = engine
        self.st = engine.st
        self.lab = engine.lab

    def deployment_for(self, job, new_version, index):
        """A new version of a service job with update blocks gets a deployment and cancels the
        running one; otherwise new placements join the running deployment of this version."""
        running = [d for d in self.st.deployments.values() if d["Status"] == "running"
                   and d["Namespace"] == job["Namespace"] and d["JobID"] == job["ID"]]
        groups = [g for g in job["TaskGroups"] or () if g["Update"] is not None]
        create = new_version and job["Type"] == "service" and not job["Stop"] and groups
        for old in running:
            if job["Stop"] or create:
                old.update(Status="cancelled", ModifyIndex=index, ModifyTime=nanos(self.lab.now()),
                           StatusDescription=("Cancelled because job is stopped" if job["Stop"]
                                              else "Cancelled due to newer version of job"))
        if not create:
            return next((d for d in running if d["Status"] == "running" and d["JobVersion"] == job["Version"]), None)
        now = self.lab.now()
        deployment = {
            "ID": new_id(), "Namespace": job["Namespace"], "JobID": job["ID"], "JobVersion": job["Version"],
            "JobModifyIndex": job["JobModifyIndex"], "JobSpecModifyIndex": job["JobModifyIndex"],
            "JobCreateIndex": job["CreateIndex"], "IsMultiregion": False, "TaskGroups": {},
            "Status": "running", "StatusDescription": "Deployment is running", "EvalPriority": job["Priority"],
            "CreateIndex": index, "ModifyIndex": index, "CreateTime": nanos(now), "ModifyTime": nanos(now),
            "_fail": False,
        }
        for group in groups:
            update = group["Update"]
            # RequireProgressBy starts with the first placement (state_store.go updateDeploymentWithAlloc).
            deployment["TaskGroups"][group["Name"]] = {
                "AutoRevert": update["AutoRevert"], "AutoPromote": update["AutoPromote"],
                "ProgressDeadline": update["ProgressDeadline"], "RequireProgressBy": rfc3339(0),
                "Promoted": False, "PlacedCanaries": None, "DesiredCanaries": 0, "DesiredTotal": group["Count"],
                "PlacedAllocs": 0, "HealthyAllocs": 0, "UnhealthyAllocs": 0, "_deadline": None,
            }
        name = key(job["Namespace"], job["ID"])
        if name in self.st.fail_next:  # fault injected through /_lab/jobs/<job>/fail-next-deployment
            self.st.fail_next.remove(name)
            deployment["_fail"] = True
        self.st.deployments[deployment["ID"]] = deployment
        return deployment

    def tick(self):
        now = self.lab.now()
        touched_jobs = {key(a["Namespace"], a["JobID"]) for a in self.st.allocs.values() if self._advance(a, now)}
        progressed = [d for d in self.st.deployments.values() if d["Status"] == "running" and self._progress(d, now)]
        touched_jobs |= {key(d["Namespace"], d["JobID"]) for d in progressed}
        if not touched_jobs:
            return
        index = self.st.bump("allocs", "job_summary", "deployment")
        for alloc in self.st.allocs.values():
            if alloc.pop("_touched", False):
                alloc.update(ModifyIndex=index, ModifyTime=nanos(now))
                if alloc["DeploymentStatus"]:
                    alloc["DeploymentStatus"]["ModifyIndex"] = index
        for deployment in progressed:
            deployment.update(ModifyIndex=index, ModifyTime=nanos(now))
            if deployment["Status"] == "successful":
                self._mark_stable(deployment, index)
            revert_to = deployment.pop("_revert_to", None)
            if revert_to is not None:
                self._revert(deployment, revert_to)
        for name in touched_jobs:
            job = self.st.jobs.get(name)
            if job:
                self.engine.refresh_status(job, index)

    def seconds(self, duration):
        """A job's duration (ns) in lab seconds."""
        return duration / 1e9 * self.lab.config["time_scale"]

    def arm(self, alloc, now):
        """The client's health watcher for an allocation now running its job version (allochealth): healthy
        after the group's MinHealthyTime, judged unhealthy at its HealthyDeadline; batch work just runs."""
        job = self.st.job_version(alloc["Namespace"], alloc["JobID"], alloc["JobVersion"])
        group = next((g for g in (job or {}).get("TaskGroups") or () if g["Name"] == alloc["TaskGroup"]), None)
        update = (group or {}).get("Update")
        if alloc["JobType"] == "batch" or update is None:
            alloc.update(_health_at=now + BATCH_RUN_SECONDS * self.lab.config["time_scale"], _unhealthy_at=None)
        elif update["HealthCheck"] == "manual":  # only an operator sets the health (deployment promote/set-health)
            alloc.update(_health_at=None, _unhealthy_at=None)
        else:
            alloc.update(_health_at=now + self.seconds(update["MinHealthyTime"]),
                         _unhealthy_at=now + self.seconds(update["HealthyDeadline"]))

    def _advance(self, alloc, now):
        """Client side: pending -> running once the node is up; batch work ends after its run time."""
        node = self.st.node_by_id(alloc["NodeID"])
        due = alloc["ClientStatus"] == "pending" and alloc["DesiredStatus"] == "run" and now >= alloc["_start_at"] \
            and node and node["Status"] == "ready"
        if due and clientside.refuse(self.st, alloc, node, now):
            pass  # the client refused the driver config or a template: the allocation failed
        elif due and self._prestart_pending_or_failed(alloc, now):
            return alloc.get("_touched", False)
        elif alloc["ClientStatus"] == "pending" and alloc["DesiredStatus"] == "run" and now >= alloc["_start_at"] \
                and node and node["Status"] == "ready":
            alloc.update(ClientStatus="running", ClientDescription="Tasks are running")
            self.arm(alloc, now)
            set_task_states(self.st, alloc, "running", now, ("Started", "Task started by client"))
            for name, output in (alloc.pop("_prestart_done", None) or {}).items():  # validators that exited 0
                state = alloc["TaskStates"][name]
                state.update(State="dead", FinishedAt=rfc3339(now))
                state["Events"].append(_terminated(0, output, now))
        elif alloc["JobType"] == "batch" and alloc["ClientStatus"] == "running" and now >= alloc["_health_at"]:
            alloc.update(ClientStatus="complete", ClientDescription="All tasks have completed")
            set_task_states(self.st, alloc, "dead", now, ("Terminated", "Exit Code: 0"))
        else:
            return False
        alloc["_touched"] = True
        return True

    def _prestart_pending_or_failed(self, alloc, now):
        """The real validator of a prestart validate task (prestart.py): True while it runs (the allocation waits)
        or when it exited non-zero (the allocation failed as a client fails it; `_touched` set)."""
        job = self.st.job_version(alloc["Namespace"], alloc["JobID"], alloc["JobVersion"])
        verdict = prestart_runner(self.lab).verdict(job, alloc)
        if verdict is None:
            return True
        failed = {name: result for name, result in verdict.items() if result[0] != 0}
        if not failed:
            alloc["_prestart_done"] = {name: output for name, (_code, output) in verdict.items()}
            return False
        set_task_states(self.st, alloc, "dead", now, ("Task Setup", "Building Task Directory"))
        for name, state in (alloc["TaskStates"] or {}).items():
            if name not in failed:
                state["Events"].append({"Type": "Sibling Task Failed", "Time": nanos(now), "Details": {},
                                        "DisplayMessage": "Task's sibling failed", "Message": ""})
                continue
            code, output = failed[name]
            state["Events"] += [
                {"Type": "Started", "Time": nanos(now), "Details": {}, "DisplayMessage": "Task started by client",
                 "Message": ""},
                _terminated(code, output, now),
                {"Type": "Not Restarting", "Time": nanos(now), "Details": {"fails_task": "true"}, "Message": "",
                 "DisplayMessage": "Exceeded allowed attempts 0 in interval 30m0s and mode is \"fail\""}]
            state.update(Failed=True, FinishedAt=rfc3339(now))
        alloc.update(ClientStatus="failed", ClientDescription="Failed tasks", _touched=True,
                     DeploymentStatus={"Healthy": False, "Timestamp": rfc3339(now), "Canary": False, "ModifyIndex": 0})
        return True

    def _progress(self, deployment, now):
        """The deployment watcher: True when the deployment changed."""
        allocs = [a for a in self.st.allocs.values() if a["DeploymentID"] == deployment["ID"]]
        changed = False
        for alloc in allocs:
            # An injected failure leaves the task running with its health checks failing: unhealthy at the deadline.
            due = alloc.get("_unhealthy_at") if deployment["_fail"] else alloc["_health_at"]
            if alloc["ClientStatus"] == "running" and alloc["DeploymentStatus"] is None and due and now >= due:
                alloc["DeploymentStatus"] = {"Healthy": not deployment["_fail"], "Timestamp": rfc3339(now),
                                             "Canary": False, "ModifyIndex": 0}
                alloc["_touched"] = changed = True
                self._extend_progress(deployment, alloc, now)
        for name, state in deployment["TaskGroups"].items():
            placed = [a for a in allocs if a["TaskGroup"] == name]
            if placed and state["ProgressDeadline"] and state["_deadline"] is None:
                first = min(a.get("_placed_at", now) for a in placed)
                self._require_progress(state, first + self.seconds(state["ProgressDeadline"]))
                changed = True
            health = [(a["DeploymentStatus"] or {}).get("Healthy") for a in placed]
            counts = {"PlacedAllocs": len(health), "HealthyAllocs": health.count(True),
                      "UnhealthyAllocs": health.count(False)}
            if any(state[k] != v for k, v in counts.items()):
                state.update(counts)
                changed = True
        groups = deployment["TaskGroups"].values()
        if any(g["UnhealthyAllocs"] for g in groups):
            return self._fail(deployment, FAILED_ALLOCS)
        if all(g["HealthyAllocs"] >= g["DesiredTotal"] for g in groups):
            deployment.update(Status="successful", StatusDescription="Deployment completed successfully")
            return True
        if any(g["_deadline"] and now > g["_deadline"] and g["HealthyAllocs"] < g["DesiredTotal"] for g in groups):
            return self._fail(deployment, PROGRESS_DEADLINE)
        return changed

    def _extend_progress(self, deployment, alloc, now):
        state = deployment["TaskGroups"].get(alloc["TaskGroup"])
        if state and state["ProgressDeadline"] and alloc["DeploymentStatus"]["Healthy"]:
            self._require_progress(state, max(state["_deadline"] or 0, now + self.seconds(state["ProgressDeadline"])))

    @staticmethod
    def _require_progress(state, when):
        state.update(_deadline=when, RequireProgressBy=rfc3339(when))

    def _fail(self, deployment, base):
        """Fail a deployment; with auto_revert roll back to the latest stable version and say so
        in StatusDescription, as the deployment watcher does."""
        deployment["Status"] = "failed"
        description = base
        job = self.st.job(deployment["Namespace"], deployment["JobID"])
        auto_revert = any(g["AutoRevert"] for g in deployment["TaskGroups"].values())
        if auto_revert and job and job["Version"] == deployment["JobVersion"]:
            target = next((v for v in self.engine.stable_versions(job) if v["Version"] < job["Version"]), None)
            if target is None:
                description = f"{base} - no stable job version to auto revert to"
            elif not spec_changed(job, target):
                description = (f"{base} - not rolling back to stable job version {target['Version']} "
                               "as current job has same specification")
            else:
                description = f"{base} - rolling back to job version {target['Version']}"
                deployment["_revert_to"] = target["Version"]
        deployment["StatusDescription"] = description
        return True

    def _mark_stable(self, deployment, index):
        version = self.st.job_version(deployment["Namespace"], deployment["JobID"], deployment["JobVersion"])
        job = self.st.job(deployment["Namespace"], deployment["JobID"])
        for record in (version, job if job and job["Version"] == deployment["JobVersion"] else None):
            if record:
                record.update(Stable=True, ModifyIndex=index)
        self.st.touch(index, "jobs", "job_version")

    def _revert(self, deployment, version):
        """Auto-revert: the stable version is registered again as a new version."""
        target = copy.deepcopy(self.st.job_version(deployment["Namespace"], deployment["JobID"], version))
        target["VersionTag"] = None
        self.engine.submit(target)
