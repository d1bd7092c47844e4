"""The /_lab/ admin API: fault injection and observation. Served on both service ports (and the
optional --admin port); never written to the request log."""

from __future__ import annotations

import math

from .httpcore import HttpError, Router, json_response

SERVICES = ("consul", "nomad")
# Bounds of the admin values: a latency or a clock step above a day is a mistake, not a test.
MAX_SECONDS = 86400.0
MAX_FAULT_COUNT = 1000000


def _body(request):
    """The JSON object of an admin request ({} when empty); 400 for anything else."""
    body = request.json({})
    if not isinstance(body, dict):
        raise HttpError(400, f"the body must be a JSON object, got {type(body).__name__}")
    return body


def _number(body, key, default, maximum=MAX_SECONDS):
    """A finite, non-negative number no larger than maximum (booleans and strings are refused)."""
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HttpError(400, f"{key} must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value) or not 0 <= value <= maximum:
        raise HttpError(400, f"{key} must be a finite number from 0 to {maximum:g}, got {value}")
    return float(value)


def _integer(body, key, default, minimum, maximum):
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise HttpError(400, f"{key} must be a whole number, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise HttpError(400, f"{key} must be from {minimum} to {maximum}, got {value}")
    return value


def _text(body, key, required=False):
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise HttpError(400, f"{key} must be a string, got {type(value).__name__}")
    return value


def _service(name):
    if not isinstance(name, str) or name not in SERVICES:
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
    body = _body(request)
    if "seconds" in body:
        seconds = _number(body, "seconds", 0)
    else:
        seconds = _number(body, "ms", 0, MAX_SECONDS * 1000) / 1000.0
    services = [_service(body["service"])] if body.get("service") is not None else list(SERVICES)
    with lab.cond:
        for name in services:
            lab.latency[name] = seconds
    return json_response(lab.latency)


def _add_fault(lab, request):
    body = _body(request)
    path = body.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise HttpError(400, "fault needs a path prefix starting with '/', e.g. /v1/kv/")
    fault = {
        "service": _service(body["service"]) if body.get("service") is not None else None,
        "path": path,
        "method": (_text(body, "method") or "").upper() or None,
        # An HTTP status line takes 100..599.
        "status": _integer(body, "status", 500, 100, 599),
        "body": _text(body, "body"),
        "remaining": _integer(body, "count", 1, 1, MAX_FAULT_COUNT),
    }
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
        body = _body(request)
        unknown = sorted(set(body) - set(lab.config))
        if unknown:
            raise HttpError(400, f"unknown config keys {unknown}; known: {sorted(lab.config)}")
        if "txn_max_ops" in body and body["txn_max_ops"] not in (64, 128):
            raise HttpError(400, "txn_max_ops must be 64 (Consul < 1.14) or 128 (Consul >= 1.14)")
        changes = {key: _config_value(key, value, lab.config[key]) for key, value in body.items()}
        if "time_scale" in changes and changes["time_scale"] <= 0:
            raise HttpError(400, "time_scale must be a number above 0 (1 = the jobs' own durations in real time)")
        with lab.cond:
            lab.config.update(changes)
    return json_response(lab.config)


def _config_value(key, value, current):
    """A config value must have the type of the one it replaces; numbers finite and non-negative.
    Returned in that type (a whole number for a seconds setting is stored as a float), so the type of a
    setting never drifts from one PUT to the next."""
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise HttpError(400, f"{key} must be true or false, got {type(value).__name__}")
        return value
    if isinstance(current, int):
        return _integer({key: value}, key, None, 0, MAX_CONFIG_INT)
    if isinstance(current, float):
        return _number({key: value}, key, None, MAX_SECONDS)
    if isinstance(current, dict) and not (isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) and v.startswith("/") for k, v in value.items())):
        raise HttpError(400, f"{key} must map names to absolute paths, "
                             f"e.g. {{\"2026.9.6\": \"/opt/openclaw/bin/openclaw\"}}")
    return value


# The largest whole-number setting (kv_max_value_size, job_max_count): bounded so the lab never allocates more.
MAX_CONFIG_INT = 64 * 1024 * 1024


def _clock(lab, request):
    body = _body(request)
    value = body.get("advance", 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise HttpError(400, "the lab clock only moves forward")
    seconds = _number(body, "advance", 0, 366 * MAX_SECONDS)
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


def _client_check(lab, request):
    """The client checker's counts and the last report of each job and ACL policy it checked."""
    return json_response(lab.client_check.observed())


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
ROUTER.add("GET", r"/_lab/client-check", _client_check)
ROUTER.add(("POST", "PUT"), r"/_lab/clock", _clock)
ROUTER.add(("POST", "PUT"), r"/_lab/reset", _reset)


def handle_admin(lab, request):
    return ROUTER.dispatch(request, lab)
