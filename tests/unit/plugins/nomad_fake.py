# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fakes shared by the Nomad unit tests (no tests here): a NomadApi stand-in with scripted
replies that records every call, a fake clock, and plan/deployment builders in Nomad's shapes.
Imported as ansible_collections.octant.openclaw.tests.unit.plugins.nomad_fake."""

from __future__ import annotations

import copy

from ansible_collections.octant.openclaw.plugins.module_utils._nomad import JobChangedError, VariableConflictError


class FakeClock:
    """monotonic() stand-in; blocking fakes advance it by the wait they were given."""

    def __init__(self, start=1000.0):
        self.now = start

    def __call__(self):
        return self.now


def plan_reply(diff_type="Edited", modify_index=12, task_groups=None, fields=None, objects=None,
               desired=None, warnings="", failed=None):
    return {
        "JobModifyIndex": modify_index,
        "Diff": {"Type": diff_type, "ID": "web", "Fields": fields, "Objects": objects,
                 "TaskGroups": task_groups or []},
        "Annotations": {"DesiredTGUpdates": desired or {}},
        "FailedTGAllocs": failed,
        "Warnings": warnings,
        "CreatedEvals": None,
    }


IMAGE_CHANGE = [{
    "Type": "Edited", "Name": "web",
    "Fields": [{"Type": "Edited", "Name": "Count", "Old": "1", "New": "2", "Annotations": None}],
    "Objects": None,
    "Tasks": [{
        "Type": "Edited", "Name": "app", "Annotations": ["forces create/destroy update"], "Fields": None,
        "Objects": [
            {"Type": "Edited", "Name": "Config", "Objects": None, "Fields": [
                {"Type": "Edited", "Name": "image", "Old": "nginx:1.25", "New": "nginx:1.27", "Annotations": None},
                {"Type": "None", "Name": "ports[0]", "Old": "http", "New": "http", "Annotations": None}]},
            {"Type": "Edited", "Name": "Env", "Objects": None, "Fields": [
                {"Type": "Edited", "Name": "API_KEY", "Old": "old-s3cret-value", "New": "new-s3cret-value"},
                {"Type": "Added", "Name": "MODE", "Old": "", "New": "prod-mode-value"}]},
        ]}],
    "Updates": {"create/destroy update": 1},
}]


def deployment(status="running", description="Deployment is running", index=20, spec_index=15, groups=None,
               version=1, dep_id="d0a1b2c3-0000-4000-8000-000000000001"):
    return {
        "ID": dep_id, "JobID": "web", "Namespace": "default", "JobVersion": version,
        "JobModifyIndex": spec_index, "JobSpecModifyIndex": spec_index, "JobCreateIndex": 3,
        "Status": status, "StatusDescription": description, "CreateIndex": spec_index + 1, "ModifyIndex": index,
        "TaskGroups": groups if groups is not None else {
            "web": {"DesiredTotal": 2, "PlacedAllocs": 2, "HealthyAllocs": 0, "UnhealthyAllocs": 0,
                    "AutoRevert": False, "DesiredCanaries": 0, "Promoted": False}},
    }


class FakeNomad:
    """Implements the NomadApi methods the module_utils use. Blocking calls take their replies
    from scripted lists; a reply of None means "the wait ran out with no change" (the clock
    advances by the wait and the previous value comes back)."""

    def __init__(self, clock=None):
        self.clock = clock or FakeClock()
        self.calls = []
        self.jobs = {}
        self.plan = plan_reply()
        self.register_reply = {"EvalID": "e-1", "EvalCreateIndex": 16, "JobModifyIndex": 15, "Warnings": ""}
        self.errors = {}  # "register" / "put": an exception the call raises
        self.job_deployments = []  # [(deployment or None, index)]
        self.deployments = []  # [(deployment, index) or None]
        self.allocations = []  # [(allocs, index) or None]
        self.variables = {}
        self.parsed = None
        self._last_deployment = None
        self._last_allocs = ([], 1)

    @property
    def register_error(self):
        return self.errors.get("register")

    @register_error.setter
    def register_error(self, error):
        self.errors["register"] = error

    @property
    def put_error(self):
        return self.errors.get("put")

    @put_error.setter
    def put_error(self, error):
        self.errors["put"] = error

    def _fail_if_told(self, name):
        error = self.errors.get(name)
        if error is not None:
            raise error

    def _log(self, name, **kwargs):
        self.calls.append((name, kwargs))

    def names(self):
        return [call[0] for call in self.calls]

    def writes(self):
        writes = ("register_job", "deregister_job", "put_variable", "delete_variable")
        return [c for c in self.names() if c in writes]

    # jobs
    def get_job(self, job_id, namespace=None):
        self._log("get_job", job_id=job_id, namespace=namespace)
        return copy.deepcopy(self.jobs.get(job_id))

    def list_jobs(self, prefix=None, namespace=None):
        self._log("list_jobs", prefix=prefix, namespace=namespace)
        return [{"ID": j} for j in sorted(self.jobs) if j.startswith(prefix or "")]

    def plan_job(self, job, namespace=None):
        self._log("plan_job", job=copy.deepcopy(job), namespace=namespace)
        return copy.deepcopy(self.plan)

    def register_job(self, job, modify_index, namespace=None, submission=None):
        self._log("register_job", job=copy.deepcopy(job), modify_index=modify_index, namespace=namespace,
                  submission=submission)
        self._fail_if_told("register")
        self.jobs[job["ID"]] = dict(job, Version=self.jobs.get(job["ID"], {}).get("Version", -1) + 1)
        return dict(self.register_reply)

    def deregister_job(self, job_id, purge=False, namespace=None):
        self._log("deregister_job", job_id=job_id, purge=purge, namespace=namespace)
        return {"EvalID": "e-2"}

    def parse_hcl(self, hcl, variables=None):
        self._log("parse_hcl", hcl=hcl, variables=variables)
        return copy.deepcopy(self.parsed)

    def _next(self, script, last, wait):
        reply = script.pop(0) if script else None
        if reply is None:
            self.clock.now += wait or 0
            return last
        return reply

    def job_deployment(self, job_id, namespace=None, index=0, wait=None):
        self._log("job_deployment", job_id=job_id, index=index, wait=wait)
        reply = self._next(self.job_deployments, (None, index), wait)
        return reply

    def deployment(self, deployment_id, namespace=None, index=0, wait=None):
        self._log("deployment", deployment_id=deployment_id, index=index, wait=wait)
        reply = self._next(self.deployments, self._last_deployment or (None, index), wait)
        self._last_deployment = reply
        return reply

    def job_allocations(self, job_id, namespace=None, index=0, wait=None):
        self._log("job_allocations", job_id=job_id, index=index, wait=wait)
        reply = self._next(self.allocations, self._last_allocs, wait)
        self._last_allocs = reply
        return reply

    # variables
    def get_variable(self, path, namespace=None):
        self._log("get_variable", path=path, namespace=namespace)
        return copy.deepcopy(self.variables.get(path))

    def put_variable(self, path, items, cas, namespace=None):
        self._log("put_variable", path=path, items=dict(items), cas=cas, namespace=namespace)
        self._fail_if_told("put")
        current = self.variables.get(path)
        if (current is None and cas != 0) or (current is not None and current["ModifyIndex"] != cas):
            raise VariableConflictError("PUT", 409, f"Nomad variable {path!r} changed since this task read it")
        index = (current or {}).get("ModifyIndex", 100) + 1
        self.variables[path] = {"Namespace": namespace or "default", "Path": path, "Items": dict(items),
                                "ModifyIndex": index, "CreateIndex": 100}
        return copy.deepcopy(self.variables[path])

    def delete_variable(self, path, cas, namespace=None):
        self._log("delete_variable", path=path, cas=cas, namespace=namespace)
        current = self.variables.get(path)
        if current is not None and current["ModifyIndex"] != cas:
            raise VariableConflictError("DELETE", 409, f"Nomad variable {path!r} changed since this task read it")
        self.variables.pop(path, None)
        return True


def job_changed_error():
    return JobChangedError("register of job 'web'", 500,
                           "Nomad job 'web' was changed by someone else between this task's plan and its register "
                           "(Enforcing job modify index 12: job exists with conflicting job modify index: 14); "
                           "nothing was registered. Re-run the task to plan against the current job.")


def web_job(**overrides):
    job = {
        "ID": "web", "Name": "web", "Type": "service", "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "web", "Count": 2,
                        "Update": {"MaxParallel": 1, "AutoRevert": True, "MinHealthyTime": 5_000_000_000},
                        "Tasks": [{"Name": "app", "Driver": "podman",
                                   "Config": {"image": "nginx:1.27"}}]}],
    }
    job.update(overrides)
    return job
