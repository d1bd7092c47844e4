"""Hostile and malformed farm models through the preflight role (ansible-playbook, inventory/lab,
the lab simulator): each is refused before anything changes, every problem has a path, a message and
a fix, no refusal echoes a value that could be a secret, and the simulator's request log shows zero
writes for the whole batch (the positive control that the log counts writes is in test_preflight).

Identifiers with trailing newlines and control characters, numbers out of their engine's range, NaN
and infinity, booleans where numbers belong, YAML cycles, binary values, timestamps and malformed
op:// references; the models are written as YAML extra-vars files, as a user's inventory would be."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from tests.integration.test_preflight import BASE, MARKER, TOKEN, run_preflight, writes
from tools.testsupport.labclient import LabAdmin, LabProcess

SECRET = "sk-live-0123456789abcdef"  # stands for a secret pasted into the model; must never be echoed


def at(path, value):
    def mutate(model):
        node = model
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def rename_key(path, old, new):
    def mutate(model):
        node = model
        for key in path:
            node = node[key]
        node[new] = node.pop(old)
    return mutate


G, A, C, P = "farm_gateways", "farm_agents", "farm_channels", "farm_model_providers"
LITELLM_KEY = (P, "litellm", "api_key")
# name -> (mutation of BASE, or the YAML text of an extra-vars file; the path a problem must have)
CASES = {
    # identifiers and names that only look valid
    "agent_id_newline": (at((A, 0, "id"), "jerry\n"), "farm_agents[0].id"),
    "gateway_name_newline": (at((G, 0, "name"), "main\n"), "farm_gateways[0].name"),
    "secret_name_newline": (rename_key(("farm_secrets",), "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_TOKEN\n"),
                            "farm_secrets['OPENCLAW_GATEWAY_TOKEN\\n']"),
    "node_newline": (at((G, 0, "node"), "jerry\n"), "farm_gateways[0].node"),
    "node_uppercase": (at((G, 0, "node"), "Jerry"), "farm_gateways[0].node"),
    "provider_name_newline": (rename_key((P,), "zai", "zai\n"), "farm_model_providers['zai\\n']"),
    "account_newline": (at((C, 0, "account"), "default\n"), "farm_channels[0].account"),
    "capability_newline": (at((A, 0, "capabilities"), ["general\n"]), "farm_agents[0].capabilities[0]"),
    "exec_allow_newline": (at((A, 1, "exec_allow"), ["nomad\n"]), "farm_agents[1].exec_allow[0]"),
    "agent_name_nul": (at((A, 0, "name"), "Jerry\x00"), "farm_agents[0].name"),
    "version_newline": (at(("openclaw_version",), "2026.9.6\n"), "openclaw_version"),
    "hostname_newline": (at((G, 0, "hostname"), "openclaw.lab.test\n"), "farm_gateways[0].hostname"),
    "image_newline": (at((G, 0, "image"), "ghcr.io/openclaw/openclaw:2026.9.6\n"), "farm_gateways[0].image"),
    "image_space": (at((G, 0, "image"), "ghcr.io/openclaw/openclaw:2026.9.6 --privileged"), "farm_gateways[0].image"),
    "heartbeat_newline": (at((A, 1, "heartbeat", "every"), "30m\n"), "farm_agents[1].heartbeat.every"),
    "active_hours_newline": (at((A, 1, "heartbeat", "active_hours"), {"start": "08:00\n", "end": "23:00"}),
                             "farm_agents[1].heartbeat.active_hours.start"),
    "timezone_escape": (at((A, 1, "heartbeat", "active_hours"), {"start": "08:00", "end": "23:00",
                                                                 "timezone": "UTC\x1b[2J"}),
                        "farm_agents[1].heartbeat.active_hours.timezone"),
    "model_ref_newline": (at((A, 0, "model", "primary"), "litellm/glm-4.6\n"), "farm_agents[0].model.primary"),
    "model_id_newline": (at((P, "anthropic", "models", 0, "id"), "claude-sonnet-4-5\n"),
                         "farm_model_providers.anthropic.models[0].id"),
    "base_url_newline": (at((P, "zai", "base_url"), "https://api.z.ai/api/paas/v4\n"),
                         "farm_model_providers.zai.base_url"),
    "server_prefix_newline": (at(("farm_bus", "server_prefix"), "bus\n"), "farm_bus.server_prefix"),
    "system_agent_newline": (at((G, 0, "system_agent"), "jerry\n"), "farm_gateways[0].system_agent"),
    "binding_agent_tab": (at((C, 0, "bindings", 0, "agent"), "jerry\t"), "farm_channels[0].bindings[0].agent"),
    "peer_id_escape": (at((C, 0, "bindings", 1, "peer", "id"), "C04ALERTS01\x1b[31m"),
                       "farm_channels[0].bindings[1].peer.id"),
    "allow_from_cr": (at((C, 0, "allow_from"), ["U04OCTANT01\r"]), "farm_channels[0].allow_from[0]"),
    "emoji_bell": (at((A, 0, "emoji"), "\x07"), "farm_agents[0].emoji"),
    "description_nul": (at((A, 0, "description"), "General hub\x00"), "farm_agents[0].description"),
    "workspace_file_newline": (at((A, 0, "workspace_files"), ["AGENTS.md\n"]), "farm_agents[0].workspace_files[0]"),
    "may_message_newline": (at((A, 0, "may_message"), ["bobby\n"]), "farm_agents[0].may_message[0]"),
    "guild_newline": (at((C, 1, "bindings", 1, "guild"), "1100000000000000001\n"),
                      "farm_channels[1].bindings[1].guild"),
    "unknown_key_newline": (rename_key((G, 0), "hostname", "hostname\n"), "farm_gateways[0]['hostname\\n']"),
    "agent_name_too_long": (at((A, 0, "name"), "J" * 65), "farm_agents[0].name"),
    # numbers beyond what the engines take, not finite, or not numbers
    "port_too_high": (at((G, 0, "port"), 70000), "farm_gateways[0].port"),
    "port_privileged": (at((G, 0, "port"), 80), "farm_gateways[0].port"),
    "bridge_port_zero": (at((G, 0, "bridge_port"), 0), "farm_gateways[0].bridge_port"),
    "port_boolean": (at((G, 0, "port"), True), "farm_gateways[0].port"),
    "cpu_huge": (at((G, 0, "resources", "cpu"), 10 ** 9), "farm_gateways[0].resources.cpu"),
    "cpu_tiny": (at((G, 0, "resources", "cpu"), 100), "farm_gateways[0].resources.cpu"),
    "cpu_infinite": (at((G, 0, "resources", "cpu"), float("inf")), "farm_gateways[0].resources.cpu"),
    "memory_huge": (at((G, 0, "resources", "memory"), 10 ** 7), "farm_gateways[0].resources.memory"),
    "memory_nan": (at((G, 0, "resources", "memory"), float("nan")), "farm_gateways[0].resources.memory"),
    "memory_string": (at((G, 0, "resources", "memory"), "2048"), "farm_gateways[0].resources.memory"),
    "memory_max_below_memory": (at((G, 0, "resources", "memory_max"), 1536), "farm_gateways[0].resources.memory_max"),
    "memory_bytes": (at((G, 0, "resources", "memory"), 2 * 1024 ** 3), "farm_gateways[0].resources.memory"),
    "context_window_negative": (at((P, "anthropic", "models", 0, "context_window"), -1),
                                "farm_model_providers.anthropic.models[0].context_window"),
    "max_tokens_huge": (at((P, "anthropic", "models", 0, "max_tokens"), 10 ** 12),
                        "farm_model_providers.anthropic.models[0].max_tokens"),
    "bus_port_too_high": (at(("farm_bus", "port"), 99999), "farm_bus.port"),
    "bus_memory_tiny": (at(("farm_bus", "resources"), {"memory": 1}), "farm_bus.resources.memory"),
    "ratio_nan": (at(("farm_bus", "thresholds"), {"min_delivery_ratio": float("nan")}),
                  "farm_bus.thresholds.min_delivery_ratio"),
    "p99_infinite": (at(("farm_bus", "thresholds"), {"max_p99_ms": float("inf")}), "farm_bus.thresholds.max_p99_ms"),
    "p50_negative": (at(("farm_bus", "thresholds"), {"max_p50_ms": -5}), "farm_bus.thresholds.max_p50_ms"),
    "throughput_boolean": (at(("farm_bus", "thresholds"), {"min_throughput": True}),
                           "farm_bus.thresholds.min_throughput"),
    "bench_rate_zero": (at(("farm_bus", "bench"), {"rate": 0}), "farm_bus.bench.rate"),
    "bench_messages_huge": (at(("farm_bus", "bench"), {"messages": 10 ** 9}), "farm_bus.bench.messages"),
    "bench_batch_zero": (at(("farm_bus", "bench"), {"batches": [1, 0]}), "farm_bus.bench.batches[1]"),
    # malformed op:// references: shown by shape, never echoed
    "op_empty_part": (at(LITELLM_KEY, "op://OctantLab//master-key"), "farm_model_providers.litellm.api_key"),
    "op_secret_pasted": (at(LITELLM_KEY, f"op://{SECRET}"), "farm_model_providers.litellm.api_key"),
    "op_secret_in_query": (at(LITELLM_KEY, f"op://OctantLab/litellm/master-key?reveal={SECRET}"),
                           "farm_model_providers.litellm.api_key"),
    "op_secret_as_part": (at(LITELLM_KEY, f"op://OctantLab/{SECRET}$/key"), "farm_model_providers.litellm.api_key"),
    "op_newline": (at(LITELLM_KEY, "op://OctantLab/litellm/master-key\n"), "farm_model_providers.litellm.api_key"),
    "plaintext_secret": (at(LITELLM_KEY, SECRET), "farm_model_providers.litellm.api_key"),
    # not plain data: YAML cycles, binary values, timestamps, sets
    "yaml_cycle_in_agent": ("farm_agents: &a [{id: x, name: X, gateway: main, model: {primary: litellm/glm-4.6}, "
                            "capabilities: *a}]\n", "farm_agents[0].capabilities"),
    "yaml_cycle_in_gateway": ("farm_gateways:\n  - &g {name: main, node: jerry, image: 'x:1', resources: *g}\n",
                              "farm_gateways[0].resources"),
    "binary_secret": (f"farm_secrets:\n  OPENCLAW_GATEWAY_TOKEN: !!binary {'c2stbGl2ZS0wMTIz'}\n",
                      "farm_secrets.OPENCLAW_GATEWAY_TOKEN"),
    "binary_image": ("farm_bus: {image: !!binary aW1hZ2U=}\n", "farm_bus.image"),
    "date_version": ("openclaw_version: 2026-09-06\n", "openclaw_version"),
    "timestamp_in_list": ("farm_secrets: {OPENCLAW_GATEWAY_TOKEN: 2026-09-06 10:00:00}\n",
                          "farm_secrets.OPENCLAW_GATEWAY_TOKEN"),
    "set_capabilities": ("farm_bus: {image: !!set {a: null, b: null}}\n", "farm_bus.image"),
}


def vars_text(name):
    """The extra-vars YAML of one case: only the top-level variables the case changes."""
    change = CASES[name][0]
    if isinstance(change, str):
        return change
    model = copy.deepcopy(BASE)
    change(model)
    return yaml.safe_dump({key: value for key, value in model.items() if BASE.get(key) != value})


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """Every case through ansible-playbook against one lab: {name: (process, failure)}, and the request
    log of the whole batch."""
    from tests.integration.test_preflight import PLAYBOOK

    folder = tmp_path_factory.mktemp("hostile")
    playbook = folder / "preflight.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    with LabProcess(acl_token=TOKEN) as lab:
        admin = LabAdmin(lab.admin_addr)
        since = admin.last_seq()

        def run(name):
            path = folder / f"{name}.yml"
            path.write_text(vars_text(name), encoding="utf-8")
            return run_preflight(lab, playbook, args=("-e", f"@{path}"))

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = dict(zip(CASES, pool.map(run, CASES), strict=True))
        yield results, admin.requests(since=since)


def test_at_least_sixty_malformed_models():
    assert len(CASES) >= 60
    assert len({vars_text(name) for name in CASES}) == len(CASES), "every case is a different model"


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_with_path_and_fix(refused, name):
    results, _rows = refused
    result, failure = results[name]
    assert result.returncode == 2, f"{result.stdout}\n{result.stderr}"
    assert failure is not None, result.stdout
    assert MARKER not in result.stdout, "a task after preflight ran"
    assert failure["problems"], failure
    for problem in failure["problems"]:
        assert problem["path"] and problem["msg"] and problem["fix"], problem
        assert "\n" not in problem["path"] and "\x00" not in problem["msg"]
    assert CASES[name][1] in [problem["path"] for problem in failure["problems"]], failure["problems"]
    assert "Traceback" not in result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_zero_writes_for_the_whole_batch(refused):
    _results, rows = refused
    assert writes(rows) == []
