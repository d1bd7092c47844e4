# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny OpenAI-compatible stand-in for an OpenClaw gateway's POST /v1/chat/completions, for the
bench (it measures the bus, not a model) and for tests. It records every hand-off (time, agent,
bus messageId, content), answers with a fixed text or a function of the request (one that raises
plays a failed agent run: 500), checks the bearer
token, answers GET /healthz as OpenClaw does ({"ok": true, "status": "live"}; `healthy = False` makes it
{"ok": false}), and can be taken down (connection refused) and brought back on the same port."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeGateway:
    def __init__(self, token="gateway-token", answer="NO_REPLY", host="127.0.0.1", port=0, status=200):
        self.token = token
        self.answer = answer  # str, or callable(agent_id, content, request_json) -> str
        self.status = status  # answer with this HTTP status (e.g. 500) instead of a completion
        self.host = host
        self.port = port
        self.healthy = True
        self.handoffs = []    # dicts: time, agent, message_id, content, user
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self._server = None
        self._thread = None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.path not in ("/healthz", "/health"):
                    return self._send(404, {"error": {"message": "not found"}})
                return self._send(200, {"ok": True, "status": "live"} if gateway.healthy
                                  else {"ok": False, "status": "unhealthy"})

            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                if self.headers.get("Authorization") != f"Bearer {gateway.token}":
                    return self._send(401, {"error": {"message": "unauthorized"}})
                body = json.loads(raw or b"{}")
                model = body.get("model", "")
                agent = model.split("/", 1)[1] if model.startswith("openclaw/") else ""
                content = (body.get("messages") or [{}])[-1].get("content", "")
                record = {"time": time.time(), "agent": agent, "content": content, "user": body.get("user"),
                          "message_id": self.headers.get("X-OpenClaw-Bus-Message-Id")}
                if gateway.status != 200:
                    return self._send(gateway.status, {"error": {"message": "agent run failed"}})
                try:
                    answer = gateway.answer(agent, content, body) if callable(gateway.answer) else gateway.answer
                except Exception as exc:  # an answer function that raises plays a failed agent run
                    return self._send(500, {"error": {"message": f"agent run failed: {exc}"}})
                with gateway.arrived:
                    gateway.handoffs.append(record)
                    gateway.arrived.notify_all()
                return self._send(200, {"id": "chatcmpl-fake", "object": "chat.completion", "model": model,
                                        "choices": [{"index": 0, "finish_reason": "stop",
                                                     "message": {"role": "assistant", "content": answer}}]})

            def _send(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Down: the port refuses connections until start() again."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def message_ids(self):
        with self.lock:
            return [h["message_id"] for h in self.handoffs]

    def wait_for(self, count, timeout):
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.handoffs) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.arrived.wait(remaining)
        return True

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
