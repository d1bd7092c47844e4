"""Nomad job registration, reads, versions, revert and stop: the contract of /v1/jobs and /v1/job/<id>."""

import threading
import time

import pytest

from tests.contract.test_nomad_helpers import (
    IMAGE,
    OTHER_IMAGE,
    SECOND,
    fast_deployments,
    make_job,
    ready_node,
    register,
    wait_for,
)


@pytest.fixture(autouse=True)
def _fast(cluster):
    yield from fast_deployments(cluster)


@pytest.fixture
def node(nomad):
    return ready_node(nomad)


def _agent_region(nomad):
    return nomad.get("/v1/agent/self").json()["config"]["Region"]


def test_register_answers_eval_and_indexes(nomad, job_id, node):
    response = nomad.put("/v1/jobs", json={"Job": make_job(job_id, node)})
    body = response.json()
    assert response.status_code == 200
    assert len(body["EvalID"]) == 36
    assert body["EvalCreateIndex"] == body["JobModifyIndex"] == body["Index"] > 0
    assert body["Warnings"] == ""
    assert response.headers["X-Nomad-Index"] == str(body["Index"])


def test_get_job_is_canonicalized_with_nomad_defaults(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    job = nomad.get(f"/v1/job/{job_id}").json()
    assert {k: job[k] for k in ("ID", "Name", "Namespace", "Region", "Type", "Priority", "Version", "Stable", "Stop",
                                "NodePool", "AllAtOnce", "ParentID", "Datacenters")} == {
        "ID": job_id, "Name": job_id, "Namespace": "default", "Region": _agent_region(nomad), "Type": "service",
        "Priority": 50, "Version": 0, "Stable": False, "Stop": False, "NodePool": "default", "AllAtOnce": False,
        "ParentID": "", "Datacenters": [node["Datacenter"]]}
    assert job["Status"] in ("pending", "running")
    assert job["CreateIndex"] == job["JobModifyIndex"] <= job["ModifyIndex"]
    assert (job["Update"]["Stagger"], job["Update"]["MaxParallel"]) == (30 * SECOND, 1)
    group = job["TaskGroups"][0]
    assert group["Count"] == 1
    assert group["RestartPolicy"] == {"Attempts": 2, "Interval": 1800 * SECOND, "Delay": 15 * SECOND, "Mode": "fail",
                                      "RenderTemplates": False}
    assert group["EphemeralDisk"] == {"Sticky": False, "SizeMB": 300, "Migrate": False}
    assert group["ReschedulePolicy"] == {"Attempts": 0, "Interval": 0, "Delay": 30 * SECOND,
                                         "DelayFunction": "exponential", "MaxDelay": 3600 * SECOND, "Unlimited": True}
    assert group["Update"] == {"Stagger": 30 * SECOND, "MaxParallel": 1, "HealthCheck": "task_states",
                               "MinHealthyTime": SECOND, "HealthyDeadline": 60 * SECOND,
                               "ProgressDeadline": 120 * SECOND, "AutoRevert": False, "AutoPromote": False,
                               "Canary": 0}
    task = group["Tasks"][0]
    assert task["KillTimeout"] == 5 * SECOND
    assert task["LogConfig"] == {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False}
    assert (task["Resources"]["CPU"], task["Resources"]["MemoryMB"], task["Resources"]["DiskMB"]) == (50, 32, 0)
    assert (task["Identity"]["Name"], task["Identity"]["Audience"]) == ("default", ["nomadproject.io"])


def test_missing_job_is_404_with_query_meta(nomad, job_id):
    response = nomad.get(f"/v1/job/{job_id}")
    assert (response.status_code, response.text) == (404, "job not found")
    assert int(response.headers["X-Nomad-Index"]) >= 1
    assert response.headers["X-Nomad-KnownLeader"] == "true"


def test_unchanged_resubmit_creates_no_new_version(nomad, job_id, node):
    first = register(nomad, make_job(job_id, node))
    again = register(nomad, make_job(job_id, node))
    assert again["EvalID"] != first["EvalID"]
    assert first["JobModifyIndex"] <= again["JobModifyIndex"] < again["EvalCreateIndex"] == again["Index"]
    versions = nomad.get(f"/v1/job/{job_id}/versions").json()["Versions"]
    assert [v["Version"] for v in versions] == [0]


def test_changed_spec_is_a_new_version_with_diffs(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    register(nomad, make_job(job_id, node, image=OTHER_IMAGE))
    response = nomad.get(f"/v1/job/{job_id}/versions", params={"diffs": "true"})
    body = response.json()
    assert [v["Version"] for v in body["Versions"]] == [1, 0]
    assert response.headers["X-Nomad-Index"] == str(body["Index"])
    (diff,) = body["Diffs"]
    assert (diff["Type"], diff["ID"]) == ("Edited", job_id)
    task = diff["TaskGroups"][0]["Tasks"][0]
    config = next(o for o in task["Objects"] if o["Name"] == "Config")
    image = next(f for f in config["Fields"] if f["Name"] == "image")
    assert (config["Type"], image["Type"], image["Old"], image["New"]) == ("Edited", "Edited", IMAGE, OTHER_IMAGE)


def test_versions_of_unknown_job_is_404(nomad, job_id):
    response = nomad.get(f"/v1/job/{job_id}/versions")
    assert (response.status_code, response.text) == (404, "job versions not found")


def test_enforce_index_conflict_texts(nomad, job_id, node):
    created = register(nomad, make_job(job_id, node))["JobModifyIndex"]
    cases = {0: "Enforcing job modify index 0: job already exists",
             created + 1000: f"Enforcing job modify index {created + 1000}: job exists with conflicting job modify "
                             f"index: {created}"}
    for index, text in cases.items():
        response = nomad.put("/v1/jobs", json={"Job": make_job(job_id, node), "EnforceIndex": True,
                                               "JobModifyIndex": index})
        assert (response.status_code, response.text) == (500, text)


def test_enforce_index_on_missing_job(nomad, job_id, node):
    response = nomad.put("/v1/jobs", json={"Job": make_job(job_id, node), "EnforceIndex": True, "JobModifyIndex": 7})
    assert (response.status_code, response.text) == (500, "Enforcing job modify index 7: job does not exist")


def test_enforce_index_with_current_index_registers(nomad, job_id, node):
    created = register(nomad, make_job(job_id, node), EnforceIndex=True, JobModifyIndex=0)["JobModifyIndex"]
    updated = register(nomad, make_job(job_id, node, image=OTHER_IMAGE), EnforceIndex=True, JobModifyIndex=created)
    assert updated["JobModifyIndex"] > created
    assert nomad.get(f"/v1/job/{job_id}").json()["Version"] == 1


def test_validation_error_names_the_missing_driver(nomad, job_id, node):
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Tasks"][0]["Driver"] = ""
    response = nomad.put("/v1/jobs", json={"Job": job})
    assert response.status_code == 500
    assert response.text == ("1 error occurred:\n\t* Task group app validation failed: 1 error occurred:\n"
                             "\t* Task main validation failed: 1 error occurred:\n\t* Missing task driver\n\n\n\n\n\n")


def test_validation_error_for_a_job_without_groups(nomad, job_id, node):
    job = make_job(job_id, node)
    job["TaskGroups"] = []
    response = nomad.put("/v1/jobs", json={"Job": job})
    assert (response.status_code, response.text) == (500, "1 error occurred:\n\t* Missing job task groups\n\n")


def test_request_shape_errors_are_400(nomad, job_id, node):
    cases = [
        ("/v1/jobs", {"EnforceIndex": False}, "Job must be specified"),
        ("/v1/jobs", {"Job": {"Name": "no-id"}}, "Job ID hasn't been provided"),
        (f"/v1/job/{job_id}-other", {"Job": make_job(job_id, node)}, "Job ID does not match name"),
    ]
    for path, body, text in cases:
        response = nomad.put(path, json=body)
        assert (response.status_code, response.text) == (400, text)


def test_wrong_json_type_is_go_decode_error(nomad, job_id, node):
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Count"] = "two"
    response = nomad.put("/v1/jobs", json={"Job": job})
    assert response.status_code == 400
    assert response.text == ("json: cannot unmarshal string into Go struct field TaskGroup.Job.TaskGroups.Count "
                             "of type int")


@pytest.mark.simulator_only
def test_strict_mode_rejects_unknown_field_by_path(nomad, job_id, node, lab):
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Tasks"][0]["Drvier"] = "podman"
    response = nomad.put("/v1/jobs", json={"Job": job})
    assert (response.status_code, response.text) == (400, 'unknown field "TaskGroups[0].Tasks[0].Drvier"')


@pytest.mark.simulator_only
def test_lenient_mode_ignores_unknown_fields_like_nomad(nomad, job_id, node, lab):
    lab.config(strict=False)
    job = make_job(job_id, node)
    job["TaskGroups"][0]["Colour"] = "blue"
    register(nomad, job)
    assert "Colour" not in nomad.get(f"/v1/job/{job_id}").json()["TaskGroups"][0]


def test_field_names_match_case_insensitively(nomad, job_id, node):
    job = make_job(job_id, node)
    task = job["TaskGroups"][0]["Tasks"][0]
    task["driver"] = task.pop("Driver")
    register(nomad, job)
    assert nomad.get(f"/v1/job/{job_id}").json()["TaskGroups"][0]["Tasks"][0]["Driver"] == "podman"


def test_job_type_cannot_change(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    response = nomad.put("/v1/jobs", json={"Job": make_job(job_id, node, job_type="batch")})
    assert (response.status_code, response.text) == (500, 'cannot update job from type "service" to "batch"')


def test_list_jobs_by_prefix_returns_stubs(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    response = nomad.get("/v1/jobs", params={"prefix": job_id})
    (stub,) = response.json()
    assert (stub["ID"], stub["Type"], stub["Namespace"], stub["Stop"]) == (job_id, "service", "default", False)
    assert stub["JobSummary"]["JobID"] == job_id and "app" in stub["JobSummary"]["Summary"]
    assert "TaskGroups" not in stub
    assert response.headers["X-Nomad-KnownLeader"] == "true"


def test_blocking_query_waits_then_returns_same_index(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    wait_for(lambda: nomad.get(f"/v1/job/{job_id}").json()["Stable"], what="stable job")
    index = nomad.get(f"/v1/job/{job_id}").headers["X-Nomad-Index"]
    started = time.monotonic()
    response = nomad.get(f"/v1/job/{job_id}", params={"index": index, "wait": "1s"})
    assert time.monotonic() - started >= 0.9
    assert response.headers["X-Nomad-Index"] == index


def test_blocking_query_wakes_on_change(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    wait_for(lambda: nomad.get(f"/v1/job/{job_id}").json()["Stable"], what="stable job")
    index = int(nomad.get(f"/v1/job/{job_id}").headers["X-Nomad-Index"])
    timer = threading.Timer(0.5, register, (nomad, make_job(job_id, node, image=OTHER_IMAGE)))
    timer.start()
    started = time.monotonic()
    response = nomad.get(f"/v1/job/{job_id}", params={"index": index, "wait": "20s"})
    timer.join()
    assert time.monotonic() - started < 15
    assert int(response.headers["X-Nomad-Index"]) > index
    assert response.json()["Version"] == 1


def test_delete_missing_job_is_200_with_empty_eval(nomad, job_id):
    response = nomad.delete(f"/v1/job/{job_id}")
    body = response.json()
    assert response.status_code == 200
    assert (body["EvalID"], body["EvalCreateIndex"], body["JobModifyIndex"]) == ("", 0, 0)


def test_stop_keeps_a_dead_job_as_new_version(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    response = nomad.delete(f"/v1/job/{job_id}")
    body = response.json()
    assert response.status_code == 200 and len(body["EvalID"]) == 36
    assert body["JobModifyIndex"] == body["EvalCreateIndex"] == int(response.headers["X-Nomad-Index"])
    job = wait_for(lambda: (j := nomad.get(f"/v1/job/{job_id}").json())["Status"] == "dead" and j, what="dead job")
    assert (job["Stop"], job["Version"]) == (True, 1)


def test_purge_forgets_the_job(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    assert nomad.delete(f"/v1/job/{job_id}", params={"purge": "true"}).status_code == 200
    assert nomad.get(f"/v1/job/{job_id}").status_code == 404
    assert nomad.get("/v1/jobs", params={"prefix": job_id}).json() == []


def test_revert_registers_the_old_spec_as_new_version(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    register(nomad, make_job(job_id, node, image=OTHER_IMAGE))
    response = nomad.post(f"/v1/job/{job_id}/revert", json={"JobID": job_id, "JobVersion": 0})
    assert response.status_code == 200 and len(response.json()["EvalID"]) == 36
    job = nomad.get(f"/v1/job/{job_id}").json()
    assert (job["Version"], job["TaskGroups"][0]["Tasks"][0]["Config"]["image"]) == (2, IMAGE)


def test_revert_errors(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    register(nomad, make_job(job_id, node, image=OTHER_IMAGE))
    cases = [
        ({"JobID": job_id, "JobVersion": 1}, "can't revert to current version"),
        ({"JobID": job_id, "JobVersion": 9}, f'job "{job_id}" in namespace "default" at version 9 not found'),
        ({"JobID": job_id, "JobVersion": 0, "EnforcePriorVersion": 0},
         "Current job has version 1; enforcing version 0"),
    ]
    for body, text in cases:
        response = nomad.post(f"/v1/job/{job_id}/revert", json=body)
        assert (response.status_code, response.text) == (500, text)
    mismatch = nomad.post(f"/v1/job/{job_id}/revert", json={"JobID": "other", "JobVersion": 0})
    assert (mismatch.status_code, mismatch.text) == (400, "Job ID does not match")


def test_revert_with_matching_prior_version(nomad, job_id, node):
    register(nomad, make_job(job_id, node))
    register(nomad, make_job(job_id, node, image=OTHER_IMAGE))
    response = nomad.post(f"/v1/job/{job_id}/revert",
                          json={"JobID": job_id, "JobVersion": 0, "EnforcePriorVersion": 1})
    assert response.status_code == 200
    versions = nomad.get(f"/v1/job/{job_id}/versions").json()["Versions"]
    assert [v["Version"] for v in versions] == [2, 1, 0]
    assert versions[0]["TaskGroups"] == versions[2]["TaskGroups"]
