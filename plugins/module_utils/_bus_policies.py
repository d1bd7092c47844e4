# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul ACL policies of the bus, generated from the farm model: a port of
src/openclaw_bus/policies.py (same rules, same text, byte for byte; the unit tests compare both on
several models), so the collection does not need the bus package on the controller at runtime.

Per agent A (policy `openclaw-bus-agent-A`): write on its own `in/`, `hwm/` and `dead/` prefixes; for
each recipient R it may write to, write on `<bus>/R/in/A/` (only under its own sender name) and read
on `<bus>/R/hwm/A`; read on the registry. Per gateway G on node N (policy `openclaw-bus-gateway-G`,
the token of the bus process): write on its registry keys, read on the registry, write on session N.
Per gateway node N (policy `openclaw-bus-watch-N`, the alert watcher's token): read on every node and on
the `openclaw-` services (health), write on `openclaw/watch/` (lock, incidents), write on session N.
Under `<bus>/R/in/A/` the sender may create its messages and withdraw (delete) unread ones; it may
not change one (Consul cannot refuse it: R dead-letters any entry whose ModifyIndex is not its
CreateIndex). See src/openclaw_bus/README.md for the reasoning (and the accepted own-inbox trade-off)."""

from __future__ import annotations

import re

from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.paths import (
    BUS_REGISTRY_ROOT as REGISTRY_ROOT,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.paths import BUS_ROOT, WATCH_ROOT
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.paths import (
    JOB_PREFIX as WATCH_SERVICE_PREFIX,
)

AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
HEADER = "# openclaw-bus {kind} {name!r}: generated from the farm model by `openclaw-bus policies`; do not edit"


class BusPolicyError(ValueError):
    pass


def _check_id(value, what):
    if not isinstance(value, str) or not AGENT_ID.fullmatch(value):  # `$` alone lets a newline through
        raise BusPolicyError(f"invalid {what} {value!r}: use 1-64 characters from A-Z a-z 0-9 _ - "
                             "starting with a letter or digit")
    return value


def normalize_model(model):
    """-> (agents {id: {"may_message": [...], "gateway": str}}, gateways {name: {"node": str}})."""
    if not isinstance(model, dict):
        raise BusPolicyError("the model must be a mapping with an 'agents' list")
    raw_agents = model.get("agents", model.get("farm_agents"))
    raw_gateways = model.get("gateways", model.get("farm_gateways")) or []
    if not isinstance(raw_agents, list) or not raw_agents:
        raise BusPolicyError("the model needs a non-empty 'agents' list of {id, may_message}")
    agents = {}
    for i, agent in enumerate(raw_agents):
        if not isinstance(agent, dict):
            raise BusPolicyError(f"agents[{i}] must be a mapping")
        agent_id = _check_id(agent.get("id"), f"agents[{i}].id")
        if agent_id in agents:
            raise BusPolicyError(f"agent {agent_id!r} is listed twice")
        may = agent.get("may_message") or []
        if not isinstance(may, list) or not all(isinstance(m, str) for m in may):
            raise BusPolicyError(f"agents[{i}].may_message must be a list of agent ids")
        for name in ("name", "description"):
            if not isinstance(agent.get(name) or "", str):
                raise BusPolicyError(f"agents[{i}].{name} must be a string")
        capabilities = agent.get("capabilities") or []
        if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
            raise BusPolicyError(f"agents[{i}].capabilities must be a list of strings")
        agents[agent_id] = {"may_message": list(may), "gateway": agent.get("gateway") or ""}
    for agent_id, agent in agents.items():
        unknown = [m for m in agent["may_message"] if m not in agents]
        if unknown:
            raise BusPolicyError(f"agent {agent_id!r} may_message lists unknown agents {unknown}; "
                                 f"known: {sorted(agents)}")
        if agent_id in agent["may_message"]:
            raise BusPolicyError(f"agent {agent_id!r} lists itself in may_message")
    gateways = {}
    for i, gateway in enumerate(raw_gateways):
        if not isinstance(gateway, dict):
            raise BusPolicyError(f"gateways[{i}] must be a mapping")
        name = _check_id(gateway.get("name"), f"gateways[{i}].name")
        if not isinstance(gateway.get("node") or "", str):
            raise BusPolicyError(f"gateways[{i}].node must be a string")
        gateways[name] = {"node": gateway.get("node") or ""}
    return agents, gateways


def recipients(agents, agent_id, replies=True):
    """Who agent_id may write to: may_message, plus (with replies) everyone who may message it."""
    allowed = set(agents[agent_id]["may_message"])
    if replies:
        allowed |= {other for other, spec in agents.items() if agent_id in spec["may_message"]}
    allowed.discard(agent_id)
    return sorted(allowed)


def _block(kind, name, policy):
    return f'{kind} "{name}" {{\n  policy = "{policy}"\n}}'


def agent_rules(agent_id, allowed, may_message=None, bus_root=BUS_ROOT, registry_root=REGISTRY_ROOT):
    may_message = set(may_message if may_message is not None else allowed)
    lines = [HEADER.format(kind="agent", name=agent_id),
             "# Own mailbox: read it, ack (delete) it, keep the high-water marks and dead letters. Consul has",
             "# no delete-only right, so this is write; it lets the agent write into its OWN inbox only.",
             _block("key_prefix", f"{bus_root}/{agent_id}/in/", "write"),
             _block("key_prefix", f"{bus_root}/{agent_id}/hwm/", "write"),
             _block("key_prefix", f"{bus_root}/{agent_id}/dead/", "write")]
    for recipient in allowed:
        why = "may message" if recipient in may_message else "may reply to (it may message this agent)"
        lines.append(f"# {why} {recipient}: write only as itself; read its own high-water mark there. Write")
        lines.append(f"# also lets it withdraw (delete) its unread messages; {recipient} dead-letters any it changes.")
        lines.append(_block("key_prefix", f"{bus_root}/{recipient}/in/{agent_id}/", "write"))
        lines.append(_block("key", f"{bus_root}/{recipient}/hwm/{agent_id}", "read"))
    lines.append("# The registry: who exists, what they can do, which gateways are alive.")
    lines.append(_block("key_prefix", registry_root + "/", "read"))
    return "\n".join(lines) + "\n"


def gateway_rules(gateway, node, agent_ids, registry_root=REGISTRY_ROOT):
    lines = [HEADER.format(kind="gateway", name=gateway),
             "# Its presence key (held by its TTL session) and the records of its agents.",
             _block("key", f"{registry_root}/gateways/{gateway}", "write")]
    lines += [_block("key", f"{registry_root}/agents/{a}", "write") for a in sorted(agent_ids)]
    lines.append(_block("key_prefix", registry_root + "/", "read"))
    if node:
        lines.append(f"# Its TTL session is bound to Consul node {node}.")
        lines.append(_block("session", node, "write"))
    return "\n".join(lines) + "\n"


def watcher_rules(node, watch_root=WATCH_ROOT, service_prefix=WATCH_SERVICE_PREFIX):
    """The alert watcher of one node (`openclaw-bus watch`): it reads the critical checks of every node
    and of the farm's services, keeps the lock and the incidents under its KV prefix, and binds its lock
    session to its own node. Nothing of the bus or the registry."""
    lines = [HEADER.format(kind="watcher", name=node),
             "# Consul health: serfHealth of every node, the checks of the gateways and the bus relays.",
             _block("node_prefix", "", "read"),
             _block("service_prefix", service_prefix, "read"),
             "# The lock (one sender at a time) and the incident records.",
             _block("key_prefix", watch_root.strip("/") + "/", "write"),
             f"# Its lock session is bound to Consul node {node}.",
             _block("session", node, "write")]
    return "\n".join(lines) + "\n"


def watcher_policy_name(node):
    return f"openclaw-bus-watch-{node}"


def agent_policy_name(agent_id):
    return f"openclaw-bus-agent-{agent_id}"


def gateway_policy_name(gateway):
    return f"openclaw-bus-gateway-{gateway}"


def generate(model, replies=True, bus_root=BUS_ROOT, registry_root=REGISTRY_ROOT, watch_root=WATCH_ROOT):
    """{"agents": {id: {"name", "rules", "may_message", "may_write_to"}},
        "gateways": {name: {"name", "node", "agents", "rules"}},
        "watchers": {node: {"name", "node", "rules"}}}: what `openclaw-bus policies` prints."""
    agents, gateways = normalize_model(model)
    out = {"agents": {}, "gateways": {}, "watchers": {}}
    for agent_id, spec in agents.items():
        allowed = recipients(agents, agent_id, replies)
        out["agents"][agent_id] = {"name": agent_policy_name(agent_id),
                                   "rules": agent_rules(agent_id, allowed, spec["may_message"], bus_root,
                                                        registry_root),
                                   "may_message": sorted(spec["may_message"]), "may_write_to": allowed}
    names = set(gateways) | {spec["gateway"] for spec in agents.values() if spec["gateway"]}
    for gateway in sorted(names):
        local = [a for a, spec in agents.items() if spec["gateway"] == gateway]
        node = gateways.get(gateway, {}).get("node") or ""
        out["gateways"][gateway] = {"name": gateway_policy_name(gateway), "node": node, "agents": sorted(local),
                                    "rules": gateway_rules(gateway, node, local, registry_root)}
        if node:
            out["watchers"][node] = {"name": watcher_policy_name(node), "node": node,
                                     "rules": watcher_rules(node, watch_root)}
    return out
