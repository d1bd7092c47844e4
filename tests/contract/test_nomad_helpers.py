"""Shared helpers for the Nomad contract tests (named test_nomad_* to stay within this suite's
files; it holds no tests). Jobs are tiny podman containers pinned to one real node read from
/v1/nodes, so the same tests deploy for real when OCTANT_LIVE=1."""

from __future__ import annotations

import time

from tools.testsupport.labclient import LabAdmin, live_mode

LIVE = live_mode()
TIMEOUT = 240 if LIVE else 20
IMAGE = "docker.io/library/busybox:1.36"
OTHER_IMAGE = "docker.io/library/busybox:1.37"
SECOND = 1_000_000_000
# Simulator: the jobs' own update durations run this much faster (make_job's min_healthy_time 1 s -> 0.05 s,
# healthy_deadline 60 s -> 3 s, progress_deadline 120 s -> 6 s).
TIME_SCALE = 0.05


def fast_deployments(cluster_info):
    """Fixture body: make simulated deployments finish quickly, then restore the default."""
    admin = LabAdmin(cluster_info["admin"]) if cluster_info["admin"] else None
    if admin:
        before = admin.config()["time_scale"]
        admin.config(time_scale=TIME_SCALE)
    yield
    if admin:
        admin.config(time_scale=before, strict=True)


def ready_node(nomad):
    """A ready node with a healthy podman driver (full node record)."""
    stubs = nomad.get("/v1/nodes").json()
    for stub in sorted(stubs, key=lambda s: s["Name"]):
        podman = (stub.get("Drivers") or {}).get("podman") or {}
        if stub["Status"] == "ready" and podman.get("Detected") and podman.get("Healthy"):
            return nomad.get(f"/v1/node/{stub['ID']}").json()
    raise AssertionError("no ready node with a healthy podman driver")


def make_job(job_id, node, count=1, image=IMAGE, job_type="service", auto_revert=False):
    """An API job running `sleep` in busybox on `node` (rootless podman nodes: pinned there too)."""
    constraints = [{"LTarget": "${node.unique.name}", "RTarget": node["Name"], "Operand": "="}]
    if (node.get("Attributes") or {}).get("driver.podman.rootless") == "true":
        constraints.append({"LTarget": "${attr.driver.podman.rootless}", "RTarget": "true", "Operand": "="})
    group = {
        "Name": "app", "Count": count, "Constraints": constraints,
        "Tasks": [{"Name": "main", "Driver": "podman",
                   "Config": {"image": image, "command": "sleep", "args": ["3600" if job_type == "service" else "1"]},
                   "Resources": {"CPU": 50, "MemoryMB": 32}}],
    }
    if job_type == "service":
        group["Update"] = {"MaxParallel": 1, "HealthCheck": "task_states", "MinHealthyTime": 1 * SECOND,
                           "HealthyDeadline": 60 * SECOND, "ProgressDeadline": 120 * SECOND,
                           "AutoRevert": auto_revert}
    else:
        group["RestartPolicy"] = {"Attempts": 0, "Mode": "fail"}
        group["ReschedulePolicy"] = {"Attempts": 0, "Unlimited": False}
    return {"ID": job_id, "Name": job_id, "Type": job_type, "Datacenters": [node["Datacenter"]],
            "TaskGroups": [group]}


def register(nomad, job, **request):
    response = nomad.put("/v1/jobs", json={"Job": job, **request})
    assert response.status_code == 200, response.text
    return response.json()


def register_placed(nomad, job):
    """Register and wait until the scheduler has placed the job's allocations (plans of an
    existing job count what happens to them)."""
    body = register(nomad, job)
    wait_for(lambda: nomad.get(f"/v1/job/{job['ID']}/allocations").json(), what=f"allocations of {job['ID']}")
    return body


def wait_for(check, timeout=TIMEOUT, what="condition"):
    """Poll `check` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2 if LIVE else 0.05)


def deployment_of(nomad, job_id, version, status=None):
    """Wait for the deployment of a job version (optionally in a given status); return it."""
    def check():
        for deployment in nomad.get(f"/v1/job/{job_id}/deployments").json():
            if deployment["JobVersion"] == version and (status is None or deployment["Status"] == status):
                return deployment
        return None
    return wait_for(check, what=f"deployment of {job_id} v{version} {status or ''}")


def running_allocs(nomad, job_id):
    return [a for a in nomad.get(f"/v1/job/{job_id}/allocations").json()
            if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"]
