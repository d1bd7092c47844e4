"""Cluster-level endpoints: nodes (the lab's node names as Nomad clients running the podman
driver), status, agent/self, regions and namespaces."""

from __future__ import annotations

from .acl import authorize
from .common import PERMISSION_DENIED, fail, public, reply, require_method
from .deployments import alloc_view
from .state import NOMAD_VERSION, _namespace

_STUB_FIELDS = ("ID", "Datacenter", "Name", "NodePool", "NodeClass", "SchedulingEligibility", "Status",
                "StatusDescription", "Drivers", "HostVolumes", "LastDrain", "CreateIndex", "ModifyIndex")


def _stub(node):
    stub = {"Address": node["Attributes"]["unique.network.ip-address"]}
    stub.update({k: node[k] for k in _STUB_FIELDS})
    stub.update(Version=NOMAD_VERSION, Drain=node["DrainStrategy"] is not None)
    return stub


def list_nodes(nomad, request):
    require_method(request, "GET")
    authorize(nomad.st, request).require_block("node")
    prefix = request.arg("prefix", "")

    def body():
        return [_stub(n) for n in sorted(nomad.st.nodes.values(), key=lambda n: n["ID"]) if n["ID"].startswith(prefix)]
    return nomad.blocking(request, lambda: nomad.st.tables["nodes"], body)


def node(nomad, request, node_id):
    require_method(request, "GET")
    authorize(nomad.st, request).require_block("node")

    def body():
        found = nomad.st.node_by_id(node_id)
        if found is None:
            fail(404, "node not found")
        return public(found)
    return nomad.blocking(request, lambda: (nomad.st.node_by_id(node_id) or {}).get(
        "ModifyIndex", nomad.st.tables["nodes"]), body)


def node_allocations(nomad, request, node_id):
    require_method(request, "GET")
    auth = authorize(nomad.st, request)
    auth.require_block("node")
    st = nomad.st

    def body():
        found = [a for a in st.allocs.values() if a["NodeID"] == node_id and auth.ns_allows(a["Namespace"], "read-job")]
        return [alloc_view(st, a) for a in sorted(found, key=lambda a: a["CreateIndex"])]
    return nomad.blocking(request, lambda: st.tables["allocs"], body)


def _leader(nomad):
    first = next(iter(nomad.st.nodes.values()))
    return first["Attributes"]["unique.network.ip-address"] + ":4647"


def leader(nomad, request):
    require_method(request, "GET")
    return reply(_leader(nomad), query_meta=False)


def peers(nomad, request):
    require_method(request, "GET")
    return reply([_leader(nomad)], query_meta=False)


def regions(nomad, request):
    require_method(request, "GET")
    return reply(["global"], query_meta=False)


def agent_self(nomad, request):
    require_method(request, "GET")
    authorize(nomad.st, request).require_block("agent")
    first = next(iter(nomad.st.nodes.values()))
    address = first["Attributes"]["unique.network.ip-address"]
    version = {"Version": NOMAD_VERSION, "VersionPrerelease": "", "VersionMetadata": "", "Revision": "labsim"}
    return reply({
        "config": {"Region": "global", "Datacenter": "dc1", "NodeName": first["Name"], "Version": version,
                   "ACL": {"Enabled": nomad.lab.acl_token is not None}, "Server": {"Enabled": True},
                   "Client": {"Enabled": True}},
        "member": {"Name": f"{first['Name']}.global", "Addr": address, "Port": 4648, "Status": "alive",
                   "Tags": {"region": "global", "dc": "dc1", "role": "nomad", "build": NOMAD_VERSION,
                            "port": "4647"}},
        "stats": {"nomad": {"server": "true", "leader": "true", "known_regions": "1"},
                  "client": {"known_servers": f"{address}:4647", "num_allocations": str(len(nomad.st.allocs))}},
    }, query_meta=False)


def list_namespaces(nomad, request):
    require_method(request, "GET")
    auth = authorize(nomad.st, request)
    visible = [public(ns) for name, ns in sorted(nomad.st.namespaces.items()) if auth.ns_visible(name)]
    return nomad.blocking(request, lambda: nomad.st.tables["namespaces"], lambda: visible)


def namespace(nomad, request, name):
    st = nomad.st
    auth = authorize(st, request)
    if request.method == "GET":
        if not auth.ns_visible(name):
            fail(403, PERMISSION_DENIED)
        if name not in st.namespaces:
            fail(404, "Namespace not found")
        return nomad.blocking(request, lambda: st.namespaces.get(name, {}).get("ModifyIndex", 1),
                              lambda: public(st.namespaces[name]))
    require_method(request, "PUT", "POST", "DELETE")
    auth.require_management()
    if request.method == "DELETE":
        if name == "default":
            fail(500, "default namespace can not be deleted")
        index = st.bump("namespaces")
        st.namespaces.pop(name, None)
        return reply(..., index, query_meta=False)
    body = request.json({}) or {}
    index = st.bump("namespaces")
    record = _namespace(name, body.get("Description") or "", index)
    if name in st.namespaces:
        record["CreateIndex"] = st.namespaces[name]["CreateIndex"]
    st.namespaces[name] = record
    return reply(..., index, query_meta=False)
