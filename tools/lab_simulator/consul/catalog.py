"""The catalog (nodes, services, health checks) and the agent that registers services on the lab's first
node. HTTP and TCP checks are never executed: they keep their initial status (critical unless the
definition sets Status) until a test changes it. TTL checks expire; DeregisterCriticalServiceAfter reaps."""

from __future__ import annotations

import uuid

from ..httpcore import HttpError
from .common import DATACENTER, duration_value, go_duration
from .common import field as json_field
from .sessions import SERF_CHECK

SERF_PASSING = "Agent alive and reachable"
SERF_CRITICAL = "Agent not live or unreachable"
# Consul raises deregister_critical_service_after to at least one minute.
MIN_DEREGISTER_AFTER = 60.0


def _node_id(name):
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.labsim"))


class Catalog:
    def __init__(self, state):
        self.state = state
        self.nodes = {}
        self.services = {}  # (node, service id) -> catalog service
        self.checks = {}    # (node, check id) -> health check
        self.timers = {}    # (node, check id) -> {"ttl", "deadline", "deregister_after", "critical_since"}

    @property
    def agent_node(self):
        return self.state.lab.nodes[0]

    def bootstrap(self):
        """Every lab node is a live member; the agent's node also runs the Consul server."""
        idx = self.state.raft()
        self._add_missing_nodes(idx)
        self.put_service(self.agent_node, {"ID": "consul", "Service": "consul", "Port": 8300}, [], idx)

    def _add_missing_nodes(self, idx):
        for name in self.state.lab.nodes:
            if name in self.nodes:
                continue
            self.nodes[name] = {
                "ID": _node_id(name), "Node": name, "Address": "127.0.0.1", "Datacenter": DATACENTER,
                "TaggedAddresses": {"lan": "127.0.0.1", "lan_ipv4": "127.0.0.1", "wan": "127.0.0.1",
                                    "wan_ipv4": "127.0.0.1"},
                "Meta": {"consul-network-segment": ""}, "CreateIndex": idx, "ModifyIndex": idx}
            self._put_check(name, self._check(name, SERF_CHECK, "Serf Health Status", "passing", SERF_PASSING),
                            idx)
            self.state.touch(idx, "nodes")

    # -- reads -----------------------------------------------------------------------------------------
    def service_index(self, name):
        """maxIndexForService: the service's own index, else the last time one went extinct, else the
        catalog tables' index."""
        if any(s["Service"] == name for s in self.services.values()):
            return self.state.table_index(f"service.{name}")
        return self.state.table_index("service_last_extinction") or \
            self.state.table_index("nodes", "services", "checks")

    def instances(self, name):
        return [(node, svc) for (node, _), svc in sorted(self.services.items()) if svc["Service"] == name]

    def checks_for(self, node, service_id):
        node_checks = sorted(c["CheckID"] for (n, _), c in self.checks.items() if n == node and not c["ServiceID"])
        own = sorted(c["CheckID"] for (n, _), c in self.checks.items() if n == node and c["ServiceID"] == service_id)
        return [self.checks[(node, cid)] for cid in node_checks + own]

    def service_names(self):
        names = {}
        for svc in self.services.values():
            tags = names.setdefault(svc["Service"], [])
            tags.extend(t for t in svc["Tags"] if t not in tags)
        return {name: sorted(tags) for name, tags in names.items()}

    # -- writes ------------------------------------------------------------------------------------------
    def _check(self, node, check_id, name, status, output="", service=None, kind="", definition=None):
        definition = definition or {}
        return {"Node": node, "CheckID": check_id, "Name": name, "Status": status, "Notes": "",
                "Output": output, "ServiceID": service["ID"] if service else "",
                "ServiceName": service["Service"] if service else "",
                "ServiceTags": list(service["Tags"]) if service else [], "Type": kind,
                "Interval": definition.get("Interval", ""), "Timeout": definition.get("Timeout", ""),
                "ExposedPort": 0, "Definition": definition, "CreateIndex": 0, "ModifyIndex": 0}

    def _touch_check(self, node, check, idx):
        self.state.touch(idx, "checks")
        names = [check["ServiceName"]] if check["ServiceID"] else \
            [s["Service"] for (n, _), s in self.services.items() if n == node]
        for name in names:
            self.state.touch(idx, f"service.{name}")

    def _put_check(self, node, check, idx):
        existing = self.checks.get((node, check["CheckID"]))
        check["CreateIndex"] = existing["CreateIndex"] if existing else idx
        check["ModifyIndex"] = idx
        self.checks[(node, check["CheckID"])] = check
        self._touch_check(node, check, idx)
        if check["Status"] == "critical":
            # A session bound to a check dies when the check goes critical.
            self.state.sessions.destroy(self.state.sessions.bound_to(node, check["CheckID"]), idx)

    def _delete_check(self, node, check_id, idx):
        check = self.checks.pop((node, check_id))
        self.timers.pop((node, check_id), None)
        self._touch_check(node, check, idx)
        self.state.sessions.destroy(self.state.sessions.bound_to(node, check_id), idx)

    def put_service(self, node, service, check_defs, idx, replace_checks=True):
        """Register (or re-register) a service with its checks; a re-registered check keeps its status."""
        existing = self.services.get((node, service["ID"]))
        service = {"ID": service["ID"], "Service": service["Service"], "Tags": list(service.get("Tags") or []),
                   "Address": service.get("Address") or "", "Meta": dict(service.get("Meta") or {}),
                   "Port": service.get("Port") or 0,
                   "Weights": service.get("Weights") or {"Passing": 1, "Warning": 1},
                   "EnableTagOverride": bool(service.get("EnableTagOverride")),
                   "CreateIndex": existing["CreateIndex"] if existing else idx, "ModifyIndex": idx}
        self.services[(node, service["ID"])] = service
        self.state.touch(idx, "services", f"service.{service['Service']}")
        if existing and existing["Service"] != service["Service"]:
            self.state.touch(idx, f"service.{existing['Service']}")
        wanted = set()
        for position, definition in enumerate(check_defs, start=1):
            check_id = definition["CheckID"] or f"service:{service['ID']}" + \
                (f":{position}" if len(check_defs) > 1 else "")
            wanted.add(check_id)
            self._put_service_check(node, service, check_id, definition, idx)
        if replace_checks:
            stale = [cid for (n, cid), c in self.checks.items()
                     if n == node and c["ServiceID"] == service["ID"] and cid not in wanted]
            for check_id in stale:
                self._delete_check(node, check_id, idx)

    def _put_service_check(self, node, service, check_id, definition, idx):
        previous = self.checks.get((node, check_id))
        status = previous["Status"] if previous else definition["Status"]
        output = previous["Output"] if previous else ""
        name = definition["Name"] or f"Service '{service['Service']}' check"
        check = self._check(node, check_id, name, status, output, service, definition["Type"],
                            definition["Definition"])
        check["Notes"] = definition["Notes"]
        now = self.state.lab.now()
        timer = self.timers.get((node, check_id), {"critical_since": now if status == "critical" else None})
        timer["ttl"] = definition["TTL"]
        timer["deadline"] = now + definition["TTL"] if definition["TTL"] else None
        timer["deregister_after"] = definition["DeregisterAfter"]
        self.timers[(node, check_id)] = timer
        self._put_check(node, check, idx)

    def delete_service(self, node, service_id, idx):
        service = self.services.pop((node, service_id))
        for (n, cid), check in list(self.checks.items()):
            if n == node and check["ServiceID"] == service_id:
                self._delete_check(node, cid, idx)
        self.state.touch(idx, "services", f"service.{service['Service']}")
        if not self.instances(service["Service"]):
            self.state.touch(idx, "service_last_extinction")

    def update_check(self, node, check_id, status, output, idx):
        check = dict(self.checks[(node, check_id)])
        if check["Status"] == status and check["Output"] == output:
            return
        check["Status"], check["Output"] = status, output
        timer = self.timers.get((node, check_id))
        if timer is not None:
            if status != "critical":
                timer["critical_since"] = None
            elif timer["critical_since"] is None:
                timer["critical_since"] = self.state.lab.now()
        self._put_check(node, check, idx)

    def ttl_pass(self, node, check_id):
        """Restart a TTL check's timer (any pass, warn or fail update does)."""
        timer = self.timers[(node, check_id)]
        timer["deadline"] = self.state.lab.now() + timer["ttl"]

    def tick(self, now):
        """Expire TTL checks and reap services critical for longer than DeregisterCriticalServiceAfter."""
        changed = False
        for (node, check_id), timer in list(self.timers.items()):
            if timer["deadline"] is not None and now >= timer["deadline"] \
                    and self.checks[(node, check_id)]["Status"] != "critical":
                self.update_check(node, check_id, "critical", "TTL expired", self.state.raft())
                changed = True
        doomed = {(node, self.checks[(node, check_id)]["ServiceID"])
                  for (node, check_id), t in self.timers.items()
                  if t["deregister_after"] and t["critical_since"] is not None
                  and now - t["critical_since"] >= max(t["deregister_after"], MIN_DEREGISTER_AFTER)}
        for node, service_id in doomed:
            self.delete_service(node, service_id, self.state.raft())
        return changed or bool(doomed)

    def set_node_health(self, node, up):
        status, output = ("passing", SERF_PASSING) if up else ("critical", SERF_CRITICAL)
        if self.checks[(node, SERF_CHECK)]["Status"] != status:
            self.update_check(node, SERF_CHECK, status, output, self.state.raft())

    # -- persistence -------------------------------------------------------------------------------------
    def dump(self):
        return {"nodes": self.nodes, "services": [[n, s] for (n, _), s in self.services.items()],
                "checks": [[n, c] for (n, _), c in self.checks.items()],
                "timers": [[n, cid, t] for (n, cid), t in self.timers.items()]}

    def restore(self, data):
        self.nodes = data["nodes"]
        self.services = {(n, s["ID"]): s for n, s in data["services"]}
        self.checks = {(n, c["CheckID"]): c for n, c in data["checks"]}
        self.timers = {(n, cid): t for n, cid, t in data["timers"]}
        for timer in self.timers.values():  # a restarted agent restarts its TTL timers
            if timer["ttl"]:
                timer["deadline"] = self.state.lab.now() + timer["ttl"]
        if set(self.state.lab.nodes) - set(self.nodes):  # started with more --nodes than the state file has
            self._add_missing_nodes(self.state.raft())


def parse_check_definitions(body):
    """The Check/Checks of a service definition, validated the way the agent's CheckType.Validate does."""
    raw = []
    if json_field(body, "Check"):
        raw.append(json_field(body, "Check"))
    raw.extend(json_field(body, "Checks") or [])
    return [_check_definition(c) for c in raw]


def _check_definition(raw):
    try:
        ttl = duration_value(json_field(raw, "TTL"))
        interval = duration_value(json_field(raw, "Interval"))
        timeout = duration_value(json_field(raw, "Timeout"))
        deregister = duration_value(json_field(raw, "DeregisterCriticalServiceAfter"))
    except ValueError as exc:
        raise HttpError(400, f"Request decode failed: {exc}") from None
    http, tcp = json_field(raw, "HTTP"), json_field(raw, "TCP")
    if interval and ttl:
        raise HttpError(400, "Invalid check: Interval and TTL cannot both be specified")
    if (http or tcp) and interval <= 0:
        raise HttpError(400, "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP or UDP checks")
    if not (http or tcp) and ttl <= 0:
        raise HttpError(400, "Invalid check: TTL must be > 0 for TTL checks")
    definition = {}
    for key, value in (("HTTP", http), ("TCP", tcp)):
        if value:
            definition[key] = value
    for key, seconds in (("Interval", interval), ("Timeout", timeout), ("DeregisterCriticalServiceAfter", deregister)):
        if seconds:
            definition[key] = go_duration(seconds)
    return {"CheckID": json_field(raw, "CheckID") or json_field(raw, "ID") or "",
            "Name": json_field(raw, "Name") or "", "Notes": json_field(raw, "Notes") or "",
            "Status": json_field(raw, "Status") or "critical",
            "Type": "http" if http else "tcp" if tcp else "ttl", "TTL": ttl, "DeregisterAfter": deregister,
            "Definition": definition}
