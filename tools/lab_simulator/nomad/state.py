"""The simulated Nomad state store: a Raft index of its own (separate from Consul's), per-table
indexes for blocking queries, and the records the endpoints serve. Everything is plain JSON so
dump()/restore() can persist it; keys that start with "_" are the simulator's bookkeeping."""

from __future__ import annotations

import copy

from .common import nanos, rfc3339, stable_id

_TABLES = ("jobs", "job_version", "job_summary", "allocs", "evals", "deployment", "variables", "nodes",
           "acl_policy", "acl_token", "namespaces")
NOMAD_VERSION = "2.0.5"
PODMAN_API_VERSION = "4.9.3"
# The meta every Nomad client sets itself unless configured (client/client.go setupNode, helper/envoy);
# anything else (such as a `rootless` key) exists only where the lab declares it (--node-meta).
CLIENT_DEFAULT_META = {"connect.log_level": "info", "connect.proxy_concurrency": "1",
                       "connect.sidecar_image": "docker.io/envoyproxy/envoy:v${NOMAD_envoy_version}",
                       "connect.gateway_image": "docker.io/envoyproxy/envoy:v${NOMAD_envoy_version}",
                       "connect.transparent_proxy.default_outbound_port": "15001",
                       "connect.transparent_proxy.default_uid": "101"}


def podman_fingerprint(rootless=True):
    """nomad-driver-podman's buildFingerprint for its default socket (driver.go): bool attributes as
    the client stores them ("true"/"false"), driver.podman.version being the Libpod API version."""
    return {"driver.podman": "true", "driver.podman.defaultPodman": "true", "driver.podman.health": "healthy",
            "driver.podman.socketName": "default", "driver.podman.version": PODMAN_API_VERSION,
            "driver.podman.appArmor": "true", "driver.podman.capabilities":
                "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_NET_BIND_SERVICE,CAP_SETFCAP,"
                "CAP_SETGID,CAP_SETPCAP,CAP_SETUID,CAP_SYS_CHROOT",
            "driver.podman.cgroupVersion": "v2", "driver.podman.rootless": "true" if rootless else "false",
            "driver.podman.seccompEnabled": "true", "driver.podman.selinuxEnabled": "false",
            "driver.podman.ociRuntime": "/usr/bin/crun",
            "driver.podman.socket": "/run/user/1000/podman/podman.sock" if rootless else "/run/podman/podman.sock"}


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
            fresh = self._new_node(name, position)
            kept = self.nodes.setdefault(name, fresh)
            # A client that starts again fingerprints again and takes its meta from its configuration.
            kept.update({k: fresh[k] for k in ("Attributes", "Meta")})
            kept["Drivers"]["podman"].update(Attributes=fresh["Drivers"]["podman"]["Attributes"])

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
        podman = podman_fingerprint()
        # What a client's fingerprinters publish (client/fingerprint/*), then the driver's attributes copied in
        # (client/node_updater.go applyNodeUpdatesFromDriver), where the compat key driver.<name> becomes "1".
        attributes = {
            "kernel.name": "linux", "kernel.version": "6.8.0", "kernel.arch": "x86_64", "os.name": "ubuntu",
            "os.version": "24.04", "os.signals": "SIGHUP,SIGINT,SIGKILL,SIGQUIT,SIGTERM,SIGUSR1,SIGUSR2",
            "arch": "amd64", "cpu.arch": "amd64", "cpu.numcores": "8", "cpu.totalcompute": "24000",
            "cpu.modelname": "Intel(R) Core(TM) i7", "cpu.frequency": "3000", "memory.totalbytes": str(32 * 2**30),
            "unique.hostname": name, "unique.host_id": stable_id(f"host:{name}"),
            "unique.network.ip-address": address, "unique.storage.volume": "/dev/sda1",
            "unique.storage.bytestotal": str(400000 * 2**20), "unique.storage.bytesfree": str(300000 * 2**20),
            "nomad.version": NOMAD_VERSION, "nomad.revision": "labsim", "nomad.advertise.address": f"{address}:4646",
            "nomad.service_discovery": "true", "nomad.bridge.hairpin_mode": "false",
            "consul.version": "1.20.1", "consul.revision": "labsim", "consul.datacenter": "dc1",
            "consul.server": "false", "consul.connect": "true", "consul.grpc": "8502", "consul.ft.namespaces": "false",
            "unique.consul.name": name,
            "plugins.cni.version.bridge": "v1.4.0", "plugins.cni.version.firewall": "v1.4.0",
            "plugins.cni.version.host-local": "v1.4.0", "plugins.cni.version.loopback": "v1.4.0",
            "plugins.cni.version.portmap": "v1.4.0",
        }
        attributes.update(podman, **{"driver.podman": "1"})
        meta = dict(CLIENT_DEFAULT_META)
        meta.update(self.lab.node_meta.get(name, {}))
        return {
            "ID": stable_id(f"node:{name}"), "SecretID": "", "Datacenter": "dc1", "Name": name, "CgroupParent": "",
            "HTTPAddr": f"{address}:4646", "TLSEnabled": False, "Attributes": attributes,
            "NodeResources": {
                "Cpu": {"CpuShares": 24000, "TotalCpuCores": 8, "ReservableCpuCores": list(range(8))},
                "Memory": {"MemoryMB": 32768}, "Disk": {"DiskMB": 400000}, "Networks": None,
                "MinDynamicPort": 20000, "MaxDynamicPort": 32000},
            "ReservedResources": {"Cpu": {"CpuShares": 0}, "Memory": {"MemoryMB": 0}, "Disk": {"DiskMB": 0},
                                  "Networks": {"ReservedHostPorts": ""}},
            "Links": {"consul": f"dc1.{name}"}, "Meta": meta, "NodeClass": "", "NodePool": "default",
            "ComputedClass": "v1:8203412967343829516", "DrainStrategy": None,
            "SchedulingEligibility": "eligible", "Status": "ready", "StatusDescription": "",
            "StatusUpdatedAt": int(now),
            "Events": [{"Message": "Node registered", "Subsystem": "Cluster", "Details": None,
                        "Timestamp": rfc3339(now), "CreateIndex": 0}],
            "Drivers": {"podman": {
                "Attributes": podman, "Detected": True, "Healthy": True,
                "HealthDescription": "All Podman sockets are responding.", "UpdateTime": rfc3339(now)}},
            "CSIControllerPlugins": None, "CSINodePlugins": None, "HostVolumes": None, "HostNetworks": None,
            "LastDrain": None, "CreateIndex": self.index, "ModifyIndex": self.index,
            "_created": nanos(now),
        }


def _namespace(name, description, index):
    return {"Name": name, "Description": description, "Quota": "", "Capabilities": None, "NodePoolConfiguration": None,
            "VaultConfiguration": None, "ConsulConfiguration": None, "Meta": None, "CreateIndex": index,
            "ModifyIndex": index}
