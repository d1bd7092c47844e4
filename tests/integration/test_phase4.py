# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/phase4.yml rolled out over a running phase 2 farm on the lab simulator (ACLs on, 1Password
faked at Client.authenticate, one data root per lab host): the model of inventory/examples/phase4-farm.yml,
with the WhatsApp account moved to bobby's gateway so that a linked session has to travel too.

The tests run in file order and build on each other: phase 2 first (with an agent's own edit, its
sessions and a linked WhatsApp session on jerry), then phase 4 in check mode (nothing moves, nothing is
written), phase 4 (everything arrives, byte for byte; sources kept aside; one gateway and one bus job per
node; the registry says where everything is), a re-run (no change, no write), and a conflicting move
(refused before any change)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from tests.integration.labfarm import Farm
from tests.integration.test_phase_playbooks import ACL, OP_TOKEN, SECRETS
from tools.testsupport.labclient import live_mode

pytestmark = pytest.mark.skipif(live_mode(), reason="moves data on the lab's hosts only")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "inventory" / "examples" / "phase4-farm.yml").read_text())
NODES = {"main": "jerry", "bobby": "bobby", "billy": "billy"}


def phase4_model():
    """The example model, with WhatsApp owned by bobby's gateway (bound to bobby)."""
    model = copy.deepcopy(EXAMPLE)
    whatsapp = next(c for c in model["farm_channels"] if c["kind"] == "whatsapp")
    whatsapp.update(gateway="bobby", bindings=[{"agent": "bobby"}])
    return model


class Phase4Farm(Farm):
    timeout = 900

    def variables(self):
        # one data root per lab host, as on real nodes; the controller's archive folder of this farm only
        return dict(super().variables(), openclaw_data_root=str(self.data) + "/{{ inventory_hostname }}",
                    data_root_fact_file=str(self.data) + "/{{ inventory_hostname }}/facts.d/octant_openclaw.fact",
                    relocate_stash_dir=str(self.stash))

    @property
    def stash(self):
        return self.base / "stash"

    def gateway_dir(self, gateway, node=None):
        return self.data / (node or NODES[gateway]) / "openclaw" / gateway

    def phase4(self, *args, model=None, check=True, env=None):
        return self.run(*args, playbook="playbooks/phase4.yml", extra=model or phase4_model(), check=check, env=env)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(root):
    """{relative path: sha256} of every file under root."""
    return {str(p.relative_to(root)): sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


def unrendered(files):
    """The files of a workspace that the agents role did not render (it re-renders its own on a model change)."""
    return {path: digest for path, digest in files.items() if path not in ("AGENTS.md", "SOUL.md")}


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    farm = Phase4Farm(tmp_path_factory.mktemp("phase4"), ACL, OP_TOKEN, SECRETS).start()
    yield farm
    farm.lab.stop()
    farm.print_runs("phase4")


def running_farm(farm):
    """Phase 2 on the lab, then what the agents and a QR link add to jerry's node over time; returns the trees
    of what is going to move."""
    farm.run()
    main = farm.gateway_dir("main")
    (main / "workspaces" / "bobby" / "SOUL.md").write_text("Bobby's own words, written by the agent.\n")
    (main / "workspaces" / "bobby" / "memory").mkdir()
    (main / "workspaces" / "bobby" / "memory" / "2026-11-25.md").write_text("Nomad drained billy at 03:00.\n")
    (main / "state" / "agents" / "bobby" / "agent").mkdir(parents=True)
    (main / "state" / "agents" / "bobby" / "agent" / "openclaw-agent.sqlite").write_bytes(b"SQLite format 3\0" * 64)
    (main / "state" / "agents" / "billy" / "sessions").mkdir(parents=True)
    (main / "state" / "agents" / "billy" / "sessions" / "s1.jsonl").write_text('{"role":"user"}\n')
    (main / "state" / "credentials" / "whatsapp" / "default" / "creds.json").write_text('{"noiseKey": "lab"}\n')
    return {"bobby": tree(main / "workspaces" / "bobby"), "billy": tree(main / "workspaces" / "billy"),
            "bobby-state": tree(main / "state" / "agents" / "bobby"),
            "billy-state": tree(main / "state" / "agents" / "billy"),
            "whatsapp": tree(main / "state" / "credentials" / "whatsapp" / "default"),
            "jerry": tree(main / "workspaces" / "jerry")}


@pytest.fixture(scope="module")
def before(farm):
    return running_farm(farm)


def test_check_mode_moves_and_writes_nothing(farm, before):
    run = farm.phase4("--check", "--diff")
    assert run.writes() == [], run.writes()
    main = farm.gateway_dir("main")
    assert tree(main / "workspaces" / "bobby") == before["bobby"]
    assert not farm.gateway_dir("bobby").exists() and not farm.gateway_dir("billy").exists()
    assert "agent bobby: gateway main -> gateway bobby on bobby" in run.output


def test_phase4_moves_every_agent_and_session_byte_for_byte(farm, before):
    run = farm.phase4("-vvv")
    bobby, billy, main = farm.gateway_dir("bobby"), farm.gateway_dir("billy"), farm.gateway_dir("main")
    # files the agents role rendered and nobody edited follow the new model (bobby and billy got new peers);
    # everything else arrives as it was
    assert unrendered(tree(bobby / "workspaces" / "bobby")) == unrendered(before["bobby"])
    assert unrendered(tree(billy / "workspaces" / "billy")) == unrendered(before["billy"])
    assert len(unrendered(before["bobby"])) == 1  # memory/2026-11-25.md
    assert "monitor" in (bobby / "workspaces" / "bobby" / "AGENTS.md").read_text()
    assert tree(bobby / "state" / "agents" / "bobby") == before["bobby-state"]
    assert tree(billy / "state" / "agents" / "billy") == before["billy-state"]
    assert tree(bobby / "state" / "credentials" / "whatsapp" / "default") == before["whatsapp"]
    assert unrendered(tree(main / "workspaces" / "jerry")) == unrendered(before["jerry"])
    # the sources are kept aside on jerry, not deleted
    (aside,) = list((main / "relocated").iterdir())
    assert tree(aside / "workspaces" / "bobby") == before["bobby"]
    assert tree(aside / "state" / "credentials" / "whatsapp" / "default") == before["whatsapp"]
    assert not (main / "workspaces" / "bobby").exists() and not (main / "state" / "agents" / "billy").exists()
    # the agent's own edit survived the move and the agents role still knows what it rendered
    assert (bobby / "workspaces" / "bobby" / "SOUL.md").read_text() == "Bobby's own words, written by the agent.\n"
    assert "kept bobby/SOUL.md" in run.output
    assert "kept bobby/AGENTS.md" not in run.output
    # new agents got their workspaces on their own gateway's node
    assert (billy / "workspaces" / "deploy" / "AGENTS.md").is_file()
    assert (bobby / "workspaces" / "monitor" / "AGENTS.md").is_file()
    # one gateway job and one bus job per node; main restarted with its new roster
    for gateway, node in NODES.items():
        job = farm.nomad.get(f"/v1/job/openclaw-{gateway}").json()
        assert job["Constraints"][0]["RTarget"] == node
        assert farm.nomad.get(f"/v1/job/openclaw-bus-{node}").status_code == 200
    assert farm.nomad.get("/v1/job/openclaw-main").json()["Meta"]["openclaw_agents"] == "general,jerry"
    # the registry says where everything is now
    record = json.loads(base64.b64decode(farm.consul.get("/v1/kv/openclaw/registry/farm").json()[0]["Value"]))
    assert {name: gw["node"] for name, gw in record["gateways"].items()} == NODES
    assert record["gateways"]["bobby"]["channels"] == ["discord:default", "whatsapp:default"]
    assert record["gateways"]["billy"]["agents"] == ["automate", "billy", "deploy"]
    for value in SECRETS.values():
        assert value not in run.output, "a secret value appears in phase 4's -vvv output"
    assert not list(farm.data.rglob("relocate-*.tgz")), "an archive was left on a node"
    assert not farm.stash.exists(), "the archives were left on the controller"
    # the record of the moves names each move, where from and where to, and when it started
    record = json.loads((bobby / "managed" / "relocated.json").read_text())
    assert sorted(record["moves"]) == ["agent bobby: main@jerry -> bobby@bobby",
                                       "whatsapp default: main@jerry -> bobby@bobby"], record
    assert {move["at"] for move in record["moves"].values()} == {aside.name}


def test_a_second_run_moves_and_changes_nothing(farm):
    run = farm.phase4()
    assert run.recap["changed"] == 0, run.result.stdout[-6000:]
    assert run.writes() == [], run.writes()
    assert "Nothing to move" in run.output


def test_a_destination_with_data_of_its_own_is_refused_before_any_change(farm):
    model = phase4_model()
    next(a for a in model["farm_agents"] if a["id"] == "general")["gateway"] = "billy"
    next(a for a in model["farm_agents"] if a["id"] == "jerry")["may_spawn"] = []  # spawning stays in one gateway
    slack = next(c for c in model["farm_channels"] if c["kind"] == "slack")
    slack["bindings"] = [{"agent": "jerry"}]
    stray = farm.gateway_dir("billy") / "workspaces" / "general"
    stray.mkdir(parents=True)
    (stray / "NOTES.md").write_text("somebody's notes\n")
    run = farm.phase4(model=model, check=False)
    assert run.result.returncode != 0
    assert f"{stray} already exists and was not copied there by this role. Nothing was changed." in \
        " ".join(run.output.split()), run.output[-4000:]
    assert run.writes() == [], run.writes()
    assert (farm.gateway_dir("main") / "workspaces" / "general" / "AGENTS.md").is_file()
