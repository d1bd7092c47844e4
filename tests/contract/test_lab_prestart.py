"""The lab's one really run task: a gateway job's prestart `validate` task in ghcr.io/openclaw/openclaw:<version>
runs the launcher `openclaw_images` maps that version to (tools/lab_simulator/nomad/prestart.py); a non-zero exit
fails the allocation as a Nomad client does (task dead and failed, its sibling never started, the deployment
failed). A stand-in launcher (a shell script) keeps this cheap; test_upgrade_playbook runs the real CLIs."""

import pytest

from tests.contract.test_nomad_helpers import deployment_of, fast_deployments, make_job, ready_node, register, wait_for

VERSION = "2099.1.1"


@pytest.fixture(autouse=True)
def _fast(cluster):
    yield from fast_deployments(cluster)


@pytest.fixture
def launcher(lab, tmp_path):
    """A launcher that prints its arguments and the config path, then exits with the code in `exit_code`."""
    script = tmp_path / "openclaw"
    (tmp_path / "exit_code").write_text("0")
    script.write_text(f'#!/bin/sh\necho "args: $* config: $OPENCLAW_CONFIG_PATH"\nexit $(cat {tmp_path}/exit_code)\n')
    script.chmod(0o755)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "openclaw.json").write_text("{}")
    lab.config(openclaw_images={VERSION: str(script)})
    yield tmp_path
    lab.config(openclaw_images={})


def validate_job(job_id, node, folder):
    job = make_job(job_id, node, auto_revert=False)
    group = job["TaskGroups"][0]
    group["Tasks"].insert(0, {
        "Name": "validate", "Driver": "podman", "Lifecycle": {"Hook": "prestart", "Sidecar": False},
        "Config": {"image": f"ghcr.io/openclaw/openclaw:{VERSION}", "entrypoint": ["node"],
                   "args": ["dist/index.js", "config", "validate", "--json"],
                   "volumes": [f"{folder}/config:/home/node/.openclaw/config:ro"]},
        "Env": {"OPENCLAW_CONFIG_PATH": "/home/node/.openclaw/config/openclaw.json"},
        "RestartPolicy": {"Attempts": 0, "Interval": 1800 * 10**9, "Delay": 15 * 10**9, "Mode": "fail"},
        "Resources": {"CPU": 50, "MemoryMB": 32}})
    return job


def alloc_of(nomad, job_id):
    (stub,) = wait_for(lambda: [a for a in nomad.get(f"/v1/job/{job_id}/allocations").json()
                                if a["ClientStatus"] in ("running", "failed")], what="a started or failed allocation")
    return nomad.get(f"/v1/allocation/{stub['ID']}").json()


def test_a_validator_that_exits_1_fails_the_allocation_before_the_gateway_starts(nomad, job_id, launcher):
    (launcher / "exit_code").write_text("1")
    register(nomad, validate_job(job_id, ready_node(nomad), launcher))
    alloc = alloc_of(nomad, job_id)
    assert alloc["ClientStatus"] == "failed"
    validate, main = alloc["TaskStates"]["validate"], alloc["TaskStates"]["main"]
    assert validate["Failed"] is True and validate["State"] == "dead"
    event = next(e for e in validate["Events"] if e["Type"] == "Terminated")
    assert event["Details"]["exit_code"] == "1"
    # the host path behind the task's volume, and the image's CLI arguments after `dist/index.js`
    assert f"args: config validate --json config: {launcher}/config/openclaw.json" in event["Details"]["lab_output"]
    assert [e["Type"] for e in validate["Events"]][-1] == "Not Restarting"
    assert "Sibling Task Failed" in [e["Type"] for e in main["Events"]] and main["StartedAt"] == "0001-01-01T00:00:00Z"
    deployment_of(nomad, job_id, 0, "failed")


def test_a_validator_that_exits_0_lets_the_gateway_start(nomad, job_id, launcher):
    register(nomad, validate_job(job_id, ready_node(nomad), launcher))
    alloc = alloc_of(nomad, job_id)
    assert alloc["ClientStatus"] == "running"
    validate = alloc["TaskStates"]["validate"]
    assert validate["State"] == "dead" and validate["Failed"] is False
    assert next(e for e in validate["Events"] if e["Type"] == "Terminated")["Details"]["exit_code"] == "0"
    assert alloc["TaskStates"]["main"]["State"] == "running"


def test_the_lab_refuses_a_launcher_that_is_not_an_absolute_path(lab):
    response = lab.api.put("/_lab/config", json={"openclaw_images": {VERSION: "openclaw"}})
    assert response.status_code == 400 and "openclaw_images must map names to absolute paths" in response.text
