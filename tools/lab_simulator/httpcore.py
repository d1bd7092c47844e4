"""HTTP plumbing shared by the Consul, Nomad and admin APIs: requests, responses, routing,
durations, and one listener per service that can be taken down (connection refused) and up."""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

# The largest request body the lab reads (lab config max_request_body): far above any job, variable or
# transaction (Consul's own KV and txn limits are 512 KiB), so a client cannot make the lab allocate without bound.
MAX_REQUEST_BODY = 8 * 1024 * 1024


class HttpError(Exception):
    """Raised by handlers to answer with a status and a plain-text (or JSON) body."""

    def __init__(self, status, body="", headers=None):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


class Request:
    def __init__(self, service, method, raw_path, headers, body):
        parts = urlsplit(raw_path)
        self.service = service
        self.method = method
        self.path = unquote(parts.path)
        self.raw_query = parts.query
        # Flags such as ?recurse have no value; keep "" so `has()` sees them.
        self.query = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            self.query[key] = value
        self.headers = headers
        self.body = body
        self.refusal = None  # a Response the listener decided before reading the body

    def has(self, name):
        return name in self.query

    def arg(self, name, default=None):
        return self.query.get(name, default)

    def int_arg(self, name, default=None):
        value = self.query.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except ValueError:
            raise HttpError(400, f"Invalid value for {name}: {value!r}") from None

    def json(self, default=None, what="Request decode failed"):
        if not self.body:
            return default
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise HttpError(400, f"{what}: {exc}") from None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return None


class Response:
    def __init__(self, status=200, body=b"", headers=None, content_type="application/json"):
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, bytes):
            self.body = body
        elif isinstance(body, str):
            self.body = body.encode()
            content_type = "text/plain; charset=utf-8"
        else:
            self.body = json.dumps(body).encode()
        self.headers.setdefault("Content-Type", content_type)


def json_response(obj, status=200, headers=None):
    return Response(status, json.dumps(obj).encode(), headers)


class Router:
    """Method + regex routing; the first matching pattern wins, 405 when only the method differs."""

    def __init__(self):
        self.routes = []

    def add(self, methods, pattern, handler):
        if isinstance(methods, str):
            methods = (methods,)
        self.routes.append((set(methods), re.compile(pattern + r"\Z"), handler))

    def dispatch(self, request, *context):
        """Call the matching handler as handler(*context, request, **path_groups)."""
        path_matched = False
        for methods, regex, handler in self.routes:
            match = regex.match(request.path)
            if not match:
                continue
            path_matched = True
            if request.method not in methods:
                continue
            return handler(*context, request, **match.groupdict())
        if path_matched:
            raise HttpError(405, f"method {request.method} not allowed")
        raise HttpError(404, f"Invalid URL path: {request.path!r}")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text, field="duration"):
    """Go-style duration ("10s", "1m30s", "250ms") to seconds; a bare number is seconds."""
    text = (text or "").strip()
    if not text:
        raise HttpError(400, f"Invalid {field}: empty")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise HttpError(400, f"Invalid {field}: {text!r}")
    return total


def format_duration(seconds):
    """Seconds to a Go-style duration string as Consul prints it ("15s", "1m0s")."""
    if seconds == int(seconds):
        seconds = int(seconds)
        if seconds < 60:
            return f"{seconds}s"
        minutes, secs = divmod(seconds, 60)
        if minutes < 60:
            return f"{minutes}m{secs}s"
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h{minutes}m{secs}s"
    return f"{seconds}s"


class ServiceListener:
    """One HTTP listener for one service. `stop()` closes the socket so clients get
    connection refused; `start()` binds the same address again."""

    def __init__(self, lab, service, host, port, app):
        self.lab = lab
        self.service = service
        self.host = host
        self.port = port
        self.app = app  # callable(Request) -> Response
        self._server = None
        self._thread = None

    @property
    def up(self):
        return self._server is not None

    def start(self):
        if self._server is not None:
            return
        handler = _make_handler(self)
        server = _Server((self.host, self.port), handler, bind_and_activate=False)
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.server_bind()
        server.server_activate()
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"labsim-{self.service}", daemon=True)
        self._thread.start()

    def stop(self):
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # A dying agent also resets the connections it was serving (blocking queries, keep-alive).
        server.drop_connections()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    """Keeps track of open client connections so "down" can reset them, sparing the admin
    request that asked for it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self.connections = set()
        self.spared = set()

    def process_request(self, request, client_address):
        with self._lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._lock:
            self.connections.discard(request)
            self.spared.discard(request)
        super().shutdown_request(request)

    def drop_connections(self):
        with self._lock:
            doomed = [conn for conn in self.connections if conn not in self.spared]
        for conn in doomed:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _make_handler(listener):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without TCP_NODELAY every response waits ~40 ms
        # for the client's delayed ACK.
        disable_nagle_algorithm = True
        server_version = f"labsim-{listener.service}"

        def log_message(self, fmt, *args):  # quiet: the lab keeps its own request log
            pass

        def _handle(self):
            refusal = self._refusal()
            length = int(self.headers.get("Content-Length") or 0) if refusal is None else 0
            body = self.rfile.read(length) if length else b""
            request = Request(listener.service, self.command, self.path, self.headers, body)
            # The app answers with the refusal, so the request log still shows the attempt.
            request.refusal = refusal
            if request.path.startswith("/_lab/"):
                self.server.spared.add(self.connection)
            self._send(listener.app(request))

        def _refusal(self):
            """A response for a body the lab will not read: a Content-Length that is no number, or
            larger than max_request_body (refused before any byte of it is allocated)."""
            text = (self.headers.get("Content-Length") or "0").strip()
            if not (text.isascii() and text.isdigit()):
                self.close_connection = True
                return Response(400, f"Invalid Content-Length: {text[:32]!r}", {"Connection": "close"})
            limit = listener.lab.config.get("max_request_body", MAX_REQUEST_BODY)
            if int(text) > limit:
                self.close_connection = True
                # Consul's wording (agent/http.go, kv_max_value_size); Nomad has no limit of its own.
                return Response(413, f"Request body({int(text)} bytes) too large, max size: {limit} bytes",
                                {"Connection": "close"})
            return None

        def _send(self, response):
            response.headers.setdefault("Content-Length", str(len(response.body)))
            try:
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

    return Handler
