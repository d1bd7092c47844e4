# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts derived from the model: the agents, providers and secrets of a gateway, the bus members,
the normalised model (every default filled in)."""

from __future__ import annotations

import hashlib
import json

from ansible_collections.octant.openclaw.plugins.module_utils._farm_model import paths
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.naming import (
    bus_mcp_token_env,
    channel_secret_env,
    gateway_runtime,
    provider_key_env,
    split_model_ref,
    with_tag,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.schema import (
    DEFAULT_ACCOUNT,
    DEFAULT_BIND,
    INBOX_THRESHOLDS,
    MODEL_SPEC,
    NOMAD_ONLY,
    F,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.structure import (
    _entries,
    _get,
    _join,
)


def gateway_agents(model, gateway):
    """The agents (entries of farm_agents) of one gateway, in model order."""
    return [agent for _index, agent in _entries(model, "farm_agents") if agent.get("gateway") == gateway]


def used_providers(model, gateway):
    """Names of the providers the agents of a gateway refer to, sorted."""
    names = set()
    for agent in gateway_agents(model, gateway):
        model_spec = _get(agent, "model", "dict", {})
        refs = [model_spec.get("primary")] + list(_get(model_spec, "fallbacks", "list", []))
        for ref in refs:
            parts = split_model_ref(ref)
            if parts:
                names.add(parts[0])
    return sorted(names)


def secret_sources(model, gateway):
    """Every secret a gateway needs: a list of (env name, op:// reference, model path), in a fixed
    order (gateway-wide secrets, providers, channels)."""
    sources = []
    gateways = {_get(g, "name", "str"): (i, g) for i, g in _entries(model, "farm_gateways")}
    index, gw = gateways.get(gateway, (None, {}))
    overrides = _get(gw, "secrets", "dict", {})
    for name, ref in sorted(_get(model, "farm_secrets", "dict", {}).items(), key=lambda item: str(item[0])):
        if name not in overrides:
            sources.append((name, ref, _join("farm_secrets", name)))
    for name, ref in sorted(overrides.items(), key=lambda item: str(item[0])):
        sources.append((name, ref, _join(f"farm_gateways[{index}].secrets", name)))
    providers = _get(model, "farm_model_providers", "dict", {})
    for name in used_providers(model, gateway):
        provider = _get(providers, name, "dict")
        if provider is not None and provider.get("api_key") is not None:
            sources.append((provider_key_env(name), provider["api_key"], f"farm_model_providers.{name}.api_key"))
    for index, channel in _entries(model, "farm_channels"):
        if channel.get("gateway") != gateway:
            continue
        kind = _get(channel, "kind", "str")
        account = _get(channel, "account", "str", DEFAULT_ACCOUNT)
        if kind is None:
            continue
        for secret, ref in sorted(_get(channel, "secrets", "dict", {}).items(), key=lambda item: str(item[0])):
            sources.append((channel_secret_env(kind, account, secret), ref,
                            _join(f"farm_channels[{index}].secrets", secret)))
    return sources


def secret_env(model, gateway):
    """{env var name: op:// reference} for one gateway, sorted by name: what the secrets role
    stores in nomad/jobs/<job> and what the gateway's SecretRefs point at."""
    return {name: ref for name, ref, _path in sorted(secret_sources(model, gateway), key=lambda s: str(s[0]))}


def normalize(model):
    """A copy of a (valid) model with every default filled in. Defaults that depend on the gateway's
    runtime: bind (lan for nomad, loopback for launchd); a launchd gateway gets none of the Nomad-only
    settings (no bridge_port, no resources)."""
    out = _fill(model, F("dict", fields=MODEL_SPEC))
    for gw in (out.get("farm_gateways") or []) if isinstance(out, dict) else []:
        if not isinstance(gw, dict):
            continue
        runtime = gateway_runtime(gw)
        if runtime != "nomad":
            for key in NOMAD_ONLY:
                gw.pop(key, None)
        elif isinstance(gw.get("image"), str) and isinstance(out.get("openclaw_version"), str):
            gw["image"] = with_tag(gw["image"], out["openclaw_version"])
        gw.setdefault("bind", DEFAULT_BIND[runtime])
    return out


def _fill(value, spec):
    if spec.kind == "dict" and isinstance(value, dict):
        out = {}
        for key, field in spec.fields.items():
            if key in value and value[key] is not None:
                out[key] = _fill(value[key], field)
            elif field.default is not None:
                out[key] = _fill(_copy(field.default), field)
        return out
    if spec.kind == "list" and isinstance(value, (list, tuple)) and spec.elements is not None:
        return [_fill(item, spec.elements) for item in value]
    if spec.kind == "map" and isinstance(value, dict) and spec.values is not None:
        return {key: _fill(item, spec.values) for key, item in value.items()}
    return _copy(value)


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


def plaintext_secrets(model):
    """The string values at secret positions that are not op:// references (to be masked)."""
    found = []
    _collect_secrets(model, F("dict", fields=MODEL_SPEC), found)
    return sorted(set(found))


def _collect_secrets(value, spec, found):
    if spec.secret:
        if isinstance(value, str) and value and not value.startswith("op://"):
            found.append(value)
        return
    if spec.kind == "dict" and isinstance(value, dict):
        for key, field in spec.fields.items():
            if key in value:
                _collect_secrets(value[key], field, found)
    elif spec.kind == "list" and isinstance(value, (list, tuple)) and spec.elements is not None:
        for item in value:
            _collect_secrets(item, spec.elements, found)
    elif spec.kind == "map" and isinstance(value, dict) and spec.values is not None:
        for item in value.values():
            _collect_secrets(item, spec.values, found)


def bus_enabled(model):
    return _get(_get(model, "farm_bus", "dict", {}), "enabled", "bool", False)


def on_bus(gateway):
    """Whether a gateway joins the bus: Nomad gateways do; a launchd gateway (the MacBook's) is
    independent, outside the cluster's bus jobs."""
    return gateway_runtime(gateway) == "nomad"


def bus_members(model):
    """The part of a (normalised) model that is on the bus: its Nomad gateways and their agents."""
    gateways = [gw for gw in model["farm_gateways"] if on_bus(gw)]
    names = {gw["name"] for gw in gateways}
    return dict(model, farm_gateways=gateways, farm_agents=[a for a in model["farm_agents"] if a["gateway"] in names])


def health_thresholds(model, agent_id):
    """The inbox thresholds of one agent: its farm_health.inboxes entry over the farm-wide ones (normalised model)."""
    health = model.get("farm_health") or {}
    own = (health.get("inboxes") or {}).get(agent_id) or {}
    return {key: own[key] if own.get(key) is not None else health[key] for key in INBOX_THRESHOLDS}


def alerts_enabled(model):
    """Whether the bus jobs run the watcher (it lives in them, so the bus must be on too)."""
    return bus_enabled(model) and _get(_get(model, "farm_alerts", "dict", {}), "enabled", "bool", False)


def alert_references(model):
    """The op:// references of the Apprise URLs, in name order (names and references only)."""
    urls = _get(_get(model, "farm_alerts", "dict", {}), "urls", "dict", {})
    return [urls[name] for name in sorted(urls, key=str)]


# ------------------------------------------------------------------------------------------------
# The derived facts: computed once from the valid, normalised model (farm_validate returns them, preflight
# publishes them as openclaw_farm.derived) and read by the filters and the roles instead of recomputing.
# ------------------------------------------------------------------------------------------------

DERIVED_KEY = "derived"


def gateway_channels(model, gateway):
    """The channels (entries of farm_channels) a gateway owns, in model order."""
    return [channel for _index, channel in _entries(model, "farm_channels") if channel.get("gateway") == gateway]


def gateway_plugins(model, gateway):
    """The channel plugins a gateway's config enables (and its job installs): its channels' kinds, sorted."""
    return sorted({kind for kind in (_get(c, "kind", "str") for c in gateway_channels(model, gateway)) if kind})


def gateway_bus_env(model, gateway):
    """The names of the bus MCP tokens a gateway's process needs (one per agent; none off the bus), sorted."""
    if not bus_enabled(model) or not on_bus(gateway):
        return []
    return sorted(bus_mcp_token_env(agent["id"]) for agent in gateway_agents(model, gateway["name"]))


def gateway_facts(model, gateway):
    """Everything the roles need to know about one gateway of a normalised model (names only, no secret)."""
    name, node = gateway["name"], gateway["node"]
    bus = bus_enabled(model) and on_bus(gateway)
    return {
        "name": name,
        "node": node,
        "runtime": gateway_runtime(gateway),
        "job": paths.job_name(name),
        "dir": paths.gateway_dir(name),
        "variable": paths.gateway_variable(name),
        "bus_variable": paths.gateway_bus_variable(name),
        "agents": [agent["id"] for agent in gateway_agents(model, name)],
        "channels": [f"{c['kind']}:{c['account']}" for c in gateway_channels(model, name)],
        "plugins": gateway_plugins(model, name),
        "secret_keys": sorted(secret_env(model, name)),
        "bus_keys": gateway_bus_env(model, gateway),
        "bus_job": paths.bus_job_name(node) if bus else None,
    }


def node_facts(node):
    """The bus job of one gateway node and its Nomad variables."""
    return {"bus_job": paths.bus_job_name(node), "bus_variable": paths.bus_variable(node),
            "watch_variable": paths.watch_variable(node)}


def derive(model):
    """The derived facts of a valid, normalised model: per gateway (gateway_facts), per node of a Nomad gateway
    (node_facts), the Consul KV prefixes, and the fingerprint of the model they were derived from."""
    gateways = model["farm_gateways"]
    return {
        "fingerprint": fingerprint(model),
        "kv": paths.kv_prefixes(),
        "gateways": {gw["name"]: gateway_facts(model, gw) for gw in gateways},
        "nodes": {gw["node"]: node_facts(gw["node"]) for gw in gateways if on_bus(gw)},
        "bus_enabled": bus_enabled(model),
        "alerts_enabled": alerts_enabled(model),
    }


def fingerprint(model):
    """A digest of a model without its derived facts: a published model whose facts no longer match it (a play
    changed it after preflight) is checked and derived again."""
    body = {key: value for key, value in model.items() if key != DERIVED_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
