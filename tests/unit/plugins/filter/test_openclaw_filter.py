# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openclaw_config and openclaw_secret_env: the rendered config has the current OpenClaw format,
refers to exactly the secrets the secret filter lists, holds no secret and no op:// reference, and
is deterministic. (The real `openclaw config validate` runs in tests/integration.)"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.octant.openclaw.plugins.filter.openclaw import (
    FilterModule,
    openclaw_config,
    openclaw_secret_env,
)
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

ROOT = Path(__file__).resolve().parents[4]
with open(ROOT / "inventory" / "homelab" / "group_vars" / "all" / "farm.yml", encoding="utf-8") as _handle:
    HOMELAB = {k: v for k, v in yaml.safe_load(_handle).items() if k in fm.TOP_LEVEL}


@pytest.fixture
def model():
    return copy.deepcopy(HOMELAB)


def secret_refs(node, found=None):
    """Every SecretRef {source, provider, id} in a config."""
    found = [] if found is None else found
    if isinstance(node, dict):
        if set(node) == {"source", "provider", "id"}:
            found.append(node["id"])
        for value in node.values():
            secret_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            secret_refs(value, found)
    return found


def test_homelab_config_shape(model):
    config = openclaw_config(model, "main")
    assert sorted(config) == ["agents", "bindings", "channels", "gateway", "logging", "meta", "models", "plugins",
                              "tools", "update"]
    assert config["meta"] == {"lastTouchedVersion": "2026.9.6"}
    assert config["gateway"] == {
        "mode": "local", "port": 18789, "bind": "lan",
        "auth": {"mode": "token", "token": {"source": "env", "provider": "default", "id": "OPENCLAW_GATEWAY_TOKEN"}},
        "http": {"endpoints": {"chatCompletions": {"enabled": True}}},
    }
    agents = config["agents"]
    assert agents["ownership"] == "explicit"
    assert agents["defaults"] == {"heartbeat": {"every": "0m"}, "systemAgent": {"agentId": "jerry"}}
    assert list(agents["entries"]) == ["jerry", "bobby", "billy"]
    jerry = agents["entries"]["jerry"]
    assert jerry["workspace"] == "/home/node/.openclaw/workspaces/jerry"
    assert jerry["identity"] == {"name": "Jerry", "emoji": "🧭"}
    assert jerry["model"] == {"primary": "litellm/glm-4.6", "fallbacks": ["anthropic/claude-sonnet-4-5"]}
    assert jerry["subagents"] == {"allowAgents": ["billy", "bobby"]}
    assert "tools" not in jerry and "heartbeat" not in jerry
    bobby = agents["entries"]["bobby"]
    assert bobby["tools"] == {"exec": {"security": "allowlist", "ask": "off"}}
    assert bobby["heartbeat"]["every"] == "30m" and "NO_REPLY" in bobby["heartbeat"]["prompt"]
    assert "subagents" not in bobby
    assert config["tools"] == {"agentToAgent": {"enabled": True, "allow": ["billy", "bobby", "jerry"]}}
    assert config["models"]["mode"] == "merge"
    assert config["models"]["catalogRefresh"] == {"enabled": False}
    assert sorted(config["models"]["providers"]) == ["anthropic", "litellm"], "zai is declared but unused"
    litellm = config["models"]["providers"]["litellm"]
    assert litellm["baseUrl"] == "http://litellm.service.consul:4000/v1"
    assert litellm["api"] == "openai-completions"
    assert litellm["apiKey"] == {"source": "env", "provider": "default", "id": "LITELLM_API_KEY"}
    assert litellm["models"][1] == {"id": "glm-4.6", "name": "GLM 4.6 (ZAI via LiteLLM)", "contextWindow": 200000,
                                    "maxTokens": 16384}
    anthropic = config["models"]["providers"]["anthropic"]
    assert anthropic["apiKey"]["id"] == "ANTHROPIC_API_KEY" and "baseUrl" not in anthropic and "api" not in anthropic
    assert config["plugins"] == {"entries": {"discord": {"enabled": True}, "slack": {"enabled": True},
                                             "whatsapp": {"enabled": True}}}
    assert config["update"] == {"checkOnStart": False}
    assert config["logging"] == {"file": "/home/node/.openclaw/logs/openclaw.log"}


def test_bindings_most_specific_first(model):
    bindings = openclaw_config(model, "main")["bindings"]
    assert bindings == [
        {"agentId": "bobby", "match": {"channel": "slack", "accountId": "default",
                                       "peer": {"kind": "channel", "id": "C04ALERTS01"}}},
        {"agentId": "bobby", "match": {"channel": "discord", "accountId": "default", "guildId": "1100000000000000001"}},
        {"agentId": "jerry", "match": {"channel": "discord", "accountId": "default"}},
        {"agentId": "jerry", "match": {"channel": "slack", "accountId": "default"}},
        {"agentId": "jerry", "match": {"channel": "whatsapp", "accountId": "default"}},
    ]


def test_channels(model):
    channels = openclaw_config(model, "main")["channels"]
    assert channels["slack"] == {
        "enabled": True, "dmPolicy": "allowlist", "groupPolicy": "allowlist", "allowFrom": ["U04OCTANT01"],
        "botToken": {"source": "env", "provider": "default", "id": "SLACK_BOT_TOKEN"},
        "appToken": {"source": "env", "provider": "default", "id": "SLACK_APP_TOKEN"},
        "channels": {"C04ALERTS01": {"enabled": True}},
    }
    assert channels["discord"] == {
        "enabled": True, "dmPolicy": "pairing", "groupPolicy": "allowlist",
        "token": {"source": "env", "provider": "default", "id": "DISCORD_BOT_TOKEN"},
        "guilds": {"1100000000000000001": {}},
    }
    assert channels["whatsapp"] == {"enabled": True, "dmPolicy": "allowlist", "groupPolicy": "allowlist",
                                    "allowFrom": ["+15555550100"]}


def test_several_accounts_use_the_accounts_map(model):
    model["farm_channels"].append({
        "kind": "slack", "account": "ops", "gateway": "main", "dm_policy": "open", "allow_from": ["*"],
        "secrets": {"bot_token": "op://Homelab/ops/bot", "app_token": "op://Homelab/ops/app"},
        "bindings": [{"agent": "bobby"}]})
    config = openclaw_config(model, "main")
    slack = config["channels"]["slack"]
    assert sorted(slack) == ["accounts", "enabled"]
    assert sorted(slack["accounts"]) == ["default", "ops"]
    assert slack["accounts"]["ops"]["botToken"]["id"] == "SLACK_OPS_BOT_TOKEN"
    assert slack["accounts"]["default"]["botToken"]["id"] == "SLACK_BOT_TOKEN"
    assert {"agentId": "bobby", "match": {"channel": "slack", "accountId": "ops"}} in config["bindings"]
    assert openclaw_secret_env(model, "main")["SLACK_OPS_APP_TOKEN"] == "op://Homelab/ops/app"


def test_secret_refs_match_the_secret_env_exactly(model):
    config = openclaw_config(model, "main")
    env = openclaw_secret_env(model, "main")
    assert sorted(set(secret_refs(config))) == sorted(env)
    assert list(env) == sorted(env)
    assert all(ref.startswith("op://") for ref in env.values())


def test_no_secret_and_no_reference_in_the_config(model):
    text = json.dumps(openclaw_config(model, "main"), ensure_ascii=False)
    assert "op://" not in text
    for ref in openclaw_secret_env(model, "main").values():
        assert ref not in text


def test_deterministic(model):
    first = json.dumps(openclaw_config(model, "main"), sort_keys=True)
    shuffled = copy.deepcopy(model)
    rnd = random.Random(4)  # noqa: S311 reproducible test data
    shuffled["farm_model_providers"] = dict(rnd.sample(list(shuffled["farm_model_providers"].items()), 3))
    for channel in shuffled["farm_channels"]:
        channel["bindings"].reverse()
    shuffled["farm_channels"].reverse()
    shuffled["farm_model_providers"]["litellm"]["models"].reverse()
    assert json.dumps(openclaw_config(shuffled, "main"), sort_keys=True) == first
    assert openclaw_config(model, "main") == openclaw_config(model, "main")


def test_agent_to_agent_only_lists_participants(model):
    for agent in model["farm_agents"]:
        agent["may_message"] = []
        agent["may_spawn"] = []
    assert openclaw_config(model, "main")["tools"] == {"agentToAgent": {"enabled": False}}
    model["farm_agents"][0]["may_message"] = ["bobby"]
    assert openclaw_config(model, "main")["tools"] == {"agentToAgent": {"enabled": True, "allow": ["bobby", "jerry"]}}


def test_two_gateways(model):
    model["farm_gateways"].append({"name": "edge", "node": "bobby", "image": "ghcr.io/openclaw/openclaw:2026.9.6",
                                   "secrets": {"OPENCLAW_GATEWAY_TOKEN": "op://Homelab/edge/token"}})
    model["farm_agents"].append({"id": "ops", "name": "Ops", "gateway": "edge", "model": {"primary": "zai/glm-4.6"},
                                 "may_message": ["jerry"], "exec_allow": []})
    edge = openclaw_config(model, "edge", state_dir="/srv/state/")
    assert list(edge["agents"]["entries"]) == ["ops"]
    assert edge["agents"]["entries"]["ops"]["tools"] == {"exec": {"security": "deny"}}
    assert edge["agents"]["entries"]["ops"]["workspace"] == "/srv/state/workspaces/ops"
    assert edge["tools"] == {"agentToAgent": {"enabled": False}}, "jerry is on another gateway: the bus, not A2A"
    assert sorted(edge["models"]["providers"]) == ["zai"]
    assert edge["models"]["providers"]["zai"]["baseUrl"] == "https://api.z.ai/api/paas/v4"
    assert "channels" not in edge and edge["bindings"] == [] and edge["plugins"] == {"entries": {}}
    assert openclaw_secret_env(model, "edge") == {"OPENCLAW_GATEWAY_TOKEN": "op://Homelab/edge/token",
                                                  "ZAI_API_KEY": "op://Homelab/zai/api-key"}
    assert "ZAI_API_KEY" not in openclaw_secret_env(model, "main"), "only the keys a gateway's agents use"


def test_invalid_model_is_refused_with_every_problem(model):
    model["farm_agents"][0]["gateway"] = "mian"
    model["farm_secrets"]["OPENCLAW_GATEWAY_TOKEN"] = "plaintext-token"
    with pytest.raises(AnsibleFilterError) as error:
        openclaw_config(model, "main")
    text = str(error.value)
    assert "The farm model has 2 problems" in text and "farm_agents[0].gateway" in text
    assert "plaintext-token" not in text
    with pytest.raises(AnsibleFilterError):
        openclaw_secret_env(model, "main")


def test_unknown_gateway_and_bad_state_dir(model):
    with pytest.raises(AnsibleFilterError, match="unknown gateway 'edge'; the farm has: main"):
        openclaw_config(model, "edge")
    with pytest.raises(AnsibleFilterError, match="state_dir must be an absolute path"):
        openclaw_config(model, "main", state_dir="state")


def test_filters_are_registered():
    assert sorted(FilterModule().filters()) == ["openclaw_bus_agents", "openclaw_bus_env", "openclaw_bus_policies",
                                                "openclaw_bus_serve_config", "openclaw_config", "openclaw_derived",
                                                "openclaw_placement_constraints", "openclaw_secret_env"]


def test_filter_through_ansible_templating(model):
    """The FQCN filter as a role uses it: templated by Ansible, output serialised with to_json."""
    from ansible.template import Templar, trust_as_template

    templar = Templar(loader=None, variables={"openclaw_farm": model})
    rendered = templar.template(trust_as_template(
        "{{ openclaw_farm | octant.openclaw.openclaw_config('main') | to_json(sort_keys=true) }}"))
    assert json.loads(rendered) == json.loads(json.dumps(openclaw_config(model, "main"), sort_keys=True))
    env = templar.template(trust_as_template("{{ openclaw_farm | octant.openclaw.openclaw_secret_env('main') }}"))
    assert env == openclaw_secret_env(model, "main")
