# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every name the farm gives to Nomad and Consul: job ids, Nomad Variable paths, Consul KV prefixes and a
gateway's folder under the node's data root. The one place the Python side spells them (the bus package,
src/openclaw_bus, is a separate wheel and keeps its own defaults, equal to these)."""

from __future__ import annotations

# Consul KV: everything of the farm lives under one prefix.
KV_ROOT = "openclaw"
BUS_ROOT = f"{KV_ROOT}/bus"  # mailboxes: <bus>/<agent>/{in,hwm,dead}/...
BUS_REGISTRY_ROOT = f"{KV_ROOT}/registry"  # gateways, agents, the farm record
WATCH_ROOT = f"{KV_ROOT}/watch"  # the alert watcher's lock and incidents
LEGACY_GATEWAYS_ROOT = f"{KV_ROOT}/gateways"  # the placement layout of earlier releases (relocate reads it)

# Nomad job ids (also the Consul service names).
JOB_PREFIX = "openclaw-"
BUS_JOB_PREFIX = "openclaw-bus-"
# Group and task of a gateway job, of a bus job, and the watcher's task in the bus job.
GATEWAY_TASK = "gateway"
BUS_TASK = "bus"
WATCH_TASK = "watch"
# Nomad's path of the variables a job may read (its workload identity): nomad/jobs/<job>[/<group>/<task>].
VARIABLE_ROOT = "nomad/jobs"
# A gateway's folder below the node's data root: <data root>/openclaw/<gateway>/{config,state,workspaces,managed}.
DATA_DIR = "openclaw"


def job_name(gateway_name):
    """The Nomad job ID and Consul service name of a gateway."""
    return f"{JOB_PREFIX}{gateway_name}"


def bus_job_name(node):
    """The Nomad job (and Consul service) of the bus process of one node."""
    return f"{BUS_JOB_PREFIX}{node}"


def job_variable(job, group=None, task=None):
    """The Nomad Variable every task of a job reads, or (task level) only the task <group>/<task> reads."""
    return f"{VARIABLE_ROOT}/{job}" if group is None else f"{VARIABLE_ROOT}/{job}/{group}/{task or group}"


def gateway_variable(gateway_name):
    """The gateway's secrets (the secrets role owns it and purges unknown items)."""
    return job_variable(job_name(gateway_name))


def gateway_bus_variable(gateway_name):
    """The gateway task's own variable: its agents' bus MCP tokens (written by the bus role)."""
    return job_variable(job_name(gateway_name), GATEWAY_TASK)


def bus_variable(node):
    """The bus job's variable: its agents' and gateway's Consul and MCP tokens."""
    return job_variable(bus_job_name(node))


def watch_variable(node):
    """The watcher task's own Nomad variable (task level: the bus task of the same job cannot read it)."""
    return job_variable(bus_job_name(node), BUS_TASK, WATCH_TASK)


def gateway_dir(gateway_name):
    """A gateway's folder relative to the node's data root."""
    return f"{DATA_DIR}/{gateway_name}"


def kv_prefixes():
    """The Consul KV prefixes of the farm, by role (what the roles read instead of spelling them)."""
    return {"root": KV_ROOT, "bus": BUS_ROOT, "registry": BUS_REGISTRY_ROOT, "watch": WATCH_ROOT,
            "legacy_gateways": LEGACY_GATEWAYS_ROOT}
