# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the watcher tests and benchmarks/watch_latency.py share: an Apprise `json://` endpoint on loopback
that records every notification with its arrival time, and one `openclaw-bus watch` process per lab node."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import ROOT
from .labclient import free_port


class Receiver:
    """json://127.0.0.1:<port>/ for Apprise: every POST body (title, message, type) with its arrival time."""

    def __init__(self):
        received = self.received = []
        lock = self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with lock:
                    received.append(dict(body, at=time.monotonic()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def messages(self):
        with self.lock:
            return list(self.received)

    def wait_for(self, count, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages()) >= count:
                return self.messages()
            time.sleep(0.05)
        return self.messages()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Watchers:
    """One `openclaw-bus watch` per node, as real processes against the lab's Consul."""

    def __init__(self, lab, token, urls, nodes, grace, logs, prefix="openclaw/watch", metrics=False):
        self.procs = {}
        self.metrics = {} if metrics else None  # node -> its /metrics URL
        self.lab, self.token, self.urls, self.grace, self.logs, self.prefix = lab, token, urls, grace, logs, prefix
        for node in nodes:
            self.start(node)

    def start(self, node):
        env = dict(os.environ, CONSUL_HTTP_TOKEN=self.token, OPENCLAW_ALERT_URLS=self.urls,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
        log = open(Path(self.logs) / f"watch-{node}.log", "a")  # noqa: SIM115 - kept open by the process
        args = [sys.executable, "-m", "openclaw_bus", "watch", "--consul", self.lab.consul_addr, "--node", node,
                "--grace", str(self.grace), "--prefix", self.prefix, "--log-level", "DEBUG"]
        if self.metrics is not None:
            port = free_port()
            args += ["--metrics-port", str(port), "--metrics-addr", "127.0.0.1"]
            self.metrics[node] = f"http://127.0.0.1:{port}/metrics"
        self.procs[node] = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)

    def kill(self, node):
        """SIGKILL: no clean-up, the session has to expire (or its node's check to fail)."""
        self.procs[node].send_signal(signal.SIGKILL)
        self.procs[node].wait()

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def leader(self, consul_api):
        """The node whose watcher holds the lock, or None."""
        response = consul_api.get(f"/v1/kv/{self.prefix}/leader")
        if response.status_code != 200 or not response.json()[0].get("Session"):
            return None
        import base64

        return json.loads(base64.b64decode(response.json()[0]["Value"]))["node"]

    def wait_leader(self, consul_api, timeout=15, other_than=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.leader(consul_api)
            if node and node != other_than:
                return node
            time.sleep(0.1)
        return None
