# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/phase2.yml end to end: a real `ansible-playbook -i inventory/lab` from the repository root
against the lab simulator (ACLs on: the management token is passed as NOMAD_TOKEN / CONSUL_HTTP_TOKEN,
as AWX would), with 1Password replaced at Client.authenticate only (the sitecustomize shim of
test_onepassword_playbook.py) and the data root of every lab host moved into a temporary folder.

One lab and one data root for the whole module; the tests run in file order and build on each other:
check mode on a fresh lab, the first run, the no-op re-run, an agent's edit, config drift, the lab's
placeholder secrets. Every run is at -vvv and no secret value may appear in its output, in the Nomad job,
in Consul KV or in any file under the data root."""

from __future__ import annotations

import base64
import getpass
import grp
import hashlib
import json
import os
import re
import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.integration.labfarm import Farm
from tests.integration.test_job_templates import SCRIPT, hcl_template_sequences, hcl_unescape, strings
from tools.testsupport.labclient import free_port, live_mode

pytestmark = pytest.mark.skipif(live_mode(), reason="runs the farm against the lab simulator only")

ROOT = Path(__file__).resolve().parents[2]
ACL = "5b0e2f4c-8d1a-4c3e-9a7f-2e6d1c0b9a88"
OP_TOKEN = "ops_phase-playbook-test-2f9c7a"
JOB = "openclaw-main"
# The op:// references of inventory/lab and values nobody would type by accident.
SECRETS = {
    "op://OctantLab/openclaw-gateway/token": "gwtok-Zq81LmXv4Rt7",
    "op://OctantLab/litellm/master-key": "sk-litellm-Pw62NbQe9",
    "op://OctantLab/anthropic/api-key": "sk-ant-api03-Hy5TcKd0",
    "op://OctantLab/openclaw-slack/bot-token": "xoxb-1-Slk7bot3Wq",
    "op://OctantLab/openclaw-slack/app-token": "xapp-1-Slk9app5Er",
    # looks like a template and has JSON specials: must reach Nomad exactly as it is
    "op://OctantLab/openclaw-discord/bot-token": 'dsc-{{ 7 * 6 }}-"q\\z-Mn4',
    "op://OctantLab/zai/api-key": "zai-unused-Vv3Kp8",  # no agent uses zai: never resolved
    # inventory/homelab, planned in check mode against the lab
    "op://Homelab/openclaw-gateway/token": "home-gwtok-Rk2Wd8",
    "op://Homelab/litellm/master-key": "home-sk-litellm-Jm5Ze1",
    "op://Homelab/anthropic/api-key": "home-sk-ant-Xo7Pq3",
    "op://Homelab/openclaw-slack/bot-token": "home-xoxb-Bt4Nc6",
    "op://Homelab/openclaw-slack/app-token": "home-xapp-Ap9Lv2",
    "op://Homelab/openclaw-discord/bot-token": "home-dsc-Dk3Mf5",
}
ENV_OF = {
    "OPENCLAW_GATEWAY_TOKEN": "op://OctantLab/openclaw-gateway/token",
    "LITELLM_API_KEY": "op://OctantLab/litellm/master-key",
    "ANTHROPIC_API_KEY": "op://OctantLab/anthropic/api-key",
    "SLACK_BOT_TOKEN": "op://OctantLab/openclaw-slack/bot-token",
    "SLACK_APP_TOKEN": "op://OctantLab/openclaw-slack/app-token",
    "DISCORD_BOT_TOKEN": "op://OctantLab/openclaw-discord/bot-token",
}


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    farm = Farm(tmp_path_factory.mktemp("phase2"), ACL, OP_TOKEN, SECRETS).start()
    yield farm
    farm.lab.stop()
    farm.print_runs("phase2")


def files_under(root):
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_no_secret(text, where):
    for ref, value in SECRETS.items():
        assert value not in text, f"the value of {ref} appears in {where}"
    assert OP_TOKEN not in text, f"the 1Password token appears in {where}"


def gateway_dir(farm):
    return farm.data / "openclaw" / "main"


# ------------------------------------------------------------------------------------------------


def test_check_mode_on_a_fresh_lab_changes_nothing(farm):
    run = farm.run("--check", "--diff", "-vvv")
    assert run.recap["failed"] == 0
    assert run.recap["changed"] > 0, "check mode must report what a first run would change"
    assert run.writes() == [], run.writes()
    assert ("nomad", "POST", f"/v1/job/{JOB}/plan") in [(r["service"], r["method"], r["path"]) for r in run.requests]
    assert files_under(farm.data) == []
    assert farm.nomad.get(f"/v1/job/{JOB}").status_code == 404
    # the diff shows the job's fields and the config that would be written
    assert "TaskGroups.gateway.Tasks.gateway.Config.image" in run.output
    assert '"ownership": "explicit"' in run.output
    assert_no_secret(run.output, "the --check --diff -vvv output")


def test_first_run_deploys_the_farm(farm):
    run = farm.run("--diff", "-vvv")
    assert run.recap["failed"] == 0 and run.recap["changed"] > 0
    assert "deployment: successful" in run.result.stdout
    assert_no_secret(run.output, "the first run's -vvv output")

    # 1Password: one resolve_all per run (check mode resolves too, to compare), with every reference
    # the gateway needs and no other (zai is in the model but no agent uses it)
    resolves = [c["detail"] for c in farm.op_calls() if c["call"] == "resolve_all"]
    assert resolves == [sorted(ENV_OF.values())] * 2


def test_the_job_has_the_expected_shape(farm):
    job = farm.nomad.get(f"/v1/job/{JOB}").json()
    assert job["Type"] == "service" and job["Datacenters"] == ["dc1"]
    assert {(c["LTarget"], c["Operand"], c["RTarget"]) for c in job["Constraints"]} >= {
        ("${node.unique.name}", "=", "jerry"), ("${attr.driver.podman.rootless}", "=", "true")}
    (group,) = job["TaskGroups"]
    network = group["Networks"][0]
    assert {(p["Label"], p["To"]) for p in network["DynamicPorts"]} == {("http", 18789), ("bridge", 18790)}
    assert network["DNS"]["Servers"] == ["10.88.0.53"]
    update = group["Update"]
    assert update["AutoRevert"] is True and update["HealthCheck"] == "checks" and update["MinHealthyTime"] > 0
    assert group["RestartPolicy"]["Mode"] == "delay" and group["ReschedulePolicy"]["Unlimited"] is True
    assert group["Migrate"]["HealthCheck"] == "checks"

    (service,) = group["Services"]
    assert service["Name"] == JOB and service["PortLabel"] == "http" and service["Provider"] == "consul"
    assert "traefik.enable=true" in service["Tags"]
    assert "traefik.http.routers.openclaw-main.rule=Host(`openclaw.lab.test`)" in service["Tags"]
    checks = {c["Name"]: c for c in service["Checks"]}
    assert checks["healthz"]["Type"] == "http" and checks["healthz"]["Path"] == "/healthz"
    body = checks["healthz-body"]
    assert body["Type"] == "script" and body["TaskName"] == "gateway" and body["Command"] == "node"
    assert "j.ok === true" in body["Args"][1] and "127.0.0.1:18789/healthz" in body["Args"][1]

    tasks = {t["Name"]: t for t in group["Tasks"]}
    gateway, plugins = tasks["gateway"], tasks["plugins"]
    assert gateway["Driver"] == "podman"
    assert gateway["Config"]["image"] == "ghcr.io/openclaw/openclaw:2026.9.6"
    assert gateway["Config"]["ports"] == ["http", "bridge"]
    root = gateway_dir(farm)
    assert gateway["Config"]["volumes"] == [f"{root}/config:/home/node/.openclaw-config",
                                            f"{root}/state:/home/node/.openclaw",
                                            f"{root}/workspaces:/home/node/.openclaw/workspaces"]
    assert gateway["Env"]["CONSUL_HTTP_ADDR"] == "consul.service.consul:8500"
    assert gateway["Env"]["NOMAD_ADDR"] == "http://nomad.service.consul:4646"
    assert gateway["Env"]["OPENCLAW_CONFIG_PATH"] == "/home/node/.openclaw-config/openclaw.json"
    assert gateway["Resources"]["MemoryMB"] == 2048
    (template,) = gateway["Templates"]
    assert template["Envvars"] is True and template["DestPath"].startswith("secrets/")
    assert template["ChangeMode"] == "restart" and template["ErrMissingKey"] is True
    assert 'nomadVar "nomad/jobs/openclaw-main"' in template["EmbeddedTmpl"]
    for name in ENV_OF:
        assert f"{name}=[[ .{name}.Value | toJSON ]]" in template["EmbeddedTmpl"]
    assert plugins["Lifecycle"] == {"Hook": "prestart", "Sidecar": False}
    assert plugins["Env"]["OPENCLAW_PLUGINS"] == "discord slack whatsapp"
    assert plugins["Env"]["OPENCLAW_VERSION"] == "2026.9.6"
    assert plugins["Config"]["volumes"] == [f"{root}/state:/home/node/.openclaw"]
    # as the Nomad client decodes it (HCL templates): the install script comes back byte for byte
    assert plugins["Config"]["entrypoint"] == ["/bin/sh", "-c"] and "command" not in plugins["Config"]
    for task in tasks.values():
        assert [s for s in strings(task["Config"]) if hcl_template_sequences(s)] == [], task["Name"]
    assert hcl_unescape(plugins["Config"]["args"][0]) == SCRIPT.read_text()

    deployment = farm.nomad.get(f"/v1/job/{JOB}/deployment").json()
    assert deployment["Status"] == "successful"


def test_the_variable_holds_exactly_the_secrets(farm):
    variable = farm.nomad.get(f"/v1/var/nomad/jobs/{JOB}").json()
    items = variable["Items"]
    assert sorted(items) == sorted(ENV_OF)
    # compared through hashes so that a failure never prints a value
    assert {k: sha(v) for k, v in items.items()} == {k: sha(SECRETS[ref]) for k, ref in ENV_OF.items()}


def test_the_registry_is_in_consul_kv(farm):
    entries = farm.consul.get("/v1/kv/openclaw/", params={"recurse": ""}).json()
    kv = {e["Key"]: (e["Value"] and base64.b64decode(e["Value"]).decode()) for e in entries}
    # one registry, shared with the bus: the farm record and one record per agent
    assert sorted(kv) == ["openclaw/registry/agents/billy", "openclaw/registry/agents/bobby",
                          "openclaw/registry/agents/jerry", "openclaw/registry/farm"]
    record = json.loads(kv["openclaw/registry/farm"])
    assert (record["schema_version"], record["agents"]) == (2, ["billy", "bobby", "jerry"])
    assert list(record["gateways"]) == ["main"]
    main = record["gateways"]["main"]
    assert (main["node"], main["job"], main["runtime"]) == ("jerry", JOB, "nomad")
    assert main["agents"] == ["billy", "bobby", "jerry"]
    assert main["channels"] == ["discord:default", "slack:default", "whatsapp:default"]
    bobby = json.loads(kv["openclaw/registry/agents/bobby"])
    assert (bobby["id"], bobby["gateway"], bobby["node"]) == ("bobby", "main", "jerry")
    assert bobby["capabilities"] == ["infrastructure", "monitoring"]
    assert json.loads(kv["openclaw/registry/agents/jerry"])["may_message"] == ["billy", "bobby"]
    assert json.loads(kv["openclaw/registry/agents/billy"])["model"]["primary"] == "litellm/glm-4.5-air"
    assert_no_secret(json.dumps(kv), "Consul KV")


def test_the_config_and_workspaces_are_on_the_node(farm):
    root = gateway_dir(farm)
    config = json.loads((root / "config" / "openclaw.json").read_text())
    assert config["meta"]["lastTouchedVersion"] == "2026.9.6"
    token_ref = {"source": "env", "provider": "default", "id": "OPENCLAW_GATEWAY_TOKEN"}
    assert config["gateway"]["auth"]["token"] == token_ref
    assert sorted(config["agents"]["entries"]) == ["billy", "bobby", "jerry"]
    assert config["agents"]["entries"]["jerry"]["workspace"] == "/home/node/.openclaw/workspaces/jerry"
    assert sorted(config["plugins"]["entries"]) == ["discord", "slack", "whatsapp"]
    record = json.loads((root / "managed" / "config.json").read_text())
    assert record["sha256"] == hashlib.sha256((root / "config" / "openclaw.json").read_bytes()).hexdigest()

    for agent in ("jerry", "bobby", "billy"):
        for name in ("AGENTS.md", "SOUL.md"):
            assert (root / "workspaces" / agent / name).is_file()
    agents_md = (root / "workspaces" / "bobby" / "AGENTS.md").read_text()
    assert "Infrastructure monitoring" in agents_md and "`nomad`" in agents_md and "**Jerry**" in agents_md
    recorded = json.loads((root / "managed" / "workspaces.json").read_text())["files"]
    assert sorted(recorded) == sorted(f"{a}/{n}" for a in ("billy", "bobby", "jerry") for n in ("AGENTS.md", "SOUL.md"))
    assert (root / "state" / "credentials" / "whatsapp" / "default").is_dir()
    assert oct((root / "state" / "credentials").stat().st_mode & 0o777) == "0o700"

    for path in files_under(farm.data):
        assert_no_secret(path.read_bytes().decode(errors="replace"), str(path))
    job = farm.nomad.get(f"/v1/job/{JOB}").text
    assert_no_secret(job, "the Nomad job")


def test_a_second_run_changes_and_writes_nothing(farm):
    run = farm.run("--diff", "-vvv")
    assert run.recap["changed"] == 0, run.result.stdout[-6000:]
    assert run.writes() == []
    counts = run.counts()
    # what the no-op re-run costs, per object: preflight's reachability checks, one read of the variable,
    # one plan of the job, one recursive read of each registry tree (farm record, agent records)
    assert counts.get(f"nomad GET /v1/var/nomad/jobs/{JOB}") == 1
    assert counts.get(f"nomad POST /v1/job/{JOB}/plan") == 1
    assert counts.get("consul GET /v1/kv/openclaw/registry/") == 1
    assert counts.get("consul GET /v1/kv/openclaw/registry/agents/") == 1
    assert len(run.requests) <= 9, counts
    print(f"\nno-op re-run: {run.seconds:.1f} s, {len(run.requests)} requests: {json.dumps(counts, indent=1)}")
    assert_no_secret(run.output, "the second run's -vvv output")
    assert len([c for c in farm.op_calls() if c["call"] == "resolve_all"]) == 3


def test_an_agent_edited_file_is_kept(farm):
    soul = gateway_dir(farm) / "workspaces" / "jerry" / "SOUL.md"
    edited = soul.read_text() + "\nI also like jazz.\n"
    soul.write_text(edited)
    run = farm.run("--tags", "agents")
    assert run.recap["changed"] == 0
    assert soul.read_text() == edited
    assert "kept jerry/SOUL.md" in run.result.stdout
    assert run.writes() == []

    forced = farm.run("--tags", "agents", extra={"agents_force_workspace": True})
    assert forced.recap["changed"] >= 1
    assert "I also like jazz." not in soul.read_text()
    backups = [p for p in soul.parent.iterdir() if p.name.startswith("SOUL.md.") and p.name.endswith("~")]
    assert len(backups) == 1 and backups[0].read_text() == edited


def test_config_drift_is_never_overwritten_silently(farm):
    config = gateway_dir(farm) / "config" / "openclaw.json"
    original = config.read_text()
    edited = original.replace('"checkOnStart": false', '"checkOnStart": true')
    assert edited != original
    config.write_text(edited)  # as OpenClaw does after a Control UI edit

    failed = farm.run("--tags", "gateway", check=False)
    assert failed.result.returncode != 0
    assert "was changed since octant.openclaw last rendered it" in failed.result.stdout
    assert "gateway_force_config=true" in failed.result.stdout
    assert config.read_text() == edited
    assert failed.writes() == []

    warned = farm.run("--tags", "gateway", extra={"gateway_config_drift": "warn"})
    assert warned.recap["changed"] == 0 and "is kept unchanged" in warned.result.stdout
    assert config.read_text() == edited

    forced = farm.run("--tags", "gateway", extra={"gateway_force_config": True})
    assert forced.recap["changed"] >= 1
    assert config.read_text() == original
    backups = [p for p in config.parent.iterdir() if p.name.startswith("openclaw.json.") and p.name.endswith("~")]
    assert len(backups) == 1 and backups[0].read_text() == edited
    assert forced.writes() == []  # the job did not change: the config is read by OpenClaw from the node


class _NotTheLab(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        self.send_response(404)
        self.end_headers()
        self.wfile.write(b"404 page not found\n")

    def log_message(self, *args):
        pass


def test_placeholder_secrets_are_refused_outside_the_lab(farm):
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _NotTheLab)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        run = farm.run("--tags", "secrets", check=False,
                       extra={"openclaw_lab_fake_secrets": True, "secrets_lab_nomad_address": f"http://127.0.0.1:{port}"})
    finally:
        server.shutdown()
    assert run.result.returncode != 0
    assert "is not the lab simulator" in run.result.stdout
    assert run.writes() == []


def test_lab_placeholder_secrets_work_against_the_lab(farm):
    run = farm.run("--tags", "secrets", extra={"openclaw_lab_fake_secrets": True})
    assert run.recap["changed"] == 1
    items = farm.nomad.get(f"/v1/var/nomad/jobs/{JOB}").json()["Items"]
    assert sorted(items) == sorted(ENV_OF)
    assert all(value.startswith("lab-fake-") for value in items.values())
    assert all(items[name] == "lab-fake-" + sha(ref)[:24] for name, ref in ENV_OF.items())


def test_whatsapp_login_prints_the_command(farm):
    run = farm.run(playbook="playbooks/whatsapp_login.yml")
    assert re.search(r"nomad alloc exec -i -t -task gateway [0-9a-f-]{36}\s+node dist/index.js channels login "
                     r"--channel whatsapp --account default", run.result.stdout)
    assert run.writes() == []


def test_a_leaner_model_plans_a_leaner_job(farm):
    """No channels (no plugin task, fewer secret keys), no hostname (no Traefik router), no DNS servers, other
    resources, the optional bridge TCP check, and the phase 3 bus on (a second template for the agents' bus
    MCP tokens): planned (check mode) against the strict simulator, which refuses unknown fields, so every
    variant of the template is a job Nomad accepts."""
    if farm.nomad.get(f"/v1/job/{JOB}").status_code == 404:  # run alone: deploy the lab's farm first
        farm.run()
    lean = [{"name": "main", "node": "jerry", "image": "ghcr.io/openclaw/openclaw:2026.9.6",
             "resources": {"cpu": 1000, "memory": 1536, "memory_max": 2048}}]
    run = farm.run("--check", "--diff", "--tags", "gateway", extra={
        "farm_channels": [], "farm_gateways": lean, "openclaw_dns_servers": [], "gateway_bridge_tcp_check": True,
        "gateway_config_drift": "warn", "farm_bus": {"enabled": True}})
    assert run.recap["failed"] == 0
    assert run.writes() == []
    plan = run.result.stdout  # the plan's diff against the deployed job, field by field
    assert re.search(r"^\+ +TaskGroups\.gateway\.Service\.Name: openclaw-main-bridge$", plan, re.M)
    assert re.search(r"^\+ +TaskGroups\.gateway\.Tasks\.gateway\.Resources\.MemoryMaxMB: '2048'$", plan, re.M)
    assert re.search(r"^- +TaskGroups\.gateway\.Tasks\.plugins\.Config\.entrypoint\[1\]: -c$", plan, re.M)
    assert re.search(r"^- +- traefik\.enable=true$", plan, re.M)
    assert re.search(r"^- +SLACK_BOT_TOKEN=\[\[ \.SLACK_BOT_TOKEN\.Value \| toJSON \]\]$", plan, re.M)
    assert re.search(r"^- +TaskGroups\.gateway\.Network\.DNS\.Servers: 10\.88\.0\.53$", plan, re.M)
    bus = "nomad/jobs/openclaw-main/gateway/gateway"
    assert re.search(rf'^\+ +\[\[ if nomadVarExists "{bus}" \]\]\[\[ with nomadVar "{bus}" \]\]$', plan, re.M)
    token = r'BUS_MCP_TOKEN_JERRY=\[\[ \(index \. "BUS_MCP_TOKEN_JERRY"\)\.Value \| toJSON \]\]'
    assert re.search(rf"^\+ +{token}$", plan, re.M)
    assert re.search(r"^\+ +TaskGroups\.gateway\.Tasks\.gateway\.Template\.DestPath: secrets/bus\.env$", plan, re.M)


def test_the_homelab_inventory_plans_cleanly_against_the_lab(farm, tmp_path):
    """inventory/homelab's model (its own datacenter, hostnames and vault) rendered and planned in check
    mode by the strict simulator: every field of its job is one Nomad knows, nothing is written."""
    home = tmp_path / "homelab-data"
    run = farm.run("--check", "--diff", "--tags", "gateway", inventory="inventory/homelab", extra={
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "openclaw_nomad_address": farm.lab.nomad_addr, "openclaw_consul_address": farm.lab.consul_addr,
        "openclaw_consul_datacenter": "dc1",  # the lab's Consul knows no other (Nomad's datacenter stays octant)
        "openclaw_data_root": str(home), "data_root_fact_file": str(home / "facts.d" / "octant_openclaw.fact"),
        # The homelab's data owner (hashi) does not exist on this machine.
        "openclaw_data_owner": getpass.getuser(), "openclaw_data_group": grp.getgrgid(os.getgid()).gr_name,
        "preflight_check_litellm": False})
    assert run.recap["failed"] == 0
    assert run.writes() == []
    assert "traefik.http.routers.openclaw-main.rule=Host(`openclaw.octant.lan`)" in run.output
    assert "Datacenters.Datacenters: octant" in run.output
    assert not home.exists()
    assert_no_secret(run.output, "the homelab check-mode output")


def test_no_secret_anywhere_after_all_runs(farm):
    for run in farm.runs:
        assert_no_secret(run.output, f"the output of ansible-playbook {' '.join(run.args)}")
    for path in files_under(farm.data):
        assert_no_secret(path.read_bytes().decode(errors="replace"), str(path))
    assert_no_secret(farm.nomad.get(f"/v1/job/{JOB}/versions").text, "the Nomad job versions")
    assert_no_secret(farm.consul.get("/v1/kv/", params={"recurse": ""}).text, "Consul KV")
    shutil.rmtree(farm.data, ignore_errors=True)
