"""Simulated Nomad HTTP API: jobs (register, plan with diffs, versions, revert, stop/purge),
deployments and allocations that progress with the lab clock, variables, nodes, ACL policies
and tokens. Behaviour follows Nomad's sources (command/agent/*_endpoint.go, nomad/structs,
scheduler/annotate.go); see shared/reference/consul-nomad-api.md for the facts it must keep."""

from __future__ import annotations

from ..httpcore import HttpError, Router
from . import acl, deployments, jobs, nodes, variables
from .common import fail, meta_headers, parse_go_duration, reply
from .engine import Engine
from .state import Store, key

_ALL = ("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH")
_JOB = r"/v1/job/(?P<job_id>.+)"

ROUTER = Router()
for pattern, handler in (
    (r"/v1/jobs", jobs.jobs),
    (r"/v1/jobs/parse", jobs.parse),
    (_JOB + "/plan", jobs.plan),
    (_JOB + "/allocations", jobs.allocations),
    (_JOB + "/evaluations", jobs.evaluations),
    (_JOB + "/deployments", jobs.deployments),
    (_JOB + "/deployment", jobs.latest_deployment),
    (_JOB + "/versions", jobs.versions),
    (_JOB + "/revert", jobs.revert),
    (_JOB + "/summary", jobs.summary),
    (_JOB, jobs.job),
    (r"/v1/deployments", deployments.list_deployments),
    (r"/v1/deployment/(?P<deployment_id>[^/]+)", deployments.deployment),
    (r"/v1/allocations", deployments.list_allocations),
    (r"/v1/allocation/(?P<alloc_id>[^/]+)", deployments.allocation),
    (r"/v1/evaluations", deployments.list_evaluations),
    (r"/v1/evaluation/(?P<eval_id>[^/]+)", deployments.evaluation),
    (r"/v1/vars", variables.list_variables),
    (r"/v1/var/(?P<path>.*)", variables.variable),
    (r"/v1/nodes", nodes.list_nodes),
    (r"/v1/node/(?P<node_id>[^/]+)/allocations", nodes.node_allocations),
    (r"/v1/node/(?P<node_id>[^/]+)", nodes.node),
    (r"/v1/status/leader", nodes.leader),
    (r"/v1/status/peers", nodes.peers),
    (r"/v1/regions", nodes.regions),
    (r"/v1/agent/self", nodes.agent_self),
    (r"/v1/namespaces", nodes.list_namespaces),
    (r"/v1/namespace/(?P<name>[^/]+)", nodes.namespace),
    (r"/v1/acl/policies", acl.list_policies),
    (r"/v1/acl/policy/(?P<name>[^/]+)", acl.policy),
    (r"/v1/acl/tokens", acl.list_tokens),
    (r"/v1/acl/token", acl.create_token),
    (r"/v1/acl/token/self", acl.token_self),
    (r"/v1/acl/token/(?P<accessor>[^/]+)", acl.token),
    (r"/v1/acl/bootstrap", acl.bootstrap),
):
    ROUTER.add(_ALL, pattern, handler)


def _not_found(nomad, request):
    fail(404, "404 page not found\n")


ROUTER.add(_ALL, r"/.*", _not_found)


class NomadState:
    """The Nomad half of the lab. All state access happens under lab.cond."""

    def __init__(self, lab):
        self.lab = lab
        self.st = Store(lab)
        self.engine = Engine(self.st)

    # -- HTTP ---------------------------------------------------------------------------------------
    def app(self, request):
        with self.lab.cond:
            if (request.arg("region") or "global") != "global":
                fail(500, "No path to region")
            return ROUTER.dispatch(request, self)

    def blocking(self, request, index_fn, body_fn):
        """A read with Nomad's blocking-query semantics: ?index=N waits until the result's index
        passes N or ?wait (default and max 300s) runs out; X-Nomad-Index is at least 1."""
        raw_index, raw_wait = request.arg("index", ""), request.arg("wait", "")
        if raw_index and not raw_index.isdigit():
            fail(400, "Invalid index")
        wait = parse_go_duration(raw_wait) if raw_wait else 0.0
        if wait is None:
            fail(400, "Invalid wait time")
        min_index = int(raw_index or 0)
        if min_index > 0:
            limit = self.lab.config["nomad_max_wait"]
            timeout = min(wait, limit) if wait > 0 else self.lab.config["nomad_default_wait"]
            self.lab.wait_for(index_fn, min_index, timeout)
        try:
            body = body_fn()
        except HttpError as err:  # a 404 after a blocking read still carries the query meta
            err.headers.update(meta_headers(index_fn()))
            raise
        return reply(body, index_fn())

    # -- the Lab's interface ------------------------------------------------------------------------
    def tick(self):
        self.engine.tick()

    def dump(self):
        return self.st.dump()

    def restore(self, data):
        self.st.restore(data)

    def reset(self):
        self.st.reset()

    def set_node_status(self, node, up):
        if node in self.st.nodes:
            self.engine.set_node_status(node, up)

    def fail_next_deployment(self, job_id, namespace):
        name = key(namespace, job_id)
        if name not in self.st.fail_next:
            self.st.fail_next.append(name)
