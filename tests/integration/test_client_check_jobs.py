"""Every Nomad job and Consul ACL policy the collection generates, through the client checker (the
engines' own parsers, tools/nomad_client_check): the phase 2 gateway job of the lab model, the phase 3
bus job, the phase 4 example model (inventory/examples/phase4-farm.yml) and a variant with DNS servers,
memory_max and the bridge TCP check. The jobs are rendered by the roles themselves (playbooks in check
mode against the lab simulator, which checks every planned job); the policies by the generator the bus
role uses. Prints the checker's coverage (configs decoded, templates parsed, policies parsed)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import requests
import yaml

from tests.integration.labfarm import Farm
from tests.integration.test_phase_playbooks import ACL, OP_TOKEN, SECRETS
from tools.lab_simulator.clientcheck import ClientCheck
from tools.testsupport.labclient import live_mode

pytestmark = [pytest.mark.skipif(live_mode(), reason="the client check is the lab simulator's"), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "inventory" / "examples" / "phase4-farm.yml").read_text())
LAB_FARM = yaml.safe_load((ROOT / "inventory" / "lab" / "group_vars" / "all" / "farm.yml").read_text())
# The alert watcher (a second task of the bus job, its env from its own variable).
ALERTS = {"enabled": True, "urls": {"ntfy": "op://OctantLab/alerts/ntfy-url"}}
VARIANTS = {
    # name: (extra vars, tags)
    "phase2-lab": ({}, "gateway"),
    "phase3-lab": ({"farm_bus": {"enabled": True}, "farm_alerts": ALERTS}, "gateway,bus"),
    "phase4-example": (EXAMPLE, "gateway,bus"),
    "variant-dns-memory-max-bridge": ({"openclaw_dns_servers": ["10.88.0.53", "10.88.0.54"],
                                       "gateway_bridge_tcp_check": True, "farm_bus": {"enabled": True},
                                       "farm_alerts": ALERTS},
                                      "gateway,bus"),
}
COVERAGE = {"configs": 0, "templates": 0, "env_templates": 0, "policies": 0}


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    farm = Farm(tmp_path_factory.mktemp("clientcheck"), ACL, OP_TOKEN, SECRETS).start()
    yield farm
    farm.lab.stop()
    farm.print_runs("client check")
    print(f"\nclient check coverage: {COVERAGE}")


def with_memory_max(extra):
    """The lab model's gateways with a memory_max (the variant's resources)."""
    gateways = copy.deepcopy(LAB_FARM["farm_gateways"])
    for gateway in gateways:
        gateway["resources"] = dict(gateway["resources"], memory_max=gateway["resources"]["memory"] + 1024)
    return dict(extra, farm_gateways=gateways)


def observed(farm):
    response = requests.get(f"{farm.lab.admin_addr}/_lab/client-check", timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_generated_job_passes_the_client_check(farm, variant):
    extra, tags = VARIANTS[variant]
    if variant.startswith("variant"):
        extra = with_memory_max(extra)
    before = observed(farm)["stats"]
    run = farm.run("--check", "--tags", tags, extra=extra, check=False)
    assert run.recap["failed"] == 0, run.output[-4000:]
    after = observed(farm)
    jobs = after["jobs"]
    planned = sorted({r["path"].split("/")[3] for r in run.requests if r["path"].endswith("/plan")})
    assert planned, "the run planned no job"
    for name in ("configs", "templates", "env_templates"):
        COVERAGE[name] += after["stats"][name] - before[name]
    findings = {job_id: jobs[job_id]["findings"] for job_id in planned if jobs[job_id]["findings"]}
    print(f"\n{variant}: planned {planned}; findings: {findings}")
    assert not findings, "\n".join(f"{job_id}: {f['path']}: {f['message']}" for job_id, fs in findings.items()
                                   for f in fs)


@pytest.mark.parametrize("model", ["lab", "phase4-example"])
def test_every_generated_acl_policy_parses_as_consul_parses_it(model):
    """The bus role's policies (openclaw_bus_policies, the filter roles/bus/tasks/policies.yml uses), each
    through Consul's HCL1 rule parser."""
    from ansible_collections.octant.openclaw.plugins.filter.openclaw import openclaw_bus_policies

    farm_model = {k: v for k, v in copy.deepcopy(LAB_FARM).items() if k.startswith(("farm_", "openclaw_"))}
    farm_model["farm_model_providers"]["litellm"]["base_url"] = "http://127.0.0.1:14000/v1"  # untemplated
    farm_model.update(copy.deepcopy(EXAMPLE) if model == "phase4-example" else {})
    farm_model["farm_bus"] = dict(farm_model.get("farm_bus") or {}, enabled=True)
    policies = openclaw_bus_policies(farm_model)
    rules = [p["rules"] for kind in ("agents", "gateways", "watchers") for p in policies[kind].values()]
    assert len(rules) >= 5 and policies["watchers"]
    check = ClientCheck().start()
    refused = {text: check.acl_rules(text)["findings"] for text in rules}
    COVERAGE["policies"] += check.stats["policies"]
    assert check.stats["policies"] == len(set(rules))
    assert not any(refused.values()), refused
