"""Read endpoints for what the engine produces: deployments, allocations and evaluations
(command/agent/{deployment,alloc,eval}_endpoint.go). All need read-job on the namespace."""

from __future__ import annotations

from .acl import authorize
from .common import fail, public, require_method

_STUB_FIELDS = ("ID", "EvalID", "Name", "Namespace", "NodeID", "NodeName", "JobID", "JobType", "JobVersion",
                "TaskGroup", "DesiredStatus", "DesiredDescription", "ClientStatus", "ClientDescription",
                "DesiredTransition", "TaskStates", "DeploymentStatus", "FollowupEvalID", "NextAllocation",
                "RescheduleTracker", "PreemptedAllocations", "PreemptedByAllocation", "CreateIndex", "ModifyIndex",
                "CreateTime", "ModifyTime")


def deployment_view(deployment):
    view = public(deployment)
    view["TaskGroups"] = {name: public(state) for name, state in deployment["TaskGroups"].items()}
    return view


def alloc_stub(alloc):
    return {k: alloc[k] for k in _STUB_FIELDS}


def alloc_view(st, alloc):
    """The full Allocation: the stub's fields plus the job version it runs and its resources."""
    job = st.job_version(alloc["Namespace"], alloc["JobID"], alloc["JobVersion"])
    group = next((g for g in (job or {}).get("TaskGroups") or () if g["Name"] == alloc["TaskGroup"]), None)
    tasks = (group or {}).get("Tasks") or []
    view = {k: v for k, v in public(alloc).items() if k != "JobType"}
    view.update(
        Job=job, Resources=None, SharedResources=None, TaskResources=None, Metrics=None, AllocStates=None,
        NetworkStatus=None, SigningKeyID="",
        AllocatedResources={
            "Tasks": {t["Name"]: {"Cpu": {"CpuShares": t["Resources"]["CPU"], "ReservedCores": None},
                                  "Memory": {"MemoryMB": t["Resources"]["MemoryMB"],
                                             "MemoryMaxMB": t["Resources"]["MemoryMaxMB"]},
                                  "Networks": None, "Devices": None} for t in tasks},
            "TaskLifecycles": {t["Name"]: t["Lifecycle"] for t in tasks},
            "Shared": {"DiskMB": (group or {}).get("EphemeralDisk", {}).get("SizeMB", 0), "Networks": None,
                       "Ports": None}})
    return view


def _namespace(request):
    return request.arg("namespace") or "default"


def _readable(nomad, request):
    namespace = _namespace(request)
    auth = authorize(nomad.st, request)
    auth.require_ns(namespace, "read-job")
    return namespace, auth


def _visible(record, namespace, auth):
    return namespace in ("*", record["Namespace"]) and auth.ns_allows(record["Namespace"], "read-job")


def _list(nomad, request, records, table, view):
    """GET /v1/<records>: the visible records whose ID starts with ?prefix, oldest first (blocking)."""
    require_method(request, "GET")
    st = nomad.st
    namespace, auth = _readable(nomad, request)
    prefix = request.arg("prefix", "")

    def body():
        found = [r for r in getattr(st, records).values()
                 if r["ID"].startswith(prefix) and _visible(r, namespace, auth)]
        return [view(r) for r in sorted(found, key=lambda r: r["CreateIndex"])]
    return nomad.blocking(request, lambda: st.tables[table], body)


def _one(nomad, request, records, table, record_id, view, missing):
    """GET /v1/<record>/<id>: one record, or 404 with Nomad's message (blocking on its ModifyIndex)."""
    require_method(request, "GET")
    st = nomad.st
    _readable(nomad, request)

    def body():
        found = getattr(st, records).get(record_id)
        if found is None:
            fail(404, missing)
        return view(found)
    return nomad.blocking(request, lambda: (getattr(st, records).get(record_id) or {}).get(
        "ModifyIndex", st.tables[table]), body)


def list_deployments(nomad, request):
    return _list(nomad, request, "deployments", "deployment", deployment_view)


def deployment(nomad, request, deployment_id):
    return _one(nomad, request, "deployments", "deployment", deployment_id, deployment_view, "deployment not found")


def list_allocations(nomad, request):
    return _list(nomad, request, "allocs", "allocs", alloc_stub)


def allocation(nomad, request, alloc_id):
    return _one(nomad, request, "allocs", "allocs", alloc_id, lambda a: alloc_view(nomad.st, a), "alloc not found")


def list_evaluations(nomad, request):
    return _list(nomad, request, "evals", "evals", public)


def evaluation(nomad, request, eval_id):
    return _one(nomad, request, "evals", "evals", eval_id, public, "eval not found")
