"""Deployments, allocations and evaluations of service and batch jobs, node failure and injected
deployment failure with auto-revert."""

import datetime
import re
import threading
import time

import pytest

from tests.contract.test_nomad_helpers import (
    OTHER_IMAGE,
    SECOND,
    TIME_SCALE,
    deployment_of,
    fast_deployments,
    make_job,
    ready_node,
    register,
    running_allocs,
    wait_for,
)
from tools.testsupport.labclient import LabAdmin


@pytest.fixture(autouse=True)
def _fast(cluster):
    yield from fast_deployments(cluster)


@pytest.fixture
def node(nomad):
    return ready_node(nomad)


def test_service_deployment_succeeds_and_job_turns_stable(nomad, job_id, node):
    register(nomad, make_job(job_id, node, auto_revert=True))
    deployment = deployment_of(nomad, job_id, 0, "successful")
    assert deployment["StatusDescription"] == "Deployment completed successfully"
    group = deployment["TaskGroups"]["app"]
    assert {k: group[k] for k in ("DesiredTotal", "PlacedAllocs", "HealthyAllocs", "UnhealthyAllocs", "AutoRevert",
                                  "ProgressDeadline", "Promoted", "DesiredCanaries")} == {
        "DesiredTotal": 1, "PlacedAllocs": 1, "HealthyAllocs": 1, "UnhealthyAllocs": 0, "AutoRevert": True,
        "ProgressDeadline": 120 * SECOND, "Promoted": False, "DesiredCanaries": 0}
    job = wait_for(lambda: (j := nomad.get(f"/v1/job/{job_id}").json())["Stable"] and j, what="stable job")
    assert (job["Status"], job["Version"]) == ("running", 0)
    assert deployment["JobModifyIndex"] == job["JobModifyIndex"]


def test_latest_deployment_is_null_without_one(nomad, job_id):
    response = nomad.get(f"/v1/job/{job_id}/deployment")
    assert (response.status_code, response.text) == (200, "null")
    assert nomad.get(f"/v1/job/{job_id}/deployments").json() == []


def test_allocation_fields(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    deployment = deployment_of(nomad, job_id, 0, "successful")
    (stub,) = running_allocs(nomad, job_id)
    assert {k: stub[k] for k in ("Name", "NodeID", "NodeName", "JobID", "JobVersion", "TaskGroup", "DesiredStatus",
                                 "ClientStatus")} == {
        "Name": f"{job_id}.app[0]", "NodeID": node["ID"], "NodeName": node["Name"], "JobID": job_id,
        "JobVersion": 0, "TaskGroup": "app", "DesiredStatus": "run", "ClientStatus": "running"}
    assert stub["DeploymentStatus"]["Healthy"] is True
    response = nomad.get(f"/v1/allocation/{stub['ID']}")
    alloc = response.json()
    assert response.headers["X-Nomad-Index"] == str(alloc["ModifyIndex"])
    assert (alloc["DeploymentID"], alloc["Job"]["ID"], alloc["Job"]["Version"]) == (deployment["ID"], job_id, 0)
    assert alloc["TaskStates"]["main"]["State"] == "running"


def test_unknown_ids_are_404(nomad):
    unknown = "8c7f0e1e-0000-4000-8000-000000000000"
    for path, text in ((f"/v1/deployment/{unknown}", "deployment not found"),
                       (f"/v1/allocation/{unknown}", "alloc not found"),
                       (f"/v1/evaluation/{unknown}", "eval not found")):
        response = nomad.get(path)
        assert (response.status_code, response.text) == (404, text)


def test_deployment_blocking_query_wakes_on_progress(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    deployment = deployment_of(nomad, job_id, 0)
    response = nomad.get(f"/v1/deployment/{deployment['ID']}")
    index = int(response.headers["X-Nomad-Index"])
    if response.json()["Status"] == "running":
        again = nomad.get(f"/v1/deployment/{deployment['ID']}", params={"index": index, "wait": "60s"})
        assert int(again.headers["X-Nomad-Index"]) > index
        assert again.json()["ModifyIndex"] > index
    assert deployment_of(nomad, job_id, 0, "successful")["ModifyIndex"] >= index


def test_job_allocations_blocking_query_sees_placement(nomad, job_id, node):
    index = int(nomad.get(f"/v1/job/{job_id}/allocations").headers["X-Nomad-Index"])
    timer = threading.Timer(0.3, register, (nomad, make_job(job_id, node)))
    timer.start()
    response = nomad.get(f"/v1/job/{job_id}/allocations", params={"index": index, "wait": "30s"})
    timer.join()
    assert int(response.headers["X-Nomad-Index"]) > index
    assert [a["JobID"] for a in response.json()] == [job_id]


def test_new_version_gets_new_deployment_listed_first(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    deployment_of(nomad, job_id, 0, "successful")
    register(nomad, make_job(job_id, node, image=OTHER_IMAGE))
    second = deployment_of(nomad, job_id, 1, "successful")
    listed = nomad.get(f"/v1/job/{job_id}/deployments").json()
    assert [d["JobVersion"] for d in listed] == [1, 0]
    assert nomad.get(f"/v1/job/{job_id}/deployment").json()["ID"] == second["ID"]
    (alloc,) = running_allocs(nomad, job_id)
    assert alloc["JobVersion"] == 1
    def old_stopped():
        old = [a for a in nomad.get(f"/v1/job/{job_id}/allocations").json() if a["JobVersion"] == 0]
        return [(a["DesiredStatus"], a["ClientStatus"]) for a in old] == [("stop", "complete")]
    wait_for(old_stopped, what="the version 0 allocation stopped")


def test_unplaceable_job_leaves_blocked_eval(nomad, job_id, node):
    ghost = {"Name": f"ghost-{job_id}", "Datacenter": node["Datacenter"], "Meta": {}}
    eval_id = register(nomad, make_job(job_id, ghost))["EvalID"]
    evaluation = wait_for(lambda: (e := nomad.get(f"/v1/evaluation/{eval_id}").json())["Status"] == "complete" and e,
                          what="complete evaluation")
    assert f"${{node.unique.name}} = ghost-{job_id}" in evaluation["FailedTGAllocs"]["app"]["ConstraintFiltered"]
    blocked = [e for e in nomad.get(f"/v1/job/{job_id}/evaluations").json() if e["Status"] == "blocked"]
    assert [e["ID"] for e in blocked] == [evaluation["BlockedEval"]]
    assert blocked[0]["TriggeredBy"] == "queued-allocs"
    # Not dead: the blocked evaluation (and the new version's deployment) keep the job alive.
    assert nomad.get(f"/v1/job/{job_id}").json()["Status"] in ("pending", "running")
    assert nomad.get(f"/v1/job/{job_id}/allocations").json() == []


def test_stopped_job_stops_allocations_and_is_dead(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    wait_for(lambda: running_allocs(nomad, job_id), what="running allocation")
    nomad.delete(f"/v1/job/{job_id}")
    wait_for(lambda: nomad.get(f"/v1/job/{job_id}").json()["Status"] == "dead", what="dead job")
    allocs = nomad.get(f"/v1/job/{job_id}/allocations").json()
    assert {(a["DesiredStatus"], a["ClientStatus"]) for a in allocs} == {("stop", "complete")}


def test_batch_job_runs_to_completion(nomad, job_id, node):
    register(nomad, make_job(job_id, node, job_type="batch"))
    wait_for(lambda: nomad.get(f"/v1/job/{job_id}").json()["Status"] == "dead", what="finished batch job")
    (alloc,) = nomad.get(f"/v1/job/{job_id}/allocations").json()
    assert (alloc["ClientStatus"], alloc["DesiredStatus"], alloc["DeploymentStatus"]) == ("complete", "run", None)
    assert nomad.get(f"/v1/job/{job_id}/deployment").json() is None


@pytest.mark.simulator_only
def test_failed_deployment_auto_reverts_to_stable_version(nomad, job_id, node, lab):
    register(nomad, make_job(job_id, node, auto_revert=True))
    deployment_of(nomad, job_id, 0, "successful")
    lab.fail_next_deployment(job_id)
    register(nomad, make_job(job_id, node, image=OTHER_IMAGE, auto_revert=True))
    failed = deployment_of(nomad, job_id, 1, "failed")
    assert failed["StatusDescription"] == "Failed due to unhealthy allocations - rolling back to job version 0"
    assert failed["TaskGroups"]["app"]["UnhealthyAllocs"] == 1
    deployment_of(nomad, job_id, 2, "successful")
    job = nomad.get(f"/v1/job/{job_id}").json()
    assert (job["Version"], job["Stable"]) == (2, True)
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] != OTHER_IMAGE


@pytest.mark.simulator_only
def test_failed_deployment_without_auto_revert_stays_failed(nomad, job_id, node, lab):
    lab.fail_next_deployment(job_id)
    register(nomad, make_job(job_id, node))
    failed = deployment_of(nomad, job_id, 0, "failed")
    assert failed["StatusDescription"] == "Failed due to unhealthy allocations"
    unhealthy = [a for a in nomad.get(f"/v1/job/{job_id}/allocations").json() if a["DeploymentStatus"]]
    assert [a["DeploymentStatus"]["Healthy"] for a in unhealthy] == [False]
    assert nomad.get(f"/v1/job/{job_id}").json()["Stable"] is False


@pytest.mark.simulator_only
def test_auto_revert_without_stable_version_says_so(nomad, job_id, node, lab):
    lab.fail_next_deployment(job_id)
    register(nomad, make_job(job_id, node, auto_revert=True))
    failed = deployment_of(nomad, job_id, 0, "failed")
    assert failed["StatusDescription"] == ("Failed due to unhealthy allocations - no stable job version to auto "
                                           "revert to")


@pytest.mark.simulator_only
def test_node_down_loses_allocs_and_recovers_when_back(nomad, job_id, node, lab):
    register(nomad, make_job(job_id, node))
    (alloc,) = wait_for(lambda: running_allocs(nomad, job_id), what="running allocation")
    try:
        lab.node(node["Name"], up=False)
        assert nomad.get(f"/v1/node/{node['ID']}").json()["Status"] == "down"
        lost = nomad.get(f"/v1/allocation/{alloc['ID']}").json()
        assert (lost["ClientStatus"], lost["DesiredStatus"]) == ("lost", "stop")
        blocked = [e for e in nomad.get(f"/v1/job/{job_id}/evaluations").json() if e["Status"] == "blocked"]
        assert len(blocked) == 1
        plan = nomad.post(f"/v1/job/{job_id}/plan", json={"Job": make_job(job_id, node)}).json()
        ready = [n for n in nomad.get("/v1/nodes").json() if n["Status"] == "ready"]
        assert plan["FailedTGAllocs"]["app"]["NodesEvaluated"] == len(ready)
    finally:
        lab.node(node["Name"], up=True)
    (replacement,) = wait_for(lambda: running_allocs(nomad, job_id), what="replacement allocation")
    assert replacement["ID"] != alloc["ID"] and replacement["NodeName"] == node["Name"]


@pytest.mark.simulator_only
def test_no_placement_starts_no_progress_deadline(nomad, job_id, node, lab):
    """RequireProgressBy starts with the first placed allocation (state_store.go), so a deployment that could
    place nothing is not failed by its progress deadline."""
    lab.node(node["Name"], up=False)
    try:
        register(nomad, make_job(job_id, node))
        stuck = deployment_of(nomad, job_id, 0, "running")
        assert stuck["TaskGroups"]["app"]["PlacedAllocs"] == 0
        lab.advance_clock(121 * TIME_SCALE)  # past make_job's 120 s progress deadline, lab-scaled
        still = deployment_of(nomad, job_id, 0)
        assert still["Status"] == "running" and still["TaskGroups"]["app"]["RequireProgressBy"].startswith("0001-")
    finally:
        lab.node(node["Name"], up=True)


@pytest.mark.simulator_only
def test_progress_deadline_fails_a_stuck_deployment(nomad, job_id, node, lab):
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Update"]["HealthCheck"] = "manual"  # nothing but an operator makes it healthy
    register(nomad, job)
    wait_for(lambda: running_allocs(nomad, job_id), what="running allocation")
    stuck = deployment_of(nomad, job_id, 0, "running")
    assert not stuck["TaskGroups"]["app"]["RequireProgressBy"].startswith("0001-")
    lab.advance_clock(121 * TIME_SCALE)
    failed = deployment_of(nomad, job_id, 0, "failed")
    assert failed["StatusDescription"] == "Failed due to progress deadline"


def test_deployment_waits_for_the_jobs_min_healthy_time(nomad, job_id, node, cluster):
    """update.min_healthy_time 3 s: never successful before 3 s (the lab at time scale 1)."""
    if cluster["admin"]:
        LabAdmin(cluster["admin"]).config(time_scale=1)
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Update"].update(MinHealthyTime=3 * SECOND, HealthyDeadline=30 * SECOND)
    started = time.monotonic()
    register(nomad, job)
    wait_for(lambda: running_allocs(nomad, job_id), what="running allocation")
    seen = []
    while time.monotonic() - started < 2.8:
        seen.append(deployment_of(nomad, job_id, 0)["Status"])
        time.sleep(0.1)
    assert set(seen) == {"running"}, seen
    deployment_of(nomad, job_id, 0, "successful")
    assert time.monotonic() - started >= 3
    (alloc,) = running_allocs(nomad, job_id)
    healthy_at = alloc["DeploymentStatus"]["Timestamp"]
    started_at = alloc["TaskStates"]["main"]["StartedAt"]
    assert _seconds(healthy_at) - _seconds(started_at) >= 3


@pytest.mark.simulator_only
def test_unhealthy_allocation_is_judged_at_the_jobs_healthy_deadline(nomad, job_id, node, lab):
    """Checks that never pass make the allocation unhealthy at update.healthy_deadline, not before."""
    lab.fail_next_deployment(job_id)
    register(nomad, make_job(job_id, node))
    wait_for(lambda: running_allocs(nomad, job_id), what="running allocation")
    # make_job's healthy_deadline is 60 s. The clock also runs in real time (60 s is 3 s here), so the check
    # "not before" leaves 15 s of job time (0.75 s real) for the polling and a loaded machine.
    lab.advance_clock(45 * TIME_SCALE)
    assert deployment_of(nomad, job_id, 0)["Status"] == "running"
    lab.advance_clock(17 * TIME_SCALE)
    failed = deployment_of(nomad, job_id, 0, "failed")
    assert failed["StatusDescription"] == "Failed due to unhealthy allocations"


def _seconds(text):
    """An RFC 3339 time of the API (nanoseconds, Z or an offset) as seconds since the epoch."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    base = datetime.datetime.fromisoformat(match[1] + ("+00:00" if match[3] == "Z" else match[3]))
    return base.timestamp() + float(f"0.{match[2] or 0}")
