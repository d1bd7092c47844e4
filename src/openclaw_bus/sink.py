# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local gateway that `openclaw-bus bench` relays to: an OpenAI-compatible POST
/v1/chat/completions on loopback that checks the bearer token, records every hand-off (time, agent,
bus messageId, content, user) and answers a fixed text (NO_REPLY: the bench measures the bus, not a
model). Tests extend it (tools/testsupport/standins.py) through `answer_get` and `answer_chat`."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class GatewaySink:
    def __init__(self, token, answer="NO_REPLY", host="127.0.0.1", port=0):
        self.token = token
        self.answer = answer
        self.host = host
        self.port = port
        self.handoffs = []    # dicts: time, agent, message_id, content, user
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self._server = None
        self._thread = None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    # -- what it answers (status, JSON object) ---------------------------------------------------------------
    def answer_get(self, path, authorized=False):
        """`authorized`: the request carried the gateway token (OpenClaw's probes say more to it)."""
        return 404, {"error": {"message": "not found"}}

    def answer_chat(self, record, body):
        """An authorised chat completion: `record` is the hand-off, `body` the request JSON."""
        self.record(record)
        return 200, self.completion(body.get("model", ""), self.answer)

    def record(self, handoff):
        with self.arrived:
            self.handoffs.append(handoff)
            self.arrived.notify_all()

    @staticmethod
    def completion(model, text):
        return {"id": "chatcmpl-fake", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}

    # -- the server ------------------------------------------------------------------------------------------
    def start(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                authorized = self.headers.get("Authorization") == f"Bearer {sink.token}"
                return self._send(*sink.answer_get(self.path, authorized))

            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                if self.headers.get("Authorization") != f"Bearer {sink.token}":
                    return self._send(401, {"error": {"message": "unauthorized"}})
                body = json.loads(raw or b"{}")
                model = body.get("model", "")
                agent = model.split("/", 1)[1] if model.startswith("openclaw/") else ""
                content = (body.get("messages") or [{}])[-1].get("content", "")
                record = {"time": time.time(), "agent": agent, "content": content, "user": body.get("user"),
                          "message_id": self.headers.get("X-OpenClaw-Bus-Message-Id")}
                return self._send(*sink.answer_chat(record, body))

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
