# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the bus (farm_bus), the health thresholds (farm_health) and the alert watcher (farm_alerts)."""

from __future__ import annotations

from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.derived import (
    bus_enabled,
    on_bus,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.naming import (
    bus_mcp_token_env,
    bus_server_name,
    image_tag,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.schema import (
    ALERT_NAME_RE,
    BUS_SERVER_RE,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.structure import (
    _did_you_mean,
    _entries,
    _get,
    _join,
    _names,
    _show,
)


def _check_bus(model, gateways, agents, problems):
    bus = _get(model, "farm_bus", "dict")
    if bus is None:
        return
    image = _get(bus, "image", "str")
    if image is not None and image_tag(image) is None:
        problems.add("farm_bus.image", f"image {image!r} has no tag",
                     "pin it, for example localhost/openclaw-bus:0.1.0")
    prefix = _get(bus, "server_prefix", "str")
    if prefix is not None and not BUS_SERVER_RE.fullmatch(prefix):
        problems.add("farm_bus.server_prefix", f"{prefix!r} cannot prefix an MCP server name",
                     "use lowercase letters, digits and '_', starting with a letter, at most 32 characters")
    if not _get(bus, "enabled", "bool", False):
        return
    # One bus process per node serves the gateway of that node (openclaw-bus serve takes one gateway).
    nodes = {}
    for index, gw in _entries(model, "farm_gateways"):
        node = _get(gw, "node", "str")
        if node is None or not on_bus(gw):
            continue
        if node in nodes:
            problems.add(f"farm_gateways[{index}].node", f"node {node!r} already hosts gateway {nodes[node]!r}; with "
                         f"farm_bus enabled every node runs one bus process for one gateway",
                         "put each gateway on its own node, or set farm_bus.enabled: false")
        else:
            nodes[node] = _get(gw, "name", "str")
    envs = {}
    for index, agent in _entries(model, "farm_agents"):
        agent_id = _get(agent, "id", "str")
        if agent_id is None:
            continue
        env = bus_mcp_token_env(agent_id)
        server = bus_server_name(model, agent_id)
        if env in envs and envs[env] != agent_id:
            problems.add(f"farm_agents[{index}].id", f"agent ids {envs[env]!r} and {agent_id!r} give the same bus "
                         f"credential names ({env}, MCP server {server})",
                         "rename one of them so they differ in more than '-' and '_'")
        envs.setdefault(env, agent_id)
    # A launchd gateway (the MacBook's) is independent: no bus process serves it, so its agents can
    # only talk to the agents of their own gateway.
    off_bus = {_get(gw, "name", "str") for _i, gw in _entries(model, "farm_gateways") if not on_bus(gw)}
    home = {_get(a, "id", "str"): _get(a, "gateway", "str") for _i, a in _entries(model, "farm_agents")}
    for index, agent in _entries(model, "farm_agents"):
        gateway = _get(agent, "gateway", "str")
        for j, peer in enumerate(_get(agent, "may_message", "list", [])):
            other = home.get(peer)
            if other is None or other == gateway or (gateway not in off_bus and other not in off_bus):
                continue
            outside = gateway if gateway in off_bus else other
            problems.add(f"farm_agents[{index}].may_message[{j}]",
                         f"{_get(agent, 'id', 'str')!r} (gateway {gateway!r}) and {peer!r} (gateway {other!r}) could "
                         f"only reach each other over the bus, and gateway {outside!r} runs under launchd, outside it",
                         "remove the peer: a launchd gateway's agents talk only to agents of their own gateway")


def _check_health(model, agents, problems):
    """farm_health.inboxes names agents of the model, each exactly (an override of a misspelt id would
    silently leave the real inbox on the defaults)."""
    inboxes = _get(_get(model, "farm_health", "dict", {}), "inboxes", "dict", {})
    if agents is None:
        return
    for name in inboxes:
        if not isinstance(name, str) or name in agents:
            continue
        fix = _did_you_mean(name, agents) + f"name one of the agents: {_names(agents)}"
        problems.add(_join("farm_health.inboxes", name), f"unknown agent {_show(name)}: an inbox is named by its "
                     "agent's id", fix)


def _check_alerts(model, problems):
    alerts = _get(model, "farm_alerts", "dict")
    if alerts is None:
        return
    for name in sorted(_get(alerts, "urls", "dict", {}), key=str):
        if isinstance(name, str) and not ALERT_NAME_RE.fullmatch(name):
            problems.add(_join("farm_alerts.urls", name), f"{_show(name)} is not an alert URL name",
                         "name it with lowercase letters, digits, '_' and '-', starting with a letter, at most "
                         "32 characters (for example ntfy or owner_slack)")
    if not _get(alerts, "enabled", "bool", False):
        return
    if not bus_enabled(model):
        problems.add("farm_alerts.enabled", "the alert watcher runs in the bus jobs, and farm_bus.enabled is not true",
                     "set farm_bus.enabled: true (phase 3), or farm_alerts.enabled: false")
    if not _get(alerts, "urls", "dict", {}):
        problems.add("farm_alerts.urls", "is empty: an enabled watcher needs at least one Apprise URL to notify",
                     "add <name>: op://<vault>/<item>/<field>, a 1Password field holding an Apprise URL such as "
                     "ntfys://ntfy.sh/<topic>, or set farm_alerts.enabled: false")
