"""/v1/agent/* (services, checks, self), /v1/health/service, /v1/catalog/* and /v1/status/*."""

from __future__ import annotations

from ..httpcore import HttpError
from .catalog import parse_check_definitions
from .common import DATACENTER, blocking_json, empty, json_ok
from .common import field as json_field

LEADER = "127.0.0.1:8300"


def register(router):
    router.add("PUT", r"/v1/agent/service/register", service_register)
    router.add("PUT", r"/v1/agent/service/deregister/(?P<service_id>.+)", service_deregister)
    router.add("GET", r"/v1/agent/services", agent_services)
    router.add("GET", r"/v1/agent/checks", agent_checks)
    router.add("PUT", r"/v1/agent/check/(?P<action>pass|warn|fail)/(?P<check_id>.+)", check_update)
    router.add("GET", r"/v1/agent/self", agent_self)
    router.add("GET", r"/v1/health/service/(?P<name>.+)", health_service)
    router.add("GET", r"/v1/health/state/(?P<status>[^/]+)", health_state)
    router.add("GET", r"/v1/catalog/services", catalog_services)
    router.add("GET", r"/v1/catalog/service/(?P<name>.+)", catalog_service)
    router.add("GET", r"/v1/catalog/nodes", catalog_nodes)
    router.add("GET", r"/v1/status/leader", lambda state, request: json_ok(LEADER))
    router.add("GET", r"/v1/status/peers", lambda state, request: json_ok([LEADER]))


# -- agent ---------------------------------------------------------------------------------------------

def service_register(state, request):
    body = request.json() or {}
    name = json_field(body, "Name")
    if not name:
        raise HttpError(400, "Missing service name")
    checks = parse_check_definitions(body)
    service = {"ID": json_field(body, "ID") or name, "Service": name, "Tags": json_field(body, "Tags"),
               "Address": json_field(body, "Address"), "Meta": json_field(body, "Meta"),
               "Port": json_field(body, "Port"), "Weights": json_field(body, "Weights"),
               "EnableTagOverride": json_field(body, "EnableTagOverride")}
    catalog = state.catalog
    with state.lab.cond:
        authz = state.acl.authorize(request)
        authz.require("service", name, "write")
        existing = catalog.services.get((catalog.agent_node, service["ID"]))
        if existing is not None:
            authz.require("service", existing["Service"], "write")
        replace = request.arg("replace-existing-checks", "") not in ("", "false", "0")
        catalog.put_service(catalog.agent_node, service, checks, state.raft(), replace_checks=replace)
        state.lab.notify()
    return empty()


def service_deregister(state, request, service_id):
    catalog = state.catalog
    with state.lab.cond:
        authz = state.acl.authorize(request)
        existing = catalog.services.get((catalog.agent_node, service_id))
        if existing is None:
            raise HttpError(404, f'Unknown service ID "{service_id}". Ensure that the service ID is passed, '
                                 "not the service name.")
        authz.require("service", existing["Service"], "write")
        catalog.delete_service(catalog.agent_node, service_id, state.raft())
        state.lab.notify()
    return empty()


def _agent_service(service):
    out = {k: service[k] for k in ("ID", "Service", "Tags", "Meta", "Port", "Address", "Weights",
                                   "EnableTagOverride")}
    out["Datacenter"] = DATACENTER
    return out


def agent_services(state, request):
    catalog = state.catalog
    with state.lab.cond:
        authz = state.acl.authorize(request)
        return json_ok({sid: _agent_service(svc) for (node, sid), svc in sorted(catalog.services.items())
                        if node == catalog.agent_node and sid != "consul"
                        and authz.allowed("service", svc["Service"], "read")})


def agent_checks(state, request):
    catalog = state.catalog
    with state.lab.cond:
        authz = state.acl.authorize(request)
        out = {}
        for (node, cid), check in sorted(catalog.checks.items()):
            if node != catalog.agent_node or not check["ServiceID"]:
                continue  # serfHealth belongs to the servers, not to the agent's local state
            if authz.allowed("service", check["ServiceName"], "read"):
                out[cid] = check
        return json_ok(out)


def check_update(state, request, action, check_id):
    status = {"pass": "passing", "warn": "warning", "fail": "critical"}[action]
    catalog = state.catalog
    key = (catalog.agent_node, check_id)
    with state.lab.cond:
        authz = state.acl.authorize(request)
        check = catalog.checks.get(key)
        if check is None or not check["ServiceID"]:
            raise HttpError(404, f'Unknown check ID "{check_id}". Ensure that the check ID is passed, '
                                 "not the check name.")
        authz.require("service", check["ServiceName"], "write")
        if check["Type"] != "ttl":
            raise HttpError(500, f'CheckID "{check_id}" does not have associated TTL')
        catalog.ttl_pass(*key)
        catalog.update_check(*key, status, request.arg("note", ""), state.raft())
        state.lab.notify()
    return empty()


def agent_self(state, request):
    node = state.catalog.agent_node
    with state.lab.cond:
        state.acl.authorize(request).require("agent", node, "read")
        node_id = state.catalog.nodes[node]["ID"]
    # Claim a release that matches the transaction limit, so version-sniffing clients batch correctly.
    version = "1.18.2" if state.lab.config["txn_max_ops"] == 128 else "1.13.9"
    return json_ok({
        "Config": {"Datacenter": DATACENTER, "PrimaryDatacenter": DATACENTER, "NodeName": node,
                   "NodeID": node_id, "Revision": "labsim", "Server": True, "Version": version},
        "Member": {"Name": node, "Addr": "127.0.0.1", "Port": 8301, "Status": 1,
                   "Tags": {"dc": DATACENTER, "role": "consul", "id": node_id}},
        "Meta": {"consul-network-segment": ""},
    })


# -- health and catalog -----------------------------------------------------------------------------------

def _instance_filter(request):
    tag = request.arg("tag")
    return lambda svc: not tag or tag in svc["Tags"]


def health_service(state, request, name):
    catalog = state.catalog
    authz = state.acl.authorize(request)
    wanted = _instance_filter(request)
    passing = request.has("passing")

    def query():
        entries = []
        for node, svc in catalog.instances(name):
            if not (wanted(svc) and authz.allowed("service", name, "read") and authz.allowed("node", node, "read")):
                continue
            checks = catalog.checks_for(node, svc["ID"])
            if passing and any(c["Status"] != "passing" for c in checks):
                continue
            entries.append({"Node": catalog.nodes[node], "Service": svc, "Checks": checks})
        return catalog.service_index(name), entries, False

    return blocking_json(state, request, query)


HEALTH_STATES = ("any", "passing", "warning", "critical")


def health_state(state, request, status):
    """The checks in one state (or `any`), node and service checks alike, filtered by the token's node and
    service read rights; indexed by the checks table, so a blocking query wakes on any check change."""
    if status not in HEALTH_STATES:
        raise HttpError(400, f"Invalid state {status!r}; want one of {', '.join(HEALTH_STATES)}")
    catalog = state.catalog
    authz = state.acl.authorize(request)

    def query():
        checks = [dict(c) for (node, _), c in sorted(catalog.checks.items())
                  if (status == "any" or c["Status"] == status) and authz.allowed("node", node, "read")
                  and (not c["ServiceName"] or authz.allowed("service", c["ServiceName"], "read"))]
        return state.table_index("checks"), checks, False

    return blocking_json(state, request, query)


def catalog_services(state, request):
    catalog = state.catalog
    authz = state.acl.authorize(request)

    def query():
        names = {n: tags for n, tags in catalog.service_names().items() if authz.allowed("service", n, "read")}
        return state.table_index("services"), names, False

    return blocking_json(state, request, query)


def catalog_service(state, request, name):
    catalog = state.catalog
    authz = state.acl.authorize(request)
    wanted = _instance_filter(request)

    def query():
        entries = []
        for node, svc in catalog.instances(name):
            if wanted(svc) and authz.allowed("service", name, "read") and authz.allowed("node", node, "read"):
                info = catalog.nodes[node]
                entries.append({
                    "ID": info["ID"], "Node": node, "Address": info["Address"], "Datacenter": DATACENTER,
                    "TaggedAddresses": info["TaggedAddresses"], "NodeMeta": info["Meta"],
                    "ServiceID": svc["ID"], "ServiceName": svc["Service"], "ServiceTags": svc["Tags"],
                    "ServiceAddress": svc["Address"], "ServiceMeta": svc["Meta"], "ServicePort": svc["Port"],
                    "ServiceWeights": svc["Weights"], "ServiceEnableTagOverride": svc["EnableTagOverride"],
                    "CreateIndex": svc["CreateIndex"], "ModifyIndex": svc["ModifyIndex"]})
        return catalog.service_index(name), entries, False

    return blocking_json(state, request, query)


def catalog_nodes(state, request):
    catalog = state.catalog
    authz = state.acl.authorize(request)

    def query():
        nodes = [n for name, n in sorted(catalog.nodes.items()) if authz.allowed("node", name, "read")]
        return state.table_index("nodes"), nodes, False

    return blocking_json(state, request, query)
