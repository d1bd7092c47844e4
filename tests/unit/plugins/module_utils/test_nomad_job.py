# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NomadJob / NomadJobInfo logic with a fake NomadApi: the changed decision, the number and
kind of calls, check mode, diff mode, absent, input normalization."""

from __future__ import annotations

import json

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._module import Context
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import JobChangedError
from ansible_collections.octant.openclaw.plugins.module_utils._nomad_job import (
    InputError,
    normalize_job,
    run_job,
    run_job_info,
)
from ansible_collections.octant.openclaw.plugins.module_utils._nomad_wait import WaitError
from ansible_collections.octant.openclaw.tests.unit.plugins.nomad_fake import (
    IMAGE_CHANGE,
    FakeNomad,
    deployment,
    job_changed_error,
    plan_reply,
    web_job,
)


def params(**overrides):
    base = {"state": "present", "name": None, "job": web_job(), "hcl": None, "variables": {}, "purge": False,
            "wait": False, "wait_timeout": 300, "nomad_namespace": None}
    base.update(overrides)
    return base


def run(api, check=False, diff=False, **overrides):
    warnings = []
    result = run_job(api, params(**overrides), Context(check_mode=check, diff=diff, warn=warnings.append))
    return result, warnings


def test_unchanged_plan_means_one_call_and_no_register():
    api = FakeNomad()
    api.plan = plan_reply("None", modify_index=12)
    result = run(api)[0]
    assert result["changed"] is False
    assert api.names() == ["plan_job"]
    assert result["job_modify_index"] == 12
    assert result["eval_id"] is None


def test_change_registers_with_the_plans_modify_index():
    api = FakeNomad()
    api.plan = plan_reply("Edited", modify_index=12, task_groups=IMAGE_CHANGE)
    result = run(api)[0]
    assert result["changed"] is True
    assert api.names() == ["plan_job", "register_job"]
    assert api.calls[1][1]["modify_index"] == 12
    assert result["eval_id"] == "e-1"
    assert result["job_modify_index"] == 15


def test_new_job_registers_enforcing_index_zero():
    api = FakeNomad()
    api.plan = plan_reply("Added", modify_index=0)
    run(api)
    assert api.calls[1][1]["modify_index"] == 0


def test_check_mode_plans_and_writes_nothing():
    api = FakeNomad()
    api.plan = plan_reply("Edited", task_groups=IMAGE_CHANGE, desired={"web": {"DestructiveUpdate": 2}})
    result = run(api, check=True, wait=True)[0]
    assert result["changed"] is True
    assert api.writes() == []
    assert api.names() == ["plan_job"]
    assert result["plan"]["desired_updates"] == {"web": {"DestructiveUpdate": 2}}


def test_diff_mode_gives_readable_before_after_without_env_values():
    api = FakeNomad()
    api.plan = plan_reply("Edited", task_groups=IMAGE_CHANGE)
    result = run(api, check=True, diff=True)[0]
    diff = result["diff"]
    assert diff["before"]["TaskGroups.web.Tasks.app.Config.image"] == "nginx:1.25"
    assert diff["after"]["TaskGroups.web.Tasks.app.Config.image"] == "nginx:1.27"
    assert diff["after_header"] == "nomad job web (planned)"
    assert "s3cret" not in json.dumps(result)


def test_no_diff_when_unchanged():
    api = FakeNomad()
    api.plan = plan_reply("None")
    result = run(api, diff=True)[0]
    assert "diff" not in result


def test_register_conflict_propagates_the_clear_message():
    api = FakeNomad()
    api.register_error = job_changed_error()
    with pytest.raises(JobChangedError) as caught:
        run(api)
    assert "changed by someone else" in caught.value.message and "Re-run the task" in caught.value.message


def test_plan_warnings_and_failed_placements_become_warnings():
    api = FakeNomad()
    api.plan = plan_reply("Edited", warnings="Group web has no network", failed={"web": {"NodesEvaluated": 3}})
    warnings = run(api, check=True)[1]
    assert warnings == ["Nomad plan of job 'web': Group web has no network",
                        "Nomad cannot place all allocations of job 'web': web: 3 nodes evaluated"]


def test_wait_follows_the_deployment_of_the_registration():
    api = FakeNomad()
    api.job_deployments = [(deployment("successful", index=20, spec_index=15), 20)]
    result = run(api, wait=True)[0]
    assert result["deployment"]["status"] == "successful"
    assert api.names() == ["plan_job", "register_job", "job_deployment"]
    assert api.calls[2][1]["index"] == 15


def test_wait_failure_keeps_changed_and_the_rollback_details():
    api = FakeNomad()
    api.jobs["web"] = web_job(Version=2)
    groups = {"web": {"DesiredTotal": 2, "PlacedAllocs": 2, "HealthyAllocs": 0, "UnhealthyAllocs": 2,
                      "AutoRevert": True}}
    api.job_deployments = [(deployment("failed", "Failed due to unhealthy allocations - rolling back to job "
                                                 "version 0", index=20, groups=groups), 20)]
    with pytest.raises(WaitError) as caught:
        run(api, wait=True)
    assert caught.value.result["changed"] is True
    assert caught.value.result["rolled_back"] is True
    assert caught.value.result["reverted_to_version"] == 0


def test_wait_for_batch_job_uses_allocations():
    api = FakeNomad()
    job = web_job(Type="batch")
    api.allocations = [([{"ID": "a", "JobVersion": 0, "ClientStatus": "running", "DesiredStatus": "run"},
                         {"ID": "b", "JobVersion": 0, "ClientStatus": "complete", "DesiredStatus": "run"}], 9)]
    result = run(api, job=job, wait=True)[0]
    assert result["allocations"] == {"running": 1, "complete": 1}
    assert api.names() == ["plan_job", "register_job", "get_job", "job_allocations"]


def test_hcl_is_parsed_then_planned_with_its_source_kept():
    api = FakeNomad()
    api.parsed = web_job(Namespace="default")
    run(api, job=None, hcl='job "web" {}', variables={"image": "nginx"}, nomad_namespace="farm")
    assert api.calls[0] == ("parse_hcl", {"hcl": 'job "web" {}', "variables": {"image": "nginx"}})
    assert api.calls[1][1]["job"]["Namespace"] == "farm"
    assert api.calls[2][1]["submission"] == {"Source": 'job "web" {}', "Format": "hcl2"}


def test_variables_without_hcl_are_refused():
    with pytest.raises(InputError, match="used only with hcl"):
        run(FakeNomad(), variables={"a": "b"})


def test_absent_missing_job_is_ok_with_one_read():
    api = FakeNomad()
    result = run(api, state="absent", job=None, name="gone")[0]
    assert result["changed"] is False
    assert api.names() == ["get_job"]


def test_absent_stops_a_running_job():
    api = FakeNomad()
    api.jobs["web"] = web_job(Status="running", Version=3, JobModifyIndex=30)
    result = run(api, state="absent", job=None, name="web", diff=True)[0]
    assert result["changed"] is True and result["eval_id"] == "e-2" and result["purged"] is False
    assert api.names() == ["get_job", "deregister_job"]
    assert result["diff"]["after"] == {"ID": "web", "Stop": True}


def test_absent_already_stopped_is_unchanged_unless_purge():
    api = FakeNomad()
    api.jobs["web"] = web_job(Stop=True, Status="dead")
    assert run(api, state="absent", job=None, name="web")[0]["changed"] is False
    result = run(api, state="absent", job=None, name="web", purge=True)[0]
    assert result["changed"] is True and result["purged"] is True
    assert api.calls[-1] == ("deregister_job", {"job_id": "web", "purge": True, "namespace": None})


def test_absent_check_mode_reports_would_delete():
    api = FakeNomad()
    api.jobs["web"] = web_job()
    result = run(api, check=True, state="absent", job=None, name="web")[0]
    assert result["changed"] is True
    assert api.writes() == []


def test_absent_needs_an_id():
    with pytest.raises(InputError, match="state=absent needs the job's ID"):
        run(FakeNomad(), state="absent", job=None)


def test_wait_timeout_must_be_positive():
    with pytest.raises(InputError, match="wait_timeout must be a positive number of seconds, got 0"):
        run(FakeNomad(), wait=True, wait_timeout=0)


@pytest.mark.parametrize(("job", "name", "namespace", "message"), [
    ({}, None, None, "job must be a non-empty dict"),
    ({"Job": {"ID": "a"}, "Other": 1}, None, None, "pass either {Job: {...}} or the bare job"),
    ({"job": {"web": {}}}, None, None, "HCL-style key(s) job"),
    ({"TaskGroups": [{}]}, None, None, "the job has no ID"),
    ({"ID": "a", "TaskGroups": [{}]}, "b", None, "name 'b' and the job's ID 'a' differ"),
    ({"ID": "a", "Namespace": "x", "TaskGroups": [{}]}, None, "y", "Namespace 'x' differs from nomad_namespace"),
    ({"ID": "a"}, None, None, "job 'a' has no TaskGroups"),
])
def test_normalize_job_messages(job, name, namespace, message):
    with pytest.raises(InputError) as caught:
        normalize_job(job, name, namespace)
    assert message in str(caught.value)


def test_normalize_job_unwraps_and_fills_defaults():
    original = {"Job": {"Name": "web", "TaskGroups": [{"Name": "g"}]}}
    job, namespace = normalize_job(original, None, "farm")
    assert job["ID"] == "web" and job["Namespace"] == "farm" and namespace == "farm"
    assert "ID" not in original["Job"]


def test_info_one_job_reads_job_allocations_and_deployment():
    api = FakeNomad()
    api.jobs["web"] = web_job(Namespace="default", Status="running")
    api.allocations = [([{"ID": "a"}], 3)]
    api.job_deployments = [(deployment("successful"), 4)]
    result = run_job_info(api, {"name": "web", "prefix": None, "allocations": True, "deployment": True,
                                "nomad_namespace": None})
    assert result["exists"] is True
    assert result["allocations"] == [{"ID": "a"}]
    assert result["deployment_summary"]["status"] == "successful"
    assert api.names() == ["get_job", "job_allocations", "job_deployment"]


def test_info_missing_job():
    result = run_job_info(FakeNomad(), {"name": "gone", "allocations": True, "deployment": True})
    assert result == {"changed": False, "exists": False, "jobs": [], "job": None}


def test_info_list_uses_the_server_side_prefix():
    api = FakeNomad()
    api.jobs = {"openclaw-a": {}, "openclaw-b": {}, "other": {}}
    result = run_job_info(api, {"name": None, "prefix": "openclaw-", "nomad_namespace": "farm"})
    assert [j["ID"] for j in result["jobs"]] == ["openclaw-a", "openclaw-b"]
    assert api.calls == [("list_jobs", {"prefix": "openclaw-", "namespace": "farm"})]
