"""The playbooks run under ansible-runner, the way AWX runs them: project = this checkout,
inventory = inventory/lab, connection settings from the job's environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_cluster_status_under_ansible_runner(labsim, lab, tmp_path):
    private = tmp_path / "runner"
    (private / "env").mkdir(parents=True)
    (private / "project").symlink_to(ROOT)
    (private / "inventory").symlink_to(ROOT / "inventory" / "lab")
    # What an AWX job template would inject: the lab's ports and the management tokens.
    (private / "env" / "envvars").write_text(json.dumps({
        "LAB_CONSUL_PORT": str(labsim.consul_port), "LAB_NOMAD_PORT": str(labsim.nomad_port),
        "CONSUL_HTTP_TOKEN": labsim.acl_token, "NOMAD_TOKEN": labsim.acl_token}))
    since = lab.last_seq()
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    result = subprocess.run([str(BIN / "ansible-runner"), "run", str(private), "-p", "playbooks/cluster_status.yml"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    status = (private / "artifacts").glob("*/status")
    assert [path.read_text() for path in status] == ["successful"]
    calls = [(row["method"], row["path"]) for row in lab.requests(since=since)]
    assert ("GET", "/v1/status/leader") in calls
    assert ("GET", "/v1/nodes") in calls
    assert all(method == "GET" for method, _ in calls)
    assert "jerry" in result.stdout
    assert labsim.acl_token not in result.stdout
