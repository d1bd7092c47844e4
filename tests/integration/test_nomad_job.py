"""nomad_job (and nomad_job_info) against the lab simulator (or a live cluster with OCTANT_LIVE=1),
run in-process through the module's main() so the simulator's request log counts its calls.

Request counts are asserted only against the simulator; against a live cluster the same tests
check behaviour (every job they create has a unique name and is purged afterwards)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils import _nomad as nomad_utils

from tests.integration.conftest import run_module
from tools.testsupport.labclient import LabAdmin, free_port

ENV_SECRET = "env-secret-value-9Qf3xK"
IMAGE_1 = "docker.io/library/busybox:1.36"
IMAGE_2 = "docker.io/library/busybox:1.37"
SECOND = 1_000_000_000
# The simulator runs the jobs' own update durations this much faster (min_healthy_time 10 s -> 0.1 s,
# healthy_deadline 5 min -> 3 s); tests that time a deployment set it back to 1.
TIME_SCALE = 0.01


@pytest.fixture
def log(labsim):
    """The simulator's request log, or None against a live cluster (counts are then skipped)."""
    if labsim is None:
        return None
    admin = LabAdmin(labsim.admin_addr)
    admin.config(time_scale=TIME_SCALE)
    yield admin
    admin.clear_faults()
    admin.latency(0)
    admin.config(time_scale=TIME_SCALE)


@pytest.fixture
def job_name(cluster):
    name = f"octant-it-{uuid.uuid4().hex[:8]}"
    yield name
    cluster["nomad"].delete(f"/v1/job/{name}", params={"purge": "true"})


def job_spec(name, image=IMAGE_1, count=1, env=None, update=True, auto_revert=False, job_type="service",
             min_healthy=None, memory_max=None):
    task = {"Name": "app", "Driver": "podman",
            "Config": {"image": image, "command": "sleep", "args": ["3600"]},
            "Resources": {"CPU": 100, "MemoryMB": 64}}
    if memory_max:
        task["Resources"]["MemoryMaxMB"] = memory_max
    if env:
        task["Env"] = dict(env)
    group = {"Name": "web", "Count": count, "Tasks": [task]}
    if update:
        group["Update"] = {"MaxParallel": 1, "AutoRevert": auto_revert, "HealthCheck": "task_states"}
        if min_healthy is not None:
            group["Update"]["MinHealthyTime"] = min_healthy * SECOND
    return {"ID": name, "Name": name, "Type": job_type, "Datacenters": ["*"], "TaskGroups": [group]}


def nomad(cluster, **args):
    return dict({"nomad_address": cluster["nomad_address"], "nomad_token": cluster["nomad_token"]}, **args)


def rows(log, since):
    return [(r["method"], r["path"]) for r in log.requests(service="nomad", since=since)]


def writes(log, since):
    return [r for r in rows(log, since) if r[0] in ("POST", "PUT", "DELETE") and not r[1].endswith("/plan")]


# -- present --------------------------------------------------------------------------------------
def test_create_then_rerun_is_one_plan_and_no_register(cluster, log, job_name):
    created = run_module("nomad_job", nomad(cluster, job=job_spec(job_name)))
    assert created["changed"] is True and not created.get("failed")
    assert created["plan"]["diff_type"] == "Added"
    assert created["eval_id"]
    since = log.last_seq() if log else 0
    again = run_module("nomad_job", nomad(cluster, job={"Job": job_spec(job_name)}))
    assert again["changed"] is False
    assert again["eval_id"] is None
    assert again["plan"]["diff_type"] == "None"
    if log:
        assert rows(log, since) == [("POST", f"/v1/job/{job_name}/plan")]


def test_change_with_diff_shows_only_changed_fields(cluster, log, job_name):
    run_module("nomad_job", nomad(cluster, job=job_spec(job_name)))
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name, image=IMAGE_2)), diff=True)
    assert result["changed"] is True
    key = "TaskGroups.web.Tasks.app.Config.image"
    assert result["diff"]["before"] == {key: IMAGE_1}
    assert result["diff"]["after"] == {key: IMAGE_2}
    assert result["plan"]["desired_updates"]["web"].get("DestructiveUpdate") == 1
    job = cluster["nomad"].get(f"/v1/job/{job_name}").json()
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == IMAGE_2


def test_check_mode_returns_the_plan_and_writes_nothing(cluster, log, job_name):
    run_module("nomad_job", nomad(cluster, job=job_spec(job_name)))
    since = log.last_seq() if log else 0
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name, count=3), wait=True), check=True,
                        diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == {"TaskGroups.web.Count": "1"}
    assert result["diff"]["after"] == {"TaskGroups.web.Count": "3"}
    assert result["plan"]["desired_updates"]["web"]["Place"] == 2
    if log:
        assert rows(log, since) == [("POST", f"/v1/job/{job_name}/plan")]
    assert cluster["nomad"].get(f"/v1/job/{job_name}").json()["TaskGroups"][0]["Count"] == 1


def test_check_mode_on_a_new_job_writes_nothing(cluster, log, job_name):
    since = log.last_seq() if log else 0
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name)), check=True)
    assert result["changed"] is True and result["plan"]["diff_type"] == "Added"
    assert cluster["nomad"].get(f"/v1/job/{job_name}").status_code == 404
    if log:
        assert writes(log, since) == []


def test_env_values_never_in_results_or_diff(cluster, log, job_name):
    first = run_module("nomad_job", nomad(cluster, job=job_spec(job_name, env={"API_KEY": "first-" + ENV_SECRET})),
                       diff=True)
    second = run_module("nomad_job", nomad(cluster, job=job_spec(job_name, env={"API_KEY": ENV_SECRET})), diff=True,
                        check=True)
    assert second["changed"] is True
    assert second["diff"]["after"] == {"TaskGroups.web.Tasks.app.Env[API_KEY]": "(hidden)"}
    for result in (first, second):
        text = json.dumps({k: v for k, v in result.items() if k != "invocation"})
        assert ENV_SECRET not in text


def test_plan_register_race_is_refused_not_overwritten(cluster, log, job_name, monkeypatch):
    """Someone registers another version between this task's plan and its register: the
    EnforceIndex register fails with a clear message and their change stays."""
    run_module("nomad_job", nomad(cluster, job=job_spec(job_name)))
    original_plan = nomad_utils.NomadApi.plan_job

    def plan_then_someone_else_registers(self, job, namespace=None):
        plan = original_plan(self, job, namespace)
        other = job_spec(job_name, count=2)
        assert cluster["nomad"].post("/v1/jobs", json={"Job": other}).status_code == 200
        return plan

    monkeypatch.setattr(nomad_utils.NomadApi, "plan_job", plan_then_someone_else_registers)
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name, image=IMAGE_2)))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Nomad job '{job_name}' was changed by someone else between this task's plan "
                                    f"and its register (Enforcing job modify index ")
    assert result["msg"].endswith("nothing was registered. Re-run the task to plan against the current job.")
    job = cluster["nomad"].get(f"/v1/job/{job_name}").json()
    assert job["TaskGroups"][0]["Count"] == 2
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == IMAGE_1


def test_hcl_needs_a_real_nomad(cluster, log, job_name):
    if log is None:
        pytest.skip("against a live Nomad, /v1/jobs/parse works (covered by test_hcl_with_variables_live)")
    result = run_module("nomad_job", nomad(cluster, hcl=f'job "{job_name}" {{}}', variables={"image": IMAGE_1}))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Parsing HCL needs a real Nomad: {cluster['nomad_address']} answered "
                                    f"POST /v1/jobs/parse with HTTP 501")
    assert "Pass the job as API JSON with the `job` option instead" in result["msg"]


def test_hcl_with_variables_live(cluster, log, job_name):
    if log is not None:
        pytest.skip("HCL parsing is live-only: the simulator answers 501")
    hcl = f"""
variable "image" {{ type = string }}
job "{job_name}" {{
  datacenters = ["*"]
  group "web" {{
    task "app" {{
      driver = "podman"
      config {{ image = var.image }}
    }}
  }}
}}
"""
    result = run_module("nomad_job", nomad(cluster, hcl=hcl, variables={"image": IMAGE_1}))
    assert result["changed"] is True, result
    again = run_module("nomad_job", nomad(cluster, hcl=hcl, variables={"image": IMAGE_1}))
    assert again["changed"] is False, again


def test_nomad_warnings_reach_the_user_once(cluster, log, job_name, monkeypatch):
    """memory_max without memory oversubscription (Nomad's default scheduler configuration): the plan's
    warning through module.warn, and the same text from register not a second time."""
    from ansible.module_utils.basic import AnsibleModule

    warned = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, text, **kw: warned.append(text))
    text = ('Memory oversubscription is not enabled; Task "web.app" memory_max value will be ignored. '
            "Update the Scheduler Configuration to allow oversubscription.")
    run_module("nomad_job", nomad(cluster, job=job_spec(job_name, memory_max=256)), check=True)
    assert warned == [f"Nomad plan of job {job_name!r}: 1 warning:\n\n* {text}"]
    created = run_module("nomad_job", nomad(cluster, job=job_spec(job_name, memory_max=256)))
    assert created["changed"] is True and warned == [warned[0]] * 2


# -- wait -----------------------------------------------------------------------------------------------
def test_wait_for_deployment_healthy_after_5s_uses_blocking_queries(cluster, log, job_name):
    if log:
        log.config(time_scale=1)
    since = log.last_seq() if log else 0
    started = time.monotonic()
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name, count=2, min_healthy=5), wait=True,
                                           wait_timeout=120))
    elapsed = time.monotonic() - started
    assert not result.get("failed"), result.get("msg")
    assert result["deployment"]["status"] == "successful"
    assert result["deployment"]["task_groups"]["web"]["healthy"] == 2
    if log:
        assert elapsed >= 4.5
        deployment_calls = [r for r in rows(log, since) if r[1].startswith("/v1/deployment/")
                            or r[1] == f"/v1/job/{job_name}/deployment"]
        assert 1 <= len(deployment_calls) <= 4, deployment_calls
        queries = [r["query"] for r in log.requests(service="nomad", since=since) if "deployment" in r["path"]]
        assert all("index=" in q and "wait=" in q for q in queries), queries


def test_failed_deployment_reports_counts_and_auto_revert(cluster, log, job_name):
    if log is None:
        pytest.skip("needs the simulator to fail a deployment on demand")
    first = run_module("nomad_job", nomad(cluster, job=job_spec(job_name, count=2, auto_revert=True), wait=True))
    assert first["deployment"]["status"] == "successful"
    log.fail_next_deployment(job_name)
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name, count=2, auto_revert=True, image=IMAGE_2),
                                           wait=True, wait_timeout=60))
    assert result["failed"] is True and result["changed"] is True
    msg = result["msg"]
    assert f"of Nomad job '{job_name}' (version 1) failed: Failed due to unhealthy allocations" in msg
    assert "Groups: web: desired 2, placed 2, healthy 0, unhealthy 2." in msg
    assert "Auto-revert rolled the job back to version 0 (the job is now version 2, a copy of version 0)." in msg
    assert result["rolled_back"] is True and result["reverted_to_version"] == 0 and result["job_version"] == 2
    job = cluster["nomad"].get(f"/v1/job/{job_name}").json()
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == IMAGE_1


def test_wait_timeout_reports_the_last_state(cluster, log, job_name):
    if log is None:
        pytest.skip("needs the simulator's slow health setting")
    log.config(time_scale=1)  # the job's default min_healthy_time, 10 s
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name), wait=True, wait_timeout=2))
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith("Timed out after 2 s waiting for deployment ")
    assert f"of Nomad job '{job_name}': last status running" in result["msg"]
    assert "groups: web: desired 1, placed 1, healthy 0, unhealthy 0." in result["msg"]


def test_batch_job_waits_for_its_allocations(cluster, log, job_name):
    spec = job_spec(job_name, count=2, update=False, job_type="batch")
    since = log.last_seq() if log else 0
    result = run_module("nomad_job", nomad(cluster, job=spec, wait=True, wait_timeout=60))
    assert not result.get("failed"), result.get("msg")
    assert sum(result["allocations"].values()) == 2
    assert set(result["allocations"]) <= {"running", "complete"}
    if log:
        assert not [r for r in rows(log, since) if "deployment" in r[1]]
        queries = [r["query"] for r in log.requests(service="nomad", since=since) if r["path"].endswith("/allocations")]
        assert queries and all("index=" in q and "wait=" in q for q in queries[1:]), queries


# -- absent -----------------------------------------------------------------------------------------------
def test_absent_on_a_missing_job_is_ok_with_one_request(cluster, log, job_name):
    since = log.last_seq() if log else 0
    result = run_module("nomad_job", nomad(cluster, name=job_name, state="absent"))
    assert result["changed"] is False and not result.get("failed")
    if log:
        assert rows(log, since) == [("GET", f"/v1/job/{job_name}")]


def test_absent_stops_then_is_unchanged_and_purge_removes(cluster, log, job_name):
    run_module("nomad_job", nomad(cluster, job=job_spec(job_name)))
    since = log.last_seq() if log else 0
    check = run_module("nomad_job", nomad(cluster, name=job_name, state="absent"), check=True, diff=True)
    assert check["changed"] is True and check["diff"]["after"] == {"ID": job_name, "Stop": True}
    if log:
        assert writes(log, since) == []
    stopped = run_module("nomad_job", nomad(cluster, name=job_name, state="absent"))
    assert stopped["changed"] is True and stopped["eval_id"]
    assert cluster["nomad"].get(f"/v1/job/{job_name}").json()["Stop"] is True
    again = run_module("nomad_job", nomad(cluster, name=job_name, state="absent"))
    assert again["changed"] is False
    purged = run_module("nomad_job", nomad(cluster, name=job_name, state="absent", purge=True))
    assert purged["changed"] is True and purged["purged"] is True
    assert cluster["nomad"].get(f"/v1/job/{job_name}").status_code == 404


# -- errors the user sees ---------------------------------------------------------------------------------
def test_wrong_token_is_a_403_with_a_hint(cluster, log, job_name):
    if log is None and not cluster["nomad_token"]:
        pytest.skip("the live cluster has no ACLs")
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name), nomad_token=str(uuid.uuid4())))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Nomad plan of job '{job_name}' failed (HTTP 403): ")
    assert "Hint: " in result["msg"]


def test_connection_refused_names_the_address(cluster, job_name):
    address = f"http://127.0.0.1:{free_port()}"
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name), nomad_address=address))
    assert result["msg"] == (f"Nomad plan of job '{job_name}' failed (no response): connection refused. Hint: cannot "
                             f"reach nomad at {address}; check nomad_address or NOMAD_ADDR and that it is running")


def test_server_error_text_reaches_the_user(cluster, log, job_name):
    if log is None:
        pytest.skip("needs fault injection")
    log.fault(f"/v1/job/{job_name}/plan", status=500, body="rpc error: No cluster leader", service="nomad")
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name)))
    assert result["msg"] == f"Nomad plan of job '{job_name}' failed (HTTP 500): rpc error: No cluster leader"


def test_slow_server_times_out(cluster, log, job_name):
    if log is None:
        pytest.skip("needs latency injection")
    log.latency(2.5, service="nomad")
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name), nomad_timeout=1))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Nomad plan of job '{job_name}' failed (no response): ")
    assert "timed out" in result["msg"].lower()


def test_bad_job_is_refused_before_any_call(cluster, log):
    since = log.last_seq() if log else 0
    result = run_module("nomad_job", nomad(cluster, job={"job": {"web": {"group": {}}}}))
    assert result["msg"].startswith("job uses HCL-style key(s) job;")
    if log:
        assert rows(log, since) == []


# -- nomad_job_info ----------------------------------------------------------------------------------------
def test_info_one_job_with_allocations_and_deployment(cluster, log, job_name):
    run_module("nomad_job", nomad(cluster, job=job_spec(job_name, count=2), wait=True))
    since = log.last_seq() if log else 0
    info = run_module("nomad_job_info", nomad(cluster, name=job_name))
    assert info["exists"] is True and info["job"]["ID"] == job_name
    assert len([a for a in info["allocations"] if a["DesiredStatus"] == "run"]) == 2
    assert info["deployment_summary"]["status"] == "successful"
    if log:
        assert rows(log, since) == [("GET", f"/v1/job/{job_name}"), ("GET", f"/v1/job/{job_name}/allocations"),
                                    ("GET", f"/v1/job/{job_name}/deployment")]


def test_info_list_filters_on_the_server(cluster, log, job_name):
    run_module("nomad_job", nomad(cluster, job=job_spec(job_name)))
    since = log.last_seq() if log else 0
    info = run_module("nomad_job_info", nomad(cluster, prefix=job_name[:-2]))
    assert [j["ID"] for j in info["jobs"]] == [job_name]
    if log:
        requests = log.requests(service="nomad", since=since)
        assert [(r["method"], r["path"]) for r in requests] == [("GET", "/v1/jobs")]
        assert f"prefix={job_name[:-2]}" in requests[0]["query"]


def test_info_missing_job(cluster, log, job_name):
    info = run_module("nomad_job_info", nomad(cluster, name=job_name))
    assert info["exists"] is False and info["job"] is None and not info.get("failed")


def test_unknown_namespace_is_reported(cluster, log, job_name):
    result = run_module("nomad_job", nomad(cluster, job=job_spec(job_name), nomad_namespace="no-such-namespace"))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Nomad plan of job '{job_name}' failed (HTTP ")
    assert 'nonexistent namespace "no-such-namespace"' in result["msg"]


@pytest.fixture
def namespace(cluster):
    name = f"octant-it-{uuid.uuid4().hex[:6]}"
    reply = cluster["nomad"].post(f"/v1/namespace/{name}", json={"Name": name, "Description": "octant tests"})
    assert reply.status_code == 200, reply.text
    yield name
    cluster["nomad"].delete(f"/v1/namespace/{name}")


def test_namespace_is_respected(cluster, log, job_name, namespace):
    created = run_module("nomad_job", nomad(cluster, job=job_spec(job_name), nomad_namespace=namespace))
    assert created["changed"] is True and created["namespace"] == namespace
    again = run_module("nomad_job", nomad(cluster, job=dict(job_spec(job_name), Namespace=namespace)))
    assert again["changed"] is False and again["namespace"] == namespace
    assert run_module("nomad_job_info", nomad(cluster, name=job_name))["exists"] is False
    info = run_module("nomad_job_info", nomad(cluster, name=job_name, nomad_namespace=namespace))
    assert info["exists"] is True and info["job"]["Namespace"] == namespace
    listed = run_module("nomad_job_info", nomad(cluster, prefix=job_name, nomad_namespace=namespace))
    assert [j["ID"] for j in listed["jobs"]] == [job_name]
    gone = run_module("nomad_job", nomad(cluster, name=job_name, state="absent", purge=True, nomad_namespace=namespace))
    assert gone["changed"] is True
    assert cluster["nomad"].get(f"/v1/job/{job_name}", params={"namespace": namespace}).status_code == 404
