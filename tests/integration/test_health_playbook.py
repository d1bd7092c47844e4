# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/health.yml on the lab: the phase 4 example farm (3 gateways, 7 agents, the bus on) deployed by
phase 2, then what the Nomad clients and the bus processes would add: each gateway's Consul service with its
two checks at the address of a stand-in gateway (testsupport's FakeGateway, answering /healthz), each gateway's bus
presence in the registry (GatewayPresence, as `openclaw-bus serve` holds it) and bobby's linked WhatsApp
session. Healthy: exit 0 with the table. Then one allocation failed (a lab fault), one check critical, one
inbox over its backlog threshold and one relay absent: exit non-zero naming each with its threshold. Both
runs make exactly the stated number of Consul and Nomad requests (7 G + 2 A + 1) and no write."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from openclaw_bus.consul import Consul  # noqa: E402
from openclaw_bus.mailbox import AgentBus  # noqa: E402
from openclaw_bus.registry import GatewayPresence  # noqa: E402
from tests.integration.test_phase4 import EXAMPLE, NODES, Phase4Farm, phase4_model  # noqa: E402
from tests.integration.test_phase_playbooks import ACL, OP_TOKEN, SECRETS  # noqa: E402
from tools.testsupport.labclient import live_mode  # noqa: E402
from tools.testsupport.standins import FakeGateway  # noqa: E402

pytestmark = pytest.mark.skipif(live_mode(), reason="stands in for the Nomad clients and bus processes of the lab")

PLAYBOOK = "playbooks/health.yml"
AGENTS = {gw: sorted(a["id"] for a in EXAMPLE["farm_agents"] if a["gateway"] == gw) for gw in NODES}
G, A = len(NODES), sum(len(a) for a in AGENTS.values())


def expected_requests(gateways, agents):
    """The formula health.yml states (bus on): Nomad 3 G + 3 G variables, Consul G + 1 + 2 A."""
    return 7 * gateways + 2 * agents + 1


class HealthFarm(Phase4Farm):
    def health(self, model, check=True, **extra):
        variables = dict(model, health_report_path=str(self.base / "report" / "health.json"), **extra)
        run = self.run(playbook=PLAYBOOK, extra=variables, check=check)
        (self.base / "report" / "output.txt").write_text(run.output)  # for a failing assertion's reader
        return run

    def report(self):
        return json.loads((self.base / "report" / "health.json").read_text())


def register_gateway(farm, gateway, fake):
    """What the Nomad client does for the gateway job's service: both checks; Nomad runs the script check
    itself and reports it to Consul as a TTL check."""
    service = {"ID": f"_nomad-task-{gateway}-gateway-openclaw-{gateway}-http", "Name": f"openclaw-{gateway}",
               "Address": "127.0.0.1", "Port": fake.port, "Tags": ["openclaw", f"openclaw-gateway={gateway}"],
               "Checks": [{"CheckID": f"{gateway}-healthz", "Name": "healthz", "HTTP": f"{fake.url}/healthz",
                           "Interval": "10s", "Timeout": "2s", "Status": "passing"},
                          {"CheckID": f"{gateway}-healthz-body", "Name": "healthz-body", "TTL": "1h",
                           "Status": "passing"}]}
    response = farm.consul.put("/v1/agent/service/register", json=service)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    farm = HealthFarm(tmp_path_factory.mktemp("health"), ACL, OP_TOKEN, SECRETS).start()
    farm.fakes, farm.presences = {}, {}
    yield farm
    for presence in farm.presences.values():
        presence.stop()
    for fake in farm.fakes.values():
        fake.stop()
    farm.lab.stop()
    farm.print_runs("health")


@pytest.fixture(scope="module")
def healthy(farm):
    model = phase4_model()
    farm.run(extra=model)
    for gateway, node in NODES.items():
        fake = farm.fakes[gateway] = FakeGateway(token=SECRETS["op://OctantLab/openclaw-gateway/token"]).start()
        register_gateway(farm, gateway, fake)
        presence = GatewayPresence(Consul(farm.lab.consul_addr, ACL), gateway, node,
                                   [{"id": agent} for agent in AGENTS[gateway]], publish=False)
        farm.presences[gateway] = presence.start()
    creds = farm.gateway_dir("bobby", "bobby") / "state" / "credentials" / "whatsapp" / "default" / "creds.json"
    creds.write_text('{"noiseKey": "lab"}\n')
    return model


def test_a_healthy_farm_passes_with_one_table_and_the_stated_requests(farm, healthy):
    run = farm.health(healthy)
    assert [r for r in playbook_requests(run) if r["method"] != "GET"] == []
    assert "0 critical" in run.output, run.output[-6000:]
    # the table: one line per check, the gateways' checks among them
    for gateway in NODES:
        for check in ("nomad job", "allocation", "deployment", r"check healthz\s", "check healthz-body",
                      r"healthz\s+http"):
            assert re.search(rf"OK\s+gateway {gateway}\s+{check}", run.output), (gateway, check, run.output[-6000:])
    print("\n".join(line for line in run.result.stdout.splitlines() if "  " in line and "SUBJECT" in line
                     or re.search(r"^\s*- '(OK|WARNING|CRITICAL)\s", line) or "checks:" in line))
    report = farm.report()
    assert report["status"] == "ok" and report["critical"] == []
    assert {row["subject"] for row in report["checks"]} >= {f"inbox {a}" for a in AGENTS["bobby"]} | {
        "whatsapp bobby/default", "job openclaw-bus-billy"}
    assert len(playbook_requests(run)) == expected_requests(G, A) == report["requests"]["expected"], farm_counts(run)


def farm_counts(run):
    return json.dumps(run.counts(), indent=1)


def playbook_requests(run):
    """The run's requests without the stand-in bus processes' own session renewals."""
    return [r for r in run.requests if not r["path"].startswith("/v1/session/renew/")]


def test_each_critical_finding_is_named_with_its_threshold_and_the_run_fails(farm, healthy):
    # billy's allocation failed: what Nomad answers once its client reported the task dead
    allocs = farm.nomad.get("/v1/job/openclaw-billy/allocations").json()
    for alloc in allocs:
        alloc.update(ClientStatus="failed", ClientDescription="Failed tasks")
    farm.admin.fault("/v1/job/openclaw-billy/allocations", status=200, service="nomad", body=json.dumps(allocs))
    # bobby's body check critical (the gateway answers {"ok": false}; Nomad's script check reports it)
    farm.consul.put("/v1/agent/check/fail/bobby-healthz-body", params={"note": "exit status 2"})
    # monitor's inbox over its own backlog threshold
    sender = AgentBus(Consul(farm.lab.consul_addr, ACL), "jerry", gateway="main")
    for n in range(3):
        sender.send("monitor", text=f"disk check {n}")
    # main's bus process gone: its relays (jerry, general) are absent
    farm.presences.pop("main").stop()
    model = dict(healthy, farm_health={"inboxes": {"monitor": {"backlog_max": 2}}})
    try:
        run = farm.health(model, check=False)
    finally:
        farm.admin.clear_faults()
    text = " ".join(run.output.split())
    assert run.result.returncode != 0
    assert "The farm is not healthy" in text, run.output[-6000:]
    for finding in (
            "gateway billy: allocation ",
            "failed (threshold: client status running)",
            "gateway bobby: check healthz-body critical: exit status 2 (threshold: passing)",
            "inbox monitor: backlog 3 unacknowledged (threshold: farm_health.inboxes.monitor.backlog_max 2)",
            "inbox jerry: relay no live bus process of gateway main relays it (threshold: a relay is present)",
            "inbox general: relay no live bus process",
            "agent jerry: liveness gateway main offline"):
        assert finding in text, (finding, run.output[-6000:])
    # what is fine stays fine and is not named
    assert "gateway main: allocation" not in text and "inbox bobby: backlog" not in text
    report = farm.report()
    assert report["status"] == "critical" and len(report["critical"]) == 7, report["critical"]
    assert [r for r in playbook_requests(run) if r["method"] != "GET"] == []
    assert len(playbook_requests(run)) == expected_requests(G, A), farm_counts(run)
