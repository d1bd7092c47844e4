# Copyright: octant.openclaw contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License v3.0
# under which Ansible itself is distributed.
"""Filters that derive OpenClaw artefacts from the farm model (module_utils/farm_model.py):

- openclaw_config: the OpenClaw config (openclaw.json, current 2026.9 format) of one gateway.
- openclaw_secret_env: the environment variables -> op:// references that gateway needs, i.e. what
  the secrets role stores in the Nomad variable nomad/jobs/<job>.

Both come from the same function (farm_model.secret_sources), so every SecretRef in the config
names a variable the secrets role writes, and no secret value is ever part of either."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.octant.openclaw.plugins.module_utils import farm_model as fm

STATE_DIR = "/home/node/.openclaw"
SECRET_PROVIDER = "default"
# bindings: most specific first (OpenClaw: peer > guild > team > account).
_RANK = {"peer": 0, "guild": 1, "team": 2, "account": 3}


def _ref(env):
    return {"source": "env", "provider": SECRET_PROVIDER, "id": env}


def _checked(model, gateway):
    if not isinstance(gateway, str):
        raise AnsibleFilterError(f"the gateway must be a gateway name (a string), got {type(gateway).__name__}")
    problems = fm.validate(model)
    if problems:
        raise AnsibleFilterError(fm.format_problems(problems))
    model = fm.normalize(model)
    gateways = {gw["name"]: gw for gw in model["farm_gateways"]}
    if gateway not in gateways:
        raise AnsibleFilterError(f"unknown gateway {gateway!r}; the farm has: {', '.join(sorted(gateways))}")
    return model, gateways[gateway]


def openclaw_secret_env(model, gateway):
    """{ENV_NAME: op://...} of one gateway, sorted by name."""
    model, gw = _checked(model, gateway)
    return fm.secret_env(model, gw["name"])


def openclaw_config(model, gateway, state_dir=STATE_DIR):
    """The OpenClaw config of one gateway as a JSON-serialisable dict (keys sorted by the caller's
    to_json(sort_keys=true); lists are built in a fixed order here)."""
    model, gw = _checked(model, gateway)
    if not isinstance(state_dir, str) or not state_dir.startswith("/"):
        raise AnsibleFilterError(f"state_dir must be an absolute path, got {state_dir!r}")
    state_dir = state_dir.rstrip("/") or "/"
    name = gw["name"]
    env = fm.secret_env(model, name)
    agents = [a for a in model["farm_agents"] if a["gateway"] == name]
    channels = sorted((c for c in model["farm_channels"] if c["gateway"] == name),
                      key=lambda c: (c["kind"], c["account"]))
    config = {
        "meta": {"lastTouchedVersion": model["openclaw_version"]},
        "gateway": {
            "mode": "local",
            "port": gw["port"],
            "bind": "lan",
            "auth": {"mode": "token", "token": _ref(fm.GATEWAY_TOKEN_ENV)},
            "http": {"endpoints": {"chatCompletions": {"enabled": gw["chat_completions"]}}},
        },
        "agents": {
            "ownership": "explicit",
            "defaults": {
                # Without this every agent would run OpenClaw's default 30m heartbeat (full agent turns).
                "heartbeat": {"every": "0m"},
                "systemAgent": {"agentId": gw.get("system_agent") or agents[0]["id"]},
            },
            "entries": {agent["id"]: _agent(agent, state_dir) for agent in agents},
        },
        "tools": {"agentToAgent": _agent_to_agent(agents)},
        "models": {
            "mode": "merge",
            "catalogRefresh": {"enabled": False},
            "providers": _providers(model, name, env),
        },
        "bindings": _bindings(channels),
        "plugins": {"entries": {kind: {"enabled": True} for kind in sorted({c["kind"] for c in channels})}},
        "update": {"checkOnStart": False},
        "logging": {"file": f"{state_dir}/logs/openclaw.log"},
    }
    if channels:
        config["channels"] = _channels(channels)
    return config


def _agent(agent, state_dir):
    identity = {"name": agent["name"]}
    if agent.get("emoji"):
        identity["emoji"] = agent["emoji"]
    entry = {
        "name": agent["name"],
        "workspace": f"{state_dir}/workspaces/{agent['id']}",
        "identity": identity,
        "model": {"primary": agent["model"]["primary"], "fallbacks": list(agent["model"]["fallbacks"])},
    }
    if agent.get("description"):
        entry["description"] = agent["description"]
    if agent["may_spawn"]:
        entry["subagents"] = {"allowAgents": sorted(agent["may_spawn"])}
    heartbeat = agent.get("heartbeat")
    if heartbeat:
        rendered = {"every": heartbeat["every"]}
        if heartbeat.get("active_hours"):
            rendered["activeHours"] = dict(heartbeat["active_hours"])
        if heartbeat.get("prompt"):
            rendered["prompt"] = heartbeat["prompt"]
        entry["heartbeat"] = rendered
    exec_allow = agent.get("exec_allow")
    if exec_allow is not None:
        # The allow-list entries themselves live in OpenClaw's exec approvals store (state database),
        # not in the config: the config only switches the agent to allow-list mode (or denies exec).
        entry["tools"] = {"exec": {"security": "allowlist", "ask": "off"} if exec_allow else {"security": "deny"}}
    return entry


def _agent_to_agent(agents):
    """OpenClaw's allow list is gateway-wide (requester and target must both be listed) and an empty
    list means "everyone": list exactly the agents that message each other on this gateway, or
    turn agent-to-agent off."""
    local = {agent["id"] for agent in agents}
    participants = set()
    for agent in agents:
        for target in agent["may_message"]:
            if target in local:
                participants.update((agent["id"], target))
    if not participants:
        return {"enabled": False}
    return {"enabled": True, "allow": sorted(participants)}


def _providers(model, gateway, env):
    providers = {}
    for name in fm.used_providers(model, gateway):
        spec = model["farm_model_providers"][name]
        rendered = {}
        if spec.get("base_url"):
            rendered["baseUrl"] = spec["base_url"]
        if spec.get("api"):
            rendered["api"] = spec["api"]
        elif name not in fm.PROVIDERS_WITH_BUILTIN_URL:
            rendered["api"] = "openai-completions"
        key_env = fm.provider_key_env(name)
        if spec.get("api_key") is not None and key_env in env:
            rendered["apiKey"] = _ref(key_env)
        rendered["models"] = [_model(entry) for entry in sorted(spec["models"], key=lambda m: m["id"])]
        providers[name] = rendered
    return providers


def _model(entry):
    rendered = {"id": entry["id"], "name": entry.get("name") or entry["id"]}
    for key, out in (("context_window", "contextWindow"), ("max_tokens", "maxTokens"), ("reasoning", "reasoning")):
        if entry.get(key) is not None:
            rendered[out] = entry[key]
    if entry.get("input"):
        rendered["input"] = sorted(set(entry["input"]))
    return rendered


def _bindings(channels):
    rows = []
    for channel in channels:
        for binding in channel["bindings"]:
            match = {"channel": channel["kind"], "accountId": channel["account"]}
            peer = binding.get("peer")
            if peer:
                match["peer"] = {"kind": peer["kind"], "id": peer["id"]}
                rank = "peer"
            elif binding.get("guild"):
                match["guildId"] = binding["guild"]
                rank = "guild"
            elif binding.get("team"):
                match["teamId"] = binding["team"]
                rank = "team"
            else:
                rank = "account"
            if peer and binding.get("guild"):
                match["guildId"] = binding["guild"]
            if peer and binding.get("team"):
                match["teamId"] = binding["team"]
            row = {"agentId": binding["agent"], "match": match}
            if binding.get("comment"):
                row["comment"] = binding["comment"]
            key = (_RANK[rank], channel["kind"], channel["account"], (peer or {}).get("kind") or "",
                   (peer or {}).get("id") or "", binding.get("guild") or "", binding.get("team") or "")
            rows.append((key, row))
    return [row for _key, row in sorted(rows, key=lambda item: item[0])]


def _account(channel):
    kind = channel["kind"]
    account = {"dmPolicy": channel["dm_policy"], "groupPolicy": channel["group_policy"]}
    if channel["allow_from"]:
        account["allowFrom"] = list(channel["allow_from"])
    for secret in fm.CHANNEL_SECRETS[kind]:
        env = fm.channel_secret_env(kind, channel["account"], secret)
        field = {"bot_token": "botToken", "app_token": "appToken", "token": "token"}[secret]
        account[field] = _ref(env)
    allowed = set(channel["groups"])
    for binding in channel["bindings"]:
        peer = binding.get("peer")
        if kind in ("slack", "whatsapp") and peer and peer["kind"] in ("channel", "group"):
            allowed.add(peer["id"])
        if kind == "discord" and binding.get("guild"):
            allowed.add(binding["guild"])
    if allowed:
        # Under groupPolicy "allowlist" OpenClaw only listens in the chats listed here.
        container = {"slack": "channels", "discord": "guilds", "whatsapp": "groups"}[kind]
        entry = {"slack": {"enabled": True}}.get(kind, {})
        account[container] = {chat: dict(entry) for chat in sorted(allowed)}
    return account


def _channels(channels):
    rendered = {}
    for kind in sorted({c["kind"] for c in channels}):
        accounts = [c for c in channels if c["kind"] == kind]
        if len(accounts) == 1 and accounts[0]["account"] == fm.DEFAULT_ACCOUNT:
            block = {"enabled": True}
            block.update(_account(accounts[0]))
        else:
            # Several accounts: all of them (default included) under accounts, so OpenClaw never
            # sees the mixed shape `doctor --fix` would rewrite.
            block = {"enabled": True, "accounts": {c["account"]: _account(c) for c in accounts}}
        rendered[kind] = block
    return rendered


class FilterModule:
    """OpenClaw filters of octant.openclaw."""

    def filters(self):
        return {
            "openclaw_config": openclaw_config,
            "openclaw_secret_env": openclaw_secret_env,
        }
