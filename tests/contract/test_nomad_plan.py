"""POST /v1/job/<id>/plan: diffs (diff.go conventions), annotations (annotate.go) and the
scheduler's DesiredTGUpdates, as `nomad job plan` and an idempotent submit rely on them."""

import pytest

from tests.contract.test_nomad_helpers import (
    IMAGE,
    OTHER_IMAGE,
    SECOND,
    fast_deployments,
    make_job,
    ready_node,
    register_placed,
)

_COUNTS = ("Place", "Ignore", "Stop", "InPlaceUpdate", "DestructiveUpdate", "Canary")


@pytest.fixture(autouse=True)
def _fast(cluster):
    yield from fast_deployments(cluster)


@pytest.fixture
def node(nomad):
    return ready_node(nomad)


def _plan(nomad, job, diff=True):
    response = nomad.post(f"/v1/job/{job['ID']}/plan", json={"Job": job, "Diff": diff})
    assert response.status_code == 200, response.text
    return response.json()


def _counts(plan, group="app"):
    return {k: plan["Annotations"]["DesiredTGUpdates"][group][k] for k in _COUNTS}


def _task(plan):
    return plan["Diff"]["TaskGroups"][0]["Tasks"][0]


def test_plan_of_new_job_is_all_added(nomad, job_id, node):
    response = nomad.post(f"/v1/job/{job_id}/plan", json={"Job": make_job(job_id, node), "Diff": True})
    plan = response.json()
    assert response.headers["X-Nomad-Index"] == "0"
    assert (plan["JobModifyIndex"], plan["FailedTGAllocs"], plan["CreatedEvals"]) == (0, None, None)
    assert _counts(plan) == {"Place": 1, "Ignore": 0, "Stop": 0, "InPlaceUpdate": 0, "DestructiveUpdate": 0,
                             "Canary": 0}
    diff = plan["Diff"]
    assert (diff["Type"], diff["ID"]) == ("Added", job_id)
    assert {"Type": "Added", "Name": "Type", "Old": "", "New": "service", "Annotations": None} in diff["Fields"]
    group = diff["TaskGroups"][0]
    assert (group["Type"], group["Name"], group["Updates"]) == ("Added", "app", {"create": 1})
    count = {"Type": "Added", "Name": "Count", "Old": "", "New": "1", "Annotations": ["forces create"]}
    assert count in group["Fields"]
    task = group["Tasks"][0]
    assert (task["Type"], task["Name"], task["Annotations"]) == ("Added", "main", ["forces create"])
    assert {"Type": "Added", "Name": "Driver", "Old": "", "New": "podman", "Annotations": None} in task["Fields"]


def test_plan_of_unchanged_job_is_none_and_ignore(nomad, job_id, node):
    registered = register_placed(nomad, make_job(job_id, node))
    plan = _plan(nomad, make_job(job_id, node))
    assert plan["JobModifyIndex"] == registered["JobModifyIndex"]
    assert _counts(plan) == {"Place": 0, "Ignore": 1, "Stop": 0, "InPlaceUpdate": 0, "DestructiveUpdate": 0,
                             "Canary": 0}
    assert plan["Diff"] == {
        "Type": "None", "ID": job_id, "Fields": None, "Objects": None,
        "TaskGroups": [{"Type": "None", "Name": "app", "Fields": None, "Objects": None, "Updates": {"ignore": 1},
                        "Tasks": [{"Type": "None", "Name": "main", "Fields": None, "Objects": None,
                                   "Annotations": None}]}]}


def test_plan_of_image_change_forces_destructive_update(nomad, job_id, node):
    register_placed(nomad, make_job(job_id, node))
    plan = _plan(nomad, make_job(job_id, node, image=OTHER_IMAGE))
    assert plan["Diff"]["Type"] == "Edited"
    assert _counts(plan)["DestructiveUpdate"] == 1
    task = _task(plan)
    assert (task["Type"], task["Fields"], task["Annotations"]) == ("Edited", None, ["forces create/destroy update"])
    assert task["Objects"] == [{"Type": "Edited", "Name": "Config", "Objects": None, "Fields": [
        {"Type": "None", "Name": "args[0]", "Old": "3600", "New": "3600", "Annotations": None},
        {"Type": "None", "Name": "command", "Old": "sleep", "New": "sleep", "Annotations": None},
        {"Type": "Edited", "Name": "image", "Old": IMAGE, "New": OTHER_IMAGE, "Annotations": None}]}]
    assert plan["Diff"]["TaskGroups"][0]["Updates"] == {"create/destroy update": 1}


def test_plan_of_kill_timeout_change_is_in_place(nomad, job_id, node):
    register_placed(nomad, make_job(job_id, node))
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Tasks"][0]["KillTimeout"] = 10 * SECOND
    plan = _plan(nomad, job)
    assert _task(plan)["Fields"] == [{"Type": "Edited", "Name": "KillTimeout", "Old": str(5 * SECOND),
                                      "New": str(10 * SECOND), "Annotations": None}]
    assert _task(plan)["Annotations"] == ["forces in-place update"]
    assert _counts(plan)["InPlaceUpdate"] == 1


def test_plan_of_added_task_constraint_is_in_place(nomad, job_id, node):
    register_placed(nomad, make_job(job_id, node))
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Tasks"][0]["Constraints"] = [
        {"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="}]
    plan = _plan(nomad, job)
    assert _task(plan)["Objects"] == [{"Type": "Added", "Name": "Constraint", "Objects": None, "Fields": [
        {"Type": "Added", "Name": "LTarget", "Old": "", "New": "${attr.kernel.name}", "Annotations": None},
        {"Type": "Added", "Name": "Operand", "Old": "", "New": "=", "Annotations": None},
        {"Type": "Added", "Name": "RTarget", "Old": "", "New": "linux", "Annotations": None}]}]
    assert _task(plan)["Annotations"] == ["forces in-place update"]


def test_plan_of_count_increase_places_and_updates_in_place(nomad, job_id, node):
    register_placed(nomad, make_job(job_id, node))
    plan = _plan(nomad, make_job(job_id, node, count=2))
    group = plan["Diff"]["TaskGroups"][0]
    assert group["Fields"] == [{"Type": "Edited", "Name": "Count", "Old": "1", "New": "2",
                                "Annotations": ["forces create"]}]
    assert group["Tasks"][0]["Type"] == "None"
    assert group["Updates"] == {"create": 1, "in-place update": 1}
    assert _counts(plan)["Place"] == 1


def test_plan_flattens_job_meta_into_fields(nomad, job_id, node):
    register_placed(nomad, make_job(job_id, node))
    job = make_job(job_id, node)
    job["Meta"] = {"owner": "ops"}
    plan = _plan(nomad, job)
    assert plan["Diff"]["Fields"] == [{"Type": "Added", "Name": "Meta[owner]", "Old": "", "New": "ops",
                                       "Annotations": None}]
    assert _counts(plan)["DestructiveUpdate"] == 1  # task meta changed (CombinedTaskMeta)


def test_plan_without_diff_has_null_diff(nomad, job_id, node):
    assert _plan(nomad, make_job(job_id, node), diff=False)["Diff"] is None


def test_plan_of_unplaceable_job_reports_failed_allocs(nomad, job_id, node):
    ghost = {"Name": f"ghost-{job_id}", "Datacenter": node["Datacenter"], "Meta": {}}
    plan = _plan(nomad, make_job(job_id, ghost))
    metric = plan["FailedTGAllocs"]["app"]
    assert f"${{node.unique.name}} = ghost-{job_id}" in metric["ConstraintFiltered"]
    assert sum(metric["ConstraintFiltered"].values()) == metric["NodesFiltered"] == metric["NodesEvaluated"] >= 1
    assert metric["CoalescedFailures"] == 0
    assert [e["Status"] for e in plan["CreatedEvals"]] == ["blocked"]
    assert _counts(plan)["Place"] == 1


def test_plan_validation_and_shape_errors(nomad, job_id, node):
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Tasks"] = []
    invalid = nomad.post(f"/v1/job/{job_id}/plan", json={"Job": job})
    assert (invalid.status_code, invalid.text) == (
        500, "1 error occurred:\n\t* Task group app validation failed: 1 error occurred:\n"
             "\t* Missing tasks for task group\n\n\n\n")
    mismatch = nomad.post(f"/v1/job/{job_id}-x/plan", json={"Job": make_job(job_id, node)})
    assert (mismatch.status_code, mismatch.text) == (400, "Job ID does not match")
    wrong_method = nomad.get(f"/v1/job/{job_id}/plan")
    assert (wrong_method.status_code, wrong_method.text) == (405, "Invalid method")


def test_constraint_on_meta_no_node_has_is_unplaceable(nomad, job_id, node):
    """scheduler/feasible.go: a meta key the node lacks is not found, so `=` fails on every node (job
    constraints are checked first); the plan reports it and registering leaves a blocked evaluation."""
    missing = f"${{meta.octant_{job_id.replace('-', '_')}}}"
    job = make_job(job_id, node)
    job["Constraints"] = [{"LTarget": missing, "RTarget": "yes", "Operand": "="}]
    metric = _plan(nomad, job)["FailedTGAllocs"]["app"]
    assert metric["ConstraintFiltered"] == {f"{missing} = yes": metric["NodesEvaluated"]}
    evaluation = nomad.get(f"/v1/evaluation/{register_placed_or_blocked(nomad, job)}").json()
    assert evaluation["FailedTGAllocs"]["app"]["ConstraintFiltered"] == metric["ConstraintFiltered"]
    assert evaluation["BlockedEval"]
    # `!=` compares the missing value ("") with the target: the node qualifies.
    job["Constraints"][0]["Operand"] = "!="
    assert _plan(nomad, job)["FailedTGAllocs"] is None


def register_placed_or_blocked(nomad, job):
    response = nomad.put("/v1/jobs", json={"Job": job})
    assert response.status_code == 200, response.text
    return response.json()["EvalID"]


@pytest.mark.simulator_only
def test_memory_max_without_oversubscription_warns(nomad, job_id, node, lab):
    """memoryOversubscriptionValidate, merged by helper.MergeMultierrorWarnings, on plan and register."""
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMaxMB"] = 128
    expected = ('1 warning:\n\n* Memory oversubscription is not enabled; Task "app.main" memory_max value will be '
                "ignored. Update the Scheduler Configuration to allow oversubscription.")
    assert _plan(nomad, job)["Warnings"] == expected
    assert register_placed(nomad, job)["Warnings"] == expected
    lab.config(memory_oversubscription=True)
    try:
        assert _plan(nomad, job)["Warnings"] == ""
    finally:
        lab.config(memory_oversubscription=False)
    del job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMaxMB"]
    assert _plan(nomad, job)["Warnings"] == ""


def test_task_consul_block_is_accepted_and_canonicalized(nomad, job_id, node):
    """A task's Consul block (what gives its templates a Consul token from workload identity)."""
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Tasks"][0]["Consul"] = {}
    register_placed(nomad, job)
    stored = nomad.get(f"/v1/job/{job_id}").json()["TaskGroups"][0]["Tasks"][0]["Consul"]
    assert (stored["Cluster"], stored["Namespace"], stored["Partition"]) == ("default", "", "")
    assert _plan(nomad, job)["Diff"]["Type"] == "None"
