# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small, explicit Consul HTTP client: KV (get, list, keys, put with cas/acquire/release, delete),
/v1/txn, sessions and the few ACL calls the tooling needs. Nothing else.

Index handling follows Consul's blocking-query rules (reference/consul-nomad-api.md):
- a blocking read sends `index` only when it is at least 1 (index 0 would return at once anyway, and
  Consul's own advice is never to block on an index below 1);
- an index that comes back lower than the one we hold (snapshot restore, reaped tombstones) is a
  reset: `BlockingIndex` forgets it, so the next read is a plain read of the current state;
- a blocking read's HTTP timeout is wait + wait/16 (Consul's jitter) + a margin.

Every HTTP call is counted in `Consul.stats` (reads, writes, txns, sessions, failures): on a live
cluster there is no request log, so the bus measures its economy from its own calls."""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

DEFAULT_TIMEOUT = 10.0
MAX_WAIT = 600.0  # Consul clamps longer waits to 10 minutes


class ConsulError(Exception):
    """Any failure talking to Consul. `retryable` says whether the same call may succeed later."""

    retryable = False

    def __init__(self, message, status=None, body=""):
        super().__init__(message)
        self.status = status
        self.body = body


class ConsulUnavailable(ConsulError):
    """Consul could not be reached or answered 5xx/429: nothing is known to have changed."""

    retryable = True


class ConsulTimeout(ConsulUnavailable):
    """The request was sent but no answer came (timed out, or the connection broke while waiting for it):
    it may or may not have been applied."""


class PermissionDenied(ConsulError):
    """403: the token lacks the right (or is unknown: "ACL not found")."""


class ValueTooLarge(ConsulError):
    """413 from Consul (kv_max_value_size, txn size or op count)."""


class TxnFailed(ConsulError):
    """409 from /v1/txn: every operation was rolled back. `errors` is Consul's [{OpIndex, What}]."""

    def __init__(self, message, errors):
        super().__init__(message, 409)
        self.errors = errors

    def denied(self):
        return any("Permission denied" in (e.get("What") or "") for e in self.errors)


@dataclass(frozen=True)
class KVEntry:
    key: str
    value: bytes | None
    create_index: int
    modify_index: int
    flags: int = 0
    lock_index: int = 0
    session: str = ""

    @classmethod
    def from_json(cls, obj):
        raw = obj.get("Value")
        return cls(key=obj["Key"], value=base64.b64decode(raw) if raw else None,
                   create_index=int(obj.get("CreateIndex") or 0), modify_index=int(obj.get("ModifyIndex") or 0),
                   flags=int(obj.get("Flags") or 0), lock_index=int(obj.get("LockIndex") or 0),
                   session=obj.get("Session") or "")

    def json(self):
        """The value decoded as JSON, or None when it is empty or not JSON."""
        if not self.value:
            return None
        try:
            return json.loads(self.value)
        except ValueError:
            return None


class BlockingIndex:
    """The index a blocking query waits on, with Consul's reset rules.

    `value == 0` means "unknown": the next read does not block and carries no index parameter."""

    def __init__(self):
        self.value = 0
        self.resets = 0

    def update(self, returned):
        returned = max(int(returned or 0), 1)  # Consul never means 0; some versions sent it
        if self.value and returned < self.value:
            self.resets += 1
            self.value = 0  # went backwards: forget it, the next read fetches the current state
        else:
            self.value = returned
        return self.value

    def force(self, value):
        """Adopt an index learnt from a write (a txn result) when it is ahead of ours."""
        if value and value > self.value:
            self.value = value

    def params(self, wait):
        if self.value >= 1 and wait and wait > 0:
            return {"index": str(self.value), "wait": go_duration(min(wait, MAX_WAIT))}
        return {}


def go_duration(seconds):
    """Seconds -> a Go duration string Consul accepts ("1500ms", "30s")."""
    millis = max(int(round(seconds * 1000)), 1)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def b64(value):
    return base64.b64encode(value).decode() if value else None


class Consul:
    """One Consul address and one token. Thread-safe for concurrent calls."""

    def __init__(self, address, token=None, timeout=DEFAULT_TIMEOUT, verify=True, pool_size=16):
        address = address.rstrip("/")
        if not address.startswith(("http://", "https://")):
            address = "http://" + address
        self.address = address
        self.token = token or None
        self.timeout = timeout
        self.http = requests.Session()
        self.http.verify = verify
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self.stats = Counter()
        self._stats_lock = threading.Lock()

    def with_token(self, token):
        """A client for the same address with another token (its own connection pool and counters)."""
        return Consul(self.address, token, self.timeout, self.http.verify)

    def close(self):
        self.http.close()

    # -- plumbing ------------------------------------------------------------------------------------
    def _count(self, kind):
        with self._stats_lock:
            self.stats[kind] += 1
            self.stats["requests"] += 1

    def request(self, method, path, kind, params=None, data=None, timeout=None, ok=(200,)):
        headers = {"X-Consul-Token": self.token} if self.token else {}
        self._count(kind)
        try:
            response = self.http.request(method, self.address + path, params=params, data=data, headers=headers,
                                         timeout=timeout or self.timeout)
        except requests.Timeout as exc:
            self._count("failures")
            raise ConsulTimeout(f"Consul at {self.address} did not answer {method} {path} in time "
                                f"({timeout or self.timeout:g}s); the call may or may not have been applied",
                                None) from exc
        except requests.ConnectionError as exc:
            self._count("failures")
            if method != "GET" and _after_sending(exc):
                # Consul went away while working on it (the lab's "down", an agent restart): a write may
                # have been applied with its answer lost. "Unavailable" would let callers report it as
                # not done; as a timeout they read it back (Outbox) or say it is unknown.
                raise ConsulTimeout(f"Consul at {self.address} dropped the connection during {method} {path} "
                                    f"({_reason(exc)}); the call may or may not have been applied", None) from exc
            raise ConsulUnavailable(f"Consul at {self.address} is unreachable ({method} {path}): "
                                    f"{_reason(exc)}") from exc
        if response.status_code in ok:
            return response
        self._count("failures")
        raise _error(method, path, response)

    # -- KV ------------------------------------------------------------------------------------------
    def get(self, key):
        """One key -> (KVEntry or None, index)."""
        response = self.request("GET", f"/v1/kv/{key}", "read", ok=(200, 404))
        index = _index(response)
        if response.status_code == 404:
            return None, index
        return KVEntry.from_json(response.json()[0]), index

    def list(self, prefix, index=None, wait=None):
        """Every key under prefix -> (entries sorted by key, index). With `index` (a BlockingIndex)
        and `wait`, a blocking query; the BlockingIndex is updated from the answer."""
        params = {"recurse": ""}
        timeout = None
        if index is not None:
            blocking = index.params(wait)
            params.update(blocking)
            if blocking:
                wait = min(wait, MAX_WAIT)
                timeout = wait + wait / 16 + self.timeout
        response = self.request("GET", f"/v1/kv/{prefix}", "read", params=params, timeout=timeout, ok=(200, 404))
        returned = _index(response)
        if index is not None:
            index.update(returned)
        entries = [] if response.status_code == 404 else [KVEntry.from_json(o) for o in response.json()]
        return entries, returned

    def keys(self, prefix, separator=None):
        params = {"keys": ""}
        if separator:
            params["separator"] = separator
        response = self.request("GET", f"/v1/kv/{prefix}", "read", params=params, ok=(200, 404))
        return ([] if response.status_code == 404 else response.json()), _index(response)

    def put(self, key, value, cas=None, acquire=None, release=None):
        """PUT a value (bytes or str) -> True/False as Consul answers (False: cas or lock refused)."""
        params = {}
        if cas is not None:
            params["cas"] = str(cas)
        if acquire:
            params["acquire"] = acquire
        if release:
            params["release"] = release
        if isinstance(value, str):
            value = value.encode()
        response = self.request("PUT", f"/v1/kv/{key}", "write", params=params, data=value or b"")
        return response.json() is True

    def delete(self, key, cas=None, recurse=False):
        params = {}
        if cas is not None:
            params["cas"] = str(cas)
        if recurse:
            params["recurse"] = ""
        response = self.request("DELETE", f"/v1/kv/{key}", "write", params=params)
        return response.json() is True

    def txn(self, ops):
        """PUT /v1/txn with KV operations (dicts with Verb, Key, Value bytes, Index, Session).
        Returns the result entries; raises TxnFailed (409) with Consul's errors."""
        body = []
        for op in ops:
            kv = {"Verb": op["Verb"], "Key": op["Key"]}
            if op.get("Value") is not None:
                kv["Value"] = b64(op["Value"])
            for name in ("Index", "Session", "Flags"):
                if op.get(name) is not None:
                    kv[name] = op[name]
            body.append({"KV": kv})
        response = self.request("PUT", "/v1/txn", "txn", data=json.dumps(body), ok=(200, 409))
        result = response.json()
        if response.status_code == 409:
            errors = result.get("Errors") or []
            what = "; ".join(f"op {e.get('OpIndex')}: {e.get('What')}" for e in errors)
            raise TxnFailed(f"Consul transaction rolled back: {what}", errors)
        return [KVEntry.from_json(r["KV"]) for r in result.get("Results") or [] if "KV" in r]

    # -- sessions ------------------------------------------------------------------------------------
    def session_create(self, name, ttl, behavior="delete", lock_delay="0s", node=None):
        body = {"Name": name, "TTL": ttl, "Behavior": behavior, "LockDelay": lock_delay, "NodeChecks": []}
        if node:
            body["Node"] = node
        return self.request("PUT", "/v1/session/create", "session", data=json.dumps(body)).json()["ID"]

    def session_renew(self, session_id):
        """True when renewed, False when Consul no longer knows the session (it expired)."""
        response = self.request("PUT", f"/v1/session/renew/{session_id}", "session", ok=(200, 404))
        return response.status_code == 200

    def session_destroy(self, session_id):
        self.request("PUT", f"/v1/session/destroy/{session_id}", "session")

    # -- ACL (tooling and tests: policies and tokens) ------------------------------------------------
    def acl_policy_upsert(self, name, rules, description=""):
        body = {"Name": name, "Rules": rules, "Description": description}
        response = self.request("GET", f"/v1/acl/policy/name/{name}", "acl", ok=(200, 403, 404))
        if response.status_code == 200:
            policy_id = response.json()["ID"]
            body["ID"] = policy_id
            return self.request("PUT", f"/v1/acl/policy/{policy_id}", "acl", data=json.dumps(body)).json()
        return self.request("PUT", "/v1/acl/policy", "acl", data=json.dumps(body)).json()

    def acl_token_create(self, policy_names, description=""):
        body = {"Description": description, "Policies": [{"Name": n} for n in policy_names]}
        return self.request("PUT", "/v1/acl/token", "acl", data=json.dumps(body)).json()


def _index(response):
    try:
        return int(response.headers.get("X-Consul-Index") or 0)
    except ValueError:
        return 0


def _after_sending(exc):
    """Did this requests.ConnectionError strike after the request went out (connection aborted or reset
    while waiting for the answer) rather than while connecting (refused, unresolvable)?"""
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):  # how requests wraps a failed connect
        cause = cause.reason
    return not isinstance(cause, NewConnectionError | ConnectTimeoutError)


def _reason(exc):
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "Connection reset",
                   "Connection aborted"):
        if marker in text:
            return marker
    return text[:200]


def _error(method, path, response):
    body = (response.text or "").strip()
    status = response.status_code
    where = f"{method} {path}"
    if status == 403:
        return PermissionDenied(f"Consul refused {where}: {body or 'Permission denied'}", status, body)
    if status == 413:
        return ValueTooLarge(f"Consul refused {where} as too large: {body}", status, body)
    if status == 429 or status >= 500:
        return ConsulUnavailable(f"Consul failed {where} with {status}: {body[:300]}", status, body)
    return ConsulError(f"Consul answered {where} with {status}: {body[:300]}", status, body)
