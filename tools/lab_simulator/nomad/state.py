"""The simulated Nomad state store: a Raft index of its own (separate from Consul's), per-table
indexes for blocking queries, and the records the endpoints serve. Everything is plain JSON so
dump()/restore() can persist it; keys that start with "_" are the simulator's bookkeeping."""

from __future__ import annotations

import copy

from .common import nanos, rfc3339, stable_id

_TABLES = ("jobs", "job_version", "job_summary", "allocs", "evals", "deployment", "variables", "nodes",
           "acl_policy", "acl_token", "namespaces")
NOMAD_VERSION = "2.0.5"
# Node metadata every client of the homelab advertises: jobs pin on ${meta.rootless} = true.
NODE_META = {"rootless": "true", "connect.log_level": "info", "connect.proxy_concurrency": "1",
             "connect.sidecar_image": "docker.io/envoyproxy/envoy:v${NOMAD_envoy_version}",
             "connect.gateway_image": "docker.io/envoyproxy/envoy:v${NOMAD_envoy_version}",
             "connect.transparent_proxy.default_outbound_port": "15001",
             "connect.transparent_proxy.default_uid": "101"}


def key(namespace, name):
    return f"{namespace}/{name}"


class Store:
    def __init__(self, lab):
        self.lab = lab
        self.reset()

    def reset(self):
        self.index = 1
        self.tables = dict.fromkeys(_TABLES, 1)
        self.jobs = {}  # "ns/id" -> structs.Job
        self.versions = {}  # "ns/id" -> {"<version>": structs.Job}
        self.allocs = {}
        self.evals = {}
        self.deployments = {}
        self.variables = {}  # "ns/path" -> variable
        self.policies = {}
        self.tokens = {}  # accessor -> token
        self.namespaces = {"default": _namespace("default", "Default shared namespace", 1)}
        self.fail_next = []  # "ns/job" whose next deployment fails
        self.nodes = {}
        for position, name in enumerate(self.lab.nodes):
            self.nodes[name] = self._new_node(name, position)

    def bump(self, *tables):
        """One Raft write: a new index, recorded on the tables it touched."""
        self.index += 1
        for table in tables:
            self.tables[table] = self.index
        self.lab.notify()
        return self.index

    def touch(self, index, *tables):
        """Record an index already taken by this write on more tables."""
        for table in tables:
            self.tables[table] = max(self.tables[table], index)
        self.lab.notify()

    # -- persistence ------------------------------------------------------------------------------
    _FIELDS = ("index", "tables", "jobs", "versions", "allocs", "evals", "deployments", "variables", "policies",
               "tokens", "namespaces", "fail_next", "nodes")

    def dump(self):
        return copy.deepcopy({name: getattr(self, name) for name in self._FIELDS})

    def restore(self, data):
        self.reset()
        for name in self._FIELDS:
            if name in data:
                setattr(self, name, copy.deepcopy(data[name]))
        for position, name in enumerate(self.lab.nodes):
            self.nodes.setdefault(name, self._new_node(name, position))

    # -- lookups ----------------------------------------------------------------------------------
    def job(self, namespace, job_id):
        return self.jobs.get(key(namespace, job_id))

    def job_version(self, namespace, job_id, version):
        return self.versions.get(key(namespace, job_id), {}).get(str(version))

    def job_allocs(self, job):
        return [a for a in self.allocs.values() if a["Namespace"] == job["Namespace"] and a["JobID"] == job["ID"]]

    def node_list(self):
        return list(self.nodes.values())

    def node_by_id(self, node_id):
        return next((n for n in self.nodes.values() if n["ID"] == node_id), None)

    # -- nodes --------------------------------------------------------------------------------------
    def _new_node(self, name, position):
        now = self.lab.now()
        address = f"10.77.0.{position + 1}"
        attributes = {
            "kernel.name": "linux", "kernel.version": "6.8.0", "os.name": "ubuntu", "os.version": "24.04",
            "arch": "amd64", "cpu.arch": "amd64", "cpu.numcores": "8", "cpu.totalcompute": "24000",
            "memory.totalbytes": str(32 * 2**30), "unique.hostname": name, "unique.network.ip-address": address,
            "nomad.version": NOMAD_VERSION, "nomad.advertise.address": f"{address}:4646",
            "nomad.service_discovery": "true", "consul.version": "1.20.1", "consul.datacenter": "dc1",
            "driver.podman": "1", "driver.podman.version": "4.9.3", "driver.podman.rootless": "true",
            "plugins.cni.version.bridge": "v1.4.0", "plugins.cni.version.firewall": "v1.4.0",
            "plugins.cni.version.host-local": "v1.4.0", "plugins.cni.version.loopback": "v1.4.0",
            "plugins.cni.version.portmap": "v1.4.0",
        }
        return {
            "ID": stable_id(f"node:{name}"), "SecretID": "", "Datacenter": "dc1", "Name": name, "CgroupParent": "",
            "HTTPAddr": f"{address}:4646", "TLSEnabled": False, "Attributes": attributes,
            "NodeResources": {
                "Cpu": {"CpuShares": 24000, "TotalCpuCores": 8, "ReservableCpuCores": list(range(8))},
                "Memory": {"MemoryMB": 32768}, "Disk": {"DiskMB": 400000}, "Networks": None,
                "MinDynamicPort": 20000, "MaxDynamicPort": 32000},
            "ReservedResources": {"Cpu": {"CpuShares": 0}, "Memory": {"MemoryMB": 0}, "Disk": {"DiskMB": 0},
                                  "Networks": {"ReservedHostPorts": ""}},
            "Links": {"consul": f"dc1.{name}"}, "Meta": dict(NODE_META), "NodeClass": "", "NodePool": "default",
            "ComputedClass": "v1:8203412967343829516", "DrainStrategy": None,
            "SchedulingEligibility": "eligible", "Status": "ready", "StatusDescription": "",
            "StatusUpdatedAt": int(now),
            "Events": [{"Message": "Node registered", "Subsystem": "Cluster", "Details": None,
                        "Timestamp": rfc3339(now), "CreateIndex": 0}],
            "Drivers": {"podman": {
                "Attributes": {"driver.podman": "true", "driver.podman.version": "4.9.3",
                               "driver.podman.rootless": "true", "driver.podman.cgroupVersion": "v2"},
                "Detected": True, "Healthy": True, "HealthDescription": "ready", "UpdateTime": rfc3339(now)}},
            "CSIControllerPlugins": None, "CSINodePlugins": None, "HostVolumes": None, "HostNetworks": None,
            "LastDrain": None, "CreateIndex": self.index, "ModifyIndex": self.index,
            "_created": nanos(now),
        }


def _namespace(name, description, index):
    return {"Name": name, "Description": description, "Quota": "", "Capabilities": None, "NodePoolConfiguration": None,
            "VaultConfiguration": None, "ConsulConfiguration": None, "Meta": None, "CreateIndex": index,
            "ModifyIndex": index}
