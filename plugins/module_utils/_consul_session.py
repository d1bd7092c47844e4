# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul sessions, idempotent by name and node: a session is found among the node's sessions
(one GET), created when missing, renewed on request, destroyed. Sessions cannot be changed;
a session whose settings differ is reported (or replaced with recreate=true)."""

from __future__ import annotations

import re

from ansible_collections.octant.openclaw.plugins.module_utils._errors import OperationError, UnexpectedAnswerError
from ansible_collections.octant.openclaw.plugins.module_utils._module import Context

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value):
    """Seconds of a duration as Consul returns it: a Go duration string (`30s`) or, for
    LockDelay, a number of nanoseconds (numbers below 1000 are seconds, as Consul reads them)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value) / 1e9 if value >= 1000 else float(value)
    return duration_seconds(value)


def duration_seconds(value):
    """Seconds of a user duration: a Go duration string or a number of seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 5m, 1h30m)")
    return total


def go_duration(value):
    """A user duration as Consul wants it in a request: `30s`."""
    secs = duration_seconds(value)
    if secs is None:
        return None
    return f"{int(secs)}s" if secs == int(secs) else f"{secs}s"


def desired_session(params, node):
    body = {"Name": params["name"], "Node": node, "Behavior": params.get("behavior") or "release"}
    if params.get("ttl") not in (None, ""):
        ttl = duration_seconds(params["ttl"])
        if ttl < 10 or ttl > 86400:
            raise ValueError(f"ttl must be between 10s and 24h, got {params['ttl']!r}")
        body["TTL"] = go_duration(params["ttl"])
    if params.get("lock_delay") not in (None, ""):
        delay = duration_seconds(params["lock_delay"])
        if delay > 60:
            raise ValueError(f"lock_delay is at most 60s (Consul's limit), got {params['lock_delay']!r}")
        body["LockDelay"] = go_duration(params["lock_delay"])
    if params.get("node_checks") is not None:
        body["NodeChecks"] = list(params["node_checks"])
    if params.get("service_checks") is not None:
        body["ServiceChecks"] = [{"ID": c["id"], **({"Namespace": c["namespace"]} if c.get("namespace") else {})}
                                 for c in params["service_checks"]]
    if params.get("checks") is not None:
        body["Checks"] = list(params["checks"])
    return body


def differences(existing, desired):
    """The names of the settings in which an existing session differs from the desired one."""
    out = []
    if (existing.get("Behavior") or "release") != desired["Behavior"]:
        out.append("behavior")
    if seconds(existing.get("TTL")) != seconds(desired.get("TTL")):
        out.append("ttl")
    if "LockDelay" in desired and seconds(existing.get("LockDelay")) != duration_seconds(desired["LockDelay"]):
        out.append("lock_delay")
    if "NodeChecks" in desired:
        have = existing.get("NodeChecks")
        if have is None and existing.get("Checks") is not None:  # Consul before 1.7
            have = existing.get("Checks")
        if sorted(have or []) != sorted(desired["NodeChecks"]):
            out.append("node_checks")
    if "ServiceChecks" in desired:
        have = sorted((c.get("ID"), c.get("Namespace") or "") for c in existing.get("ServiceChecks") or [])
        want = sorted((c["ID"], c.get("Namespace") or "") for c in desired["ServiceChecks"])
        if have != want:
            out.append("service_checks")
    if "Checks" in desired and sorted(existing.get("Checks") or []) != sorted(desired["Checks"]):
        out.append("checks")
    return out


def session_view(session):
    if not session:
        return {}
    return {"name": session.get("Name"), "node": session.get("Node"), "behavior": session.get("Behavior"),
            "ttl": session.get("TTL") or None, "lock_delay_seconds": seconds(session.get("LockDelay")),
            "node_checks": session.get("NodeChecks"), "service_checks": session.get("ServiceChecks")}


def run_session(api, params, ctx=None):
    ctx = ctx or Context()
    check_mode, diff = ctx.check_mode, ctx.diff
    name = params["name"]
    state = params.get("state") or "present"
    node = params.get("node") or api.agent_node_name()
    if not node:
        raise OperationError("consul", f"session {name!r}",
                             "the agent did not say its node name", hint="set the node option")
    try:
        desired = desired_session(params, node) if state != "absent" else None
    except ValueError as exc:
        raise OperationError("consul", f"session {name!r}", str(exc)) from None
    found = [s for s in api.session_list_node(node) if s.get("Name") == name]

    if state == "absent":
        if not found:
            return {"changed": False, "operation": "none", "session": None, "id": None}
        if not check_mode:
            for session in found:
                api.session_destroy(session["ID"], node)
        result = {"changed": True, "operation": "destroy", "session": None, "id": None,
                  "destroyed": [s["ID"] for s in found]}
        if diff:
            result["diff"] = {"before": session_view(found[0]), "after": {},
                              "before_header": f"consul session {name}@{node} (before)",
                              "after_header": f"consul session {name}@{node} (after)"}
        return result

    if len(found) > 1:
        ids = ", ".join(sorted(s["ID"] for s in found))
        raise OperationError("consul", f"session {name!r} on node {node!r}",
                             f"{len(found)} sessions have this name ({ids})",
                             hint="the name identifies the session on its node for this module; destroy the extra "
                             "ones (state=absent destroys them all)")
    existing = found[0] if found else None
    operation, changes = "none", []
    if existing is None:
        operation = "create"
    else:
        try:
            changes = differences(existing, desired)
        except ValueError:  # a TTL or LockDelay that is not a duration
            raise UnexpectedAnswerError(
                "consul", f"session list of node {node!r}", 200,
                f"HTTP 200 with a session {name!r} whose TTL or LockDelay is not a duration",
                getattr(api, "address", None)) from None
        if changes:
            if not params.get("recreate"):
                raise OperationError("consul", f"session {name!r} on node {node!r}",
                                     f"the session exists with other settings ({', '.join(changes)}); Consul sessions "
                                     f"cannot be changed",
                                     hint="set recreate=true to destroy and create it again (its locks are released "
                                     "or deleted per its behavior), or match the existing settings",
                                     result={"changed": False, "id": existing["ID"], "changes": changes})
            operation = "recreate"
        elif state == "renewed" and existing.get("TTL"):
            operation = "renew"

    session = existing
    if operation in ("create", "recreate"):
        if check_mode:
            session = dict(desired, ID=None)
        else:
            if operation == "recreate":
                api.session_destroy(existing["ID"], node)
            session = dict(desired, ID=api.session_create(desired))
    elif operation == "renew" and not check_mode:
        renewed = api.session_renew(existing["ID"], node)
        if renewed is None:  # invalidated between the list and the renew: create it again
            operation = "create"
            session = dict(desired, ID=api.session_create(desired))
        else:
            session = renewed
    result = {"changed": operation != "none", "operation": operation, "changes": changes,
              "session": session, "id": session.get("ID") if session else None}
    if diff and operation in ("create", "recreate"):
        result["diff"] = {"before": session_view(existing), "after": session_view(desired),
                          "before_header": f"consul session {name}@{node} (before)",
                          "after_header": f"consul session {name}@{node} (after)"}
    return result
