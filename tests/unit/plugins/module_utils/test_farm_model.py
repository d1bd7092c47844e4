# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm model validator: the committed models are valid, and each broken model yields exactly
the expected problems (path and message), all at once, with a fix, never echoing a secret."""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path

import pytest
import yaml
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

ROOT = Path(__file__).resolve().parents[4]
HOSTS = {"homelab": ["jerry", "bobby", "billy"], "workstations": ["macbook"]}


def load(inventory):
    """The farm model of an inventory; the lab's Jinja lookups of ports become their defaults
    (the integration tests template them with Ansible itself)."""
    text = (ROOT / "inventory" / inventory / "group_vars" / "all" / "farm.yml").read_text(encoding="utf-8")
    text = re.sub(r"\{\{ lookup\('ansible.builtin.env', '[A-Z_]+', default='(\d+)'\) \}\}", r"\1", text)
    data = yaml.safe_load(text)
    return {key: data[key] for key in fm.TOP_LEVEL if key in data}


HOMELAB = load("homelab")


@pytest.fixture
def model():
    return copy.deepcopy(HOMELAB)


def problems_of(model, hosts=None, var_names=None):
    return fm.validate(model, HOSTS if hosts is None else hosts, var_names)


def pairs(problems):
    return [(p["path"], p["msg"]) for p in problems]


# ---------------------------------------------------------------------------------------------
# The committed models
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("inventory", ["homelab", "lab"])
def test_committed_models_are_valid(inventory):
    model = load(inventory)
    assert fm.validate(model, HOSTS, list(model)) == []


def test_normalize_fills_defaults(model):
    del model["farm_gateways"][0]["port"]
    del model["farm_channels"][0]["account"]
    normalized = fm.normalize(model)
    assert normalized["farm_gateways"][0]["port"] == 18789
    assert normalized["farm_gateways"][0]["chat_completions"] is True
    assert normalized["farm_channels"][0]["account"] == "default"
    assert normalized["farm_channels"][1]["group_policy"] == "allowlist"
    assert "exec_allow" not in normalized["farm_agents"][0], "an unset optional key stays unset"
    assert normalized["farm_agents"][1]["exec_allow"] == ["nomad", "consul", "curl", "jq"]
    assert "port" not in model["farm_gateways"][0], "normalize must not change its input"


def test_secret_env_names(model):
    assert fm.secret_env(model, "main") == {
        "ANTHROPIC_API_KEY": "op://Homelab/anthropic/api-key",
        "DISCORD_BOT_TOKEN": "op://Homelab/openclaw-discord/bot-token",
        "LITELLM_API_KEY": "op://Homelab/litellm/master-key",
        "OPENCLAW_GATEWAY_TOKEN": "op://Homelab/openclaw-gateway/token",
        "SLACK_APP_TOKEN": "op://Homelab/openclaw-slack/app-token",
        "SLACK_BOT_TOKEN": "op://Homelab/openclaw-slack/bot-token",
    }
    assert fm.channel_secret_env("slack", "ops", "bot_token") == "SLACK_OPS_BOT_TOKEN"
    assert fm.provider_key_env("lm-studio") == "LM_STUDIO_API_KEY"


# ---------------------------------------------------------------------------------------------
# Broken models: each yields exactly these problems
# ---------------------------------------------------------------------------------------------

def add_edge(model, node="bobby", port=18789):
    """A second gateway with one agent of its own."""
    model["farm_gateways"].append({"name": "edge", "node": node, "port": port,
                                   "image": "ghcr.io/openclaw/openclaw:2026.9.6"})
    model["farm_agents"].append({"id": "ops", "name": "Ops", "gateway": "edge",
                                 "model": {"primary": "litellm/glm-4.6"}})


def case_top_level_type(m):
    m["farm_gateways"] = {"name": "main"}


def case_missing_version(m):
    del m["openclaw_version"]


def case_bad_version(m):
    m["openclaw_version"] = "latest"


def case_unknown_agent_key(m):
    m["farm_agents"][0]["modle"] = m["farm_agents"][0].pop("model")


def case_unknown_nested_key(m):
    m["farm_model_providers"]["litellm"]["models"][0]["context"] = 1000


def case_wrong_type(m):
    m["farm_gateways"][0]["port"] = "18789"


def case_duplicate_agent_id(m):
    clone = copy.deepcopy(m["farm_agents"][1])
    m["farm_agents"].append(clone)


def case_invalid_agent_id(m):
    m["farm_agents"].append({"id": "Ops Bot", "name": "Ops", "gateway": "main",
                             "model": {"primary": "litellm/glm-4.6"}})


def case_unknown_gateway(m):
    m["farm_agents"][1]["gateway"] = "mian"


def case_unknown_node(m):
    m["farm_gateways"][0]["node"] = "jery"


def case_message_self_and_unknown(m):
    m["farm_agents"][0]["may_message"] = ["jerry", "bob"]


def case_spawn_other_gateway(m):
    add_edge(m)
    m["farm_agents"][0]["may_spawn"].append("ops")


def case_binding_unknown_agent(m):
    m["farm_channels"][0]["bindings"][0]["agent"] = "jery"


def case_binding_other_gateway(m):
    add_edge(m)
    m["farm_channels"][0]["bindings"].append({"agent": "ops", "peer": {"kind": "channel", "id": "C0OPS"}})


def case_channel_two_owners(m):
    add_edge(m)
    m["farm_channels"].append({"kind": "slack", "gateway": "edge", "bindings": [{"agent": "ops"}],
                               "secrets": {"bot_token": "op://Homelab/s/b", "app_token": "op://Homelab/s/a"}})


def case_port_clash(m):
    add_edge(m, node="jerry", port=18850)


def case_model_not_offered(m):
    m["farm_agents"][2]["model"]["primary"] = "litellm/glm-5"


def case_unknown_provider(m):
    m["farm_agents"][0]["model"]["fallbacks"] = ["anthropc/claude-sonnet-4-5"]


def case_plaintext_secret(m):
    m["farm_channels"][0]["secrets"]["bot_token"] = "xoxb-1234-5678-plaintext"


def case_op_syntax(m):
    m["farm_secrets"]["OPENCLAW_GATEWAY_TOKEN"] = "op://Homelab/token"


def case_dm_open_without_star(m):
    m["farm_channels"][1]["dm_policy"] = "open"


def case_dm_policy_enum(m):
    m["farm_channels"][0]["dm_policy"] = "opn"


def case_gateway_name(m):
    m["farm_gateways"][0]["name"] = "main_gw"
    for entry in m["farm_agents"] + m["farm_channels"]:
        entry["gateway"] = "main_gw"


def case_image_tag(m):
    m["farm_gateways"][0]["image"] = "ghcr.io/openclaw/openclaw:2026.9.5"


def case_workspace_files(m):
    m["farm_agents"][1]["workspace_files"] = ["AGENTS.md", "HEARTBEAT.md", "SOUL.MD"]


def case_heartbeat_cron(m):
    m["farm_agents"][1]["heartbeat"]["every"] = "*/30 * * * *"


def case_missing_gateway_token(m):
    m["farm_secrets"] = {}


def case_secret_env_collision(m):
    m["farm_secrets"]["LITELLM_API_KEY"] = "op://Homelab/other/key"


def case_env_name(m):
    m["farm_secrets"]["litellm_key"] = "op://Homelab/litellm/master-key"


def case_channel_secrets(m):
    m["farm_channels"][0]["secrets"] = {"bot_token": "op://Homelab/s/b", "app_tokn": "op://Homelab/s/a"}


def case_whatsapp_secret(m):
    m["farm_channels"][2]["secrets"] = {"token": "op://Homelab/wa/token"}


def case_duplicate_binding(m):
    m["farm_channels"][0]["bindings"].append({"agent": "billy"})


def case_no_bindings(m):
    m["farm_channels"][2]["bindings"] = []


def case_peer_kind(m):
    m["farm_channels"][2]["bindings"].append({"agent": "bobby", "peer": {"kind": "channel", "id": "x"}})


def case_guild_on_slack(m):
    m["farm_channels"][0]["bindings"][1]["guild"] = "1100000000000000001"


def case_memory(m):
    m["farm_gateways"][0]["resources"]["memory"] = 512


def case_gateway_without_agents(m):
    m["farm_gateways"].append({"name": "spare", "node": "billy", "image": "ghcr.io/openclaw/openclaw:2026.9.6"})


def case_provider_incomplete(m):
    m["farm_model_providers"]["ollama"] = {"models": []}


def case_allowlist_empty(m):
    m["farm_channels"][2]["allow_from"] = []


def case_system_agent(m):
    m["farm_gateways"][0]["system_agent"] = "ops"


def case_chat_id_number(m):
    m["farm_channels"][1]["bindings"][1]["guild"] = 1100000000000000001


CASES = {
    "top_level_type": (case_top_level_type, [
        ("farm_gateways", "must be a list, got a mapping")]),
    "missing_version": (case_missing_version, [
        ("openclaw_version", "is required")]),
    "bad_version": (case_bad_version, [
        ("openclaw_version", "'latest' is not an OpenClaw release version (YYYY.M.D)")]),
    "unknown_agent_key": (case_unknown_agent_key, [
        ("farm_agents[0].modle", 'unknown key "modle"'),
        ("farm_agents[0].model", "is required")]),
    "unknown_nested_key": (case_unknown_nested_key, [
        ("farm_model_providers.litellm.models[0].context", 'unknown key "context"')]),
    "wrong_type": (case_wrong_type, [
        ("farm_gateways[0].port", "must be a whole number, got a string")]),
    "duplicate_agent_id": (case_duplicate_agent_id, [
        ("farm_agents[3].id", "duplicate agent id 'bobby' (also farm_agents[1])")]),
    "invalid_agent_id": (case_invalid_agent_id, [
        ("farm_agents[3].id", "'Ops Bot' is not a valid OpenClaw agent id")]),
    "unknown_gateway": (case_unknown_gateway, [
        ("farm_agents[1].gateway", "unknown gateway 'mian' (gateways: main)")]),
    "unknown_node": (case_unknown_node, [
        ("farm_gateways[0].node",
         "node 'jery' is not in the inventory (groups homelab, workstations: billy, bobby, jerry, macbook)")]),
    "message_self_and_unknown": (case_message_self_and_unknown, [
        ("farm_agents[0].may_message[0]", "agent 'jerry' names itself"),
        ("farm_agents[0].may_message[1]", "unknown agent 'bob' (agents: billy, bobby, jerry)")]),
    "spawn_other_gateway": (case_spawn_other_gateway, [
        ("farm_agents[0].may_spawn[2]", "agent 'ops' runs on gateway 'edge', not on 'main': sessions_spawn only "
                                        "reaches agents of the same gateway")]),
    "binding_unknown_agent": (case_binding_unknown_agent, [
        ("farm_channels[0].bindings[0].agent", "unknown agent 'jery' (agents: billy, bobby, jerry)")]),
    "binding_other_gateway": (case_binding_other_gateway, [
        ("farm_channels[0].bindings[2].agent", "agent 'ops' runs on gateway 'edge', but this slack account is owned "
                                               "by gateway 'main'; a binding only reaches agents of the owning "
                                               "gateway")]),
    "channel_two_owners": (case_channel_two_owners, [
        ("farm_channels[3].gateway", "slack account 'default' is already owned by gateway 'main' (farm_channels[0]); "
                                     "one account connects to one gateway only")]),
    "port_clash": (case_port_clash, [
        ("farm_gateways[1].port", "ports of gateway 'edge' (18850..18960, bridge 18790) overlap those of gateway "
                                  "'main' (farm_gateways[0]: 18789..18899, bridge 18790) on node 'jerry'")]),
    "model_not_offered": (case_model_not_offered, [
        ("farm_agents[2].model.primary", "provider 'litellm' does not offer model 'glm-5' (it offers: glm-4.5-air, "
                                         "glm-4.6)")]),
    "unknown_provider": (case_unknown_provider, [
        ("farm_agents[0].model.fallbacks[0]", "no provider 'anthropc' in farm_model_providers offers "
                                              "'anthropc/claude-sonnet-4-5' (providers: anthropic, litellm, zai)")]),
    "plaintext_secret": (case_plaintext_secret, [
        ("farm_channels[0].secrets.bot_token",
         "is not an op:// reference; secrets must never be written into the model")]),
    "op_syntax": (case_op_syntax, [
        ("farm_secrets.OPENCLAW_GATEWAY_TOKEN", "op:// reference op://<7 chars>/<5 chars> has 2 path parts; it must be "
                                                "op://<vault>/<item>/<field> or op://<vault>/<item>/<section>/<field>")]),
    "dm_open_without_star": (case_dm_open_without_star, [
        ("farm_channels[1].allow_from", 'dm_policy "open" needs allow_from ["*"]; without it OpenClaw drops every '
                                        "direct message")]),
    "dm_policy_enum": (case_dm_policy_enum, [
        ("farm_channels[0].dm_policy", "'opn' is not one of: allowlist, disabled, open, pairing")]),
    "gateway_name": (case_gateway_name, [
        ("farm_gateways[0].name", "'main_gw' cannot name a Nomad job and Consul service ('openclaw-main_gw' must be "
                                  "a DNS label)")]),
    "image_tag": (case_image_tag, [
        ("farm_gateways[0].image", "image tag '2026.9.5' does not match openclaw_version '2026.9.6' (the config, "
                                   "meta.lastTouchedVersion and the channel plugins are rendered for 2026.9.6)")]),
    "workspace_files": (case_workspace_files, [
        ("farm_agents[1].workspace_files[1]", "HEARTBEAT.md is retired in OpenClaw 2026.9: new workspaces do not get "
                                              "it and the gateway no longer reads it (heartbeat instructions live in "
                                              "the heartbeat monitor)"),
        ("farm_agents[1].workspace_files[2]", "'SOUL.MD' is not a workspace file OpenClaw reads")]),
    "heartbeat_cron": (case_heartbeat_cron, [
        ("farm_agents[1].heartbeat.every", "'*/30 * * * *' is not an OpenClaw duration (cron syntax is not supported: "
                                           "OpenClaw schedules heartbeats by interval)")]),
    "missing_gateway_token": (case_missing_gateway_token, [
        ("farm_secrets.OPENCLAW_GATEWAY_TOKEN", "is missing: gateway 'main' authenticates clients with the token in "
                                                "OPENCLAW_GATEWAY_TOKEN")]),
    "secret_env_collision": (case_secret_env_collision, [
        ("farm_model_providers.litellm.api_key", "environment variable LITELLM_API_KEY of gateway 'main' would hold "
                                                 "two different secrets (also farm_secrets.LITELLM_API_KEY)")]),
    "env_name": (case_env_name, [
        ("farm_secrets.litellm_key", "'litellm_key' is not an environment variable name OpenClaw can refer to")]),
    "channel_secrets": (case_channel_secrets, [
        ("farm_channels[0].secrets.app_tokn", "unknown slack secret 'app_tokn'"),
        ("farm_channels[0].secrets.app_token", "is required for slack")]),
    "whatsapp_secret": (case_whatsapp_secret, [
        ("farm_channels[2].secrets.token", "whatsapp takes no secrets (it is linked once by QR code; the credentials "
                                           "stay in the gateway's state folder)")]),
    "duplicate_binding": (case_duplicate_binding, [
        ("farm_channels[0].bindings[2]", "binding with the same account-wide match as bindings[0]; only one of "
                                         "them can ever win")]),
    "no_bindings": (case_no_bindings, [
        ("farm_channels[2].bindings", "no agent is bound to this whatsapp account; a multi-agent gateway drops "
                                      "unbound messages")]),
    "peer_kind": (case_peer_kind, [
        ("farm_channels[2].bindings[1].peer.kind", "whatsapp has no 'channel' peers")]),
    "guild_on_slack": (case_guild_on_slack, [
        ("farm_channels[0].bindings[1].guild", "guild only applies to discord, not slack")]),
    "memory": (case_memory, [
        ("farm_gateways[0].resources.memory", "512 is outside 1280..1048576 MiB (a gateway peaks at about 1.3 GB; "
                                              "below that Nomad would OOM-kill it)")]),
    "gateway_without_agents": (case_gateway_without_agents, [
        ("farm_gateways[1]", "gateway 'spare' has no agents")]),
    "provider_incomplete": (case_provider_incomplete, [
        ("farm_model_providers.ollama.base_url", "is required for this provider"),
        ("farm_model_providers.ollama.models", "lists no models; agents can only use the models listed here")]),
    "allowlist_empty": (case_allowlist_empty, [
        ("farm_channels[2].allow_from", 'dm_policy "allowlist" with an empty allow_from admits nobody')]),
    "system_agent": (case_system_agent, [
        ("farm_gateways[0].system_agent", "'ops' is not an agent of gateway 'main' (its agents: jerry, bobby, "
                                          "billy)")]),
    "chat_id_number": (case_chat_id_number, [
        ("farm_channels[1].bindings[1].guild", "must be a string, got a number")]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_model(model, name):
    mutate, expected = CASES[name]
    mutate(model)
    problems = problems_of(model)
    assert pairs(problems) == expected
    for problem in problems:
        assert problem["fix"], problem
        assert set(problem) == {"path", "msg", "fix"}


def test_fix_texts_guide_the_user(model):
    case_unknown_agent_key(model)
    fixes = {p["path"]: p["fix"] for p in problems_of(model)}
    assert fixes["farm_agents[0].modle"].startswith('did you mean "model"? Known keys here: ')
    model = copy.deepcopy(HOMELAB)
    case_unknown_node(model)
    assert problems_of(model)[0]["fix"].startswith('did you mean "jerry"?')
    model = copy.deepcopy(HOMELAB)
    case_plaintext_secret(model)
    assert "op://" in problems_of(model)[0]["fix"]


def test_plaintext_secret_is_never_echoed(model):
    secret = "xoxb-1234-5678-plaintext"
    model["farm_channels"][0]["secrets"]["bot_token"] = secret
    model["farm_secrets"]["EXTRA"] = {"value": secret}
    model["farm_model_providers"]["litellm"]["api_key"] = 42
    problems = problems_of(model)
    assert secret not in json.dumps(problems)
    assert fm.plaintext_secrets(model) == [secret]
    assert secret not in fm.format_problems(problems)
    assert pairs(problems) == [
        ("farm_channels[0].secrets.bot_token", "is not an op:// reference; secrets must never be written into the "
                                               "model"),
        ("farm_model_providers.litellm.api_key", "must be an op:// reference (op://<vault>/<item>/<field> or "
                                                 "op://<vault>/<item>/<section>/<field>), got a number"),
        ("farm_secrets.EXTRA", "must be an op:// reference (op://<vault>/<item>/<field> or "
                               "op://<vault>/<item>/<section>/<field>), got a mapping"),
    ]


def test_misspelt_farm_variable():
    model = copy.deepcopy(HOMELAB)
    problems = problems_of(model, var_names=list(model) + ["farm_chanels", "openclaw_nomad_address"])
    assert pairs(problems) == [("farm_chanels", "unknown farm variable (the farm_ prefix is reserved for the farm "
                                                "model)")]
    assert problems[0]["fix"].startswith('did you mean "farm_channels"?')


def test_all_problems_at_once_in_model_order(model):
    for name in ("unknown_node", "wrong_type", "dm_policy_enum", "plaintext_secret", "heartbeat_cron",
                 "model_not_offered", "missing_gateway_token", "image_tag"):
        CASES[name][0](model)
    problems = problems_of(model, var_names=list(model) + ["farm_agnets"])
    assert [p["path"] for p in problems] == [
        "farm_agnets",
        "farm_gateways[0].port",
        "farm_gateways[0].node",
        "farm_gateways[0].image",
        "farm_agents[1].heartbeat.every",
        "farm_agents[2].model.primary",
        "farm_channels[0].dm_policy",
        "farm_channels[0].secrets.bot_token",
        "farm_secrets.OPENCLAW_GATEWAY_TOKEN",
    ]
    message = fm.format_problems(problems)
    assert message.startswith("The farm model has 9 problems; nothing was changed.\n- farm_agnets: unknown farm")
    assert message.count("\n- ") == 9 and message.count(" Fix: ") == 9


def test_broken_top_level_lists_do_not_cascade(model):
    model["farm_agents"] = "jerry, bobby"
    model["farm_gateways"] = None
    assert pairs(problems_of(model)) == [
        ("farm_gateways", "is required"),
        ("farm_agents", "must be a list, got a string"),
    ]


def test_not_a_mapping():
    assert pairs(fm.validate(["openclaw_version"])) == [
        ("", "the model must be a mapping of openclaw_version, farm_gateways, farm_agents, farm_channels, "
             "farm_model_providers, farm_secrets, got a list")]


def test_inventory_check_is_optional(model):
    model["farm_gateways"][0]["node"] = "elsewhere"
    assert fm.validate(model) == []
    assert fm.validate(model, ["jerry"])[0]["path"] == "farm_gateways[0].node"


@pytest.mark.parametrize("every", ["30m", "1h", "1h30m", "0m", "90s", "500ms", "2d", "45"])
def test_heartbeat_durations_openclaw_accepts(model, every):
    model["farm_agents"][1]["heartbeat"]["every"] = every
    assert problems_of(model) == []


@pytest.mark.parametrize("reference, problem", [
    ("op://Homelab/item/field", None),
    ("op://Homelab/item/section/field", None),
    ("op://Home Lab/my item/api-key.v2", None),
    ("op://Homelab/item/one-time password?attribute=otp", None),
    ("op://Homelab/item/field/extra/part", "has 5 path parts"),
    ("op://Homelab//field", "has an empty vault, item, section or field name"),
    ("op://Homelab/it*em/field", "op://<7 chars>/<5 chars>/<5 chars> has unsupported characters in its item name"),
    ("op://Homelab/item/field?reveal=true", "op://<7 chars>/<4 chars>/<5 chars>?<query> has an unsupported query"),
    ("vault://Homelab/item/field", "is not an op:// reference"),
])
def test_op_reference_syntax(reference, problem):
    found = fm.op_reference_problem(reference)
    if problem is None:
        assert found is None
    else:
        assert problem in found


def test_port_spacing_of_120_is_enough(model):
    add_edge(model, node="jerry", port=18789 + 120)
    model["farm_gateways"][1]["bridge_port"] = 18789 + 121
    assert problems_of(model) == []


def test_random_damage_never_crashes():
    """Random type changes and deletions anywhere in the model: validate() always returns a list
    of problems (never raises), and whatever it accepts can be normalized."""
    rnd = random.Random(20260906)  # noqa: S311 reproducible test data, not cryptography
    values = [None, 0, -1, 2.5, True, "", "x", "op://a/b/c", [], ["a"], [{}], {}, {"k": 1}, 10**20]

    def paths(node, path=()):
        yield path
        if isinstance(node, dict):
            for key, value in node.items():
                yield from paths(value, path + (key,))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from paths(value, path + (index,))

    all_paths = [p for p in paths(HOMELAB) if p]
    for _attempt in range(1500):
        model = copy.deepcopy(HOMELAB)
        for _change in range(rnd.randint(1, 3)):
            path = rnd.choice(all_paths)
            node = model
            try:
                for key in path[:-1]:
                    node = node[key]
                if rnd.random() < 0.3:
                    del node[path[-1]]
                else:
                    node[path[-1]] = copy.deepcopy(rnd.choice(values))
            except (KeyError, IndexError, TypeError):
                pass
        problems = fm.validate(model, HOSTS, list(model))
        assert all(isinstance(p["path"], str) and p["msg"] and p["fix"] for p in problems)
        if not problems:
            fm.normalize(model)
