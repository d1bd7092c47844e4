"""HTTP conventions shared by the simulated Consul endpoints: routing answers, query options, response
metadata, blocking queries, Go-style durations and case-insensitive JSON fields."""

from __future__ import annotations

import base64
import json
import posixpath
import random
import re

from ..httpcore import HttpError, Response, Router, format_duration, parse_duration

DATACENTER = "dc1"
_METHOD_ORDER = ("GET", "PUT", "POST", "DELETE")


class StateError(Exception):
    """A state-store failure: Consul's HTTP layer answers 500 with the text, a txn reports it as What."""


class ConsulRouter(Router):
    """httpcore.Router with Consul's answers for an unknown path (404, empty body) and for a known path
    with the wrong method (405 and an Allow header)."""

    def dispatch(self, request, *context):
        allowed = set()
        for methods, regex, handler in self.routes:
            match = regex.match(request.path)
            if not match:
                continue
            if request.method in methods:
                return handler(*context, request, **match.groupdict())
            allowed |= methods
        if allowed:
            methods = ",".join(["OPTIONS", *[m for m in _METHOD_ORDER if m in allowed]])
            raise HttpError(405, f"method {request.method} not allowed", {"Allow": methods})
        raise HttpError(404, "")


def clean_path_redirect(request):
    """Go's ServeMux answers a path with `//`, `.` or `..` elements with a 301 to the cleaned path."""
    path = request.path
    cleaned = posixpath.normpath(path) if path else "/"
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    if cleaned == path:
        return None
    location = cleaned + (f"?{request.raw_query}" if request.raw_query else "")
    return Response(301, f'<a href="{location}">Moved Permanently</a>.\n\n'.encode(),
                    {"Location": location}, content_type="text/html; charset=utf-8")


def error_response(err):
    if err.body in ("", b""):
        return empty(err.status, err.headers)
    return Response(err.status, err.body, err.headers)


def empty(status=200, headers=None):
    """A response without a body; Go then sends no Content-Type either."""
    response = Response(status, b"", headers)
    response.headers.pop("Content-Type", None)
    return response


def json_ok(obj, headers=None, status=200):
    return Response(status, json.dumps(obj, separators=(",", ":")).encode(), headers)


# -- Go-style values ------------------------------------------------------------------------------------

def parse_go_duration(text):
    """time.ParseDuration: units are required except for "0"; raises ValueError with Go's text."""
    text = str(text).strip()
    if text in ("0", "+0", "-0"):
        return 0.0
    if re.fullmatch(r"[0-9.]+", text):
        raise ValueError(f'time: missing unit in duration "{text}"')
    try:
        return parse_duration(text)
    except HttpError:
        raise ValueError(f'time: invalid duration "{text}"') from None


def duration_value(value):
    """A duration field in a JSON body: a Go duration string or a number of nanoseconds."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)):
        return value / 1e9
    return parse_go_duration(value)


def go_duration(seconds):
    return format_duration(seconds) if seconds else "0s"


def nanos(seconds):
    return int(round(seconds * 1e9))


def parse_uint(text):
    """strconv.ParseUint(text, 10, 64); a failure is a plain (500) error in Consul."""
    if not re.fullmatch(r"[0-9]+", text or "") or int(text) >= 2**64:
        raise HttpError(500, f'strconv.ParseUint: parsing "{text}": invalid syntax')
    return int(text)


def b64(value):
    return base64.b64encode(value).decode() if value else None


def field(obj, name, default=None):
    """Go's JSON decoding matches field names case-insensitively; the agent also accepts snake_case."""
    if not isinstance(obj, dict):
        return default
    want = name.lower()
    for key, value in obj.items():
        if key.replace("_", "").lower() == want:
            return value
    return default


# -- query options, metadata, blocking ---------------------------------------------------------------

def check_query_options(request):
    """The parts of Consul's query parsing every read endpoint shares: dc, consistency, wait, index."""
    dc = request.arg("dc")
    if dc and dc != DATACENTER:
        raise HttpError(500, "No path to datacenter")
    if request.has("stale") and request.has("consistent"):
        raise HttpError(400, "Cannot specify ?stale with ?consistent, conflicting semantics.")
    wait = request.arg("wait")
    if wait:
        try:
            parse_go_duration(wait)
        except ValueError:
            raise HttpError(400, "Invalid wait time") from None
    index = request.arg("index")
    if index and not re.fullmatch(r"[0-9]+", index):
        raise HttpError(400, "Invalid index")


def query_meta(request, index):
    if request.has("stale"):
        consistency = "stale"
    elif request.has("consistent"):
        consistency = "consistent"
    else:
        consistency = "leader"
    return {
        "X-Consul-Effective-Consistency": consistency,
        # Index 0 would make blocking clients spin; Consul never sends it.
        "X-Consul-Index": str(max(1, index)),
        "X-Consul-KnownLeader": "true",
        "X-Consul-LastContact": "0",
        "X-Consul-Query-Backend": "blocking-query",
    }


def blocking(state, request, query):
    """Run `query()` (returns index, result, missing) as a Consul blocking query and return its last
    (index, result). Like current Consul (blockingquery.ErrNotFound), a query that finds nothing keeps
    blocking until it finds something or the wait ends, instead of waking on unrelated writes."""
    check_query_options(request)
    lab = state.lab
    min_index = int(request.arg("index") or 0)
    with lab.cond:
        index, result, missing = query()
    if min_index == 0 or index > min_index:
        return index, result
    timeout = parse_go_duration(request.arg("wait")) if request.arg("wait") else 0
    if timeout <= 0:
        timeout = lab.config["consul_default_wait"]
    timeout = min(timeout, lab.config["consul_max_wait"])
    if lab.config["consul_wait_jitter"]:
        timeout += random.uniform(0, timeout / 16)  # noqa: S311 - jitter, not security

    def current():
        now_index, _, now_missing = query()
        return min_index if missing and now_missing else now_index

    lab.wait_for(current, min_index, timeout)
    with lab.cond:
        index, result, _ = query()
    return index, result


def blocking_json(state, request, query):
    """A blocking read answered as JSON with the query's X-Consul-* headers."""
    index, result = blocking(state, request, query)
    return json_ok(result, query_meta(request, index))
