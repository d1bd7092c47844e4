#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: farm_validate
short_description: Validate the whole farm model, and optionally that Nomad, Consul, LiteLLM and the nodes are ready
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Checks the farm model (O(model)) against its schema and rules and reports B(every) problem at once, each with
    the path of the offending value, what is wrong and how to fix it. The schema is documented in the
    C(octant.openclaw.preflight) role (C(ansible-doc -t role octant.openclaw.preflight)).
  - "Covered: types and unknown keys at every level (typos get a suggestion), agent ids (OpenClaw's rules, unique
    across the farm), references between gateways, nodes, agents, channels and providers, channel account
    ownership, port clashes on a node (including the ports OpenClaw derives up to port+110), models no provider
    offers, op:// syntax of every secret (a value that is not an op:// reference is reported and never echoed),
    DM policies, Nomad/Consul-safe gateway names, the image tag against C(openclaw_version), workspace file
    names, heartbeat intervals and misspelt C(farm_*) variables (O(var_names))."
  - With the C(check_*) options it also checks, with read-only requests, that Nomad and Consul have a leader,
    that LiteLLM answers C(GET /v1/models) (and serves the listed models when O(litellm_api_key) is given), and
    that every gateway's node is a ready, eligible Nomad client with a healthy C(podman) driver that meets the
    jobs' placement constraints. Unreachable services are reported as problems like the others.
  - Fails with one message listing every problem. Never changes anything; runs the same in check mode.
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.attributes.info_module,
                                 octant.openclaw.nomad, octant.openclaw.consul]
options:
  model:
    description:
      - The farm model, a mapping with the keys C(openclaw_version), C(farm_gateways), C(farm_agents),
        C(farm_channels), C(farm_model_providers) and C(farm_secrets) (the inventory variables of the same names).
    type: dict
    required: true
  inventory_hosts:
    description:
      - The hosts a gateway may run on, as a mapping of group name to host names (for example the hosts of the
        groups C(homelab) and C(workstations)) or as a list.
      - When omitted, gateway nodes are not checked against the inventory.
    type: raw
  var_names:
    description:
      - Names of the variables defined for the play (C(query('ansible.builtin.varnames', '^farm_'))); any
        C(farm_*) name that is not part of the model is reported as a typo.
    type: list
    elements: str
    default: []
  check_nomad:
    description:
      - Check that Nomad answers C(GET /v1/status/leader) with a leader.
    type: bool
    default: false
  check_consul:
    description:
      - Check that Consul answers C(GET /v1/status/leader) with a leader.
    type: bool
    default: false
  check_consul_acl:
    description:
      - "When the model has C(farm_bus.enabled), check with C(GET /v1/acl/token/self) that Consul enforces ACLs
        and knows the token given (O(consul_token) or E(CONSUL_HTTP_TOKEN)): the bus gives each agent its own
        ACL token, which a Consul without ACL enforcement cannot issue. A Consul that answers
        C(ACL support disabled) is reported, with how to turn ACLs on. Ignored when the bus is off."
    type: bool
    default: false
  check_nodes:
    description:
      - For every gateway whose node is in O(nomad_client_hosts), check with C(GET /v1/nodes) and
        C(GET /v1/node/<id>) that the node is a ready, eligible Nomad client whose C(podman) driver is detected
        and healthy, and that it meets every constraint the gateway and bus jobs are placed by (its node name,
        and the podman driver's own attribute C(driver.podman.rootless) = C(true)), each unmet one reported
        with the node and the fix.
    type: bool
    default: false
  nomad_client_hosts:
    description:
      - Inventory hosts that are Nomad clients (the homelab group). Gateways on other hosts (a workstation) are
        not checked by O(check_nodes). When omitted, every gateway node is checked.
    type: list
    elements: str
  check_litellm:
    description:
      - Check that the C(litellm) provider's C(base_url) answers C(GET <base_url>/models).
      - Without O(litellm_api_key) an answer of 401 or 403 counts as reachable (the listed models are not
        verified); with it, every model listed for C(litellm) in the model must be served.
    type: bool
    default: false
  litellm_api_key:
    description:
      - "LiteLLM key for O(check_litellm) (sent as C(Authorization: Bearer ...)). Never logged or returned."
    type: str
  litellm_validate_certs:
    description:
      - Verify LiteLLM's TLS certificate.
    type: bool
    default: true
  litellm_timeout:
    description:
      - Seconds to wait for LiteLLM's answer.
    type: int
    default: 10
notes:
  - The Nomad library is needed only with O(check_nomad) or O(check_nodes), the Consul library only with
    O(check_consul) or O(check_consul_acl).
  - "Run it once per play on the controller (C(delegate_to: localhost), C(run_once: true)), as the
    C(octant.openclaw.preflight) role does, before any task that changes something."
seealso:
  - plugin: octant.openclaw.openclaw_config
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Validate the farm model and the cluster before changing anything
  octant.openclaw.farm_validate:
    model:
      openclaw_version: "{{ openclaw_version }}"
      farm_gateways: "{{ farm_gateways }}"
      farm_agents: "{{ farm_agents }}"
      farm_channels: "{{ farm_channels | default([]) }}"
      farm_model_providers: "{{ farm_model_providers | default({}) }}"
      farm_secrets: "{{ farm_secrets | default({}) }}"
    inventory_hosts:
      homelab: "{{ groups.homelab | default([]) }}"
      workstations: "{{ groups.workstations | default([]) }}"
    var_names: "{{ query('ansible.builtin.varnames', '^farm_') }}"
    check_nomad: true
    check_consul: true
    check_consul_acl: true
    check_nodes: true
    nomad_client_hosts: "{{ groups.homelab | default([]) }}"
    check_litellm: true
    nomad_address: "{{ openclaw_nomad_address }}"
    consul_address: "{{ openclaw_consul_address }}"
  delegate_to: localhost
  run_once: true
  register: farm
"""

RETURN = r"""
problems:
  description: Every problem found, in model order; empty when the model is valid and every check passed.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Where the problem is, for example C(farm_agents[1].gateway) or C(openclaw_nomad_address).
      type: str
    msg:
      description: What is wrong.
      type: str
    fix:
      description: How to fix it.
      type: str
  sample: [{"path": "farm_agents[1].gateway", "msg": "unknown gateway 'mian' (gateways: main)",
            "fix": "did you mean \"main\"? use the name of an entry of farm_gateways, or add that gateway"}]
model:
  description: The model with every default filled in (for later roles); only op:// references, no secret values.
  returned: success
  type: dict
derived:
  description:
    - The facts derived from the model, computed once here for the roles (the preflight role publishes them as
      C(openclaw_farm.derived); the filters and roles read them instead of recomputing). Names only, no secret.
    - C(fingerprint) is a digest of C(model); facts of a model changed after preflight are derived again.
  returned: success
  type: dict
  contains:
    fingerprint:
      description: SHA-256 of C(model) as sorted compact JSON.
      type: str
    kv:
      description: The Consul KV prefixes of the farm by role (C(root), C(bus), C(registry), C(watch),
        C(legacy_gateways)).
      type: dict
    gateways:
      description:
        - Per gateway name, C(name), C(node), C(runtime), C(job) (Nomad job id and Consul service),
          C(dir) (its folder relative to the node's data root), C(variable) (its secrets' Nomad Variable),
          C(bus_variable) (the task-level variable of its bus MCP tokens), C(agents) (agent ids in model order),
          C(channels) (C(kind:account)), C(plugins) (channel plugins its config enables), C(secret_keys) (the
          environment variable names of its secrets), C(bus_keys) (its bus MCP token names, empty off the bus)
          and C(bus_job) (the bus job of its node, null off the bus).
      type: dict
    nodes:
      description: Per node of a Nomad gateway, its C(bus_job), C(bus_variable) and C(watch_variable).
      type: dict
    bus_enabled:
      description: Whether C(farm_bus.enabled) is true.
      type: bool
    alerts_enabled:
      description: Whether the alert watcher runs (C(farm_alerts.enabled) with the bus on).
      type: bool
  sample: {"kv": {"bus": "openclaw/bus", "registry": "openclaw/registry", "watch": "openclaw/watch"},
           "gateways": {"main": {"job": "openclaw-main", "dir": "openclaw/main", "agents": ["jerry", "bobby"],
                                 "variable": "nomad/jobs/openclaw-main", "secret_keys": ["OPENCLAW_GATEWAY_TOKEN"]}}}
checks:
  description:
    - What each reachability check found, by name (C(nomad), C(consul), C(consul_acl), C(litellm),
      C(node:<name>)).
  returned: always
  type: dict
  sample: {"nomad": "leader 10.0.0.1:4647", "node:jerry": "ready, eligible, podman 4.9.3 healthy"}
"""

from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as farm_model  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._consul import CONSUL  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._farm_validate import (  # noqa: E402
    SERVICE_CHECKS,
    needs_consul,
    needs_nomad,
    run_validate,
)
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import NOMAD  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._service_api import HTTP  # noqa: E402

OPTIONS = {
    "model": {"type": "dict", "required": True},
    "inventory_hosts": {"type": "raw"},
    "var_names": {"type": "list", "elements": "str", "default": []},
    "check_nomad": {"type": "bool", "default": False},
    "check_consul": {"type": "bool", "default": False},
    "check_consul_acl": {"type": "bool", "default": False},
    "check_nodes": {"type": "bool", "default": False},
    "nomad_client_hosts": {"type": "list", "elements": "str"},
    "check_litellm": {"type": "bool", "default": False},
    "litellm_api_key": {"type": "str", "no_log": True},
    "litellm_validate_certs": {"type": "bool", "default": True},
    "litellm_timeout": {"type": "int", "default": 10},
}


def main():
    module = OpenClawModule(OPTIONS, services=(NOMAD, CONSUL), requires=())
    params = module.params
    # A secret written into the model instead of its op:// reference must not reach the output
    # (the module arguments are echoed back with -vvv), not even with a missing library's failure.
    module.hide(farm_model.plaintext_secrets(params["model"]), known=True)
    module.require(HTTP, when=any(params[name] for name in SERVICE_CHECKS))
    module.require(NOMAD, when=needs_nomad(params))
    module.require(CONSUL, when=needs_consul(params))
    module.run(run_validate)


if __name__ == "__main__":
    main()
