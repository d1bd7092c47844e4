# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade gate's checks against answers shaped as OpenClaw 2026.9.6 gives them (its probe handler:
/readyz with the token names failing channels, /startupz with the token reports the version, unknown paths and a
missing route answer 200 with the Control UI's HTML)."""

from __future__ import annotations

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._errors import ServiceError
from ansible_collections.octant.openclaw.plugins.module_utils._gateway_gate import GatewayGate

TOKEN = "gw-token-test"


class Reply:
    def __init__(self, status, body):
        self.status, self.body = status, body


class Consul:
    def __init__(self, entries):
        self.entries = entries

    def call(self, method, path, **kwargs):
        assert (method, path, kwargs["params"]) == ("GET", "/v1/health/service/openclaw-main", {"passing": "true"})
        return Reply(200, self.entries)


class Response:
    def __init__(self, status, body):
        self.status_code, self.body = status, body

    def json(self):
        if isinstance(self.body, str):
            raise ValueError("not JSON")
        return self.body


class Gateway:
    """requests.Session stand-in: answers by path, records the requests."""

    def __init__(self, version="2026.9.6", failing=(), healthz=None, answer="ready"):
        self.version, self.failing, self.healthz, self.answer = version, list(failing), healthz, answer
        self.seen = []

    def get(self, url, timeout, headers):
        path = url.split(":4711", 1)[1]
        self.seen.append(("GET", path, headers.get("Authorization")))
        authed = headers.get("Authorization") == f"Bearer {TOKEN}"
        if path == "/healthz":
            return Response(200, self.healthz if self.healthz is not None else {"ok": True, "status": "live"})
        if path == "/startupz":
            return Response(200, {"ok": True, "status": "started", "version": self.version} if authed
                            else {"ok": True, "status": "started"})
        if path == "/readyz":
            body = {"ready": not self.failing, "failing": self.failing} if authed else {"ready": not self.failing}
            return Response(503 if self.failing else 200, body)
        return Response(200, "<!doctype html><title>OpenClaw Control</title>")

    def post(self, url, timeout, headers, json):
        self.seen.append(("POST", url.split(":4711", 1)[1], headers.get("Authorization")))
        assert json["model"] == "openclaw/jerry"
        return Response(200, {"choices": [{"message": {"role": "assistant", "content": self.answer}}]})


SERVICE = [{"Node": {"Address": "10.0.0.5"}, "Service": {"Address": "10.0.0.5", "Port": 4711}}]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def gate(http, entries=None, timeout=10):
    clock = Clock()
    entries = SERVICE if entries is None else entries
    return GatewayGate(Consul(entries), http, "openclaw-main", "2026.9.6", "jerry", TOKEN, timeout=timeout,
                       interval=2, clock=clock, sleep=clock.sleep), clock


def test_a_gateway_that_serves_everything_passes_in_order():
    http = Gateway()
    result = gate(http)[0].run()
    assert result["passed"] and result["failure"] is None and result["address"] == "http://10.0.0.5:4711"
    assert [row["check"] for row in result["checks"]] == ["service", "healthz", "version", "channels", "answer"]
    assert [p for _m, p, _a in http.seen] == ["/healthz", "/startupz", "/readyz", "/v1/chat/completions"]
    assert http.seen[0][2] is None  # /healthz needs no token; the others are asked with it
    assert all(auth == f"Bearer {TOKEN}" for _m, _p, auth in http.seen[1:])


@pytest.mark.parametrize("http, check, words", [
    (Gateway(failing=["slack", "discord"]), "channels", "not connected: slack, discord (/readyz 503)"),
    (Gateway(version="2026.9.5"), "version", "runs 2026.9.5, the job deploys 2026.9.6"),
    (Gateway(healthz="<!doctype html>"), "healthz", "/healthz answered 200, not JSON"),
    (Gateway(healthz={"ok": False, "status": "unhealthy"}), "healthz", '/healthz 200 {"ok": false'),
    (Gateway(answer="  "), "answer", "agent jerry: HTTP 200, no answer text"),
])
def test_the_first_failing_check_is_named_and_the_rest_not_tried(http, check, words):
    result = gate(http)[0].run()
    assert not result["passed"] and result["failed_check"] == check, result
    assert words in result["failure"]
    assert result["checks"][-1] == {"check": check, "passed": False, "detail": result["failure"].split(": ", 1)[1]}
    if check != "answer":
        assert "/v1/chat/completions" not in [p for _m, p, _a in http.seen]


def test_retried_checks_wait_until_the_deadline_then_fail():
    http = Gateway(failing=["slack"])
    g, clock = gate(http, timeout=10)
    result = g.run()
    assert result["failed_check"] == "channels"
    assert [p for _m, p, _a in http.seen].count("/readyz") == 6 and clock.now == 10  # tries at 0, 2, .. 10 s


def test_no_passing_instance_in_consul_fails_the_service_check():
    result = gate(Gateway(), entries=[])[0].run()
    assert result["failed_check"] == "service"
    assert "no instance of openclaw-main with every check passing" in result["failure"]


class DeniedConsul:
    def call(self, method, path, **kwargs):
        raise ServiceError("consul", "health of service 'openclaw-main'", 403, "Permission denied")


class FlakyConsul(Consul):
    """Answers 500 `failures` times, then the entries."""

    def __init__(self, entries, failures):
        super().__init__(entries)
        self.failures = failures

    def call(self, method, path, **kwargs):
        if self.failures:
            self.failures -= 1
            raise ServiceError("consul", "health of service 'openclaw-main'", 500, "rpc error")
        return super().call(method, path, **kwargs)


def test_a_token_that_may_not_read_the_service_fails_the_module_not_the_gate():
    clock = Clock()
    gate = GatewayGate(DeniedConsul(), Gateway(), "openclaw-main", "2026.9.6", "jerry", TOKEN, timeout=10,
                       interval=2, clock=clock, sleep=clock.sleep)
    with pytest.raises(ServiceError) as caught:
        gate.run()
    assert caught.value.status == 403 and clock.now == 0  # not retried: waiting cannot fix a policy


def test_a_consul_error_is_retried_like_a_missing_instance():
    clock = Clock()
    result = GatewayGate(FlakyConsul(SERVICE, failures=2), Gateway(), "openclaw-main", "2026.9.6", "jerry", TOKEN,
                         timeout=10, interval=2, clock=clock, sleep=clock.sleep).run()
    assert result["passed"] and clock.now == 4


def test_an_answer_of_another_shape_is_a_failed_check_not_a_crash():
    http = Gateway()
    http.get = lambda url, timeout, headers: Response(200, ["started"])
    result = gate(http)[0].run()
    assert result["failed_check"] == "healthz" and "/healthz 200" in result["failure"]
