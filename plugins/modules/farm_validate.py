#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: farm_validate
short_description: Validate the whole farm model, and optionally that Nomad, Consul, LiteLLM and the nodes are ready
version_added: 0.1.0
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
author:
  - octant.openclaw contributors (@octant)
requirements:
  - python-nomad >= 2.0 (with O(check_nomad) or O(check_nodes))
  - python-consul2 or py-consul (with O(check_consul) or O(check_consul_acl))
  - requests
extends_documentation_fragment:
  - octant.openclaw.nomad
  - octant.openclaw.consul
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Only reads; never reports a change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
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
    - C(fingerprint) is a digest of C(model): facts of a model changed after preflight are derived again.
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as farm_model  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils.connection import (  # noqa: E402
    CONSUL_OPTIONS,
    NOMAD_OPTIONS,
    argument_spec,
)
from ansible_collections.octant.openclaw.plugins.module_utils.consul import (  # noqa: E402
    CONSUL_IMPORT_ERROR,
    CONSUL_LIBRARY,
    ConsulApi,
)
from ansible_collections.octant.openclaw.plugins.module_utils.errors import (  # noqa: E402
    ServiceError,
    UnexpectedAnswerError,
)
from ansible_collections.octant.openclaw.plugins.module_utils.nomad import (  # noqa: E402
    NOMAD_IMPORT_ERROR,
    NomadApi,
    path_segment,
)
from ansible_collections.octant.openclaw.plugins.module_utils.service_api import (  # noqa: E402
    NONE,
    REQUESTS_IMPORT_ERROR,
    ApiSession,
    MapOf,
)

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

# The shapes of the answers read here (see service_api).
NODE_STUB = {"ID": str, "Name": (str, NONE)}
NODE = {"ID": str, "Status": str, "SchedulingEligibility": (str, NONE),
        "Drivers": (MapOf(({"Detected": (bool, NONE), "Healthy": (bool, NONE), "HealthDescription": (str, NONE),
                            "Attributes": (MapOf(str), NONE)}, NONE)), NONE)}
MODELS = {"data": [{"id": str}]}


class Reachability:
    """The read-only checks of the services the farm depends on; each failure becomes a problem."""

    def __init__(self, params, model, problems):
        self.params = params
        self.model = model
        self.problems = problems
        self.checks = {}

    def add(self, path, msg, fix):
        self.problems.add(path, msg, fix)

    def leader(self, service, api):
        path = f"openclaw_{service}_address"
        env = {"nomad": "NOMAD_ADDR / NOMAD_TOKEN", "consul": "CONSUL_HTTP_ADDR / CONSUL_HTTP_TOKEN"}[service]
        try:
            reply = api.http.call("GET", "/v1/status/leader", what="GET /v1/status/leader", expect=str)
        except ServiceError as exc:
            self.checks[service] = "unreachable"
            self.add(path, f"{service.capitalize()} at {api.address} is not usable: {exc.message}",
                     f"start {service.capitalize()} or point openclaw_{service}_address ({env}) at it")
            return False
        leader = reply.body if isinstance(reply.body, str) else ""
        if not leader:
            self.checks[service] = "no leader"
            self.add(path, f"{service.capitalize()} at {api.address} has no leader",
                     "wait until the servers elect a leader (check the server logs and quorum)")
            return False
        self.checks[service] = f"leader {leader}"
        return True

    def consul_acl(self, api):
        """The bus issues one ACL token per agent: Consul must enforce ACLs and know our token (read-only)."""
        path = "farm_bus.enabled"
        try:
            reply = api.http.call("GET", "/v1/acl/token/self", ok=(200, 401, 403, 404), what="GET /v1/acl/token/self")
        except ServiceError as exc:
            self.checks["consul_acl"] = "unknown"
            self.add(path, f"cannot tell whether Consul at {api.address} enforces ACLs: {exc.message}",
                     "check CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN")
            return
        text = reply.body if isinstance(reply.body, str) else ""
        if reply.status == 401 or "ACL support disabled" in text:
            self.checks["consul_acl"] = "disabled"
            self.add(path, f"the bus is on, but Consul at {api.address} does not enforce ACLs (GET /v1/acl/token/self "
                     "answers 'ACL support disabled'): the bus gives every agent its own Consul ACL token",
                     "turn ACLs on in Consul (acl { enabled = true, default_policy = \"deny\" }, then consul acl "
                     "bootstrap) and export the management token as CONSUL_HTTP_TOKEN; on the lab, start the simulator "
                     "with ACLs on: scripts/lab stop; scripts/lab --acl; . .lab/env")
        elif reply.status != 200:
            self.checks["consul_acl"] = "token unknown"
            self.add(path, f"Consul at {api.address} enforces ACLs but does not know the token given "
                     f"(GET /v1/acl/token/self: HTTP {reply.status})",
                     "export a management token of this Consul as CONSUL_HTTP_TOKEN (on the lab: . .lab/env)")
        else:
            self.checks["consul_acl"] = "enforced, token known"

    def nodes(self, nomad):
        clients = self.params["nomad_client_hosts"]
        gateways = [(i, gw) for i, gw in enumerate(self.model.get("farm_gateways") or [])
                    if isinstance(gw, dict) and isinstance(gw.get("node"), str)]
        wanted = [(i, gw) for i, gw in gateways if clients is None or gw["node"] in clients]
        if not wanted:
            return
        try:
            stubs = nomad.http.call("GET", "/v1/nodes", what="GET /v1/nodes", expect=[NODE_STUB]).body
        except ServiceError as exc:
            self.add("openclaw_nomad_address", f"cannot list the Nomad nodes: {exc.message}",
                     "give the Nomad token node:read (or check NOMAD_ADDR)")
            return
        by_name = {stub.get("Name"): stub for stub in stubs}
        for index, gw in wanted:
            node = gw["node"]
            path = f"farm_gateways[{index}].node"
            if f"node:{node}" in self.checks:
                continue
            stub = by_name.get(node)
            if stub is None:
                self.checks[f"node:{node}"] = "not a Nomad client"
                self.add(path, f"{node!r} is not a Nomad client (Nomad knows: {', '.join(sorted(by_name)) or 'none'})",
                         f"start the Nomad client on {node} (its node name must be {node!r}), or move the gateway")
                continue
            try:
                detail = nomad.http.call("GET", f"/v1/node/{path_segment(stub['ID'])}",
                                         what=f"GET /v1/node/{stub['ID']}", expect=NODE).body
            except ServiceError as exc:
                self.add(path, f"cannot read Nomad node {node!r}: {exc.message}", "check the Nomad token (node:read)")
                continue
            self.checks[f"node:{node}"] = self._node_state(node, detail, path)

    def _node_state(self, node, detail, path):
        status = detail.get("Status")
        found = []
        if status != "ready":
            self.add(path, f"Nomad node {node!r} is {status or 'in an unknown state'}, not ready",
                     f"bring the Nomad client on {node} back (systemctl status nomad) before deploying")
            found.append(str(status))
        eligibility = detail.get("SchedulingEligibility")
        if eligibility != "eligible":
            self.add(path, f"Nomad node {node!r} is {eligibility or 'not eligible'} for scheduling (drained?)",
                     f"nomad node eligibility -enable {detail.get('ID', '<node id>')} once it may run jobs again")
            found.append(str(eligibility))
        driver = (detail.get("Drivers") or {}).get("podman")
        podman_ok = bool(driver and driver.get("Detected") and driver.get("Healthy"))
        if not driver or not driver.get("Detected"):
            self.add(path, f"Nomad node {node!r} has no podman task driver",
                     f"install and configure the nomad-driver-podman plugin on {node} (rootless, as user hashi)")
            found.append("no podman")
        elif not driver.get("Healthy"):
            self.add(path, f"the podman driver on Nomad node {node!r} is unhealthy: "
                     f"{driver.get('HealthDescription') or 'no description'}",
                     f"check podman on {node} (podman info as the Nomad user; the podman socket must be running)")
            found.append("podman unhealthy")
        # What the jobs are placed by (farm_model.PLACEMENT): an unmet constraint would leave them unplaceable.
        # Judged on a working driver only: a missing or failing one says nothing reliable about its attributes.
        for constraint, have, fix in farm_model.unmet_placement(node, detail) if podman_ok else ():
            self.add(path, f"Nomad node {node!r} does not meet the jobs' constraint {constraint} (it has: {have})", fix)
            found.append(f"{constraint} unmet")
        if found:
            return ", ".join(found)
        version = (driver.get("Attributes") or {}).get("driver.podman.version", "")
        return f"ready, eligible, podman {version} healthy".replace("  ", " ")

    def litellm(self):
        providers = self.model.get("farm_model_providers") or {}
        provider = providers.get("litellm") if isinstance(providers, dict) else None
        if not isinstance(provider, dict) or not isinstance(provider.get("base_url"), str):
            return
        base_url = provider["base_url"].rstrip("/")
        path = "farm_model_providers.litellm.base_url"
        key = self.params["litellm_api_key"]
        session = ApiSession("litellm", base_url, token=f"Bearer {key}" if key else None,
                             token_header="Authorization", verify=self.params["litellm_validate_certs"],
                             timeout=self.params["litellm_timeout"])
        try:
            reply = session.call("GET", "/models", ok=(200, 401, 403), what="GET /v1/models", expect=MODELS)
        except ServiceError as exc:
            self.checks["litellm"] = "unreachable"
            if isinstance(exc, UnexpectedAnswerError):
                self.checks["litellm"] = "unexpected answer"
                self.add(path, exc.message, "correct base_url: it must be LiteLLM's OpenAI-compatible URL (ending /v1)")
                return
            detail = f"HTTP {exc.status}" if exc.status is not None else (exc.body or "no response")
            self.add(path, f"LiteLLM at {base_url} does not answer GET /models ({detail})",
                     "start LiteLLM or correct base_url (it must end with /v1)")
            return
        if reply.status in (401, 403):
            if key:
                self.checks["litellm"] = "key rejected"
                self.add(path, f"LiteLLM at {base_url} rejected the API key (HTTP {reply.status})",
                         "pass the LiteLLM master key or a virtual key allowed to list models")
            else:
                self.checks["litellm"] = f"reachable (HTTP {reply.status}; models not verified without a key)"
            return
        served = sorted(m["id"] for m in reply.body["data"])
        missing = []
        for index, entry in enumerate(provider.get("models") or []):
            model_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(model_id, str) and model_id not in served:
                missing.append(model_id)
                self.add(f"farm_model_providers.litellm.models[{index}].id",
                         f"LiteLLM at {base_url} does not serve model {model_id!r} (it serves: "
                         f"{', '.join(served) or 'nothing'})",
                         "add the model to LiteLLM's model_list, or remove it from the farm model")
        self.checks["litellm"] = f"serves {len(served)} models" + (f", missing {', '.join(missing)}" if missing else "")


def main():
    spec = dict(OPTIONS)
    spec.update(argument_spec(NOMAD_OPTIONS))
    spec.update(argument_spec(CONSUL_OPTIONS))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    if REQUESTS_IMPORT_ERROR and (params["check_nomad"] or params["check_consul"] or params["check_consul_acl"]
                                  or params["check_nodes"] or params["check_litellm"]):
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    model = params["model"]
    # A secret written into the model instead of its op:// reference must not reach the output
    # (the module arguments are echoed back with -vvv): mask every such value.
    for value in farm_model.plaintext_secrets(model):
        module.no_log_values.add(value)
    problems = farm_model.Problems()
    for problem in farm_model.validate(model, params["inventory_hosts"], params["var_names"]):
        problems.add(problem["path"], problem["msg"], problem["fix"])
    reach = Reachability(params, model, problems)
    if params["check_nomad"] or params["check_nodes"]:
        if NOMAD_IMPORT_ERROR:
            module.fail_json(msg=missing_required_lib("python-nomad"), exception=NOMAD_IMPORT_ERROR)
        nomad = NomadApi(params)
        if reach.leader("nomad", nomad) and params["check_nodes"]:
            reach.nodes(nomad)
    acl = params["check_consul_acl"] and farm_model.bus_enabled(model)
    if params["check_consul"] or acl:
        if CONSUL_IMPORT_ERROR:
            module.fail_json(msg=missing_required_lib(CONSUL_LIBRARY), exception=CONSUL_IMPORT_ERROR)
        consul = ConsulApi(params)
        if (not params["check_consul"] or reach.leader("consul", consul)) and acl:
            reach.consul_acl(consul)
    if params["check_litellm"]:
        reach.litellm()
    if problems.items:
        module.fail_json(msg=farm_model.format_problems(problems.items), problems=problems.items, checks=reach.checks)
    model = farm_model.normalize(model)
    module.exit_json(changed=False, problems=[], checks=reach.checks, model=model, derived=farm_model.derive(model))


if __name__ == "__main__":
    main()
