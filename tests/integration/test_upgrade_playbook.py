# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/upgrade.yml on the lab between two real OpenClaw releases from npm (2026.9.5 -> 2026.9.6).

The farm, built once for the file: two gateways with one agent each (main on jerry, ops on bobby), no channels,
deployed on 2026.9.5 by phase 2. Each gateway job has a prestart task `validate` in the new image: the lab runs it
with the real CLI of that image's version (scripts/openclaw-toolchain installs 2026.9.5 into
.cache/openclaw-2026.9.5 when this file runs; 2026.9.6 is the suite's toolchain). What the Nomad clients add once
a gateway runs (its Consul service with both checks) is registered as test_health_playbook does, at a stand-in
gateway that reports the version of the image its job runs and an agent's answer, as OpenClaw does.

In file order, each run starting where the previous one left the farm (a rolled-back farm is the farm before):
--check prints the plan and writes nothing;
a lab deployment failure; a config the new version rejects (a key 2026.9.5 accepts and 2026.9.6 retired, as a
Control UI edit leaves it, kept with gateway_config_drift=warn); each ends with the previous job version running,
the state equal to the pre-upgrade snapshot, a report naming the failed check, and ops untouched. Then the upgrade
passes the gate and records 2026.9.6 in both jobs and the registry. The gate's other verdicts (a channel that does
not connect, a wrong version, no answer) are unit tests of the gate (tests/unit/plugins/module_utils)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.test_backup_playbooks import ALL_SECRETS, BackupFarm, restic
from tests.integration.test_health_playbook import register_gateway
from tests.integration.test_phase_playbooks import OP_TOKEN, SECRETS
from tools.testsupport.labclient import live_mode
from tools.testsupport.standins import FakeGateway

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = "2026.9.5", "2026.9.6"
ACL = "7d2a4b6c-1e3f-4a5b-8c9d-0e1f2a3b4c5d"
TOKEN = SECRETS["op://OctantLab/openclaw-gateway/token"]
GATEWAYS = {"main": "jerry", "ops": "bobby"}

pytestmark = [pytest.mark.skipif(live_mode(), reason="stands in for the Nomad clients of the lab"),
              pytest.mark.skipif(shutil.which("restic") is None, reason="needs restic (scripts/test installs it)")]


def toolchain(version):
    """The launcher of openclaw <version>: the suite's toolchain for NEW, a cached second one for OLD (installed
    here, only when this file runs)."""
    env = dict(os.environ)
    if version != NEW:
        env.update(OPENCLAW_VERSION=version, OPENCLAW_TOOLCHAIN_DIR=str(ROOT / ".cache" / f"openclaw-{version}"))
    result = subprocess.run([str(ROOT / "scripts" / "openclaw-toolchain")], env=env, capture_output=True, text=True,
                            timeout=900, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def model(version, config_drift=None):
    """Extra vars: the lab model on `version`, leaner: jerry alone on main, opsy alone on ops (bobby), no channels."""
    farm = yaml.safe_load((ROOT / "inventory/lab/group_vars/all/farm.yml").read_text(encoding="utf-8"))
    main = farm["farm_gateways"][0]
    ops = dict(copy.deepcopy(main), name="ops", node="bobby", hostname="ops.lab.test", system_agent="opsy")
    jerry = dict(farm["farm_agents"][0], may_message=[], may_spawn=[])
    opsy = dict(jerry, id="opsy", name="Opsy", gateway="ops", description="Operations on bobby.")
    extra = {"openclaw_version": version, "farm_gateways": [main, ops], "farm_agents": [jerry, opsy],
             "farm_channels": []}
    if config_drift:
        extra["gateway_config_drift"] = config_drift
    return extra


def job(farm, name):
    data = farm.nomad.get(f"/v1/job/openclaw-{name}").json()
    task = next(t for t in data["TaskGroups"][0]["Tasks"] if t["Name"] == "gateway")
    return {"version": data["Version"], "image": task["Config"]["image"], "stop": data.get("Stop"),
            "meta": data["Meta"]["openclaw_version"]}


def tree_of(root):
    return {str(p.relative_to(root)): p.read_bytes() for top in ("config", "state", "workspaces")
            for p in sorted((root / top).rglob("*")) if p.is_file()}


def gw_dir(farm, name):
    return farm.data / "openclaw" / name


class UpgradeFarm(BackupFarm):
    def variables(self):
        # The lab runs at time_scale 0.02: a 60 s progress deadline leaves the real validator room on a loaded
        # machine; the injected deployment failure still shows at the healthy deadline (6 s).
        return dict(super().variables(), upgrade_gate_timeout=20, gateway_progress_deadline=3000)

    def run(self, *args, **kwargs):
        # Only the hosts of the model's gateways (billy and the MacBook host none here): half the forks per task.
        return super().run("--limit", "jerry,bobby,localhost", *args, **kwargs)


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    launchers = {OLD: toolchain(OLD), NEW: toolchain(NEW)}
    farm = UpgradeFarm(tmp_path_factory.mktemp("upgrade"), ACL, OP_TOKEN, ALL_SECRETS)
    farm.env_overrides = {"XDG_STATE_HOME": str(farm.base / "controller-state")}
    farm.start()
    farm.admin.config(openclaw_images=launchers)
    farm.fakes = {}
    try:
        farm.run(extra=model(OLD))
        for name in GATEWAYS:
            fake = farm.fakes[name] = FakeGateway(token=TOKEN, answer="ready").start()
            fake.version = (lambda n=name: job(farm, n)["image"].rsplit(":", 1)[1])  # what its job runs now
            register_gateway(farm, name, fake)
        yield farm
    finally:
        for fake in farm.fakes.values():
            fake.stop()
        farm.lab.stop()
        farm.print_runs("upgrade")


def before_upgrade(farm):
    return {"main": tree_of(gw_dir(farm, "main")), "ops": tree_of(gw_dir(farm, "ops")), "ops_job": job(farm, "ops")}


def assert_rolled_back(farm, run, before, failed_at):
    """The run failed naming `failed_at`, main runs its previous job again with the state of the snapshot, the
    old version passed the re-gate, and ops was not touched."""
    (farm.base / "last-run.log").write_text(run.output)  # for the reader of a failure
    assert run.result.returncode != 0
    flat = " ".join(run.output.split())
    assert "Rolled back" in flat and f"failed at {failed_at}" in flat, flat[-4000:]
    assert "the previous version's gate: passed" in flat, flat[-4000:]
    main = job(farm, "main")
    assert main["image"] == f"ghcr.io/openclaw/openclaw:{OLD}" and not main["stop"], main
    assert tree_of(gw_dir(farm, "main")) == before["main"]
    assert job(farm, "ops") == before["ops_job"]
    assert tree_of(gw_dir(farm, "ops")) == before["ops"]
    assert not [w for w in run.writes() if "openclaw-ops" in w[2]], run.writes()


def test_check_mode_prints_the_plan_and_changes_nothing(farm):
    before = before_upgrade(farm)
    run = farm.run("--check", playbook="playbooks/upgrade.yml", extra=model(NEW))
    assert run.writes() == [], run.writes()
    flat = " ".join(run.output.split())
    plan = flat.split("TASK [Print the plan", 1)[1].split("TASK [", 1)[0]
    for name in GATEWAYS:
        assert f"gateway: {name}" in plan and f"job: openclaw-{name}" in plan, plan
    assert f"running: ghcr.io/openclaw/openclaw:{OLD}" in plan and f"new: ghcr.io/openclaw/openclaw:{NEW}" in plan, plan
    assert before_upgrade(farm) == before


def test_a_failed_deployment_rolls_back_the_job_and_the_state(farm):
    before = before_upgrade(farm)
    farm.admin.fail_next_deployment("openclaw-main")
    run = farm.run(playbook="playbooks/upgrade.yml", extra=model(NEW), check=False)
    assert_rolled_back(farm, run, before, "Submit the gateway jobs and wait for their deployments")
    # the new version's config had been written before the deployment failed: the restore put the old one back
    config = json.loads((gw_dir(farm, "main") / "config/openclaw.json").read_text())
    assert config["meta"]["lastTouchedVersion"] == OLD


def test_a_config_the_new_version_rejects_never_reaches_the_gateway(farm):
    """A Control UI edit made on 2026.9.5 (tools.codeMode.runtime, a key 2026.9.6 retired), kept by
    gateway_config_drift=warn: the new image's validator rejects it in the prestart task, so the new gateway never
    starts with it; the deployment fails and everything is rolled back."""
    path = gw_dir(farm, "main") / "config/openclaw.json"
    rendered = path.read_bytes()
    config = json.loads(rendered)
    config["tools"]["codeMode"] = {"enabled": False, "runtime": "quickjs-wasi"}
    path.write_text(json.dumps(config, indent=2) + "\n")
    try:
        before = before_upgrade(farm)
        previous = farm.nomad.get("/v1/job/openclaw-main").json()["Version"]
        run = farm.run(playbook="playbooks/upgrade.yml", extra=model(NEW, config_drift="warn"), check=False)
        assert_rolled_back(farm, run, before, "Submit the gateway jobs and wait for their deployments")
        flat = " ".join(run.output.split())
        assert "Task validate of allocation" in flat, flat[-4000:]
        assert "the new image's `openclaw config validate` rejected the config" in flat, flat[-4000:]
        # the real 2026.9.6 CLI said why, in the validate task of the new version's allocation
        allocs = farm.nomad.get("/v1/job/openclaw-main/allocations").json()
        (failed,) = [a for a in allocs if a["JobVersion"] == previous + 1]
        assert failed["ClientStatus"] == "failed", failed
        alloc = farm.nomad.get(f"/v1/allocation/{failed['ID']}").json()
        validate = alloc["TaskStates"]["validate"]
        assert validate["Failed"] is True
        event = next(e for e in validate["Events"] if e["Type"] == "Terminated")
        assert event["Details"]["exit_code"] == "1"
        assert "Unrecognized key" in event["Details"]["lab_output"] and "runtime" in event["Details"]["lab_output"]
        assert alloc["TaskStates"]["gateway"]["StartedAt"] == "0001-01-01T00:00:00Z", "the gateway started"
    finally:
        path.write_bytes(rendered)


def test_the_upgrade_passes_the_gate_and_records_the_version(farm):
    started = time.monotonic()
    run = farm.run(playbook="playbooks/upgrade.yml", extra=model(NEW))
    for name in GATEWAYS:
        now = job(farm, name)
        assert now["image"] == f"ghcr.io/openclaw/openclaw:{NEW}" and now["meta"] == NEW and not now["stop"], now
        config = json.loads((gw_dir(farm, name) / "config/openclaw.json").read_text())
        assert config["meta"]["lastTouchedVersion"] == NEW
        # the new version's own validator accepted the config in the prestart task
        allocs = farm.nomad.get(f"/v1/job/openclaw-{name}/allocations").json()
        latest = max(allocs, key=lambda a: a["CreateIndex"])
        alloc = farm.nomad.get(f"/v1/allocation/{latest['ID']}").json()
        event = next(e for e in alloc["TaskStates"]["validate"]["Events"] if e["Type"] == "Terminated")
        assert event["Details"]["exit_code"] == "0" and '"valid":true' in event["Details"]["lab_output"], event
    record = farm.consul.get("/v1/kv/openclaw/registry/farm", params={"raw": ""}).json()
    assert record["openclaw_version"] == NEW, record
    assert {n: g["image"] for n, g in record["gateways"].items()} == {
        n: f"ghcr.io/openclaw/openclaw:{NEW}" for n in GATEWAYS}
    flat = " ".join(run.output.split())
    for check in ("channels: every channel account connected", f"version: runs {NEW}", "answer: agent jerry answered",
                  "answer: agent opsy answered"):
        assert check in flat, (check, flat[-4000:])
    # the pre-upgrade snapshot of the run, tagged with the version that was running
    tags = [s["tags"] for s in json.loads(restic(farm, "snapshots", "--json", "--host", "openclaw-main"))]
    assert any(f"openclaw={OLD}" in t and any(x.startswith("run=upgrade-") for x in t) for t in tags), tags
    assert TOKEN not in run.output
    print(f"\nupgrade of {len(GATEWAYS)} gateways: {time.monotonic() - started:.1f}s")
