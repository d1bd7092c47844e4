# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the nomad_job and nomad_job_info modules; their main() only wires it.

nomad_job present: ONE plan (Diff: true) decides; Diff type None means nothing to do (no
register). Otherwise register with EnforceIndex and the plan's JobModifyIndex, so a change made
by someone else between plan and register is refused, not overwritten. Check mode stops after
the plan. `wait` follows the deployment (or the allocations) with blocking queries.
nomad_job absent: one GET; a missing (or, without purge, already stopped) job is ok."""

from __future__ import annotations

import copy

from ansible_collections.octant.openclaw.plugins.module_utils import _nomad_diff as nomad_diff
from ansible_collections.octant.openclaw.plugins.module_utils._errors import InputError
from ansible_collections.octant.openclaw.plugins.module_utils._module import Context
from ansible_collections.octant.openclaw.plugins.module_utils._nomad_wait import (
    JobWaiter,
    WaitError,
    deployment_summary,
    expects_deployment,
)


def normalize_job(job, name=None, namespace=None):
    """Accept {"Job": {...}} or the bare job; fill ID from name or Name; make the namespace
    explicit. Returns (job, namespace). Never changes the caller's dict."""
    if not isinstance(job, dict) or not job:
        raise InputError("job must be a non-empty dict: the job as Nomad API JSON, either {Job: {...}} or "
                         "the bare job")
    if "Job" in job:
        if len(job) != 1 or not isinstance(job["Job"], dict):
            raise InputError("job has a Job key next to other keys; pass either {Job: {...}} or the bare job")
        job = job["Job"]
    job = copy.deepcopy(job)
    hcl_style = sorted(k for k in job if k in _HCL_KEYS)
    if hcl_style:
        raise InputError(f"job uses HCL-style key(s) {', '.join(hcl_style)}; the job option takes Nomad API JSON "
                         f"(ID, Name, Type, TaskGroups, ...). Pass HCL text with the hcl option instead.")
    job_id = job.get("ID") or job.get("Name") or name
    if not job_id:
        raise InputError("the job has no ID (nor Name); set job.ID or the name option")
    if name and job.get("ID") and job["ID"] != name:
        raise InputError(f"name {name!r} and the job's ID {job['ID']!r} differ; use one")
    job["ID"] = job_id
    job.setdefault("Name", job_id)
    job_namespace = job.get("Namespace")
    if job_namespace and namespace and job_namespace != namespace:
        raise InputError(f"the job's Namespace {job_namespace!r} differs from nomad_namespace {namespace!r}")
    effective = job_namespace or namespace
    if effective:
        job["Namespace"] = effective
    if not job.get("TaskGroups"):
        raise InputError(f"job {job_id!r} has no TaskGroups")
    return job, effective


# Keys of the HCL/HCL-JSON job form, which the API rejects or silently ignores.
_HCL_KEYS = frozenset(("job", "group", "task", "id", "name", "type", "datacenters", "update", "constraint",
                       "meta", "namespace", "region", "priority"))


def run_job(api, params, ctx=None):
    """nomad_job: state present or absent of one job."""
    return NomadJob(api, params, ctx or Context()).run()


def run_job_info(api, params, ctx=None):
    """nomad_job_info: one job with its allocations and deployment, or a job list."""
    return NomadJobInfo(api, params).run()


class NomadJob:
    """state present/absent of one job. `api` is a NomadApi (or a fake with its methods)."""

    def __init__(self, api, params, ctx):
        self.api = api
        self.params = params
        self.check_mode = ctx.check_mode
        self.diff_mode = ctx.diff
        self.warn = ctx.warn
        self.connection_namespace = params.get("nomad_namespace")

    def run(self):
        if self.params.get("wait_timeout", 300) <= 0:
            raise InputError(f"wait_timeout must be a positive number of seconds, got {self.params['wait_timeout']}")
        if self.params["state"] == "absent":
            return self.absent()
        return self.present()

    # -- present ----------------------------------------------------------------------------
    def desired_job(self):
        params = self.params
        submission = None
        if params.get("variables") and not params.get("hcl"):
            raise InputError("variables are HCL2 input variables: they are used only with hcl, not with job")
        if params.get("hcl"):
            job = self.api.parse_hcl(params["hcl"], params.get("variables") or None)
            # Canonicalize fills Namespace "default" when the HCL sets none: the connection's
            # namespace (nomad_namespace / NOMAD_NAMESPACE) wins then, as with the nomad CLI.
            if self.connection_namespace and job.get("Namespace") in (None, "", "default"):
                job["Namespace"] = self.connection_namespace
            # The source is kept with the version (nomad job inspect / the UI show it); the
            # variables are not, they may be sensitive.
            submission = {"Source": params["hcl"], "Format": "hcl2"}
        else:
            job = params.get("job")
        job, namespace = normalize_job(job, params.get("name"), self.connection_namespace)
        return job, namespace, submission

    def present(self):
        job, namespace, submission = self.desired_job()
        job_id = job["ID"]
        plan = self.api.plan_job(job, namespace)
        summary = nomad_diff.plan_summary(plan)
        changed = nomad_diff.is_changed(plan)
        result = {
            "changed": changed,
            "job_id": job_id,
            "namespace": namespace or "default",
            "job_modify_index": plan.get("JobModifyIndex", 0),
            "eval_id": None,
            "plan": summary,
            "deployment": None,
        }
        if plan.get("Warnings"):
            self.warn(f"Nomad plan of job {job_id!r}: {plan['Warnings']}")
        if summary["failed_allocations"]:
            self.warn(f"Nomad cannot place all allocations of job {job_id!r}: "
                      + "; ".join(f"{g}: {t}" for g, t in sorted(summary["failed_allocations"].items())))
        if changed and self.diff_mode:
            result["diff"] = {
                "before": summary["changes"]["before"],
                "after": summary["changes"]["after"],
                "before_header": f"nomad job {job_id} (JobModifyIndex {plan.get('JobModifyIndex', 0)})",
                "after_header": f"nomad job {job_id} (planned)",
            }
        if not changed or self.check_mode:
            return result
        registered = self.api.register_job(job, plan.get("JobModifyIndex", 0), namespace, submission)
        result["job_modify_index"] = registered.get("JobModifyIndex", result["job_modify_index"])
        result["eval_id"] = registered.get("EvalID") or None
        if registered.get("Warnings") and registered["Warnings"] != plan.get("Warnings"):  # said once is enough
            self.warn(f"Nomad register of job {job_id!r}: {registered['Warnings']}")
        if self.params.get("wait"):
            self._wait(job, namespace, result)
        return result

    def _wait(self, job, namespace, result):
        """Wait for what the registration started; a WaitError carries the result so far (the
        job IS registered: the failed task still reports changed)."""
        if job.get("Stop"):
            return
        waiter = JobWaiter(self.api, job["ID"], namespace, timeout=self.params.get("wait_timeout", 300))
        try:
            if expects_deployment(job):
                result["deployment"] = waiter.wait_deployment(result["job_modify_index"])
            else:
                current = self.api.get_job(job["ID"], namespace) or job
                result["allocations"] = waiter.wait_allocations(current)["allocations"]
        except WaitError as exc:
            partial = dict(result)
            partial.update(exc.details)
            exc.result = partial
            raise

    # -- absent ------------------------------------------------------------------------------
    def absent(self):
        params = self.params
        namespace = self.connection_namespace
        if params.get("name"):
            job_id = params["name"]
        elif params.get("job"):
            job, namespace = normalize_job(params["job"], None, self.connection_namespace)
            job_id = job["ID"]
        else:
            raise InputError("state=absent needs the job's ID: set name (or job)")
        result = {"changed": False, "job_id": job_id, "namespace": namespace or "default", "eval_id": None,
                  "purged": False}
        current = self.api.get_job(job_id, namespace)
        if current is None:
            return result
        stopped = bool(current.get("Stop"))
        if stopped and not params.get("purge"):
            return result
        result["changed"] = True
        result["purged"] = bool(params.get("purge"))
        result["job_modify_index"] = current.get("JobModifyIndex")
        if self.diff_mode:
            result["diff"] = {
                "before": {"ID": job_id, "Status": current.get("Status"), "Stop": stopped,
                           "Version": current.get("Version")},
                "after": {} if params.get("purge") else {"ID": job_id, "Stop": True},
                "before_header": f"nomad job {job_id}",
                "after_header": f"nomad job {job_id} ({'purged' if params.get('purge') else 'stopped'})",
            }
        if self.check_mode:
            return result
        reply = self.api.deregister_job(job_id, params.get("purge"), namespace)
        result["eval_id"] = reply.get("EvalID") or None
        return result


class NomadJobInfo:
    """One job with its allocations and latest deployment, or a (prefix-filtered) job list."""

    def __init__(self, api, params):
        self.api = api
        self.params = params

    def run(self):
        params = self.params
        namespace = params.get("nomad_namespace")
        if params.get("name"):
            job = self.api.get_job(params["name"], namespace)
            if job is None:
                return {"changed": False, "exists": False, "jobs": [], "job": None}
            result = {"changed": False, "exists": True, "job": job, "jobs": [_stub_of(job)]}
            if params.get("allocations"):
                result["allocations"] = self.api.job_allocations(params["name"], job.get("Namespace"))[0]
            if params.get("deployment"):
                deployment = self.api.job_deployment(params["name"], job.get("Namespace"))[0]
                result["deployment"] = deployment
                result["deployment_summary"] = deployment_summary(deployment)
            return result
        jobs = self.api.list_jobs(params.get("prefix"), namespace)
        return {"changed": False, "jobs": jobs, "exists": bool(jobs)}


def _stub_of(job):
    keys = ("ID", "Name", "Namespace", "Type", "Status", "StatusDescription", "Version", "Stop", "Priority",
            "Datacenters", "JobModifyIndex", "ModifyIndex", "CreateIndex", "SubmitTime")
    return {k: job.get(k) for k in keys if k in job}
