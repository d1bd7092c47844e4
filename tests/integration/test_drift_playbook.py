# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/drift.yml on the lab: the phase 4 example farm (3 gateways, 7 agents, the bus on) deployed by
phase 2. A clean farm exits 0 and writes nothing. Then a hand-edited OpenClaw config (billy's gateway), an
agent-edited workspace file (monitor's SOUL.md on bobby) and a job changed outside Ansible (openclaw-main
registered again straight through the Nomad API with another image and one more Meta key): each is reported
in the summary and the JSON report, the run fails, nothing is written to Nomad or Consul (the simulator's
request log) and the edited files are left as they are."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_phase4 import Phase4Farm, phase4_model, sha
from tests.integration.test_phase_playbooks import ACL, OP_TOKEN, SECRETS
from tools.testsupport.labclient import live_mode

pytestmark = pytest.mark.skipif(live_mode(), reason="edits files on the lab's hosts")

PLAYBOOK = "playbooks/drift.yml"


class DriftFarm(Phase4Farm):
    def drift(self, model, check=True):
        variables = dict(model, drift_report_path=str(self.base / "report" / "drift.json"))
        return self.run(playbook=PLAYBOOK, extra=variables, check=check)

    def report(self):
        return json.loads((self.base / "report" / "drift.json").read_text())


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    farm = DriftFarm(tmp_path_factory.mktemp("drift"), ACL, OP_TOKEN, SECRETS).start()
    yield farm
    farm.lab.stop()
    farm.print_runs("drift")


@pytest.fixture(scope="module")
def deployed(farm):
    model = phase4_model()
    farm.run(extra=model)
    return model


def test_a_clean_farm_exits_0_and_writes_nothing(farm, deployed):
    run = farm.drift(deployed)
    assert run.writes() == [], run.writes()
    assert "drift: 0 difference(s) from the model" in run.output, run.output[-6000:]
    assert farm.report()["status"] == "clean" and farm.report()["findings"] == []
    # it did compare: every gateway and bus job was planned
    plans = {r["path"] for r in run.requests if r["path"].endswith("/plan")}
    assert plans == {f"/v1/job/openclaw-{gw}/plan" for gw in ("main", "bobby", "billy")} | {
        f"/v1/job/openclaw-bus-{node}/plan" for node in ("jerry", "bobby", "billy")}, plans


def test_hand_edits_and_a_job_changed_outside_ansible_are_reported_with_0_writes(farm, deployed):
    config = farm.gateway_dir("billy") / "config" / "openclaw.json"
    edited = json.loads(config.read_text())
    edited.setdefault("logging", {})["level"] = "debug"  # what a Control UI edit does
    config.write_text(json.dumps(edited, indent=2) + "\n")
    soul = farm.gateway_dir("bobby") / "workspaces" / "monitor" / "SOUL.md"
    soul.write_text(soul.read_text() + "\nI also watch the UPS.\n")
    job = farm.nomad.get("/v1/job/openclaw-main").json()
    task = next(t for t in job["TaskGroups"][0]["Tasks"] if t["Name"] == "gateway")
    task["Config"]["image"] = "ghcr.io/openclaw/openclaw:hand-picked"
    job["Meta"] = dict(job.get("Meta") or {}, edited_by="someone")
    response = farm.nomad.post("/v1/jobs", json={"Job": job})
    assert response.status_code == 200, response.text
    before = {"config": sha(config), "soul": sha(soul), "main": farm.nomad.get("/v1/job/openclaw-main").json()}

    run = farm.drift(deployed, check=False)
    text = " ".join(run.output.split())
    assert run.result.returncode != 0, run.output[-6000:]
    assert run.writes() == [], run.writes()
    assert "The farm differs from its model in 4 place(s)" in text, run.output[-6000:]
    for finding in (
            "gateway billy: edited on the node since octant.openclaw rendered it",
            "agent monitor: edited since octant.openclaw rendered it",
            "job openclaw-main: ghcr.io/openclaw/openclaw:hand-picked -> ghcr.io/openclaw/openclaw:",
            "job openclaw-main: someone -> (absent)"):
        assert finding in text, (finding, run.output[-6000:])
    # the summary's lines say where
    assert f"config gateway billy billy:{config}" in text
    assert f"workspace agent monitor bobby:{soul}" in text
    assert "job job openclaw-main TaskGroups.gateway.Tasks.gateway.Config.image" in text
    report = farm.report()
    assert report["status"] == "drift"
    assert sorted(f["kind"] for f in report["findings"]) == ["config", "job", "job", "workspace"], report
    # nothing touched: the files and the job are as they were
    assert sha(config) == before["config"] and sha(soul) == before["soul"]
    after = farm.nomad.get("/v1/job/openclaw-main").json()
    assert after["Version"] == before["main"]["Version"] and after["Meta"]["edited_by"] == "someone"
