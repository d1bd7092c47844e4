# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the agents, the model providers and the links between agents."""

from __future__ import annotations

from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.naming import (
    split_model_ref,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.schema import (
    AGENT_ID_RE,
    CAPABILITY_RE,
    CLOCK_RE,
    COMMAND_RE,
    DURATION_RE,
    PROVIDER_NAME_RE,
    PROVIDERS_NEEDING_KEY,
    PROVIDERS_WITH_BUILTIN_URL,
    RETIRED_WORKSPACE_FILES,
    URL_RE,
    WORKSPACE_FILES,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.structure import (
    _did_you_mean,
    _entries,
    _get,
    _is,
    _join,
    _missing,
    _named_entries,
    _opt,
    _show,
    _suggest,
)


def _check_agents(model, gateways, problems):
    """Returns {id: (index, agent)} of the agents with a usable, unique id."""
    agents = {}
    for _index, path, agent, _agent_id in _named_entries(
            model, "farm_agents", "id", agents, problems, valid=AGENT_ID_RE,
            invalid=lambda agent_id: (f"{agent_id!r} is not a valid OpenClaw agent id",
                                      "use 1-64 lowercase letters, digits, '_' and '-', not starting with '-'"),
            unique="agent ids are unique across the whole farm; rename one of them"):
        gateway = _get(agent, "gateway", "str")
        if gateway is not None and _missing(gateways, gateway):
            problems.unknown(f"{path}.gateway", "gateway", gateway, gateways,
                             "use the name of an entry of farm_gateways, or add that gateway")
        name = _get(agent, "name", "str")
        if name is not None and not name.strip():
            problems.add(f"{path}.name", "is empty", "give the agent a display name")
        for i, capability in enumerate(_get(agent, "capabilities", "list", [])):
            if _is(capability, "str") and not CAPABILITY_RE.fullmatch(capability):
                problems.add(f"{path}.capabilities[{i}]", f"{capability!r} is not a capability name",
                             "use lowercase letters, digits and '-', starting with a letter")
        for i, command in enumerate(_get(agent, "exec_allow", "list", [])):
            if _is(command, "str") and not COMMAND_RE.fullmatch(command):
                problems.add(f"{path}.exec_allow[{i}]", f"{command!r} is not a command name or path",
                             "list bare command names (nomad) or absolute paths (/usr/bin/nomad), no arguments")
        _check_heartbeat(agent, path, problems)
        _check_workspace_files(agent, path, problems)
    return agents


def _check_heartbeat(agent, path, problems):
    heartbeat = _get(agent, "heartbeat", "dict")
    if heartbeat is None:
        return
    every = _get(heartbeat, "every", "str")
    if every is not None and not DURATION_RE.fullmatch(every.lower()):
        problems.add(f"{path}.heartbeat.every", f"{every!r} is not an OpenClaw duration (cron syntax is not "
                     f"supported: OpenClaw schedules heartbeats by interval)",
                     'use an interval such as "30m", "1h" or "1h30m" ("0m" disables it); limit the hours with '
                     'heartbeat.active_hours')
    hours = _get(heartbeat, "active_hours", "dict", {})
    for key in ("start", "end"):
        value = _get(hours, key, "str")
        if value is not None and not CLOCK_RE.fullmatch(value):
            problems.add(f"{path}.heartbeat.active_hours.{key}", f"{value!r} is not a time of day (HH:MM)",
                         'write it as "HH:MM", 00:00 to 24:00, quoted')


def _check_workspace_files(agent, path, problems):
    seen = set()
    for i, name in enumerate(_get(agent, "workspace_files", "list", [])):
        if not isinstance(name, str):
            continue
        where = f"{path}.workspace_files[{i}]"
        if name in RETIRED_WORKSPACE_FILES:
            msg, fix = RETIRED_WORKSPACE_FILES[name]
            problems.add(where, f"{name} {msg}", fix)
        elif name not in WORKSPACE_FILES:
            hint = _did_you_mean(name, WORKSPACE_FILES)
            problems.add(where, f"{_show(name)} is not a workspace file OpenClaw reads",
                         f"{hint}use some of: {', '.join(WORKSPACE_FILES)}")
        elif name in seen:
            problems.add(where, f"{name} is listed twice", "list each file once")
        seen.add(name)


def _check_providers(model, hosts, where, problems):
    for name, provider in sorted(_get(model, "farm_model_providers", "dict", {}).items(), key=lambda i: str(i[0])):
        path = _join("farm_model_providers", name)
        if not isinstance(name, str):
            continue
        if not PROVIDER_NAME_RE.fullmatch(name):
            problems.add(path, f"{_show(name)} is not a provider name",
                         "use lowercase letters, digits and '-', starting with a letter (it prefixes model refs: "
                         "<provider>/<model>)")
        if not isinstance(provider, dict):
            continue
        base_url = _get(provider, "base_url", "str")
        if provider.get("base_url") is None and name not in PROVIDERS_WITH_BUILTIN_URL:
            problems.add(f"{path}.base_url", "is required for this provider",
                         "add base_url: http://<host>:<port>/v1 (the OpenAI-compatible endpoint)")
        elif base_url is not None and not URL_RE.fullmatch(base_url):
            problems.add(f"{path}.base_url", f"{base_url!r} is not an http(s) URL",
                         "write it as http://<host>:<port>/v1")
        if provider.get("api_key") is None and name in PROVIDERS_NEEDING_KEY:
            problems.add(f"{path}.api_key", "is required for this provider",
                         "add api_key: op://<vault>/<item>/<field>")
        local_to = _get(provider, "local_to", "list")
        if local_to == []:
            problems.add(f"{path}.local_to", "is empty: no gateway may use this provider",
                         "list the nodes whose gateways can reach base_url, or remove local_to (every gateway may "
                         "use it)")
        for i, node in enumerate(local_to or []):
            if _is(node, "str") and hosts is not None and node not in hosts:
                hint = _did_you_mean(node, hosts)
                problems.add(f"{path}.local_to[{i}]", f"node {node!r} is not in the inventory ({where}: "
                             f"{', '.join(hosts) or 'none'})", f"{hint}use one of the inventory hosts")
        models = _opt(provider, "models", "list", [])
        if models == []:
            problems.add(f"{path}.models", "lists no models; agents can only use the models listed here",
                         "add models: [{id: <model id>, name: <display name>}]")
        seen = {}
        for i, entry in enumerate(models or []):
            model_id = _get(entry, "id", "str")
            if model_id is None:
                continue
            if model_id in seen:
                problems.add(f"{path}.models[{i}].id",
                             f"duplicate model id {model_id!r} (also models[{seen[model_id]}])", "list each model once")
            seen.setdefault(model_id, i)


def _offered(model):
    offered = {}
    for name, provider in _get(model, "farm_model_providers", "dict", {}).items():
        ids = [_get(entry, "id", "str") for entry in _get(provider, "models", "list", [])]
        offered[name] = sorted(i for i in ids if i)
    return offered


def _check_agent_models(model, problems):
    offered = _offered(model)
    for index, agent in _entries(model, "farm_agents"):
        spec = _get(agent, "model", "dict")
        if spec is None:
            continue
        refs = [("primary", spec.get("primary"))]
        refs += [(f"fallbacks[{i}]", ref) for i, ref in enumerate(_get(spec, "fallbacks", "list", []))]
        seen = set()
        for where, ref in refs:
            if not _is(ref, "str"):
                continue
            path = f"farm_agents[{index}].model.{where}"
            parts = split_model_ref(ref)
            if parts is None:
                problems.add(path, f"{ref!r} is not a model reference <provider>/<model id>",
                             "write it as <provider>/<model id>, for example litellm/glm-4.6")
                continue
            provider, model_id = parts
            if provider not in offered:
                close = _suggest(provider, offered)
                hint = f'did you mean "{close}/{model_id}"? ' if close else ""
                problems.add(path, f"no provider {provider!r} in farm_model_providers offers {ref!r} (providers: "
                             f"{', '.join(sorted(offered)) or 'none'})",
                             f"{hint}add the provider {provider!r} with this model to farm_model_providers")
            elif model_id not in offered[provider]:
                close = _suggest(model_id, offered[provider])
                hint = f'did you mean "{provider}/{close}"? ' if close else ""
                problems.add(path, f"provider {provider!r} does not offer model {model_id!r} (it offers: "
                             f"{', '.join(offered[provider]) or 'nothing'})",
                             f"{hint}add {{id: {model_id}}} to farm_model_providers.{provider}.models or use a "
                             f"listed model")
            if ref in seen:
                problems.add(path, f"{ref!r} is listed twice among primary and fallbacks", "list each model once")
            seen.add(ref)


def _check_provider_locality(model, gateways, hosts, problems):
    """A provider with local_to (LM Studio on the MacBook: base_url is the laptop's loopback or LAN
    address) may only be used by agents whose gateway runs on one of those nodes."""
    local = {}
    for name, provider in _get(model, "farm_model_providers", "dict", {}).items():
        nodes = _get(provider, "local_to", "list")
        if nodes is not None:
            local[name] = (sorted({n for n in nodes if isinstance(n, str)}), _get(provider, "base_url", "str"))
    if not local or gateways is None:
        return
    for index, agent in _entries(model, "farm_agents"):
        gateway = _get(agent, "gateway", "str")
        node = _get(gateways.get(gateway), "node", "str") if gateway in gateways else None
        spec = _get(agent, "model", "dict")
        if node is None or spec is None or (hosts is not None and node not in hosts):
            continue  # an unknown gateway or node, or a missing model, is reported elsewhere
        refs = [("primary", spec.get("primary"))]
        refs += [(f"fallbacks[{i}]", ref) for i, ref in enumerate(_get(spec, "fallbacks", "list", []))]
        for where, ref in refs:
            parts = split_model_ref(ref)
            if parts is None or parts[0] not in local:
                continue
            provider = parts[0]
            nodes, base_url = local[provider]
            if node in nodes:
                continue
            problems.add(f"farm_agents[{index}].model.{where}",
                         f"{ref!r} is local to {', '.join(nodes) or 'no node'} (farm_model_providers.{provider}."
                         f"local_to), but agent {agent.get('id')!r} runs on gateway {gateway!r} on node {node!r}",
                         f"add {node} to farm_model_providers.{provider}.local_to if the gateway on {node} can "
                         f"reach {base_url or 'its base_url'}, or pick another model")


def _check_agent_links(model, gateways, agents, problems):
    if agents is None:
        return
    for index, agent in _entries(model, "farm_agents"):
        own_id = agent.get("id")
        own_gateway = _get(agent, "gateway", "str")
        for key in ("may_message", "may_spawn"):
            seen = set()
            for i, target in enumerate(_get(agent, key, "list", [])):
                if not _is(target, "str"):
                    continue
                path = f"farm_agents[{index}].{key}[{i}]"
                if target == own_id:
                    problems.add(path, f"agent {own_id!r} names itself",
                                 "remove it: an agent always reaches its own sessions")
                elif target not in agents:
                    problems.unknown(path, "agent", target, agents, "use the id of an entry of farm_agents")
                elif target in seen:
                    problems.add(path, f"{target!r} is listed twice", "list each agent once")
                elif key == "may_spawn" and _other_gateway(gateways, own_gateway,
                                                           _get(agents[target][1], "gateway", "str")):
                    problems.add(path, f"agent {target!r} runs on gateway {agents[target][1].get('gateway')!r}, not "
                                 f"on {own_gateway!r}: sessions_spawn only reaches agents of the same gateway",
                                 "remove it from may_spawn (use may_message: cross-gateway messages go over the bus)")
                seen.add(target)


def _other_gateway(gateways, own, other):
    """True when both gateways exist and differ (an unknown gateway is reported elsewhere)."""
    if gateways is None or not isinstance(own, str) or not isinstance(other, str):
        return False
    return own in gateways and other in gateways and own != other
