"""Sessions: the store, TTL timers, invalidation (destroy, TTL expiry, critical checks) and
/v1/session/*."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field

from ..httpcore import HttpError
from .common import (
    StateError,
    blocking_json,
    check_query_options,
    duration_value,
    go_duration,
    json_ok,
    nanos,
    parse_go_duration,
)
from .common import field as json_field

SERF_CHECK = "serfHealth"
TTL_MIN, TTL_MAX = 10.0, 24 * 3600.0
MAX_LOCK_DELAY = 60.0
# Consul's session timers fire after TTL x 2 (SessionTTLMultiplier): clients get a grace period.
TTL_MULTIPLIER = 2


@dataclass
class Session:
    id: str
    node: str
    name: str = ""
    lock_delay: float = 15.0
    behavior: str = "release"
    ttl: str = ""
    node_checks: list = field(default_factory=lambda: [SERF_CHECK])
    service_checks: list | None = None
    create_index: int = 0
    modify_index: int = 0
    expires_at: float | None = None  # lab clock; None for sessions without a TTL

    def check_ids(self):
        return list(self.node_checks) + [c["ID"] for c in self.service_checks or []]

    def to_json(self):
        return {"ID": self.id, "Name": self.name, "Node": self.node, "LockDelay": nanos(self.lock_delay),
                "Behavior": self.behavior, "TTL": self.ttl, "NodeChecks": list(self.node_checks),
                "ServiceChecks": self.service_checks, "CreateIndex": self.create_index,
                "ModifyIndex": self.modify_index}


class SessionStore:
    def __init__(self, state):
        self.state = state
        self.sessions = {}

    def get(self, session_id):
        return self.sessions.get(session_id)

    def index(self):
        return self.state.table_index("sessions")

    def create(self, session, idx):
        catalog = self.state.catalog
        if session.node not in catalog.nodes:
            raise StateError("Missing node registration")
        for check_id in session.check_ids():
            check = catalog.checks.get((session.node, check_id))
            if check is None:
                raise StateError(f"Missing check '{check_id}' registration")
            if check["Status"] == "critical":
                raise StateError(f"Check '{check_id}' is in critical state")
        session.lock_delay = min(session.lock_delay, MAX_LOCK_DELAY)
        session.create_index = session.modify_index = idx
        self.sessions[session.id] = session
        self.renew(session)
        self.state.touch(idx, "sessions")

    def renew(self, session):
        if session.ttl:
            ttl = parse_go_duration(session.ttl)
            session.expires_at = self.state.lab.now() + ttl * TTL_MULTIPLIER if ttl else None

    def destroy(self, session_ids, idx):
        for session_id in session_ids:
            session = self.sessions.pop(session_id, None)
            if session is not None:
                self.state.kv.invalidate_session(session, idx)
                self.state.touch(idx, "sessions")

    def bound_to(self, node, check_id):
        return [s.id for s in self.sessions.values() if s.node == node and check_id in s.check_ids()]

    def expire(self, now):
        expired = [s.id for s in self.sessions.values() if s.expires_at is not None and s.expires_at <= now]
        if expired:
            self.destroy(expired, self.state.raft())
        return bool(expired)

    def dump(self):
        return [asdict(s) for s in self.sessions.values()]

    def restore(self, data):
        self.sessions = {s["id"]: Session(**s) for s in data}
        for session in self.sessions.values():
            self.renew(session)  # a new leader restarts every TTL timer


_SESSION = "/v1/session/"


def register(router):
    router.add("PUT", _SESSION + "create", create)
    router.add("PUT", _SESSION + "destroy/(?P<session_id>.*)", destroy)
    router.add("PUT", _SESSION + "renew/(?P<session_id>.*)", renew)
    router.add("GET", _SESSION + "info/(?P<session_id>.*)", info)
    router.add("GET", _SESSION + "list", list_sessions)
    router.add("GET", _SESSION + "node/(?P<node>.*)", node_sessions)


def _session_from_body(state, request):
    body = request.json() or {}
    if not isinstance(body, dict):
        raise HttpError(400, "Request decode failed: body must be a JSON object")
    session = Session(id=str(uuid.uuid4()), node=json_field(body, "Node") or state.catalog.agent_node)
    session.name = json_field(body, "Name") or ""
    session.behavior = json_field(body, "Behavior") or "release"
    session.ttl = json_field(body, "TTL") or ""
    checks = json_field(body, "NodeChecks", json_field(body, "Checks"))
    if checks is not None:
        session.node_checks = list(checks)
    service_checks = json_field(body, "ServiceChecks")
    if service_checks:
        session.service_checks = [{"ID": json_field(c, "ID"), "Namespace": json_field(c, "Namespace") or ""}
                                  for c in service_checks]
    lock_delay = json_field(body, "LockDelay")
    if lock_delay is not None:
        try:
            delay = duration_value(lock_delay)
        except ValueError as exc:
            raise HttpError(400, f"Request decode failed: {exc}") from None
        # Go treats values under 1000ns as seconds: clients often send "15" meaning 15s.
        session.lock_delay = delay * 1e9 if 0 < delay * 1e9 < 1000 else delay
    return session


def create(state, request):
    session = _session_from_body(state, request)
    with state.lab.cond:
        state.acl.authorize(request).require("session", session.node, "write")
        if session.behavior not in ("release", "delete"):
            raise HttpError(500, f"Invalid Behavior setting '{session.behavior}'")
        if session.ttl:
            try:
                ttl = parse_go_duration(session.ttl)
            except ValueError as exc:
                raise HttpError(500, f"Session TTL '{session.ttl}' invalid: {exc}") from None
            if ttl and not TTL_MIN <= ttl <= TTL_MAX:
                raise HttpError(500, f"Invalid Session TTL '{nanos(ttl)}', must be between "
                                     f"[{go_duration(TTL_MIN)}={go_duration(TTL_MAX)}]")
        try:
            state.sessions.create(session, state.raft())
        except StateError as err:
            raise HttpError(500, str(err)) from None
        state.lab.notify()
    return json_ok({"ID": session.id})


def destroy(state, request, session_id):
    if not session_id:
        raise HttpError(400, "Missing session")
    with state.lab.cond:
        existing = state.sessions.get(session_id)
        authz = state.acl.authorize(request)
        if existing is not None:
            authz.require("session", existing.node, "write")
        state.sessions.destroy([session_id], state.raft())
        state.lab.notify()
    return json_ok(True)


def renew(state, request, session_id):
    check_query_options(request)
    if not session_id:
        raise HttpError(400, "Missing session")
    with state.lab.cond:
        session = state.sessions.get(session_id)
        if session is None:
            raise HttpError(404, f"Session id '{session_id}' not found")
        state.acl.authorize(request).require("session", session.node, "write")
        state.sessions.renew(session)
        return json_ok([session.to_json()])


def _listing(state, request, select):
    authz = state.acl.authorize(request)

    def query():
        found = [s.to_json() for s in select() if authz.allowed("session", s.node, "read")]
        return state.sessions.index(), found, False

    return blocking_json(state, request, query)


def info(state, request, session_id):
    if not session_id:
        raise HttpError(400, "Missing session")
    return _listing(state, request, lambda: [s for s in [state.sessions.get(session_id)] if s])


def list_sessions(state, request):
    return _listing(state, request, lambda: state.sessions.sessions.values())


def node_sessions(state, request, node):
    if not node:
        raise HttpError(400, "Missing node name")
    return _listing(state, request, lambda: [s for s in state.sessions.sessions.values() if s.node == node])
