"""Property-based tests (Hypothesis) of the farm model validator: generated ids, names and numbers,
most of them near or across the edges (trailing newlines, control characters, surrogates, NaN,
infinity, booleans, out-of-range numbers).

- validate() never raises, and every problem has a one-line path, a message and a fix;
- any model it accepts renders (openclaw_config, secret env) to UTF-8 JSON, and a fixed number of the
  accepted configs, the most extreme ones, pass the real `openclaw config validate --json`
  (about 1.5 s per call, so not one per example);
- the Consul keys derived from an accepted model (bus inboxes, registry) round-trip through the lab
  simulator's KV with Consul's newest key rules on: written quoted, listed back unquoted, the same.

Examples and seed are fixed (derandomize) so CI cost is stable: EXAMPLES examples, CLI_CONFIGS CLI calls."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from ansible_collections.octant.openclaw.plugins.filter.openclaw import openclaw_config, openclaw_secret_env
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_openclaw_config import dummy_env, openclaw, run_openclaw  # noqa: F401 (fixture)
from tools.testsupport.labclient import Api, LabAdmin, LabProcess

EXAMPLES = 400
CLI_CONFIGS = 4
HOSTS = {"homelab": ["jerry", "bobby", "billy"], "workstations": ["macbook"]}
TOKEN = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
EDGY = ["", " ", "\n", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\ud800", "é", "٣", "*", "/", "..", "$"]
ACCEPTED = []  # (model, gateway) of every accepted example, filled by the property test
SEEN = {"examples": 0, "accepted": 0}


def identifier(pattern):
    """Valid ids, valid ids with one edgy character added, and arbitrary text."""
    valid = st.from_regex(pattern, fullmatch=True)
    return st.one_of(*[valid] * 12, st.tuples(valid, st.sampled_from(EDGY), st.booleans()).map(
        lambda t: t[0] + t[1] if t[2] else t[1] + t[0]), st.text(max_size=8))


def number(lo, hi):
    """Numbers in range, at and just beyond the bounds, huge, negative, not finite, booleans, strings."""
    return st.one_of(*[st.integers(lo, hi)] * 12, st.sampled_from([lo, hi, lo - 1, hi + 1, 0, -1, 10 ** 18]),
                     st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.just("1"))


@st.composite
def models(draw):
    ids = draw(st.lists(identifier(fm.AGENT_ID_RE), min_size=1, max_size=3))
    gateway = draw(identifier(fm.GATEWAY_NAME_RE))
    model_id = draw(identifier(fm.MODEL_ID_RE))
    agents = []
    for index, agent_id in enumerate(ids):
        agent = {"id": agent_id, "name": draw(st.one_of(*[st.just(f"Agent {index}")] * 4, st.text(max_size=70))),
                 "gateway": gateway, "model": {"primary": f"litellm/{model_id}"},
                 "capabilities": draw(st.lists(identifier(fm.CAPABILITY_RE), max_size=2)),
                 "may_message": [other for other in ids if other != agent_id]}
        if draw(st.booleans()):
            agent["emoji"] = draw(st.text(max_size=3))
            agent["description"] = draw(st.text(max_size=40))
        if draw(st.booleans()):
            every = st.one_of(st.sampled_from(["30m", "1h30m", "0m"]), st.text(max_size=5))
            agent["heartbeat"] = {"every": draw(every),
                                  "active_hours": {"start": "08:00", "end": "23:00",
                                                   "timezone": draw(identifier(fm.TIMEZONE_RE))}}
        agents.append(agent)
    resources = {"cpu": draw(number(fm.MIN_CPU_MHZ, fm.MAX_CPU_MHZ)),
                 "memory": draw(number(fm.MIN_MEMORY_MB, fm.MAX_MEMORY_MB))}
    if draw(st.booleans()):
        resources["memory_max"] = draw(number(fm.MIN_MEMORY_MB, fm.MAX_MEMORY_MB))
    return {
        "openclaw_version": "2026.9.6",
        "farm_gateways": [{"name": gateway, "node": draw(st.one_of(st.just("jerry"), identifier(fm.NODE_RE))),
                           "port": (port := draw(number(1024, 65425))),
                           "bridge_port": draw(st.one_of(*[st.just(port + 1 if isinstance(port, int) else 18790)] * 6,
                                                         number(1024, 65535))),
                           "image": "ghcr.io/openclaw/openclaw:2026.9.6", "resources": resources}],
        "farm_agents": agents,
        "farm_model_providers": {"litellm": {
            "base_url": "http://litellm.service.consul:4000/v1", "api": "openai-completions",
            "api_key": draw(st.one_of(st.just("op://Homelab/litellm/key"), st.text(max_size=12).map("op://".__add__))),
            "models": [{"id": model_id, "name": draw(st.text(max_size=20)),
                        "context_window": draw(number(1, fm.MAX_TOKENS)),
                        "max_tokens": draw(number(1, fm.MAX_TOKENS))}]}},
        "farm_secrets": {draw(st.one_of(st.just("OPENCLAW_GATEWAY_TOKEN"), identifier(fm.ENV_NAME_RE))):
                         "op://Homelab/gateway/token"},
        "farm_bus": {"enabled": draw(st.booleans()),
                     "thresholds": {"min_delivery_ratio": draw(number(0, 1)), "max_p99_ms": draw(number(0, 3600000))}},
    }


def keys_of(model):
    """The Consul keys an accepted model leads to: registry entries and a message in each inbox."""
    keys = [f"{fm.BUS_REGISTRY_ROOT}/gateways/{gw['name']}" for gw in model["farm_gateways"]]
    for agent in model["farm_agents"]:
        keys.append(f"{fm.BUS_REGISTRY_ROOT}/agents/{agent['id']}")
        keys += [f"{fm.BUS_ROOT}/{peer}/in/{agent['id']}/00000000000000000001" for peer in agent["may_message"]]
    return keys


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(models())
def test_validator_properties(model):
    SEEN["examples"] += 1
    problems = fm.validate(model, HOSTS)
    for problem in problems:
        assert set(problem) == {"path", "msg", "fix"}
        assert all(isinstance(problem[key], str) and problem[key] for key in ("msg", "fix")), problem
        assert problem["path"].isprintable() and problem["msg"].isprintable(), problem
    if problems:
        return
    SEEN["accepted"] += 1
    normal = fm.normalize(model)
    gateway = normal["farm_gateways"][0]["name"]
    config = openclaw_config(normal, gateway)
    json.dumps(config, ensure_ascii=False).encode("utf-8")  # no surrogate, nothing JSON cannot hold
    assert set(openclaw_secret_env(normal, gateway)) >= {"OPENCLAW_GATEWAY_TOKEN"}
    for value in (normal["farm_gateways"][0]["resources"].get("cpu"), normal["farm_gateways"][0]["port"]):
        assert isinstance(value, int) and not isinstance(value, bool)
    assert all(math.isfinite(v) for v in normal["farm_bus"]["thresholds"].values())
    ACCEPTED.append((normal, gateway))


def test_some_examples_were_accepted_and_some_refused():
    print(f"\nHypothesis: {SEEN['examples']} examples, {SEEN['accepted']} accepted")
    assert SEEN["examples"] >= EXAMPLES * 0.9
    assert 20 <= SEEN["accepted"] < SEEN["examples"]


def _extremes():
    """CLI_CONFIGS accepted models, the most different ones: largest and smallest numbers, most agents."""
    def size(entry):
        model, _ = entry
        gw = model["farm_gateways"][0]
        return (len(model["farm_agents"]), gw["port"], gw["resources"]["memory"])
    ordered = sorted(ACCEPTED, key=size)
    picks = [ordered[0], ordered[-1], ordered[len(ordered) // 2], max(ordered, key=lambda e: len(json.dumps(e[0])))]
    return picks[:CLI_CONFIGS]


def test_accepted_configs_pass_the_real_openclaw_validate(openclaw, tmp_path):  # noqa: F811 (fixture)
    assert ACCEPTED, "run with test_validator_properties"
    (tmp_path / "tmp").mkdir()

    def check(item):
        index, (model, gateway) = item
        workdir = tmp_path / f"c{index}"
        workdir.mkdir()
        (workdir / "openclaw.json").write_text(json.dumps(openclaw_config(model, gateway), indent=2,
                                                          ensure_ascii=False), encoding="utf-8")
        return run_openclaw(workdir, ["config", "validate", "--json"],
                            dummy_env(openclaw_secret_env(model, gateway)))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(check, enumerate(_extremes())))
    assert len(results) == CLI_CONFIGS
    for result in results:
        assert result["rc"] == 0 and result["json"] and result["json"].get("valid") is True, result


def test_accepted_consul_keys_round_trip_through_the_simulator():
    assert ACCEPTED, "run with test_validator_properties"
    keys = sorted({key for model, _ in ACCEPTED for key in keys_of(model)})
    with LabProcess(acl_token=TOKEN) as lab:
        LabAdmin(lab.admin_addr).config(consul_strict_keys=True)
        consul = Api(lab.consul_addr, TOKEN, "X-Consul-Token")
        for key in keys:
            response = consul.put("/v1/kv/" + quote(key, safe="/"), data=b"1")
            assert response.status_code == 200, (key, response.text)
        listed = consul.get("/v1/kv/openclaw/", params={"keys": ""}).json()
    assert sorted(listed) == keys
    print(f"\n{len(keys)} Consul keys round-tripped")
