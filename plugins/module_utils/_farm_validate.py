# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm_validate module's logic: every problem of the farm model at once, then (optionally) the
read-only reachability checks of Nomad, Consul, LiteLLM and the nodes, each failure one more problem."""

from __future__ import annotations

from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as farm_model
from ansible_collections.octant.openclaw.plugins.module_utils._consul import ConsulApi
from ansible_collections.octant.openclaw.plugins.module_utils._errors import (
    InputError,
    ServiceError,
    UnexpectedAnswerError,
)
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import NomadApi, path_segment
from ansible_collections.octant.openclaw.plugins.module_utils._service_api import NONE, ApiSession, MapOf

# The options that make the module call a service (requests is needed then).
SERVICE_CHECKS = ("check_nomad", "check_consul", "check_consul_acl", "check_nodes", "check_litellm")


def needs_nomad(params):
    return params["check_nomad"] or params["check_nodes"]


def needs_consul(params):
    return params["check_consul"] or (params["check_consul_acl"] and farm_model.bus_enabled(params["model"]))


def run_validate(params, ctx):
    """farm_validate: the model's problems and the requested service checks, all at once."""
    model = params["model"]
    problems = farm_model.Problems()
    for problem in farm_model.validate(model, params["inventory_hosts"], params["var_names"]):
        problems.add(problem["path"], problem["msg"], problem["fix"])
    reach = Reachability(params, model, problems)
    if needs_nomad(params):
        nomad = NomadApi(params)
        if reach.leader("nomad", nomad) and params["check_nodes"]:
            reach.nodes(nomad)
    acl = params["check_consul_acl"] and farm_model.bus_enabled(model)
    if needs_consul(params):
        consul = ConsulApi(params)
        if (not params["check_consul"] or reach.leader("consul", consul)) and acl:
            reach.consul_acl(consul)
    if params["check_litellm"]:
        reach.litellm()
    if problems.items:
        raise InputError(farm_model.format_problems(problems.items),
                         result={"problems": problems.items, "checks": reach.checks})
    model = farm_model.normalize(model)
    return {"changed": False, "problems": [], "checks": reach.checks, "model": model,
            "derived": farm_model.derive(model)}


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
