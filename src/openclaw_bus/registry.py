# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry: which agents exist, what they can do, which gateway hosts them, and whether that
gateway is alive right now.

    <registry>/agents/<agent>      {"id", "name", "gateway", "capabilities", "description"}
                                   static (seeded by Ansible or by the gateway's bus process);
                                   it stays while the gateway is down, so messages to the agent queue
    <registry>/gateways/<gateway>  {"gateway", "node", "agents", "mcp_url", "started_at", "version"}
                                   held by the gateway bus process's Consul session (TTL, Behavior
                                   delete, LockDelay 0): when the process dies the session expires
                                   (within 2 x TTL) and Consul deletes the key

An agent is online when its gateway's key exists and is held by a session. The whole registry is one
recursive read (a few KiB), so readers take it in one request or watch it with a blocking query."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field

from .consul import BlockingIndex, ConsulError, ConsulUnavailable
from .envelope import Layout, check_agent_id, now_rfc3339

log = logging.getLogger(__name__)
SESSION_TTL = 15  # seconds; Consul allows 10s..24h and expires a session after at most 2 x TTL


@dataclass
class AgentInfo:
    id: str
    name: str = ""
    gateway: str = ""
    capabilities: list = field(default_factory=list)
    description: str = ""
    online: bool = False
    node: str = ""
    online_since: str = ""

    def as_dict(self):
        return asdict(self)


class RegistryView:
    def __init__(self, agents=None, gateways=None, index=0):
        self.agents = agents or {}
        self.gateways = gateways or {}
        self.index = index

    @classmethod
    def from_entries(cls, layout, entries, index=0):
        agents, gateways = {}, {}
        for entry in entries:
            data = entry.json()
            if not isinstance(data, dict):
                continue
            if entry.key.startswith(layout.agents_prefix()):
                agent_id = entry.key[len(layout.agents_prefix()):]
                if "/" in agent_id:
                    continue
                agents[agent_id] = data
            elif entry.key.startswith(layout.gateways_prefix()) and entry.session:
                gateways[entry.key[len(layout.gateways_prefix()):]] = data
        return cls(agents, gateways, index)

    def agent(self, agent_id):
        data = self.agents.get(agent_id)
        if data is None:
            return None
        gateway = data.get("gateway") or ""
        live = self.gateways.get(gateway)
        caps = data.get("capabilities") or []
        return AgentInfo(id=agent_id, name=data.get("name") or agent_id, gateway=gateway,
                         capabilities=[str(c) for c in caps] if isinstance(caps, list) else [],
                         description=data.get("description") or "", online=live is not None,
                         node=(live or {}).get("node") or "", online_since=(live or {}).get("started_at") or "")

    def list(self, capability=None, include_offline=True):
        out = []
        for agent_id in sorted(self.agents):
            info = self.agent(agent_id)
            if capability and capability not in info.capabilities:
                continue
            if not include_offline and not info.online:
                continue
            out.append(info)
        return out

    def gateway_online(self, gateway):
        return gateway in self.gateways


def read_registry(consul, layout=None, index=None, wait=None):
    """The registry in one recursive read (a blocking query with `index`, a BlockingIndex, and `wait`)."""
    layout = layout or Layout()
    entries, returned = consul.list(layout.registry_root + "/", index=index, wait=wait)
    return RegistryView.from_entries(layout, entries, returned)


class RegistryWatcher:
    """Keeps a fresh RegistryView with blocking queries on the registry prefix (one request per change
    or per `wait`), so validating a recipient costs no request."""

    def __init__(self, consul, layout=None, wait=60.0):
        self.consul = consul
        self.layout = layout or Layout()
        self.wait = wait
        self.index = BlockingIndex()
        self.view = None
        self.error = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = None

    def refresh(self, wait=0.0):
        view = read_registry(self.consul, self.layout, index=self.index, wait=wait)
        with self._changed:
            self.view = view
            self.error = None
            self._changed.notify_all()
        return view

    def current(self):
        """The latest view; reads once when nothing was read yet."""
        if self.view is None:
            return self.refresh()
        return self.view

    def start(self):
        if self.view is None:
            try:
                self.refresh()
            except ConsulError as exc:
                self.error = exc
        self._thread = threading.Thread(target=self._run, name="openclaw-bus-registry", daemon=True)
        self._thread.start()
        return self

    def _run(self):
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self.refresh(self.wait)
                backoff = 0.5
            except ConsulError as exc:
                self.error = exc
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def stop(self):
        self._stop.set()

    def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (self.view is not None and predicate(self.view)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True


class GatewayPresence:
    """A gateway's bus process in the registry: writes its agents' records, then holds the gateway key
    with a TTL session (Behavior delete) renewed every TTL/3. Uses the gateway's own Consul token."""

    def __init__(self, consul, gateway, node, agents, layout=None, ttl=SESSION_TTL, info=None, clock=time.time,
                 publish=True):
        self.consul = consul
        self.gateway = check_agent_id(gateway, "gateway name")
        self.node = node
        self.agents = [dict(a) for a in agents]
        for agent in self.agents:
            check_agent_id(agent.get("id"))
        self.layout = layout or Layout()
        self.ttl = max(int(ttl), 10)
        self.info = dict(info or {})
        self.clock = clock
        self.publish = publish  # write the agent records (False: Ansible seeds them)
        self.session = None
        self.started_at = None
        self._stop = threading.Event()
        self._thread = None
        self.renewals = 0
        self.recreations = 0

    def publish_agents(self, current=None):
        """Write each agent record whose content differs from `current` (a RegistryView) or is missing."""
        written = 0
        for agent in self.agents:
            record = {"id": agent["id"], "name": agent.get("name") or agent["id"], "gateway": self.gateway,
                      "capabilities": list(agent.get("capabilities") or []),
                      "description": agent.get("description") or ""}
            if current is not None and current.agents.get(agent["id"]) == record:
                continue
            self.consul.put(self.layout.agent_key(agent["id"]), json.dumps(record, separators=(",", ":")))
            written += 1
        return written

    def _gateway_record(self):
        return json.dumps({"gateway": self.gateway, "node": self.node, "agents": [a["id"] for a in self.agents],
                           "started_at": self.started_at, **self.info}, separators=(",", ":"))

    def _acquire(self):
        self.session = self.consul.session_create(f"openclaw-bus-{self.gateway}", f"{self.ttl}s", behavior="delete",
                                                  lock_delay="0s", node=self.node)
        if not self.consul.put(self.layout.gateway_key(self.gateway), self._gateway_record(), acquire=self.session):
            session, self.session = self.session, None
            self.consul.session_destroy(session)
            raise ConsulError(f"gateway {self.gateway!r} is already registered by another live bus process; "
                              f"it expires within {2 * self.ttl}s of that process stopping")

    def start(self, renew=True):
        self.started_at = now_rfc3339(self.clock())
        if self.publish:
            self.publish_agents(read_registry(self.consul, self.layout))
        self._acquire()
        if renew:
            self._thread = threading.Thread(target=self._run, name=f"openclaw-bus-presence-{self.gateway}",
                                            daemon=True)
            self._thread.start()
        return self

    def renew_once(self):
        """Renew the session; recreate it and re-acquire the key when Consul forgot it (expired)."""
        if self.session and self.consul.session_renew(self.session):
            self.renewals += 1
            return True
        self.recreations += 1
        self._acquire()
        return False

    def _run(self):
        while not self._stop.wait(self.ttl / 3):
            try:
                self.renew_once()
            except ConsulUnavailable as exc:
                log.warning("registry: cannot renew the session of gateway %s: %s", self.gateway, exc)
            except ConsulError as exc:
                log.warning("registry: gateway %s: %s", self.gateway, exc)

    def abandon(self):
        """Stop renewing without destroying the session (what a crash looks like to Consul)."""
        self._stop.set()

    def stop(self):
        self._stop.set()
        if self.session:
            try:
                self.consul.session_destroy(self.session)  # Behavior delete: the gateway key goes now
            except ConsulError as exc:
                log.warning("registry: could not destroy session of %s: %s", self.gateway, exc)
            self.session = None
