# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the channels and their bindings, the secrets and the gateways' rosters."""

from __future__ import annotations

from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.check_agents import (
    _other_gateway,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.derived import (
    gateway_agents,
    secret_sources,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.schema import (
    ACCOUNT_RE,
    CHANNEL,
    CHANNEL_KINDS,
    CHANNEL_SECRETS,
    DEFAULT_ACCOUNT,
    ENV_NAME_RE,
    GATEWAY_TOKEN_ENV,
    PEER_KINDS,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.structure import (
    _entries,
    _get,
    _is,
    _join,
    _missing,
    _opt,
    _show,
    _suggest,
)


def _check_channels(model, gateways, agents, problems):
    owners = {}
    for index, channel in _entries(model, "farm_channels"):
        path = f"farm_channels[{index}]"
        kind = _get(channel, "kind", "str")
        kind = kind if kind in CHANNEL_KINDS else None
        account = _opt(channel, "account", "str", DEFAULT_ACCOUNT)
        gateway = _get(channel, "gateway", "str")
        if account is not None and not ACCOUNT_RE.fullmatch(account):
            problems.add(f"{path}.account", f"{account!r} is not a valid account id",
                         "use lowercase letters, digits, '_' and '-' (default: default)")
            account = None
        if gateway is not None and _missing(gateways, gateway):
            problems.unknown(f"{path}.gateway", "gateway", gateway, gateways,
                             "use the name of an entry of farm_gateways")
            gateway = None
        elif gateways is None:
            gateway = None
        if kind and account:
            key = (kind, account)
            if key in owners:
                other_index, other_gateway = owners[key]
                if other_gateway != gateway:
                    problems.add(f"{path}.gateway", f"{kind} account {account!r} is already owned by gateway "
                                 f"{other_gateway!r} (farm_channels[{other_index}]); one account connects to one "
                                 f"gateway only", "give each gateway its own account, or remove one of the entries")
                else:
                    problems.add(f"{path}.account", f"{kind} account {account!r} is declared twice (also "
                                 f"farm_channels[{other_index}])", "merge the two entries")
            else:
                owners[key] = (index, gateway)
        _check_dm_policy(channel, path, problems)
        if kind:
            _check_channel_secrets(channel, kind, path, problems)
            _check_bindings(channel, kind, gateway, gateways, agents, path, problems)


def _check_dm_policy(channel, path, problems):
    policy = _get(channel, "dm_policy", "str", CHANNEL["dm_policy"].default)
    allow_from = [a for a in _get(channel, "allow_from", "list", []) if _is(a, "str")]
    if policy == "open" and "*" not in allow_from:
        problems.add(f"{path}.allow_from", 'dm_policy "open" needs allow_from ["*"]; without it OpenClaw drops '
                     "every direct message", 'set allow_from: ["*"], or use dm_policy pairing or allowlist')
    elif policy == "allowlist" and not allow_from:
        problems.add(f"{path}.allow_from", 'dm_policy "allowlist" with an empty allow_from admits nobody',
                     "list the user IDs (or phone numbers) that may write, or use dm_policy pairing")
    elif policy == "allowlist" and "*" in allow_from:
        problems.add(f"{path}.allow_from", 'allow_from "*" with dm_policy "allowlist" admits everyone',
                     'use dm_policy "open" to admit everyone, or list the allowed senders')


def _check_channel_secrets(channel, kind, path, problems):
    needed = CHANNEL_SECRETS[kind]
    secrets = _get(channel, "secrets", "dict", {})
    for name in sorted(secrets):
        if name not in needed:
            if not needed:
                problems.add(_join(f"{path}.secrets", name), f"{kind} takes no secrets (it is linked once by QR "
                             f"code; the credentials stay in the gateway's state folder)",
                             "remove secrets from this channel")
            else:
                close = _suggest(name, needed)
                hint = f'did you mean "{close}"? ' if close else "remove it; "
                problems.add(_join(f"{path}.secrets", name), f"unknown {kind} secret {_show(name)}",
                             f"{hint}{kind} takes: {', '.join(needed)}")
    for name in needed:
        if name not in secrets:
            problems.add(f"{path}.secrets.{name}", f"is required for {kind}",
                         f"add secrets.{name}: op://<vault>/<item>/<field>")


def _binding_match(binding):
    peer = _get(binding, "peer", "dict", {})
    parts = (peer.get("kind"), peer.get("id"), binding.get("guild"), binding.get("team"))
    return tuple(part if part is None or isinstance(part, str) else repr(part) for part in parts)


def _check_bindings(channel, kind, gateway, known, agents, path, problems):
    bindings = _opt(channel, "bindings", "list", [])
    if bindings is None:
        return
    if not bindings:
        problems.add(f"{path}.bindings", f"no agent is bound to this {kind} account; a multi-agent gateway drops "
                     f"unbound messages", "add bindings: [{agent: <agent id>}] (account-wide) or bindings with a peer")
        return
    matches = {}
    for i, binding in enumerate(bindings):
        if not isinstance(binding, dict):
            continue
        where = f"{path}.bindings[{i}]"
        agent_id = _get(binding, "agent", "str")
        if agent_id is not None and agents is not None:
            if agent_id not in agents:
                problems.unknown(f"{where}.agent", "agent", agent_id, agents, "use the id of an entry of farm_agents")
            elif _other_gateway(known, gateway, _get(agents[agent_id][1], "gateway", "str")):
                problems.add(f"{where}.agent", f"agent {agent_id!r} runs on gateway "
                             f"{agents[agent_id][1].get('gateway')!r}, but this {kind} account is owned by gateway "
                             f"{gateway!r}; a binding only reaches agents of the owning gateway",
                             "bind an agent of the owning gateway, or move the channel to the agent's gateway")
        peer = _get(binding, "peer", "dict")
        peer_kind = _get(peer, "kind", "str")
        if peer_kind in ("channel", "direct", "group") and peer_kind not in PEER_KINDS[kind]:
            problems.add(f"{where}.peer.kind", f"{kind} has no {peer_kind!r} peers",
                         f"use one of: {', '.join(PEER_KINDS[kind])}")
        if binding.get("guild") is not None and kind != "discord":
            problems.add(f"{where}.guild", f"guild only applies to discord, not {kind}",
                         "remove it (use peer for a channel or group)")
        if binding.get("team") is not None and kind != "slack":
            problems.add(f"{where}.team", f"team only applies to slack, not {kind}",
                         "remove it (use peer for a channel or group)")
        match = _binding_match(binding)
        if match in matches:
            described = "account-wide match" if match == (None, None, None, None) else "match"
            problems.add(where, f"binding with the same {described} as bindings[{matches[match]}]; only one of them "
                         f"can ever win", "remove one, or make one of them more specific (peer, guild or team)")
        else:
            matches[match] = i


def _check_secrets(model, gateways, problems):
    for name in sorted(_get(model, "farm_secrets", "dict", {}), key=str):
        if isinstance(name, str) and not ENV_NAME_RE.fullmatch(name):
            problems.add(_join("farm_secrets", name), f"{_show(name)} is not an environment variable name OpenClaw "
                         f"can refer to",
                         "use uppercase letters, digits and '_', starting with a letter (for example LITELLM_API_KEY)")
    for gateway in sorted(gateways or {}):
        gw = gateways[gateway]
        index = next(i for i, g in _entries(model, "farm_gateways") if g is gw)
        for name in sorted(_get(gw, "secrets", "dict", {}), key=str):
            if isinstance(name, str) and not ENV_NAME_RE.fullmatch(name):
                problems.add(_join(f"farm_gateways[{index}].secrets", name), f"{_show(name)} is not an environment "
                             f"variable name "
                             f"OpenClaw can refer to", "use uppercase letters, digits and '_', starting with a letter")
        sources = {}
        for env, ref, path in secret_sources(model, gateway):
            if env in sources and sources[env][0] != ref:
                problems.add(path, f"environment variable {env} of gateway {gateway!r} would hold two different "
                             f"secrets (also {sources[env][1]})",
                             f"use the same reference in both places, or remove {env} from farm_secrets (it is "
                             f"derived from the provider or channel)")
            sources.setdefault(env, (ref, path))
        if GATEWAY_TOKEN_ENV not in sources:
            fix = f"add {GATEWAY_TOKEN_ENV}: op://<vault>/<item>/<field> to farm_secrets (or to the gateway's secrets)"
            problems.add(f"farm_secrets.{GATEWAY_TOKEN_ENV}", f"is missing: gateway {gateway!r} authenticates clients "
                         f"with the token in {GATEWAY_TOKEN_ENV}", fix)


def _check_gateway_roster(model, gateways, agents, problems):
    if agents is None:
        return
    for gateway in sorted(gateways or {}):
        gw = gateways[gateway]
        index = next(i for i, g in _entries(model, "farm_gateways") if g is gw)
        roster = [a.get("id") for a in gateway_agents(model, gateway) if isinstance(a.get("id"), str)]
        if not roster:
            problems.add(f"farm_gateways[{index}]", f"gateway {gateway!r} has no agents",
                         "add an agent with gateway: " + gateway + " to farm_agents, or remove the gateway")
        system_agent = _get(gw, "system_agent", "str")
        elsewhere = agents.get(system_agent, (None, {}))[1]
        if system_agent in agents and _get(elsewhere, "gateway", "str") not in gateways:
            continue  # that agent's own gateway is unknown, which is reported already
        if system_agent is not None and system_agent not in roster:
            problems.add(f"farm_gateways[{index}].system_agent", f"{system_agent!r} is not an agent of gateway "
                         f"{gateway!r} (its agents: {', '.join(roster) or 'none'})",
                         "name one of the gateway's agents, or remove system_agent (the first agent is used)")
