# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two OpenAI-compatible stand-ins on loopback, plain http.server in a thread.

FakeGateway plays an OpenClaw gateway for the bus relay: the bench's GatewaySink (openclaw_bus.sink)
plus what only tests need: answers that are a function of the request (one that raises plays a failed
agent run: 500), a fixed error status, GET /healthz as OpenClaw answers it ({"ok": true, "status":
"live"}; `healthy = False` makes it {"ok": false}), GET /startupz and /readyz as OpenClaw answers them
(with the gateway token: the running `version`, and the channel accounts `failing` readiness, 503 when one
fails; without it only ok/status or ready; both may be callables), and down (connection refused) and back on
the same port with stop() and start().

ScriptedBackend is the model backend of the real gateways of the e2e tests: GET /v1/models and POST
/v1/chat/completions, streamed (SSE chunks, which is what OpenClaw asks for) or not. Every request is
recorded (path, headers that matter, JSON body) so a test can look at exactly what a gateway sent: the
`tools` list, the messages. Which agent a request is for is read from the `model` field: the farm model
gives each agent its own model id of this provider (e.g. "jerry-model"), so no guessing from prompts.
What the "model" answers is a script, a function of the request (see `Script`): the test supplies it."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openclaw_bus.sink import GatewaySink  # the package __init__ put src/ on sys.path


class FakeGateway(GatewaySink):
    def __init__(self, token="gateway-token", answer="NO_REPLY", host="127.0.0.1", port=0, status=200):
        super().__init__(token, answer, host, port)
        self.answer = answer  # str, or callable(agent_id, content, request_json) -> str
        self.status = status  # answer with this HTTP status (e.g. 500) instead of a completion
        self.healthy = True
        self.version = "2026.9.6"  # str, or callable() -> str: what /startupz reports
        self.failing = []  # list, or callable() -> list: the channel accounts /readyz reports failing

    def answer_get(self, path, authorized=False):
        if path in ("/startupz", "/startup"):
            version = self.version() if callable(self.version) else self.version
            return 200, ({"ok": True, "status": "started", "version": version, "uptimeMs": 1000} if authorized
                         else {"ok": True, "status": "started"})
        if path in ("/readyz", "/ready"):
            failing = list(self.failing() if callable(self.failing) else self.failing)
            body = {"ready": not failing}
            if authorized:
                body.update(failing=failing, uptimeMs=1000)
            return (503 if failing else 200), body
        if path not in ("/healthz", "/health"):
            return super().answer_get(path, authorized)
        return 200, {"ok": True, "status": "live"} if self.healthy else {"ok": False, "status": "unhealthy"}

    def answer_chat(self, record, body):
        if self.status != 200:
            return self.status, {"error": {"message": "agent run failed"}}
        try:
            answer = self.answer(record["agent"], record["content"], body) if callable(self.answer) else self.answer
        except Exception as exc:  # an answer function that raises plays a failed agent run
            return 500, {"error": {"message": f"agent run failed: {exc}"}}
        self.record(record)
        return 200, self.completion(body.get("model", ""), answer)

    def message_ids(self):
        with self.lock:
            return [h["message_id"] for h in self.handoffs]


class Reply:
    """What the scripted model says: text, or one tool call (name + arguments)."""

    def __init__(self, text=None, tool=None, arguments=None):
        self.text = text
        self.tool = tool
        self.arguments = arguments or {}


def text_of(message):
    """The text of a chat message whose content is a string or a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def tool_names(body):
    return [t.get("function", {}).get("name") for t in body.get("tools") or []]


class ScriptedBackend:
    """The backend. `script(model_id, body) -> Reply` decides every answer; `api_key`, when set, is
    the bearer token the gateway must send (proves its SecretRef resolved from the environment)."""

    def __init__(self, models, script, api_key=None, host="127.0.0.1"):
        self.models = list(models)
        self.script = script
        self.api_key = api_key
        self.host = host
        self.port = None
        self.requests = []      # {"time", "path", "model", "stream", "body", "auth_ok"}
        self.errors = []        # exceptions of the script: a test fails on them, they are not swallowed
        self.lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def base_url(self):
        return f"http://{self.host}:{self.port}/v1"

    def chats(self, model=None):
        """Recorded chat-completion request bodies, optionally only those for one model id."""
        with self.lock:
            return [r["body"] for r in self.requests
                    if r["path"] == "/v1/chat/completions" and (model is None or r["model"] == model)]

    def start(self):
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _authorized(self):
                return backend.api_key is None or self.headers.get("Authorization") == f"Bearer {backend.api_key}"

            def do_GET(self):  # noqa: N802 - http.server's naming
                with backend.lock:
                    backend.requests.append({"time": time.time(), "path": self.path, "model": None, "stream": False,
                                             "body": None, "auth_ok": self._authorized()})
                if self.path.rstrip("/") != "/v1/models":
                    return self._json(404, {"error": {"message": "not found"}})
                return self._json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in backend.models]})

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._json(400, {"error": {"message": "body is not JSON"}})
                model = str(body.get("model", ""))
                with backend.lock:
                    backend.requests.append({"time": time.time(), "path": self.path, "model": model,
                                             "stream": bool(body.get("stream")), "body": body,
                                             "auth_ok": self._authorized()})
                if self.path != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": "not found"}})
                if not self._authorized():
                    return self._json(401, {"error": {"message": "bad api key", "type": "invalid_request_error"}})
                try:
                    reply = backend.script(model, body)
                except Exception as exc:  # recorded for the test, answered as a provider error
                    backend.errors.append(exc)
                    return self._json(500, {"error": {"message": f"script failed: {exc!r}"}})
                if body.get("stream"):
                    return self._stream(model, reply, body)
                return self._json(200, self._completion(model, reply))

            # -- answers ---------------------------------------------------------------------------
            def _completion(self, model, reply):
                message = {"role": "assistant", "content": reply.text}
                finish = "stop"
                if reply.tool:
                    message["tool_calls"] = [{"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
                                              "function": {"name": reply.tool,
                                                           "arguments": json.dumps(reply.arguments)}}]
                    finish = "tool_calls"
                return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
                        "created": int(time.time()), "model": model,
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}

            def _stream(self, model, reply, body):
                """Server-sent events as OpenAI streams them: role, content or tool-call deltas, the finish
                chunk, a usage chunk when asked for, then [DONE]. Close-delimited (no chunked encoding)."""
                ident, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())

                def chunk(delta, finish=None, **extra):
                    return {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

                events = [chunk({"role": "assistant", "content": ""})]
                if reply.text:
                    events.append(chunk({"content": reply.text}))
                if reply.tool:
                    events.append(chunk({"tool_calls": [{
                        "index": 0, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
                        "function": {"name": reply.tool, "arguments": json.dumps(reply.arguments)}}]}))
                events.append(chunk({}, "tool_calls" if reply.tool else "stop"))
                if (body.get("stream_options") or {}).get("include_usage"):
                    events.append({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                                   "choices": [],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for event in events:
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _json(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-backend", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
