"""The client-side checker (tools/nomad_client_check, Go): what a Nomad client, the podman driver,
consul-template and Consul's ACL parser would refuse, with the engines' own libraries. Built once
from Debian's packaged Go libraries (GOPATH mode, offline) into .cache/, rebuilt when its source
changes; one process per check (a few milliseconds), results cached by content."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tools" / "nomad_client_check"
GOPATH_SYSTEM = Path("/usr/share/gocode")
# Import roots of the checker and the Debian packages that ship them.
LIBRARIES = {
    "github.com/hashicorp/hcl/v2": "golang-github-hashicorp-hcl-v2-dev",
    "github.com/zclconf/go-cty": "golang-github-zclconf-go-cty-dev",
    "github.com/hashicorp/go-envparse": "golang-github-hashicorp-go-envparse-dev",
    "github.com/hashicorp/hcl": "golang-github-hashicorp-hcl-dev",
}
APT_PACKAGES = ("golang-go", *LIBRARIES.values())
MODES = ("strict", "off")


class ClientCheckUnavailable(RuntimeError):
    pass


def _hint():
    return f"install them with: sudo apt-get install -y {' '.join(APT_PACKAGES)}"


def cache_dir():
    return Path(os.environ.get("LABSIM_CACHE") or ROOT / ".cache")


def _go():
    """The go command: LABSIM_GO, else go on PATH, else Debian's golang-go location."""
    wanted = os.environ.get("LABSIM_GO")
    found = shutil.which(wanted) if wanted else (shutil.which("go") or shutil.which("/usr/lib/go/bin/go"))
    if not found:
        raise ClientCheckUnavailable(f"the Go toolchain ({wanted or 'go'}) is not installed; {_hint()}")
    return found


def source_digest():
    digest = hashlib.sha256()
    for path in sorted(SOURCE.glob("*.go")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build():
    """Path of the checker binary for the current source, building it when missing (file-locked,
    so parallel simulators build it once)."""
    cache = cache_dir()
    binary = cache / "clientcheck" / source_digest() / "nomad-client-check"
    if binary.exists():
        return binary
    go = _go()
    missing = [pkg for root, pkg in LIBRARIES.items() if not (GOPATH_SYSTEM / "src" / root).is_dir()]
    if missing:
        raise ClientCheckUnavailable(f"the Go libraries of the client checker are missing ({', '.join(missing)}); "
                                     f"{_hint()}")
    binary.parent.mkdir(parents=True, exist_ok=True)
    with open(binary.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        env = dict(os.environ, GO111MODULE="off", GOFLAGS="", CGO_ENABLED="0",
                   GOPATH=f"{GOPATH_SYSTEM}{os.pathsep}{cache / 'gopath'}", GOCACHE=str(cache / "go-build"))
        tmp = Path(tempfile.mkdtemp(dir=binary.parent)) / "nomad-client-check"
        result = subprocess.run([go, "build", "-o", str(tmp), "."], cwd=SOURCE, env=env, capture_output=True,
                                text=True, timeout=600, check=False)
        if result.returncode != 0:
            raise ClientCheckUnavailable(f"building the client checker failed:\n{result.stderr.strip()}\n{_hint()}")
        os.replace(tmp, binary)
        shutil.rmtree(tmp.parent, ignore_errors=True)
    return binary


class ClientCheck:
    """The checker as the simulator uses it. mode "strict" (the default) builds it up front and
    refuses to run without it; "off" answers no findings (and says so in the ready line)."""

    def __init__(self, mode="strict"):
        if mode not in MODES:
            raise ValueError(f"client check mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.binary = None
        self._cache = {}
        self._lock = threading.Lock()
        self.last = {"jobs": {}, "policies": []}  # what /_lab/client-check shows
        self.stats = {"runs": 0, "seconds": 0.0, "configs": 0, "templates": 0, "env_templates": 0,
                      "policies": 0, "findings": 0}

    @property
    def enabled(self):
        return self.mode == "strict"

    def start(self):
        if self.enabled:
            self.binary = build()
        return self

    def _run(self, args, payload):
        if not self.enabled:
            return {"findings": [], "coverage": {}}
        key = hashlib.sha256(json.dumps([args, payload], sort_keys=True).encode()).hexdigest()
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="clientcheck-") as tmp:
            argv = [str(self.binary or build()), *args[:1]]
            if len(args) > 1 and args[1] is not None:
                node_file = Path(tmp) / "node.json"
                node_file.write_text(json.dumps(args[1]))
                argv += ["-node", str(node_file)]
            data = payload if isinstance(payload, str) else json.dumps(payload)
            result = subprocess.run(argv, input=data, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"nomad-client-check failed ({result.returncode}): {result.stderr.strip()}")
        report = json.loads(result.stdout)
        with self._lock:
            self.stats["runs"] += 1
            self.stats["seconds"] += time.monotonic() - started
            for name, count in (report.get("coverage") or {}).items():
                self.stats[name] = self.stats.get(name, 0) + count
            self.stats["findings"] += len(report["findings"])
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[key] = report
        return report

    def job(self, job, node=None):
        """Findings of a job (API JSON) placed on `node` (a Nomad node record; None: a sample rootless
        podman node)."""
        report = self._run(["job", _node_view(node)], {"Job": _public(job)})
        with self._lock:
            self.last["jobs"][job.get("ID") or ""] = dict(report, node=(node or {}).get("Name"))
        return report

    def acl_rules(self, rules):
        report = self._run(["acl"], rules or "")
        with self._lock:
            self.last["policies"] = (self.last["policies"] + [dict(report, rules=rules or "")])[-200:]
        return report

    def observed(self):
        with self._lock:
            return {"mode": self.mode, "stats": dict(self.stats, seconds=round(self.stats["seconds"], 3)),
                    "jobs": dict(self.last["jobs"]), "policies": list(self.last["policies"])}


def _public(value):
    """The job without the simulator's private bookkeeping keys."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def _node_view(node):
    if node is None:
        return None
    return {k: node.get(k) for k in ("ID", "Name", "Datacenter", "NodeClass", "NodePool", "Attributes", "Meta")}


def summary(findings):
    """One text for a failed allocation or a plan warning: each finding as '<path>: <message>'."""
    return "\n".join(f"{f['path']}: {f['message'].strip()}" for f in findings)
