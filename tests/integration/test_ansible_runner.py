"""The playbooks run under ansible-runner, the way AWX runs them: project = this checkout,
inventory = inventory/lab, connection settings from the job's environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tests.integration.labfarm import Farm
from tests.integration.test_onepassword_playbook import FAKE

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


# Phase 2 with the credentials AWX would inject ----------------------------------------------------

AWX_ACL = "7d2c9e41-3b6a-4f08-8c15-a9e0b4d7f263"
AWX_OP_TOKEN = "ops_awx-injected-Tq58Vb"
AWX_SECRETS = {
    "op://OctantLab/openclaw-gateway/token": "gwtok-awx-Rn42Hs",
    "op://OctantLab/litellm/master-key": "sk-litellm-awx-Ke71",
    "op://OctantLab/anthropic/api-key": "sk-ant-awx-Ud38",
    "op://OctantLab/openclaw-slack/bot-token": "xoxb-awx-Fy29",
    "op://OctantLab/openclaw-slack/app-token": "xapp-awx-Gw63",
    "op://OctantLab/openclaw-discord/bot-token": "dsc-awx-Mv15",
    "op://OctantLab/zai/api-key": "zai-awx-Pj04",
}


def inject(credential_type, inputs, files_dir):
    """What AWX does with a custom credential type at launch: render each injector template with the
    credential's inputs in a Jinja sandbox (file templates are written to files named by
    tower.filename), giving environment variables and extra vars."""
    jinja = ImmutableSandboxedEnvironment()
    fields = {field["id"]: inputs.get(field["id"], "") for field in credential_type["inputs"]["fields"]}
    injectors = credential_type["injectors"]
    filenames = {}
    for key, template in injectors.get("file", {}).items():
        path = files_dir / f"{credential_type['name'].replace(' ', '_')}.{key.split('.')[-1]}"
        path.write_text(jinja.from_string(template).render(**fields))
        filenames[key.split(".", 1)[1] if "." in key else None] = str(path)
    context = dict(fields, tower={"filename": filenames.get(None) or filenames})
    render = {section: {name: jinja.from_string(value).render(**context)
                        for name, value in injectors.get(section, {}).items()} for section in ("env", "extra_vars")}
    return render["env"], render["extra_vars"]


def test_phase2_with_awx_injected_credentials(tmp_path):
    (tmp_path / "farm").mkdir()
    farm = Farm(tmp_path / "farm", AWX_ACL, AWX_OP_TOKEN, AWX_SECRETS).start()
    try:
        private = tmp_path / "runner"
        (private / "env").mkdir(parents=True)
        (private / "project").symlink_to(ROOT)
        (private / "inventory").symlink_to(ROOT / "inventory" / "lab")
        types = {path.stem: yaml.safe_load(path.read_text())
                 for path in (ROOT / "awx" / "credential_types").glob("*.yml")}
        credentials = {"onepassword": {"token": AWX_OP_TOKEN},
                       "nomad": {"host": farm.lab.nomad_addr, "token": AWX_ACL},
                       "consul": {"host": farm.lab.consul_addr, "token": AWX_ACL}}
        envvars, extravars = {}, dict(farm.variables())
        for name, inputs in credentials.items():
            env, extra = inject(types[name], inputs, tmp_path)
            envvars.update(env)
            extravars.update(extra)
        assert set(envvars) == {"OP_SERVICE_ACCOUNT_TOKEN", "NOMAD_ADDR", "NOMAD_TOKEN", "NOMAD_CACERT",
                                "CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_CACERT"}
        assert envvars["NOMAD_CACERT"] == ""  # no CA given: the trust store, not an empty file
        # The 1Password SDK faked at Client.authenticate, as in every playbook test.
        envvars.update(PYTHONPATH=str(farm.shim), OCTANT_FAKE_OP_SPEC=str(farm.spec),
                       OCTANT_FAKE_OP_MODULE=str(FAKE))
        (private / "env" / "envvars").write_text(json.dumps(envvars))
        (private / "env" / "extravars").write_text(json.dumps(extravars))
        env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
        # Nothing but the credentials says where the lab is: the inventory's default ports are wrong.
        for name in ("LAB_NOMAD_PORT", "LAB_CONSUL_PORT", "NOMAD_ADDR", "CONSUL_HTTP_ADDR", "NOMAD_TOKEN",
                     "CONSUL_HTTP_TOKEN", "OP_SERVICE_ACCOUNT_TOKEN"):
            env.pop(name, None)
        since = farm.admin.last_seq()
        result = subprocess.run([str(BIN / "ansible-runner"), "run", str(private), "-p", "playbooks/phase2.yml"],
                                capture_output=True, text=True, env=env, timeout=900)
        assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
        assert [path.read_text() for path in (private / "artifacts").glob("*/status")] == ["successful"]
        job = farm.nomad.get("/v1/job/openclaw-main")
        assert job.status_code == 200
        writes = [r for r in farm.admin.requests(since=since) if r["method"] in ("PUT", "POST", "DELETE")]
        assert {r["service"] for r in writes} == {"nomad", "consul"}
        resolves = [c for c in farm.op_calls() if c["call"] == "authenticate"]
        assert resolves, "the secrets role never authenticated to (fake) 1Password"
        output = result.stdout + result.stderr + "".join(
            p.read_text(errors="replace") for p in (private / "artifacts").rglob("*") if p.is_file())
        for secret in (AWX_ACL, AWX_OP_TOKEN, *AWX_SECRETS.values()):
            assert secret not in result.stdout + result.stderr
        assert AWX_SECRETS["op://OctantLab/anthropic/api-key"] not in output
    finally:
        farm.lab.stop()
