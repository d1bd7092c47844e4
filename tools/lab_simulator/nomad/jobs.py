"""Job endpoints: /v1/jobs, /v1/job/<id> and its sub-resources (command/agent/job_endpoint.go and
nomad/job_endpoint.go). Errors that Nomad returns from its RPC layer without a code are 500s, as
in the real agent (validation, EnforceIndex conflicts, revert problems)."""

from __future__ import annotations

import copy

from . import clientside, scheduler
from .acl import authorize
from .canonical import canonicalize, spec_changed
from .common import fail, parse_bool, public, reply, require_method, rfc3339
from .deployments import alloc_stub, deployment_view
from .diff import job_diff
from .schema import Normalizer
from .validate import job_errors, job_warnings

PARSE_UNSUPPORTED = ("HCL parsing (POST /v1/jobs/parse) is only available on a real Nomad: the lab simulator "
                     "accepts JSON jobs only; run this code path against a live cluster")
_ENFORCE = "Enforcing job modify index"


def _write_meta(index):
    return {"Index": index, "LastContact": 0, "KnownLeader": False, "NextToken": ""}


def _namespace(request):
    return request.arg("namespace") or "default"


# -- decoding a submitted job ---------------------------------------------------------------------

def _decode(nomad, request, envelope, path_id, id_missing, id_mismatch):
    """Decode a register/plan body into (request fields, canonical job, namespace, auth)."""
    if not request.body:
        fail(400, "Request body is empty")
    body = request.json() or {}
    if not isinstance(body, dict):
        fail(400, f"json: cannot unmarshal array into Go value of type api.{envelope}")
    normalizer = Normalizer(nomad.lab.config["strict"])
    # Unknown fields are named from the Job down (TaskGroups[0]...), so the Job is decoded apart.
    raw_job = next((v for k, v in body.items() if k.lower() == "job"), None)
    fields = normalizer.struct({k: v for k, v in body.items() if k.lower() != "job"}, envelope)
    api_job = normalizer.value(raw_job, "Job", "", "Job", f"{envelope}.Job")
    if api_job is None:
        fail(400, "Job must be specified")
    if api_job.get("ID") is None:
        fail(400, id_missing)
    if path_id is not None and api_job["ID"] != path_id:
        fail(400, id_mismatch)
    region = request.arg("region") or fields.get("Region") or api_job.get("Region") or "global"
    if region != "global":
        fail(500, "No path to region")
    namespace = request.arg("namespace") or fields.get("Namespace") or api_job.get("Namespace") or "default"
    auth = authorize(nomad.st, request)
    job = canonicalize(api_job, namespace, "global")
    errors = job_errors(job, nomad.lab.config["job_max_count"])
    if errors:
        fail(500, errors)
    if namespace not in nomad.st.namespaces:
        fail(500, f'1 error occurred:\n\t* job "{job["ID"]}" is in nonexistent namespace "{namespace}"\n\n')
    return fields, job, namespace, auth


def _check_update(existing, job):
    """validateJobUpdate."""
    if existing is None:
        if job["Dispatched"]:
            fail(500, "job can't be submitted with 'Dispatched' set")
        return
    if existing["Type"] != job["Type"]:
        fail(500, f'cannot update job from type "{existing["Type"]}" to "{job["Type"]}"')
    for key, name in (("Periodic", "periodic"), ("ParameterizedJob", "parameterized")):
        if (existing[key] is None) != (job[key] is None):
            fail(500, f"cannot update {name} job to being non-{name}" if job[key] is None
                 else f"cannot update non-{name} job to being {name}")


def _enforce_index(existing, wanted):
    """Job.EnforceIndex, with its exact texts."""
    if existing is not None:
        if wanted == 0:
            fail(500, f"{_ENFORCE} 0: job already exists")
        if wanted != existing["JobModifyIndex"]:
            fail(500, f"{_ENFORCE} {wanted}: job exists with conflicting job modify index: "
                      f"{existing['JobModifyIndex']}")
    elif wanted != 0:
        fail(500, f"{_ENFORCE} {wanted}: job does not exist")


def _register(nomad, job, auth, enforce=None, priority=None):
    """doRegister after admission: permission, EnforceIndex, update rules, then the new version."""
    st = nomad.st
    existing = st.job(job["Namespace"], job["ID"])
    if enforce is not None:
        _enforce_index(existing, enforce)
    _check_update(existing, job)
    if st.lab.acl_token is not None and auth.token is not None:
        job["NomadTokenID"] = auth.token["AccessorID"]
    previous_modify = existing["ModifyIndex"] if existing else 0
    stored, evaluation, changed = nomad.engine.submit(job, priority=priority)
    index = evaluation["CreateIndex"] if evaluation else stored["ModifyIndex"]
    body = {"EvalID": evaluation["ID"] if evaluation else "",
            "EvalCreateIndex": evaluation["CreateIndex"] if evaluation else 0,
            "JobModifyIndex": stored["JobModifyIndex"] if changed else previous_modify,
            "Warnings": job_warnings(job, st.lab.config)}
    body.update(_write_meta(index))
    return reply(body, index, query_meta=False)


# -- handlers --------------------------------------------------------------------------------------

def jobs(nomad, request):
    if request.method == "GET":
        return _list(nomad, request)
    require_method(request, "PUT", "POST")
    return _submit(nomad, request, None)


def _submit(nomad, request, path_id):
    fields, job, namespace, auth = _decode(nomad, request, "JobRegisterRequest", path_id,
                                           "Job ID hasn't been provided", "Job ID does not match name")
    if job["Type"] == "system" and any(g["Scaling"] for g in job["TaskGroups"] or ()):
        fail(400, "Task groups with job type system do not support scaling blocks")
    auth.require_ns(namespace, "submit-job", "register-job")
    enforce = (fields.get("JobModifyIndex") or 0) if fields.get("EnforceIndex") else None
    return _register(nomad, job, auth, enforce, fields.get("EvalPriority") or None)


def _list(nomad, request):
    st, namespace = nomad.st, _namespace(request)
    auth = authorize(st, request)
    auth.require_ns(namespace, "list-jobs")
    prefix, with_meta = request.arg("prefix", ""), parse_bool(request, "meta")

    def body():
        stubs = []
        for job in sorted(st.jobs.values(), key=lambda j: (j["Namespace"], j["ID"])):
            if (namespace in ("*", job["Namespace"]) and job["ID"].startswith(prefix)
                    and auth.ns_allows(job["Namespace"], "list-jobs")):
                stubs.append(_stub(nomad, job, with_meta))
        return stubs
    return nomad.blocking(request, lambda: max(st.tables["jobs"], st.tables["job_summary"]), body)


def _stub(nomad, job, with_meta):
    stub = {k: job[k] for k in ("ID", "ParentID", "Name", "Namespace", "Datacenters", "NodePool", "Multiregion",
                                "Type", "Priority")}
    stub.update(Periodic=job["Periodic"] is not None, ParameterizedJob=job["ParameterizedJob"] is not None,
                Stop=job["Stop"], Status=job["Status"], StatusDescription=job["StatusDescription"],
                JobSummary=nomad.engine.summary(job), CreateIndex=job["CreateIndex"], ModifyIndex=job["ModifyIndex"],
                JobModifyIndex=job["JobModifyIndex"], SubmitTime=job["SubmitTime"])
    if with_meta:
        stub["Meta"] = job["Meta"]
    return stub


def parse(nomad, request):
    fail(501, PARSE_UNSUPPORTED)


def job(nomad, request, job_id):
    if request.method == "GET":
        return _read(nomad, request, job_id, "read-job", lambda job: job, index=lambda job: job["ModifyIndex"])
    if request.method in ("PUT", "POST"):
        return _submit(nomad, request, job_id)
    require_method(request, "DELETE")
    return _deregister(nomad, request, job_id)


def _read(nomad, request, job_id, capability, body, index, missing="job not found"):
    """A blocking read of something about one job; `body`/`index` get the job (404 if absent)."""
    st, namespace = nomad.st, _namespace(request)
    authorize(st, request).require_ns(namespace, capability)

    def current_index():
        job = st.job(namespace, job_id)
        return index(job) if job else st.tables["jobs"]

    def current_body():
        job = st.job(namespace, job_id)
        if job is None:
            fail(404, missing)
        return body(job)
    return nomad.blocking(request, current_index, current_body)


def _deregister(nomad, request, job_id):
    st, namespace = nomad.st, _namespace(request)
    purge = parse_bool(request, "purge")
    needed = ("submit-job", "purge-job") + (() if purge else ("deregister-job",))
    authorize(st, request).require_ns(namespace, *needed)
    job = st.job(namespace, job_id)
    body = {"EvalID": "", "EvalCreateIndex": 0, "JobModifyIndex": 0, "VolumeEvalID": "", "VolumeEvalIndex": 0}
    if job is None:
        body.update(_write_meta(0))
        return reply(body, 0, query_meta=False)
    evaluation, index = nomad.engine.stop(job, purge)
    body.update(EvalID=evaluation["ID"], EvalCreateIndex=index, JobModifyIndex=index)
    body.update(_write_meta(index))
    return reply(body, index, query_meta=False)


def merge_warnings(*texts):
    """The plan's Warnings string: Nomad's own admission warnings, then the lab client check's findings."""
    return "\n\n".join(text for text in texts if text)


def plan(nomad, request, job_id):
    require_method(request, "PUT", "POST")
    fields, job, namespace, auth = _decode(nomad, request, "JobPlanRequest", job_id, "Job must have a valid ID",
                                           "Job ID does not match")
    auth.require_ns(namespace, "submit-job", "plan-job")
    st = nomad.st
    existing = st.job(namespace, job["ID"])
    index = existing["JobModifyIndex"] if existing else 0
    if existing is None:
        candidate = dict(job, CreateIndex=100, ModifyIndex=100, JobModifyIndex=100)
    elif spec_changed(existing, job):
        candidate = dict(job, Version=existing["Version"] + 1, JobModifyIndex=existing["JobModifyIndex"] + 1)
    else:
        candidate = existing
    decisions = nomad.engine.decide(candidate)
    desired = {name: d["updates"] for name, d in decisions.items()}
    failed = {name: d["failed"] for name, d in decisions.items() if d["failed"]}
    diff = None
    if fields.get("Diff"):
        diff = job_diff(existing, job)
        scheduler.annotate(diff, desired)
    created = None
    if failed:
        created = [{"ID": "", "Namespace": namespace, "Priority": job["Priority"], "Type": job["Type"],
                    "TriggeredBy": "queued-allocs", "JobID": job["ID"], "Status": "blocked",
                    "StatusDescription": "created to place remaining allocations", "FailedTGAllocs": failed}]
    body = {"Annotations": {"DesiredTGUpdates": desired, "PreemptedAllocs": None}, "FailedTGAllocs": failed or None,
            "JobModifyIndex": index, "CreatedEvals": created, "Diff": diff, "NextPeriodicLaunch": rfc3339(0),
            "Warnings": merge_warnings(job_warnings(job, st.lab.config),
                                       clientside.plan_warnings(st, job, _plan_node(st, decisions, existing))),
            "Index": index}
    return reply(body, index, query_meta=False)


def _plan_node(st, decisions, existing):
    """The node the plan places on (or that runs the job now): its attributes and meta feed the
    client check's interpolation; None lets the checker use a sample rootless podman node."""
    for decision in decisions.values():
        for _position, node, _previous in decision["targets"]:
            return node
    for alloc in st.job_allocs(existing) if existing else ():
        node = st.node_by_id(alloc["NodeID"])
        if node:
            return node
    return None


def versions(nomad, request, job_id):
    require_method(request, "GET")
    st, namespace = nomad.st, _namespace(request)
    authorize(st, request).require_ns(namespace, "read-job")
    with_diffs = parse_bool(request, "diffs")

    def stored():
        return sorted(st.versions.get(f"{namespace}/{job_id}", {}).values(), key=lambda v: -v["Version"])

    def index():
        return max((v["ModifyIndex"] for v in stored()), default=st.tables["job_version"])

    def body():
        found = stored()
        if not found:
            fail(404, "job versions not found")
        diffs = [job_diff(found[i + 1], found[i]) for i in range(len(found) - 1)] if with_diffs else None
        return {"Versions": found, "Diffs": diffs, "Index": max(index(), 1), "LastContact": 0, "KnownLeader": True,
                "NextToken": ""}
    return nomad.blocking(request, index, body)


def revert(nomad, request, job_id):
    require_method(request, "PUT", "POST")
    body = request.json({}) or {}
    if not body.get("JobID"):
        fail(400, "JobID must be specified")
    if body["JobID"] != job_id:
        fail(400, "Job ID does not match")
    st, namespace = nomad.st, _namespace(request)
    auth = authorize(st, request)
    auth.require_ns(namespace, "submit-job", "revert-job")
    current = st.job(namespace, job_id)
    if current is None:
        fail(500, f'job "{job_id}" not found')
    wanted = body.get("JobVersion") or 0
    if wanted == current["Version"]:
        fail(500, "can't revert to current version")
    target = st.job_version(namespace, job_id, wanted)
    if target is None:
        fail(500, f'job "{job_id}" in namespace "{namespace}" at version {wanted} not found')
    enforce = None
    prior = body.get("EnforcePriorVersion")
    if prior is not None:
        if current["Version"] != prior:
            fail(500, f"Current job has version {current['Version']}; enforcing version {prior}")
        enforce = current["JobModifyIndex"]
    reverted = copy.deepcopy(target)
    reverted.update(VersionTag=None, Stable=False)
    return _register(nomad, reverted, auth, enforce)


def allocations(nomad, request, job_id):
    require_method(request, "GET")
    st = nomad.st

    def allocs(job):
        return sorted(st.job_allocs(job), key=lambda a: a["CreateIndex"])
    return _list_for_job(nomad, request, job_id, lambda job: [alloc_stub(a) for a in allocs(job)],
                         lambda job: max((a["ModifyIndex"] for a in allocs(job)), default=st.tables["allocs"]))


def evaluations(nomad, request, job_id):
    require_method(request, "GET")
    st = nomad.st

    def evals(job):
        return sorted((e for e in st.evals.values() if e["Namespace"] == job["Namespace"] and e["JobID"] == job["ID"]),
                      key=lambda e: e["CreateIndex"])
    return _list_for_job(nomad, request, job_id, lambda job: [public(e) for e in evals(job)],
                         lambda job: st.tables["evals"])


def _job_deployments(st, job):
    mine = [d for d in st.deployments.values() if d["Namespace"] == job["Namespace"] and d["JobID"] == job["ID"]]
    return sorted(mine, key=lambda d: -d["CreateIndex"])


def deployments(nomad, request, job_id):
    require_method(request, "GET")
    st = nomad.st
    return _list_for_job(nomad, request, job_id,
                         lambda job: [deployment_view(d) for d in _job_deployments(st, job)],
                         lambda job: max((d["ModifyIndex"] for d in _job_deployments(st, job)),
                                         default=st.tables["deployment"]))


def latest_deployment(nomad, request, job_id):
    require_method(request, "GET")
    st = nomad.st

    def latest(job):
        found = _job_deployments(st, job)
        return found[0] if found else None
    return _list_for_job(nomad, request, job_id,
                         lambda job: deployment_view(latest(job)) if latest(job) else None,
                         lambda job: latest(job)["ModifyIndex"] if latest(job) else st.tables["deployment"])


def summary(nomad, request, job_id):
    require_method(request, "GET")
    return _read(nomad, request, job_id, "read-job", nomad.engine.summary,
                 index=lambda job: nomad.st.tables["job_summary"])


def _list_for_job(nomad, request, job_id, body, index):
    """Job sub-lists answer for any job ID (an unknown job has no allocations): no 404."""
    st, namespace = nomad.st, _namespace(request)
    authorize(st, request).require_ns(namespace, "read-job")
    placeholder = {"Namespace": namespace, "ID": job_id}

    def current():
        return st.job(namespace, job_id) or placeholder
    return nomad.blocking(request, lambda: index(current()), lambda: body(current()))
