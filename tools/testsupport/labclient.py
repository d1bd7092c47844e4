"""Test-side clients for the Consul/Nomad HTTP APIs and the lab simulator's admin API.

Used by contract tests, integration tests and benchmarks. Live mode (a real cluster) is chosen
with OCTANT_LIVE=1 plus CONSUL_HTTP_ADDR / NOMAD_ADDR (and tokens); see README."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
LABSIM = ROOT / "tools" / "labsim"


def free_port():
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def live_mode():
    return os.environ.get("OCTANT_LIVE") == "1"


class Api:
    """A thin requests wrapper: base URL, token header, JSON helpers. Returns raw responses so
    tests can assert on status codes, headers and bodies exactly."""

    def __init__(self, base_url, token=None, token_header="X-Consul-Token", verify=True):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.token_header = token_header
        self.session = requests.Session()
        self.session.verify = verify

    def with_token(self, token):
        return Api(self.base_url, token, self.token_header, self.session.verify)

    def request(self, method, path, token=..., **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        token = self.token if token is ... else token
        if token:
            headers.setdefault(self.token_header, token)
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class LabAdmin:
    """Client of the simulator-only /_lab/ admin API."""

    def __init__(self, base_url):
        self.api = Api(base_url)

    def _ok(self, response):
        response.raise_for_status()
        return response.json()

    def requests(self, service=None, since=0):
        params = {"since": since}
        if service:
            params["service"] = service
        return self._ok(self.api.get("/_lab/requests", params=params))

    def last_seq(self):
        rows = self.requests()
        return rows[-1]["seq"] if rows else 0

    def clear_requests(self):
        return self._ok(self.api.delete("/_lab/requests"))

    def service(self, name, up):
        result = self._ok(self.api.post(f"/_lab/services/{name}/{'up' if up else 'down'}"))
        time.sleep(0.2)  # the listener closes from its own thread
        return result

    def latency(self, seconds, service=None):
        body = {"seconds": seconds}
        if service:
            body["service"] = service
        return self._ok(self.api.post("/_lab/latency", json=body))

    def fault(self, path, status=500, count=1, service=None, method=None, body=None):
        return self._ok(self.api.post("/_lab/faults", json={
            "path": path, "status": status, "count": count, "service": service,
            "method": method, "body": body}))

    def clear_faults(self):
        return self._ok(self.api.delete("/_lab/faults"))

    def node(self, name, up):
        return self._ok(self.api.post(f"/_lab/nodes/{name}/{'up' if up else 'down'}"))

    def fail_next_deployment(self, job, namespace="default"):
        return self._ok(self.api.post(f"/_lab/jobs/{job}/fail-next-deployment",
                                      params={"namespace": namespace}))

    def config(self, **changes):
        if changes:
            return self._ok(self.api.put("/_lab/config", json=changes))
        return self._ok(self.api.get("/_lab/config"))

    def advance_clock(self, seconds):
        return self._ok(self.api.post("/_lab/clock", json={"advance": seconds}))

    def reset(self):
        return self._ok(self.api.post("/_lab/reset"))


class LabProcess:
    """`tools/labsim` as a subprocess on free loopback ports, exactly as users start it."""

    def __init__(self, acl_token=None, nodes="jerry,bobby,billy", extra_args=(), state=None):
        self.consul_port = free_port()
        self.nomad_port = free_port()
        self.admin_port = free_port()
        self.acl_token = acl_token
        args = [str(LABSIM),
                "--consul", f"127.0.0.1:{self.consul_port}",
                "--nomad", f"127.0.0.1:{self.nomad_port}",
                "--admin", f"127.0.0.1:{self.admin_port}",
                "--nodes", nodes]
        if acl_token:
            args += ["--acl-bootstrap-token", acl_token]
        if state:
            args += ["--state", str(state)]
        self.args = args + list(extra_args)
        self.proc = None

    @property
    def consul_addr(self):
        return f"http://127.0.0.1:{self.consul_port}"

    @property
    def nomad_addr(self):
        return f"http://127.0.0.1:{self.nomad_port}"

    @property
    def admin_addr(self):
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self, timeout=15):
        env = dict(os.environ, LABSIM_PYTHON=sys.executable)
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env)
        line = self.proc.stdout.readline()
        if "labsim ready" not in line:
            self.proc.kill()
            rest = self.proc.stdout.read()
            raise RuntimeError(f"labsim did not start: {line}{rest}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(self.admin_addr + "/_lab/health", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("labsim admin API did not answer")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run_module(module_name, args, check=False, diff=False):
    """Run plugins/modules/<module_name>.py in-process with the given arguments, the way Ansible
    does (arguments in, JSON out), so the simulator's request log counts exactly its calls;
    return its result dict (it has "failed": true when the module failed). Needs Ansible's
    collection loader pointed at the checkout (tests/conftest.py, or the benchmarks' setup)."""
    from ansible.module_utils.testing import patch_module_args

    module = __import__(f"ansible_collections.octant.openclaw.plugins.modules.{module_name}", fromlist=["main"])
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    text = out.getvalue()
    return json.loads(text[text.index("{") :])
