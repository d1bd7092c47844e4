"""The Nomad modules through a real `ansible-playbook` run against the lab simulator (or a live
cluster): --check --diff first (nothing written), then a normal run, then an idempotent one.
All runs are at -vvv; no secret value may appear anywhere in their output."""

from __future__ import annotations

import re
import sys
import uuid

import pytest

from tests.integration.conftest import run_playbook
from tools.testsupport.labclient import LabAdmin

SECRET_TOKEN = "gw-token-Playbook-Tq83nZ"
SECRET_KEY = "sk-ant-Playbook-Mm27vR"


@pytest.fixture
def log(labsim):
    return LabAdmin(labsim.admin_addr) if labsim is not None else None


PLAYBOOK = """
- name: Nomad modules against the lab
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: {python}
    gateway_image: docker.io/library/busybox:1.36
    # The job template reads the variable at run time; Ansible must not render it.
    secrets_template: !unsafe '{{{{ with nomadVar "nomad/jobs/{job}" }}}}TOKEN={{{{ .TOKEN }}}}{{{{ end }}}}'
  tasks:
    - name: Store the gateway secrets
      octant.openclaw.nomad_variable:
        path: nomad/jobs/{job}
        items:
          TOKEN: {token}
          ANTHROPIC_API_KEY: {key}

    - name: Run the gateway job
      octant.openclaw.nomad_job:
        wait: true
        wait_timeout: 120
        job:
          ID: {job}
          Type: service
          Datacenters: ["*"]
          TaskGroups:
            - Name: gateway
              Count: 1
              Update: {{MaxParallel: 1, AutoRevert: true, HealthCheck: task_states}}
              Tasks:
                - Name: openclaw
                  Driver: podman
                  Config:
                    image: "{{{{ gateway_image }}}}"
                    command: sleep
                    args: ["3600"]
                  Templates:
                    - DestPath: secrets/env
                      Envvars: true
                      EmbeddedTmpl: "{{{{ secrets_template }}}}"
                  Resources: {{CPU: 100, MemoryMB: 64}}

    - name: Read it back
      octant.openclaw.nomad_job_info:
        name: {job}
      register: info

    - name: Show its status
      ansible.builtin.debug:
        msg: "{{{{ info.job.Status | default('none') }}}}"
"""


def recap(stdout):
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", stdout)
    assert match, stdout[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()), strict=True))


def test_playbook_check_diff_then_run_then_idempotent(cluster, log, tmp_path):
    job = f"octant-pb-{uuid.uuid4().hex[:8]}"
    book = tmp_path / "nomad.yml"
    book.write_text(PLAYBOOK.format(python=sys.executable, job=job, token=SECRET_TOKEN, key=SECRET_KEY))
    env = {"NOMAD_ADDR": cluster["nomad_address"], "NOMAD_TOKEN": cluster["nomad_token"] or ""}
    try:
        since = log.last_seq() if log else 0
        checked = run_playbook(book, "--check", "--diff", "-vvv", inventory="localhost,", env=env)
        assert recap(checked.stdout)["changed"] == 2
        assert "TaskGroups.gateway.Tasks.openclaw.Config.image" in checked.stdout
        assert "(hidden) added" in checked.stdout
        if log:
            writes = [r for r in log.requests(service="nomad", since=since)
                      if r["method"] in ("PUT", "POST", "DELETE") and not r["path"].endswith("/plan")]
            assert writes == []
        first = run_playbook(book, "-vvv", inventory="localhost,", env=env)
        assert recap(first.stdout) == {"ok": 4, "changed": 2, "unreachable": 0, "failed": 0}
        assert re.search(r"status: successful", first.stdout)
        since = log.last_seq() if log else 0
        second = run_playbook(book, "--diff", "-vvv", inventory="localhost,", env=env)
        assert recap(second.stdout) == {"ok": 4, "changed": 0, "unreachable": 0, "failed": 0}
        if log:
            calls = [(r["method"], r["path"]) for r in log.requests(service="nomad", since=since)]
            assert calls.count(("POST", f"/v1/job/{job}/plan")) == 1
            assert ("POST", "/v1/jobs") not in calls
            assert [c for c in calls if c[1].startswith("/v1/var/")] == [("GET", f"/v1/var/nomad/jobs/{job}")]
        for run in (checked, first, second):
            output = run.stdout + run.stderr
            for secret in (SECRET_TOKEN, SECRET_KEY):
                assert secret not in output, f"{secret} leaked in ansible-playbook output"
    finally:
        cluster["nomad"].delete(f"/v1/job/{job}", params={"purge": "true"})
        cluster["nomad"].delete(f"/v1/var/nomad/jobs/{job}")
