# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of octant.openclaw.relocate: what must move between nodes when the farm model places
agents or channels elsewhere than the running farm (phase 4: one gateway per node).

The running farm's placement comes from the registry in Consul KV: `openclaw/registry/farm` (written
by octant.openclaw.agents), or the layout of earlier releases (`openclaw/gateways/<gw>/{node,agents,
channels}`). Paths are relative to a gateway's folder `<data root>/openclaw/<gateway>/`:

    workspaces/<agent>                   the agent's workspace (its own edits, memory files)
    state/agents/<agent>                 its sessions and runtime state (OpenClaw's per-agent SQLite)
    state/credentials/whatsapp/<account> a linked WhatsApp session (no token: linked once by QR)

Slack and Discord need no move: their tokens live in the new gateway's Nomad variable."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.paths import job_name


def openclaw_placement(farm_record=None, legacy_tree=None):
    """{"gateways": {gw: node}, "agents": {id: gw}, "channels": {"kind:account": gw}} of the running
    farm, from the registry's farm record or, when there is none, from the earlier layout's tree
    (keys relative to `openclaw/gateways/`). Empty when the farm was never deployed."""
    gateways, agents, channels = {}, {}, {}
    if isinstance(farm_record, dict) and isinstance(farm_record.get("gateways"), dict):
        for name, gw in farm_record["gateways"].items():
            gateways[name] = gw.get("node")
            for agent in gw.get("agents") or []:
                agents[agent] = name
            for channel in gw.get("channels") or []:
                channels[channel] = name
    elif isinstance(legacy_tree, dict):
        for key, value in legacy_tree.items():
            name, _sep, field = key.partition("/")
            if field == "node":
                gateways[name] = value
            elif field == "agents" and isinstance(value, list):
                agents.update({agent: name for agent in value})
            elif field == "channels" and isinstance(value, list):
                channels.update({channel: name for channel in value})
    return {"gateways": gateways, "agents": agents, "channels": channels}


def openclaw_relocation_plan(model, placement):
    """What to move, stop and restart to go from `placement` (openclaw_placement) to the model:

    moves     [{"id", "name", "what", "paths", "from_gateway", "from_node", "to_gateway", "to_node"}], one
              per agent whose (gateway, node) changes and per WhatsApp account whose owner does
    restart   gateways that stay on their node and lose agents or channels: restarted with the new
              roster before anything is copied, so nothing writes to what moves
    stop      gateways of the running farm that the model drops or puts on another node: their jobs
              are stopped before anything is copied (a moved gateway is deployed again on its new
              node afterwards; a dropped one stays stopped, its folder kept)
    stop_jobs the Nomad jobs of those gateways (a dropped gateway is no longer in the derived facts)"""
    if not isinstance(model, dict) or not isinstance(placement, dict):
        raise AnsibleFilterError("openclaw_relocation_plan needs the validated farm model and a placement")
    model_nodes = {gw["name"]: gw["node"] for gw in model.get("farm_gateways") or []}
    running = placement.get("gateways") or {}
    moves = []

    def move(name, what, paths, old_gw, new_gw):
        old_node, new_node = running.get(old_gw), model_nodes[new_gw]
        if old_gw is None or old_node is None or (old_gw, old_node) == (new_gw, new_node):
            return
        moves.append({"id": f"{name}: {old_gw}@{old_node} -> {new_gw}@{new_node}", "name": name, "what": what,
                      "paths": paths, "from_gateway": old_gw, "from_node": old_node, "to_gateway": new_gw,
                      "to_node": new_node})

    for agent in model.get("farm_agents") or []:
        move(f"agent {agent['id']}", "agent", [f"workspaces/{agent['id']}", f"state/agents/{agent['id']}"],
             (placement.get("agents") or {}).get(agent["id"]), agent["gateway"])
    for channel in model.get("farm_channels") or []:
        if channel.get("kind") != "whatsapp":
            continue
        account = channel.get("account") or "default"
        move(f"whatsapp {account}", "whatsapp", [f"state/credentials/whatsapp/{account}"],
             (placement.get("channels") or {}).get(f"whatsapp:{account}"), channel["gateway"])
    sources = sorted({m["from_gateway"] for m in moves})
    stop = sorted(gw for gw in running if running[gw] != model_nodes.get(gw))
    return {"moves": moves,
            "restart": [gw for gw in sources if running.get(gw) == model_nodes.get(gw)],
            "stop": stop, "stop_jobs": [job_name(gw) for gw in stop]}


class FilterModule:
    def filters(self):
        return {"openclaw_placement": openclaw_placement, "openclaw_relocation_plan": openclaw_relocation_plan}
