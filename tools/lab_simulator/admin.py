"""The /_lab/ admin API: fault injection and observation. Served on both service ports (and the
optional --admin port); never written to the request log."""

from __future__ import annotations

from .httpcore import HttpError, Router, json_response

SERVICES = ("consul", "nomad")


def _service(name):
    if name not in SERVICES:
        raise HttpError(400, f"service must be one of {', '.join(SERVICES)}, got {name!r}")
    return name


def _requests(lab, request):
    service = request.arg("service")
    since = request.int_arg("since", 0)
    with lab.cond:
        rows = [r for r in lab.requests if r["seq"] > since and (service is None or r["service"] == service)]
    return json_response(rows)


def _clear_requests(lab, request):
    with lab.cond:
        lab.requests.clear()
    return json_response(True)


def _service_state(lab, request, service, action):
    lab.set_service_up(_service(service), action == "up")
    return json_response({"service": service, "up": action == "up"})


def _latency(lab, request):
    body = request.json({})
    seconds = float(body.get("seconds", body.get("ms", 0) / 1000.0))
    if seconds < 0:
        raise HttpError(400, "latency must be >= 0")
    services = [_service(body["service"])] if body.get("service") else list(SERVICES)
    with lab.cond:
        for name in services:
            lab.latency[name] = seconds
    return json_response(lab.latency)


def _add_fault(lab, request):
    body = request.json({})
    if not body.get("path", "").startswith("/"):
        raise HttpError(400, "fault needs a path prefix starting with '/', e.g. /v1/kv/")
    fault = {
        "service": _service(body["service"]) if body.get("service") else None,
        "path": body["path"],
        "method": (body.get("method") or "").upper() or None,
        "status": int(body.get("status", 500)),
        "body": body.get("body"),
        "remaining": int(body.get("count", 1)),
    }
    if fault["remaining"] < 1:
        raise HttpError(400, "count must be >= 1")
    with lab.cond:
        lab.faults.append(fault)
    return json_response(fault)


def _list_faults(lab, request):
    with lab.cond:
        return json_response(list(lab.faults))


def _clear_faults(lab, request):
    with lab.cond:
        lab.faults.clear()
    return json_response(True)


def _node(lab, request, node, action):
    if node not in lab.nodes:
        raise HttpError(404, f"unknown node {node!r}; lab nodes: {', '.join(lab.nodes)}")
    up = action == "up"
    with lab.cond:
        lab.consul.set_node_health(node, up)
        lab.nomad.set_node_status(node, up)
        lab.notify()
    return json_response({"node": node, "up": up})


def _fail_deployment(lab, request, job):
    namespace = request.arg("namespace", "default")
    with lab.cond:
        lab.nomad.fail_next_deployment(job, namespace)
    return json_response({"job": job, "namespace": namespace, "fail_next_deployment": True})


def _config(lab, request):
    if request.method == "PUT" or request.method == "POST":
        body = request.json({})
        unknown = sorted(set(body) - set(lab.config))
        if unknown:
            raise HttpError(400, f"unknown config keys {unknown}; known: {sorted(lab.config)}")
        if "txn_max_ops" in body and body["txn_max_ops"] not in (64, 128):
            raise HttpError(400, "txn_max_ops must be 64 (Consul < 1.14) or 128 (Consul >= 1.14)")
        scale = body.get("time_scale", 1)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise HttpError(400, "time_scale must be a number above 0 (1 = the jobs' own durations in real time)")
        with lab.cond:
            lab.config.update(body)
    return json_response(lab.config)


def _clock(lab, request):
    body = request.json({})
    seconds = float(body.get("advance", 0))
    if seconds < 0:
        raise HttpError(400, "the lab clock only moves forward")
    lab.advance_clock(seconds)
    return json_response({"offset": lab.clock_offset})


def _health(lab, request):
    return json_response({
        "services": {name: listener.up for name, listener in lab.listeners.items()},
        "nodes": lab.nodes,
        "acl": bool(lab.acl_token),
        "config": lab.config,
    })


def _reset(lab, request):
    with lab.cond:
        lab.consul.reset()
        lab.nomad.reset()
        lab.faults.clear()
        lab.requests.clear()
        lab.latency = {name: 0.0 for name in SERVICES}
        lab.notify()
    return json_response(True)


ROUTER = Router()
ROUTER.add("GET", r"/_lab/health", _health)
ROUTER.add("GET", r"/_lab/requests", _requests)
ROUTER.add("DELETE", r"/_lab/requests", _clear_requests)
ROUTER.add(("POST", "PUT"), r"/_lab/services/(?P<service>[a-z]+)/(?P<action>up|down)", _service_state)
ROUTER.add(("POST", "PUT"), r"/_lab/latency", _latency)
ROUTER.add("GET", r"/_lab/faults", _list_faults)
ROUTER.add(("POST", "PUT"), r"/_lab/faults", _add_fault)
ROUTER.add("DELETE", r"/_lab/faults", _clear_faults)
ROUTER.add(("POST", "PUT"), r"/_lab/nodes/(?P<node>[^/]+)/(?P<action>up|down)", _node)
ROUTER.add(("POST", "PUT"), r"/_lab/jobs/(?P<job>[^/]+)/fail-next-deployment", _fail_deployment)
ROUTER.add(("GET", "POST", "PUT"), r"/_lab/config", _config)
ROUTER.add(("POST", "PUT"), r"/_lab/clock", _clock)
ROUTER.add(("POST", "PUT"), r"/_lab/reset", _reset)


def handle_admin(lab, request):
    return ROUTER.dispatch(request, lab)
