# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate one gateway passes after a healthy Nomad deployment (the gateway_gate module, playbooks/upgrade.yml).
In order, each retried until the deadline except the answer:

  service   Consul publishes the job's service with every check passing: the address to probe
  healthz   GET /healthz answers 200 with {"ok": true} (OpenClaw answers unknown paths with 200 and its
            Control UI, so the body is what counts)
  version   GET /startupz with the gateway token answers {"ok": true, "status": "started", "version": V}
            and V is the version the job deploys
  channels  GET /readyz with the gateway token answers 200 {"ready": true, "failing": []}: every configured
            channel account passes the gateway's own health evaluation (a failing one is named)
  answer    POST /v1/chat/completions as openclaw/<agent> gives a non-empty answer

The first check that does not pass by the deadline is the failed one; the rest are not tried. A gateway that
fails the gate is a result (`passed` false), not a module failure; a Consul token that may not read the service
is a module failure (no amount of waiting fixes it)."""

from __future__ import annotations

import json
import time

from ansible_collections.octant.openclaw.plugins.module_utils._errors import InputError, ServiceError
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import path_segment

CHECKS = ("service", "healthz", "version", "channels", "answer")
GATE_USER = "octant-upgrade-gate"  # the `user` of the gate's chat completion (its session on the gateway)


def run_gateway_gate(consul, params, ctx):
    """gateway_gate: the gate of one gateway; it only reads, so it runs the same in check mode."""
    for name in ("timeout", "answer_timeout", "interval"):
        if params[name] <= 0:
            raise InputError(f"{name} must be a number of seconds above 0, got {params[name]}",
                             hint=f"set {name} to a positive number of seconds")
    ctx.hide(params["gateway_token"], known=True)
    gate = GatewayGate(consul, consul.http.session, params["service"], params["version"], params["agent"],
                       params["gateway_token"], prompt=params["prompt"], timeout=params["timeout"],
                       interval=params["interval"], answer_timeout=params["answer_timeout"])
    return dict(changed=False, **gate.run())


class GateFailed(Exception):
    def __init__(self, check, detail):
        super().__init__(f"{check}: {detail}")
        self.check = check
        self.detail = detail


class GatewayGate:
    """`consul` a ConsulApi, `http` a requests.Session for the gateway; `token` the gateway token."""

    def __init__(self, consul, http, service, version, agent, token, prompt="Reply with the word ready.",
                 timeout=120, interval=2.0, answer_timeout=120, clock=time.monotonic, sleep=time.sleep):
        self.consul = consul
        self.http = http
        self.service = service
        self.version = version
        self.agent = agent
        self.token = token
        self.prompt = prompt
        self.timeout = timeout
        self.interval = interval
        self.answer_timeout = answer_timeout
        self.clock = clock
        self.sleep = sleep
        self.rows = []
        self.url = None

    def run(self):
        deadline = self.clock() + self.timeout
        try:
            self.url = self._until(deadline, "service", self._service)
            self._until(deadline, "healthz", self._healthz)
            self._until(deadline, "version", self._version)
            self._until(deadline, "channels", self._channels)
            self._pass("answer", self._answer())
        except GateFailed as exc:
            self.rows.append({"check": exc.check, "passed": False, "detail": exc.detail})
            return {"passed": False, "failure": str(exc), "failed_check": exc.check, "checks": self.rows,
                    "address": self.url}
        return {"passed": True, "failure": None, "failed_check": None, "checks": self.rows, "address": self.url}

    def _pass(self, check, detail):
        self.rows.append({"check": check, "passed": True, "detail": detail})

    def _until(self, deadline, check, probe):
        """Call probe() until it returns (pass) or the deadline passes (its last GateFailed is the failure)."""
        while True:
            try:
                result = probe()
            except GateFailed:
                if self.clock() + self.interval > deadline:
                    raise
                self.sleep(self.interval)
                continue
            self._pass(check, result[1] if isinstance(result, tuple) else result)
            return result[0] if isinstance(result, tuple) else result

    def _service(self):
        try:
            reply = self.consul.call("GET", f"/v1/health/service/{path_segment(self.service)}",
                                     params={"passing": "true"}, what=f"health of service {self.service!r}",
                                     needs=f'service "{self.service}" read')
        except ServiceError as exc:
            if exc.status in (401, 403):
                raise
            raise GateFailed("service", exc.text[:300]) from None
        entries = reply.body or []
        if not entries:
            raise GateFailed("service", f"Consul has no instance of {self.service} with every check passing")
        svc, node = entries[0].get("Service") or {}, entries[0].get("Node") or {}
        address = svc.get("Address") or node.get("Address")
        if not address or not svc.get("Port"):
            raise GateFailed("service", f"{self.service} publishes no address and port")
        url = f"http://{address}:{svc['Port']}"
        return url, f"{self.service} at {url}"

    def _get(self, check, path, auth):
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self.http.get(self.url + path, timeout=10, headers=headers)
        except Exception as exc:  # any transport failure is the finding
            raise GateFailed(check, f"{path}: {type(exc).__name__}") from None
        try:
            return response.status_code, response.json()
        except ValueError:
            raise GateFailed(check, f"{path} answered {response.status_code}, not JSON") from None

    def _healthz(self):
        status, body = self._get("healthz", "/healthz", auth=False)
        if status != 200 or not isinstance(body, dict) or body.get("ok") is not True:
            raise GateFailed("healthz", f"/healthz {status} {json.dumps(body)[:120]}")
        return f"/healthz {status} {json.dumps(body)[:80]}"

    def _version(self):
        status, body = self._get("version", "/startupz", auth=True)
        body = body if isinstance(body, dict) else {}
        running = body.get("version")
        if status != 200 or body.get("ok") is not True or running != self.version:
            raise GateFailed("version", f"/startupz {status}: runs {running or '?'}, the job deploys {self.version}")
        return f"runs {running}"

    def _channels(self):
        status, body = self._get("channels", "/readyz", auth=True)
        failing = body.get("failing") if isinstance(body, dict) else None
        if status == 200 and failing == [] and body.get("ready") is True:
            return "every channel account connected (/readyz ready, none failing)"
        if isinstance(failing, list) and failing:
            raise GateFailed("channels", f"not connected: {', '.join(map(str, failing))} (/readyz {status})")
        raise GateFailed("channels", f"/readyz {status} {json.dumps(body)[:120]}")

    def _answer(self):
        try:
            response = self.http.post(
                self.url + "/v1/chat/completions", timeout=self.answer_timeout,
                headers={"Authorization": f"Bearer {self.token}"},
                json={"model": f"openclaw/{self.agent}", "user": GATE_USER,
                      "messages": [{"role": "user", "content": self.prompt}]})
            text = response.json()["choices"][0]["message"]["content"] if response.status_code == 200 else None
        except Exception as exc:  # the failure is the finding
            raise GateFailed("answer", f"agent {self.agent}: no answer ({type(exc).__name__})") from None
        if not isinstance(text, str) or not text.strip():
            raise GateFailed("answer", f"agent {self.agent}: HTTP {response.status_code}, no answer text")
        return f"agent {self.agent} answered {text.strip()[:40]!r}"
