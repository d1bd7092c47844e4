"""The Lab: shared state, clock, change notification, request log, fault injection and
persistence for the simulated Consul and Nomad services."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import traceback

from .httpcore import HttpError, Response, ServiceListener

DEFAULT_CONFIG = {
    # Nomad jobs and typo-checking: unknown Job fields answer 400.
    "strict": True,
    # The client-side checker (clientcheck.py): "strict" runs it on every job and ACL policy and
    # refuses to start without it; "off" skips it (said in the ready line).
    "client_check": "strict",
    # Consul txn operation limit: 64 before Consul 1.14, 128 from 1.14.
    "txn_max_ops": 64,
    # Consul kv_max_value_size.
    "kv_max_value_size": 512 * 1024,
    # The largest request body any listener reads (413 above it, before reading).
    "max_request_body": 8 * 1024 * 1024,
    # Nomad server job_max_count (total Count of a job's groups; Nomad's default is 50000, the lab
    # allocates every instance, so it takes what a homelab server could set).
    "job_max_count": 1000,
    # Lab seconds per second of a job's own durations (update min_healthy_time, healthy_deadline,
    # progress_deadline): 1 is real time; tests choose less to run fast.
    "time_scale": 1.0,
    # Nomad's scheduler configuration memory_oversubscription_enabled (off by default: memory_max is
    # then ignored and register/plan answer with a warning).
    "memory_oversubscription": False,
    # Consul blocking query default and max wait; Nomad default and max wait.
    "consul_default_wait": 300.0,
    "consul_max_wait": 600.0,
    "nomad_default_wait": 300.0,
    "nomad_max_wait": 300.0,
    # Add up to wait/16 random jitter to Consul blocking waits, as Consul does.
    "consul_wait_jitter": True,
    # Consul acl.enable_key_list_policy: recursive KV reads also need `list` on the prefix.
    "consul_key_list_policy": False,
    # Reject KV keys the way the newest Consul releases do (character set, traversal, file suffixes).
    "consul_strict_keys": False,
    # {OpenClaw version: path of its `openclaw` launcher}: a gateway job's prestart validate task in
    # ghcr.io/openclaw/openclaw:<version> runs that real CLI (nomad/prestart.py); other images are simulated.
    "openclaw_images": {},
}


def _admin_only(request):
    raise HttpError(404, "this address serves only the /_lab/ admin API")


class Lab:
    """Everything the simulated cluster knows. All state changes happen under `self.cond`,
    and every change calls `notify()` so blocking queries re-evaluate."""

    def __init__(self, nodes=("jerry", "bobby", "billy"), acl_token=None, state_file=None,
                 config=None, node_meta=None):
        from .clientcheck import ClientCheck
        from .consul import ConsulState
        from .nomad import NomadState

        self.cond = threading.Condition(threading.RLock())
        self.config = dict(DEFAULT_CONFIG)
        self.config.update(config or {})
        self.nodes = list(nodes)
        # Client meta the lab declares per node ({node: {key: value}}), on top of what every client sets itself.
        self.node_meta = {name: dict(values) for name, values in (node_meta or {}).items()}
        self.acl_token = acl_token
        self.state_file = state_file
        self.clock_offset = 0.0
        self.requests = []
        self.request_seq = 0
        self.latency = {"consul": 0.0, "nomad": 0.0}
        self.faults = []  # dicts: service, path, method, status, body, remaining
        self.listeners = {}
        self.dirty = False
        self.client_check = ClientCheck(self.config["client_check"])
        self.consul = ConsulState(self)
        self.nomad = NomadState(self)
        if state_file and os.path.exists(state_file):
            self.load(state_file)
        self._stop = threading.Event()
        self._ticker = None

    # -- time -----------------------------------------------------------------
    def now(self):
        """Wall clock plus the offset the admin API can advance (TTL tests without sleeping)."""
        return time.time() + self.clock_offset

    def advance_clock(self, seconds):
        with self.cond:
            self.clock_offset += seconds
            self.tick()
            self.cond.notify_all()

    # -- change notification ----------------------------------------------------
    def notify(self):
        """Call with the lock held after any state change."""
        self.dirty = True
        self.cond.notify_all()

    def wait_for(self, current_index, min_index, timeout):
        """Block until current_index() > min_index or timeout seconds pass (lock held by caller
        is not required). Returns the index seen last."""
        deadline = time.monotonic() + timeout
        with self.cond:
            index = current_index()
            while index <= min_index:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    break
                self.cond.wait(min(remaining, 0.5))
                index = current_index()
            return index

    # -- background work: session TTLs, deployments ----------------------------
    def tick(self):
        with self.cond:
            self.consul.tick()
            self.nomad.tick()

    def _tick_loop(self):
        last_save = time.monotonic()
        while not self._stop.wait(0.1):
            try:
                self.tick()
            except Exception:  # keep the lab alive; the traceback is the bug report
                traceback.print_exc()
            if self.state_file and self.dirty and time.monotonic() - last_save > 1.0:
                try:
                    self.save(self.state_file)
                except Exception:  # a failed save must not stop deployments and session TTLs
                    traceback.print_exc()
                last_save = time.monotonic()

    # -- listeners ---------------------------------------------------------------
    def add_listener(self, service, host, port):
        apps = {"consul": self.consul.app, "nomad": self.nomad.app}
        app = apps.get(service, _admin_only)
        listener = ServiceListener(self, service, host, port, lambda req: self.handle(req, app))
        self.listeners[service] = listener
        return listener

    def start(self):
        """Raises ClientCheckUnavailable (before listening) when the strict client check cannot be built."""
        self.client_check.start()
        for listener in self.listeners.values():
            listener.start()
        self._ticker = threading.Thread(target=self._tick_loop, name="labsim-tick", daemon=True)
        self._ticker.start()

    def stop(self):
        self._stop.set()
        with self.cond:
            self.cond.notify_all()
        for listener in self.listeners.values():
            listener.stop()
        if self._ticker:
            self._ticker.join(timeout=5)
        if self.state_file:
            self.save(self.state_file)

    def set_service_up(self, service, up):
        listener = self.listeners.get(service)
        if listener is None:
            raise HttpError(404, f"unknown service {service!r}")
        if up:
            listener.start()
        else:
            # Shut down from another thread: this request may be served by that listener.
            threading.Thread(target=listener.stop, daemon=True).start()

    # -- request pipeline ---------------------------------------------------------
    def handle(self, request, app):
        if request.path.startswith("/_lab/"):
            from .admin import handle_admin

            return request.refusal or self._guard(lambda: handle_admin(self, request))
        delay = self.latency.get(request.service, 0.0)
        if delay:
            time.sleep(delay)
        response = request.refusal or self._injected_fault(request)
        if response is None:
            response = self._guard(lambda: app(request))
        with self.cond:
            self.request_seq += 1
            self.requests.append({
                "seq": self.request_seq,
                "service": request.service,
                "method": request.method,
                "path": request.path,
                "query": request.raw_query,
                "status": response.status,
                "time": round(time.time(), 6),
            })
        return response

    @staticmethod
    def _guard(call):
        try:
            return call()
        except HttpError as err:
            return Response(err.status, err.body, err.headers)
        except Exception as exc:  # a simulator bug must still answer, like Consul's 500
            traceback.print_exc()
            return Response(500, f"labsim internal error: {exc}")

    def _injected_fault(self, request):
        with self.cond:
            for fault in self.faults:
                if fault["service"] not in (None, request.service):
                    continue
                if fault.get("method") and fault["method"] != request.method:
                    continue
                if not request.path.startswith(fault["path"]):
                    continue
                fault["remaining"] -= 1
                if fault["remaining"] <= 0:
                    self.faults.remove(fault)
                return Response(fault["status"], fault.get("body") or f"labsim injected {fault['status']}")
        return None

    # -- persistence ------------------------------------------------------------------
    def dump(self):
        with self.cond:
            return {"version": 1, "consul": self.consul.dump(), "nomad": self.nomad.dump()}

    def save(self, path):
        # Serialised under the lock: dump() returns the live state, which requests change meanwhile.
        with self.cond:
            text = json.dumps(self.dump())
            self.dirty = False
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".labsim-state-")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)

    def load(self, path):
        with open(path) as handle:
            data = json.load(handle)
        with self.cond:
            self.consul.restore(data.get("consul") or {})
            self.nomad.restore(data.get("nomad") or {})
