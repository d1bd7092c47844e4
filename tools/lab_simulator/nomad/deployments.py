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


def list_deployments(nomad, request):
    require_method(request, "GET")
    st = nomad.st
    namespace, auth = _readable(nomad, request)
    prefix = request.arg("prefix", "")

    def body():
        found = [d for d in st.deployments.values() if d["ID"].startswith(prefix) and _visible(d, namespace, auth)]
        return [deployment_view(d) for d in sorted(found, key=lambda d: d["CreateIndex"])]
    return nomad.blocking(request, lambda: st.tables["deployment"], body)


def deployment(nomad, request, deployment_id):
    require_method(request, "GET")
    st = nomad.st
    _readable(nomad, request)

    def body():
        found = st.deployments.get(deployment_id)
        if found is None:
            fail(404, "deployment not found")
        return deployment_view(found)
    return nomad.blocking(request, lambda: (st.deployments.get(deployment_id) or {}).get(
        "ModifyIndex", st.tables["deployment"]), body)


def list_allocations(nomad, request):
    require_method(request, "GET")
    st = nomad.st
    namespace, auth = _readable(nomad, request)
    prefix = request.arg("prefix", "")

    def body():
        found = [a for a in st.allocs.values() if a["ID"].startswith(prefix) and _visible(a, namespace, auth)]
        return [alloc_stub(a) for a in sorted(found, key=lambda a: a["CreateIndex"])]
    return nomad.blocking(request, lambda: st.tables["allocs"], body)


def allocation(nomad, request, alloc_id):
    require_method(request, "GET")
    st = nomad.st
    _readable(nomad, request)

    def body():
        found = st.allocs.get(alloc_id)
        if found is None:
            fail(404, "alloc not found")
        return alloc_view(st, found)
    return nomad.blocking(request, lambda: (st.allocs.get(alloc_id) or {}).get("ModifyIndex", st.tables["allocs"]),
                          body)


def list_evaluations(nomad, request):
    require_method(request, "GET")
    st = nomad.st
    namespace, auth = _readable(nomad, request)
    prefix = request.arg("prefix", "")

    def body():
        found = [e for e in st.evals.values() if e["ID"].startswith(prefix) and _visible(e, namespace, auth)]
        return [public(e) for e in sorted(found, key=lambda e: e["CreateIndex"])]
    return nomad.blocking(request, lambda: st.tables["evals"], body)


def evaluation(nomad, request, eval_id):
    require_method(request, "GET")
    st = nomad.st
    _readable(nomad, request)

    def body():
        found = st.evals.get(eval_id)
        if found is None:
            fail(404, "eval not found")
        return public(found)
    return nomad.blocking(request, lambda: (st.evals.get(eval_id) or {}).get("ModifyIndex", st.tables["evals"]), body)
