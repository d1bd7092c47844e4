# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul ACL policies for the bus, generated from the farm model.

Model: {"agents": [{"id", "may_message": [...], "gateway"?}], "gateways": [{"name", "node"}]?}
(the farm model's `farm_agents` / `farm_gateways` keys are accepted too).

Per agent A (policy `openclaw-bus-agent-A`):
- `key_prefix "<bus>/A/in/"`, `"<bus>/A/hwm/"`, `"<bus>/A/dead/"`: write. Reading the inbox needs read;
  acking deletes, and Consul has no delete-only right: a delete needs write on the key. So A can also
  write into its own inbox under any sender name. That is the accepted trade-off: the inbox is read
  only by A (its relay and its MCP session), so a forged entry can only deceive A itself; it grants
  nothing over any other agent. What matters, that nobody can write into *another* agent's inbox as
  someone else, holds.
- for each recipient R that A may message: `key_prefix "<bus>/R/in/A/"` write (only under its own
  sender name, so the sender identity comes from the ACL-protected path) and `key "<bus>/R/hwm/A"`
  read (sequence recovery after a restart). Nothing else of R is readable: not R's inbox, not the
  other senders' marks, not R's dead letters.
- what A may do to its own messages in R's inbox (the decision; the rules and the receiver match it):
  create them (CAS-create, one per sequence number) and withdraw (delete) those R has not taken yet:
  a withdrawn message is one that was never sent, and nobody else is affected. A may NOT change one:
  messages are write-once. Consul cannot express that (`key_prefix` write covers create, update and
  delete; there is no create-only right, and listing exact keys is impossible for unbounded sequence
  numbers), so the receiver enforces it by reading: an entry whose ModifyIndex differs from its
  CreateIndex was rewritten after it was sent and is dead-lettered, never delivered (the receiver
  itself never rewrites a message: it keeps attempt counts in its own hwm). Deleting and re-creating
  a key is a withdrawal plus a new message, subject to the usual dedup (sequence, messageId).
- replies: with `replies=True` (default) A may also write into the inbox of every agent that may
  message A, so its answers can go back. ACLs cannot tell a reply from a new message, so this makes
  the reachability symmetric; pass `replies=False` to allow only what may_message lists (then an
  agent cannot answer senders it may not message).
- `key_prefix "<registry>/"` read.

Per gateway G on node N (policy `openclaw-bus-gateway-G`, the bus process's own token):
- `key "<registry>/gateways/G"` write (held by its session), `key "<registry>/agents/<a>"` write for
  each agent of G, `key_prefix "<registry>/"` read, `session "N"` write (its TTL session is bound to
  node N). No KV right on any mailbox: agent actions use the agents' tokens.

Per gateway node N (policy `openclaw-bus-watch-N`, the token of `openclaw-bus watch --node N`):
- `node_prefix ""` and `service_prefix "openclaw-"` read (the critical checks it follows: serfHealth of
  every node, the gateways' and the relays' service checks), `key_prefix "openclaw/watch/"` write (the
  lock and the incident records), `session "N"` write (its lock session is bound to node N). Nothing of
  the mailboxes or the registry."""

from __future__ import annotations

from .envelope import BusError, Layout, check_agent_id

WATCH_ROOT = "openclaw/watch"
WATCH_SERVICE_PREFIX = "openclaw-"
HEADER = "# openclaw-bus {kind} {name!r}: generated from the farm model by `openclaw-bus policies`; do not edit"


def normalize_model(model):
    """-> (agents {id: {"may_message": [...], "gateway": str}}, gateways {name: {"node": str}})."""
    if not isinstance(model, dict):
        raise BusError("the model must be a mapping with an 'agents' list")
    raw_agents = model.get("agents", model.get("farm_agents"))
    raw_gateways = model.get("gateways", model.get("farm_gateways")) or []
    if not isinstance(raw_agents, list) or not raw_agents:
        raise BusError("the model needs a non-empty 'agents' list of {id, may_message}")
    agents = {}
    for i, agent in enumerate(raw_agents):
        if not isinstance(agent, dict):
            raise BusError(f"agents[{i}] must be a mapping")
        agent_id = check_agent_id(agent.get("id"), f"agents[{i}].id")
        if agent_id in agents:
            raise BusError(f"agent {agent_id!r} is listed twice")
        may = agent.get("may_message") or []
        if not isinstance(may, list) or not all(isinstance(m, str) for m in may):
            raise BusError(f"agents[{i}].may_message must be a list of agent ids")
        for name in ("name", "description"):
            if not isinstance(agent.get(name) or "", str):
                raise BusError(f"agents[{i}].{name} must be a string")
        capabilities = agent.get("capabilities") or []
        if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
            raise BusError(f"agents[{i}].capabilities must be a list of strings")
        agents[agent_id] = {"may_message": list(may), "gateway": agent.get("gateway") or "",
                            "capabilities": list(agent.get("capabilities") or []),
                            "name": agent.get("name") or agent_id, "description": agent.get("description") or ""}
    for agent_id, agent in agents.items():
        unknown = [m for m in agent["may_message"] if m not in agents]
        if unknown:
            raise BusError(f"agent {agent_id!r} may_message lists unknown agents {unknown}; known: {sorted(agents)}")
        if agent_id in agent["may_message"]:
            raise BusError(f"agent {agent_id!r} lists itself in may_message")
    gateways = {}
    for i, gateway in enumerate(raw_gateways):
        if not isinstance(gateway, dict):
            raise BusError(f"gateways[{i}] must be a mapping")
        name = check_agent_id(gateway.get("name"), f"gateways[{i}].name")
        if not isinstance(gateway.get("node") or "", str):
            raise BusError(f"gateways[{i}].node must be a string")
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


def agent_rules(agent_id, allowed, layout=None, may_message=None):
    layout = layout or Layout()
    may_message = set(may_message if may_message is not None else allowed)
    lines = [HEADER.format(kind="agent", name=agent_id),
             "# Own mailbox: read it, ack (delete) it, keep the high-water marks and dead letters. Consul has",
             "# no delete-only right, so this is write; it lets the agent write into its OWN inbox only.",
             _block("key_prefix", layout.inbox(agent_id), "write"),
             _block("key_prefix", layout.hwm_prefix(agent_id), "write"),
             _block("key_prefix", layout.dead_prefix(agent_id), "write")]
    for recipient in allowed:
        why = "may message" if recipient in may_message else "may reply to (it may message this agent)"
        lines.append(f"# {why} {recipient}: write only as itself; read its own high-water mark there. Write")
        lines.append(f"# also lets it withdraw (delete) its unread messages; {recipient} dead-letters any it changes.")
        lines.append(_block("key_prefix", layout.inbox_from(recipient, agent_id), "write"))
        lines.append(_block("key", layout.hwm_key(recipient, agent_id), "read"))
    lines.append("# The registry: who exists, what they can do, which gateways are alive.")
    lines.append(_block("key_prefix", layout.registry_root + "/", "read"))
    return "\n".join(lines) + "\n"


def gateway_rules(gateway, node, agent_ids, layout=None):
    layout = layout or Layout()
    lines = [HEADER.format(kind="gateway", name=gateway),
             "# Its presence key (held by its TTL session) and the records of its agents.",
             _block("key", layout.gateway_key(gateway), "write")]
    lines += [_block("key", layout.agent_key(a), "write") for a in sorted(agent_ids)]
    lines.append(_block("key_prefix", layout.registry_root + "/", "read"))
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


def generate(model, layout=None, replies=True, watch_root=WATCH_ROOT):
    """{"agents": {id: {"name", "rules", "may_message", "may_write_to"}}, "gateways": {name: {...}},
        "watchers": {node: {"name", "node", "rules"}}} (one alert watcher per gateway node)."""
    layout = layout or Layout()
    agents, gateways = normalize_model(model)
    out = {"agents": {}, "gateways": {}, "watchers": {}}
    for agent_id, spec in agents.items():
        allowed = recipients(agents, agent_id, replies)
        out["agents"][agent_id] = {"name": agent_policy_name(agent_id),
                                   "rules": agent_rules(agent_id, allowed, layout, spec["may_message"]),
                                   "may_message": sorted(spec["may_message"]), "may_write_to": allowed}
    names = set(gateways) | {spec["gateway"] for spec in agents.values() if spec["gateway"]}
    for gateway in sorted(names):
        local = [a for a, spec in agents.items() if spec["gateway"] == gateway]
        node = gateways.get(gateway, {}).get("node") or ""
        out["gateways"][gateway] = {"name": gateway_policy_name(gateway), "node": node, "agents": sorted(local),
                                    "rules": gateway_rules(gateway, node, local, layout)}
        if node:
            out["watchers"][node] = {"name": watcher_policy_name(node), "node": node,
                                     "rules": watcher_rules(node, watch_root)}
    return out
