# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for what a job registration started, with Nomad blocking queries only (no sleeps).

- Jobs with a deployment (service jobs with an update strategy): find the deployment of the
  registered version with one blocking GET /v1/job/<id>/deployment?index=<JobModifyIndex>,
  then follow it with blocking GET /v1/deployment/<id>?index=N&wait=... until it is
  successful (done), failed or cancelled (error with per-group counts, and whether auto-revert
  rolled the job back and to which version), needs manual promotion (error) or the timeout
  passes (error with the last state seen).
- Jobs without one (batch, sysbatch, system, or service without an update block): blocking
  GET /v1/job/<id>/allocations until the allocations of the registered version run (batch:
  running or complete), or one of them fails."""

from __future__ import annotations

import re
import time

from ansible_collections.octant.openclaw.plugins.module_utils._errors import OperationError

SUCCESS = "successful"
FAILED = ("failed", "cancelled")
ROLLBACK = re.compile(r"rolling back to job version (\d+)")
NEEDS_PROMOTION = "requires manual promotion"


class WaitError(OperationError):
    """The waited-for deployment or allocations failed or did not finish in time. `details` is
    returned with the failure (deployment summary, rollback)."""

    def __init__(self, text, details=None):
        self.details = details or {}
        super().__init__("nomad", "wait", text=text)


def expects_deployment(job):
    """Nomad creates a deployment for a new version of a service job whose groups have a
    non-empty update strategy (job-level merged with group-level, max_parallel > 0) and a count
    above zero. Everything else is waited for through its allocations."""
    if (job.get("Type") or "service") != "service" or job.get("Stop"):
        return False
    job_update = job.get("Update") or {}
    for group in job.get("TaskGroups") or []:
        if group.get("Count", 1) == 0:
            continue
        merged = dict(job_update)
        merged.update({k: v for k, v in (group.get("Update") or {}).items() if v is not None})
        if not _update_is_empty(merged) and (merged.get("MaxParallel") is None or merged["MaxParallel"] > 0):
            return True
    return False


def _update_is_empty(update):
    # api.UpdateStrategy.Empty(): every field unset or zero.
    return not any(value for value in update.values())


def deployment_summary(deployment):
    """What users need from a deployment: id, status, description, counts per group."""
    if not deployment:
        return None
    groups = {}
    for name, state in (deployment.get("TaskGroups") or {}).items():
        state = state or {}
        groups[name] = {
            "desired": state.get("DesiredTotal", 0),
            "placed": state.get("PlacedAllocs", 0),
            "healthy": state.get("HealthyAllocs", 0),
            "unhealthy": state.get("UnhealthyAllocs", 0),
            "auto_revert": bool(state.get("AutoRevert")),
        }
        if state.get("DesiredCanaries"):
            groups[name]["desired_canaries"] = state["DesiredCanaries"]
            groups[name]["promoted"] = bool(state.get("Promoted"))
    return {
        "id": deployment.get("ID"),
        "status": deployment.get("Status"),
        "status_description": deployment.get("StatusDescription", ""),
        "job_version": deployment.get("JobVersion"),
        "task_groups": groups,
    }


def describe_groups(summary):
    parts = []
    for name, g in sorted(((summary or {}).get("task_groups") or {}).items()):
        parts.append(f"{name}: desired {g['desired']}, placed {g['placed']}, healthy {g['healthy']}, "
                     f"unhealthy {g['unhealthy']}")
    return "; ".join(parts) or "no task groups"


class JobWaiter:
    """Waits for one registration of one job. `clock` is injectable for tests."""

    def __init__(self, api, job_id, namespace=None, timeout=300, clock=time.monotonic):
        self.api = api
        self.job_id = job_id
        self.namespace = namespace
        self.timeout = timeout
        self.clock = clock
        self.deadline = None

    def _remaining(self):
        return self.deadline - self.clock()

    # -- deployments --------------------------------------------------------------------
    def wait_deployment(self, job_modify_index):
        """Block until the deployment of the version registered at job_modify_index ends.
        Returns its summary; raises WaitError when it fails or time runs out."""
        self.deadline = self.clock() + self.timeout
        deployment, index = self._find_deployment(int(job_modify_index or 0))
        while True:
            status = deployment.get("Status")
            if status == SUCCESS:
                return deployment_summary(deployment)
            if status in FAILED:
                raise self._failed(deployment)
            if NEEDS_PROMOTION in (deployment.get("StatusDescription") or ""):
                summary = deployment_summary(deployment)
                raise WaitError(
                    f"Deployment {_short(deployment.get('ID'))} of Nomad job {self.job_id!r} waits for manual "
                    f"promotion of its canaries ({describe_groups(summary)}); promote it (nomad deployment "
                    f"promote) or set update.auto_promote.", {"deployment": summary})
            remaining = self._remaining()
            if remaining <= 0:
                raise self._timeout(deployment)
            latest, new_index = self.api.deployment(deployment["ID"], self.namespace, index=max(index, 1),
                                                    wait=remaining)
            if latest:
                deployment = latest
            # A blocking query may return without a change, and the index can go backwards
            # (snapshot restore): never send an index below 1, reset when it went back.
            index = new_index if new_index > 0 else index

    def _find_deployment(self, job_modify_index):
        index = max(job_modify_index, 1)
        while True:
            remaining = self._remaining()
            if remaining <= 0:
                raise WaitError(
                    f"Timed out after {self.timeout} s waiting for Nomad to start a deployment of job "
                    f"{self.job_id!r} (registered at JobModifyIndex {job_modify_index}); no deployment of "
                    f"that version appeared.", {})
            deployment, new_index = self.api.job_deployment(self.job_id, self.namespace, index=index,
                                                            wait=remaining)
            if deployment and _is_for(deployment, job_modify_index):
                return deployment, max(new_index, 1)
            index = new_index if new_index > index else index

    def _failed(self, deployment):
        summary = deployment_summary(deployment)
        description = deployment.get("StatusDescription") or deployment.get("Status")
        auto_revert = any(g["auto_revert"] for g in summary["task_groups"].values())
        job = self.api.get_job(self.job_id, self.namespace) or {}
        current = job.get("Version")
        match = ROLLBACK.search(description or "")
        details = {"deployment": summary, "auto_revert": auto_revert, "rolled_back": bool(match),
                   "reverted_to_version": int(match.group(1)) if match else None, "job_version": current}
        text = (f"Deployment {_short(deployment.get('ID'))} of Nomad job {self.job_id!r} (version "
                f"{deployment.get('JobVersion')}) {deployment.get('Status')}: {description}. "
                f"Groups: {describe_groups(summary)}. ")
        if match:
            text += (f"Auto-revert rolled the job back to version {match.group(1)} "
                     f"(the job is now version {current}, a copy of version {match.group(1)}).")
        elif auto_revert:
            text += f"Auto-revert is on but did not roll back (no stable version to return to); the job is " \
                    f"at version {current}."
        else:
            text += f"Auto-revert is off: the job stays at the failed version {current}."
        return WaitError(text, details)

    def _timeout(self, deployment):
        summary = deployment_summary(deployment)
        return WaitError(
            f"Timed out after {self.timeout} s waiting for deployment {_short(deployment.get('ID'))} of Nomad job "
            f"{self.job_id!r}: last status {deployment.get('Status')} "
            f"({deployment.get('StatusDescription') or 'no description'}); groups: {describe_groups(summary)}.",
            {"deployment": summary})

    # -- allocations ----------------------------------------------------------------------
    def wait_allocations(self, job):
        """For jobs without a deployment: block until the allocations of the job's current
        version are running (batch/sysbatch: running or complete). `job` is the job as read
        after the registration (Version, Type, TaskGroups)."""
        self.deadline = self.clock() + self.timeout
        version = job.get("Version", 0)
        job_type = job.get("Type") or "service"
        done_states = ("running", "complete") if job_type in ("batch", "sysbatch") else ("running",)
        desired = None
        if job_type in ("service", "batch"):
            desired = sum(int(g.get("Count", 1)) for g in job.get("TaskGroups") or [])
        index = 0
        while True:
            allocations, new_index = self.api.job_allocations(self.job_id, self.namespace, index=index,
                                                              wait=self._remaining() if index else None)
            current = [a for a in allocations if a.get("DesiredStatus", "run") == "run"
                       and a.get("JobVersion", version) >= version]
            counts = _count_states(current)
            failed = [a for a in current if a.get("ClientStatus") in ("failed", "lost")]
            if failed:
                raise WaitError(
                    f"Allocations of Nomad job {self.job_id!r} version {version} failed: {_describe(counts)} "
                    f"(first failed: {_short(failed[0].get('ID'))} on {failed[0].get('NodeName') or '?'}).",
                    {"allocations": counts})
            done = sum(counts.get(state, 0) for state in done_states)
            # All current allocations done and (service/batch) as many as desired, which may be
            # zero for a job scaled to nothing; system jobs: at least one, all done.
            enough = done >= desired if desired is not None else bool(current)
            if enough and done == len(current):
                return {"version": version, "allocations": counts}
            remaining = self._remaining()
            if remaining <= 0:
                raise WaitError(
                    f"Timed out after {self.timeout} s waiting for the allocations of Nomad job {self.job_id!r} "
                    f"version {version} to run: {_describe(counts) or 'none placed'}"
                    f"{f' of {desired} desired' if desired is not None else ''}.", {"allocations": counts})
            index = new_index if new_index > 0 else max(index, 1)


def _is_for(deployment, job_modify_index):
    """The deployment belongs to the registration at job_modify_index (or a newer one)."""
    spec_index = deployment.get("JobSpecModifyIndex")
    if spec_index is not None:
        return spec_index >= job_modify_index
    return deployment.get("CreateIndex", 0) >= job_modify_index


def _count_states(allocations):
    counts = {}
    for alloc in allocations:
        state = alloc.get("ClientStatus", "unknown")
        counts[state] = counts.get(state, 0) + 1
    return counts


def _describe(counts):
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def _short(identifier):
    return (identifier or "?")[:8]
