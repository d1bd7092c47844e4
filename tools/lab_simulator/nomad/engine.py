"""The scheduling side of the simulated cluster, run under the lab lock: job versions,
evaluations and placement (the reconciler's decisions), allocations stopping, blocked
evaluations, job status (state_store.getJobStatus), nodes going down and coming back. What
happens as time passes (allocations starting, deployments) lives in rollout.py.

Simplifications (also listed in the report): placement is instant and never runs out of
resources; a rolling update replaces every affected allocation at once instead of max_parallel
at a time; canaries are counted in plans but not simulated; failed allocations are not
rescheduled."""

from __future__ import annotations

import copy
import re

from . import scheduler
from .canonical import spec_changed
from .common import nanos, new_id, rfc3339
from .rollout import Rollout, is_active, set_task_states
from .state import key

TERMINAL_CLIENT = ("complete", "failed", "lost")
ALLOC_START_SECONDS = 0.2  # pending -> running: the image is "pulled" quickly
TRACKED_VERSIONS = 6  # Nomad keeps this many job versions
_ALLOC_INDEX = re.compile(r"\[(\d+)\]$")


def alloc_index(alloc):
    return int(_ALLOC_INDEX.search(alloc["Name"]).group(1))


def is_live(alloc):
    return alloc["DesiredStatus"] == "run" and alloc["ClientStatus"] not in TERMINAL_CLIENT


class Engine:
    def __init__(self, store):
        self.st = store
        self.lab = store.lab
        self.rollout = Rollout(self)

    # -- job versions ------------------------------------------------------------------------------
    def submit(self, job, trigger="job-register", priority=None):
        """Register `job` (a canonical structs.Job): a new version only when the spec changed, and
        an evaluation unless the job is periodic or parameterized. Returns (job, eval, changed)."""
        existing = self.st.job(job["Namespace"], job["ID"])
        changed = spec_changed(existing, job)
        if changed:
            index = self.st.bump("jobs", "job_version", "job_summary", "evals")
            job = self._upsert(job, existing, index)
        else:
            job = existing
            index = self.st.bump("evals")
        if job["Periodic"] is not None or job["ParameterizedJob"] is not None:
            return job, None, changed
        evaluation = self._new_eval(job, trigger, index, priority)
        self.evaluate(job, evaluation, new_version=changed)
        return job, evaluation, changed

    def _upsert(self, job, existing, index):
        job = copy.deepcopy(job)
        job["SubmitTime"] = nanos(self.lab.now())
        job["ModifyIndex"] = job["JobModifyIndex"] = index
        job["Stable"] = False
        if existing:
            job["CreateIndex"] = existing["CreateIndex"]
            if job["Version"] <= existing["Version"]:
                job["Version"] = existing["Version"] + 1
        else:
            job["CreateIndex"] = index
        job["Status"] = self.job_status(job)
        name = key(job["Namespace"], job["ID"])
        self.st.jobs[name] = job
        versions = self.st.versions.setdefault(name, {})
        versions[str(job["Version"])] = copy.deepcopy(job)
        for old in sorted(versions, key=int)[:-TRACKED_VERSIONS]:
            del versions[old]
        return job

    def stop(self, job, purge):
        """Deregister: purge forgets the job; otherwise it is kept as a stopped new version."""
        name = key(job["Namespace"], job["ID"])
        index = self.st.bump("jobs", "job_version", "job_summary", "evals")
        stopped = copy.deepcopy(job)
        stopped["Stop"] = True
        if purge:
            del self.st.jobs[name]
            self.st.versions.pop(name, None)
        else:
            stopped = self._upsert(stopped, job, index)
        evaluation = self._new_eval(stopped, "job-deregister", index, None)
        evaluation["Type"] = "service"
        self.evaluate(stopped, evaluation, new_version=False)
        if purge:
            self._forget(job)
        return evaluation, index

    def _forget(self, job):
        """Purged jobs lose their allocations, evaluations and deployments at once (Nomad's GC
        would take them later)."""
        for table in (self.st.allocs, self.st.evals, self.st.deployments):
            for item_id in [i for i, item in table.items()
                            if item["Namespace"] == job["Namespace"] and item["JobID"] == job["ID"]]:
                del table[item_id]
        self.st.bump("allocs", "evals", "deployment", "job_summary")

    def stable_versions(self, job):
        versions = self.st.versions.get(key(job["Namespace"], job["ID"]), {})
        return sorted((v for v in versions.values() if v["Stable"]), key=lambda v: v["Version"], reverse=True)

    # -- evaluations and placement -------------------------------------------------------------------
    def _new_eval(self, job, trigger, index, priority):
        now = nanos(self.lab.now())
        evaluation = {
            "ID": new_id(), "Namespace": job["Namespace"], "Priority": priority or job["Priority"],
            "Type": job["Type"], "TriggeredBy": trigger, "JobID": job["ID"], "JobModifyIndex": job["JobModifyIndex"],
            "NodeID": "", "NodeModifyIndex": 0, "DeploymentID": "", "Status": "pending", "StatusDescription": "",
            "Wait": 0, "WaitUntil": rfc3339(0), "NextEval": "", "PreviousEval": "", "BlockedEval": "",
            "RelatedEvals": None, "FailedTGAllocs": None, "ClassEligibility": None, "QuotaLimitReached": "",
            "EscapedComputedClass": False, "AnnotatePlan": False, "QueuedAllocations": None, "LeaderACL": "",
            "SnapshotIndex": index, "CreateIndex": index, "ModifyIndex": index, "CreateTime": now, "ModifyTime": now,
        }
        self.st.evals[evaluation["ID"]] = evaluation
        return evaluation

    def decide(self, job):
        """The reconciler's view, without changing anything: per task group the allocations to
        stop, update in place, replace, place (with nodes) and the DesiredUpdates counts."""
        allocs = self.st.job_allocs(job)
        live = [a for a in allocs if is_live(a)]
        groups = {g["Name"]: g for g in job["TaskGroups"] or ()}
        names = sorted(set(groups) | {a["TaskGroup"] for a in live})
        return {name: self._decide_group(job, groups.get(name), name, live, allocs) for name in names}

    def _decide_group(self, job, group, name, live, allocs):
        counts = scheduler.desired_updates()
        decision = {"updates": counts, "stop": [], "inplace": [], "targets": [], "failed": None, "group": group}
        mine = sorted((a for a in live if a["TaskGroup"] == name), key=alloc_index)
        if group is None or job["Stop"]:
            decision["stop"] = mine
            counts["Stop"] = len(mine)
            return decision
        eligible, metric = scheduler.feasible_nodes(job, group, self.st.node_list())
        system = job["Type"] in ("system", "sysbatch")
        if system:  # one allocation per eligible node
            wanted = {n["ID"] for n in eligible}
            keep = [a for a in mine if a["NodeID"] in wanted]
            decision["stop"] = [a for a in mine if a["NodeID"] not in wanted]
            taken = {a["NodeID"] for a in keep}
            new = [(0, None)] * len(wanted - taken)
        else:
            keep, decision["stop"] = mine[:group["Count"]], mine[group["Count"]:]
            used = {alloc_index(a) for a in keep}
            if job["Type"] == "batch":  # finished batch work is not redone
                used |= {alloc_index(a) for a in allocs if a["TaskGroup"] == name and a["ClientStatus"] == "complete"}
            new = [(i, None) for i in range(group["Count"]) if i not in used]
        replaced = []
        for alloc in keep:
            alloc_job = self.st.job_version(job["Namespace"], job["ID"], alloc["JobVersion"])
            if alloc_job and alloc_job["JobModifyIndex"] == job["JobModifyIndex"]:
                counts["Ignore"] += 1
            elif alloc_job is None or scheduler.destructive(alloc_job, job, name):
                replaced.append(alloc)
            else:
                decision["inplace"].append(alloc)
        if system:
            decision["targets"] = [(0, n, None) for n in eligible if n["ID"] not in taken]
            decision["targets"] += [(0, self.st.node_by_id(a["NodeID"]), a) for a in replaced]
        else:
            staying = [a for a in keep if a not in replaced]
            replacements = [(alloc_index(a), a) for a in replaced]
            decision["targets"] = self._choose(job, group, eligible, new + replacements, staying)
        failed = len(new) + len(replaced) - len(decision["targets"])
        if failed:
            metric["CoalescedFailures"] = failed - 1
            decision["failed"] = metric
        counts.update(Stop=len(decision["stop"]), Place=len(new), InPlaceUpdate=len(decision["inplace"]))
        self._count_destructive(counts, group, len(replaced))
        return decision

    @staticmethod
    def _count_destructive(counts, group, total):
        """How the plan reports replacements: canaries first, then max_parallel at a time."""
        update = group["Update"]
        if update and update["Canary"] > 0 and total:
            counts["Canary"] = update["Canary"]
            counts["Ignore"] += total
        elif update and update["MaxParallel"] > 0:
            counts["DestructiveUpdate"] = min(total, update["MaxParallel"])
            counts["Ignore"] += total - counts["DestructiveUpdate"]
        else:
            counts["DestructiveUpdate"] = total

    def _choose(self, job, group, eligible, wanted, staying):
        """Spread the job's allocations: the node running fewest of them wins. `wanted` holds
        (alloc index, allocation it replaces or None); returns (index, node, replaced) triples."""
        per_node = {n["ID"]: 0 for n in eligible}
        for alloc in staying:
            if alloc["NodeID"] in per_node:
                per_node[alloc["NodeID"]] += 1
        distinct = scheduler.distinct_hosts(job, group)
        targets = []
        for position, previous in wanted:
            candidates = [n for n in eligible if not (distinct and per_node[n["ID"]])]
            if not candidates:
                continue
            node = min(candidates, key=lambda n: (per_node[n["ID"]], n["Name"]))
            per_node[node["ID"]] += 1
            targets.append((position, node, previous))
        return targets

    def evaluate(self, job, evaluation, new_version):
        """Process an evaluation now: apply the reconciler's decisions, create the deployment of a
        new version, and leave a blocked evaluation behind for what could not be placed."""
        decisions = self.decide(job)
        index = self.st.bump("allocs", "job_summary", "evals", "deployment")
        deployment = self.rollout.deployment_for(job, new_version, index)
        failures, queued = {}, {}
        for name, decision in decisions.items():
            self._apply(job, evaluation, decision, deployment, index)
            queued[name] = 0
            if decision["failed"]:
                failures[name] = decision["failed"]
                queued[name] = decision["failed"]["CoalescedFailures"] + 1
        evaluation.update(Status="complete", ModifyIndex=index, ModifyTime=nanos(self.lab.now()),
                          QueuedAllocations=queued, DeploymentID=deployment["ID"] if deployment else "")
        self._settle_blocked(job, evaluation, failures, index)
        self.refresh_status(job, index)

    def _apply(self, job, evaluation, decision, deployment, index):
        reason = "alloc not needed as job is stopped" if job["Stop"] else "alloc not needed due to job update"
        for alloc in decision["stop"]:
            self._stop_alloc(alloc, reason, index)
        for alloc in decision["inplace"]:
            alloc.update(JobVersion=job["Version"], ModifyIndex=index, AllocModifyIndex=index,
                         ModifyTime=nanos(self.lab.now()))
            if deployment:
                alloc.update(DeploymentID=deployment["ID"], DeploymentStatus=None, _placed_at=self.lab.now())
                if alloc["ClientStatus"] == "running":
                    self.rollout.arm(alloc, self.lab.now())
        # A replacement that found no node leaves the old allocation running, as Nomad does.
        for position, node, previous in decision["targets"]:
            new = self._new_alloc(job, decision["group"], position, node, evaluation, deployment, index)
            if previous is not None:
                self._stop_alloc(previous, "alloc is being updated due to job update", index)
                previous["NextAllocation"] = new["ID"]
                new["PreviousAllocation"] = previous["ID"]

    def _new_alloc(self, job, group, position, node, evaluation, deployment, index):
        now = self.lab.now()
        alloc = {
            "ID": new_id(), "Namespace": job["Namespace"], "EvalID": evaluation["ID"],
            "Name": f"{job['ID']}.{group['Name']}[{position}]", "NodeID": node["ID"], "NodeName": node["Name"],
            "JobID": job["ID"], "JobType": job["Type"], "JobVersion": job["Version"], "TaskGroup": group["Name"],
            "DesiredStatus": "run", "DesiredDescription": "",
            "DesiredTransition": {"Migrate": None, "Reschedule": None, "ForceReschedule": None,
                                  "NoShutdownDelay": None},
            "ClientStatus": "pending", "ClientDescription": "No tasks have started", "TaskStates": None,
            "DeploymentID": deployment["ID"] if deployment else "", "DeploymentStatus": None,
            "FollowupEvalID": "", "NextAllocation": "", "PreviousAllocation": "", "RescheduleTracker": None,
            "PreemptedAllocations": None, "PreemptedByAllocation": "", "CreateIndex": index, "ModifyIndex": index,
            "AllocModifyIndex": index, "CreateTime": nanos(now), "ModifyTime": nanos(now),
            "_start_at": now + ALLOC_START_SECONDS, "_health_at": None, "_unhealthy_at": None, "_placed_at": now,
        }
        self.st.allocs[alloc["ID"]] = alloc
        return alloc

    def _stop_alloc(self, alloc, reason, index, client_status="complete"):
        now = self.lab.now()
        alloc.update(DesiredStatus="stop", DesiredDescription=reason, ClientStatus=client_status,
                     ModifyIndex=index, AllocModifyIndex=index, ModifyTime=nanos(now),
                     ClientDescription=("All tasks have completed" if client_status == "complete" else reason))
        set_task_states(self.st, alloc, "dead", now, ("Killed", "Task successfully killed"))

    def _settle_blocked(self, job, evaluation, failures, index):
        """Failed placements leave one blocked evaluation per job; success retires it."""
        blocked = [e for e in self.st.evals.values() if e["Status"] == "blocked"
                   and e["Namespace"] == job["Namespace"] and e["JobID"] == job["ID"]]
        if not failures:
            for old in blocked:
                old.update(Status="complete" if old["ID"] == evaluation.get("_unblocks") else "cancelled",
                           ModifyIndex=index)
            return
        evaluation["FailedTGAllocs"] = failures
        if blocked:
            evaluation["BlockedEval"] = blocked[0]["ID"]
            return
        follow = self._new_eval(job, "queued-allocs", index, None)
        follow.update(Status="blocked", StatusDescription="created to place remaining allocations",
                      PreviousEval=evaluation["ID"], FailedTGAllocs=failures,
                      QueuedAllocations={name: m["CoalescedFailures"] + 1 for name, m in failures.items()})
        evaluation["BlockedEval"] = follow["ID"]

    def unblock(self):
        """Capacity changed (a node came back): re-evaluate every job with a blocked evaluation."""
        for blocked in [e for e in self.st.evals.values() if e["Status"] == "blocked"]:
            job = self.st.job(blocked["Namespace"], blocked["JobID"])
            if job is None or blocked["Status"] != "blocked":
                continue
            evaluation = self._new_eval(job, "queued-allocs", self.st.bump("evals"), None)
            evaluation["_unblocks"] = blocked["ID"]
            self.evaluate(job, evaluation, new_version=False)
            evaluation.pop("_unblocks")

    def tick(self):
        self.rollout.tick()

    # -- status -----------------------------------------------------------------------------------------
    def job_status(self, job):
        """state_store.getJobStatus."""
        if job["Type"] == "system" or job["Periodic"] is not None or job["ParameterizedJob"] is not None:
            return "dead" if job["Stop"] else "running"
        mine = [d for d in self.st.deployments.values() if d["Namespace"] == job["Namespace"]
                and d["JobID"] == job["ID"]]
        if any(is_active(d) for d in mine):
            return "running"
        if any(is_live(a) or a["ClientStatus"] in ("pending", "running") for a in self.st.job_allocs(job)):
            return "running"
        evals = [e for e in self.st.evals.values() if e["Namespace"] == job["Namespace"] and e["JobID"] == job["ID"]]
        if any(e["Status"] in ("pending", "blocked") for e in evals):
            return "pending"
        return "dead" if evals or job["Stop"] else "pending"

    def refresh_status(self, job, index):
        status = self.job_status(job)
        if status != job["Status"]:
            job.update(Status=status, ModifyIndex=index)
            self.st.touch(index, "jobs")

    def summary(self, job):
        groups = {g["Name"]: {"Queued": 0, "Complete": 0, "Failed": 0, "Running": 0, "Starting": 0, "Lost": 0,
                              "Unknown": 0} for g in job["TaskGroups"] or ()}
        names = {"complete": "Complete", "failed": "Failed", "running": "Running", "pending": "Starting",
                 "lost": "Lost", "unknown": "Unknown"}
        for alloc in self.st.job_allocs(job):
            groups.setdefault(alloc["TaskGroup"], dict.fromkeys(("Queued", "Complete", "Failed", "Running", "Starting",
                                                                  "Lost", "Unknown"), 0))
            groups[alloc["TaskGroup"]][names[alloc["ClientStatus"]]] += 1
        for evaluation in self.st.evals.values():
            if evaluation["Status"] == "blocked" and evaluation["JobID"] == job["ID"] \
                    and evaluation["Namespace"] == job["Namespace"]:
                for name, queued in (evaluation["QueuedAllocations"] or {}).items():
                    if name in groups:
                        groups[name]["Queued"] += queued
        return {"JobID": job["ID"], "Namespace": job["Namespace"], "Summary": groups,
                "Children": {"Pending": 0, "Running": 0, "Dead": 0}, "CreateIndex": job["CreateIndex"],
                "ModifyIndex": self.st.tables["job_summary"]}

    # -- nodes ----------------------------------------------------------------------------------------------
    def set_node_status(self, name, up):
        node = self.st.nodes[name]
        status = "ready" if up else "down"
        if node["Status"] == status:
            return
        now = self.lab.now()
        index = self.st.bump("nodes", "allocs", "job_summary")
        node.update(Status=status, StatusUpdatedAt=int(now), ModifyIndex=index)
        node["Events"] = (node["Events"] + [{
            "Message": "Node reregistered by heartbeat" if up else "Node heartbeat missed", "Subsystem": "Cluster",
            "Details": None, "Timestamp": rfc3339(now), "CreateIndex": index}])[-10:]
        if up:
            self.unblock()
            return
        lost_jobs = {}
        for alloc in self.st.allocs.values():
            if alloc["NodeID"] == node["ID"] and alloc["ClientStatus"] not in TERMINAL_CLIENT:
                self._stop_alloc(alloc, "alloc is lost since its node is down", index, client_status="lost")
                lost_jobs[key(alloc["Namespace"], alloc["JobID"])] = True
        for job_key in lost_jobs:
            job = self.st.jobs.get(job_key)
            if job and not job["Stop"]:
                evaluation = self._new_eval(job, "node-update", self.st.bump("evals"), None)
                evaluation["NodeID"] = node["ID"]
                evaluation["NodeModifyIndex"] = index
                self.evaluate(job, evaluation, new_version=False)
