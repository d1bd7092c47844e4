"""The harness of the playbook tests: the lab simulator with ACLs on, a data root, 1Password faked
at Client.authenticate inside ansible-playbook (the sitecustomize shim of
test_onepassword_playbook), and every run with the requests the simulator saw during it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.test_onepassword_playbook import FAKE, SITECUSTOMIZE
from tools.testsupport.labclient import Api, LabAdmin, LabProcess

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WRITE_METHODS = ("PUT", "POST", "DELETE", "PATCH")


class Run:
    """One ansible-playbook run: its output and the simulator requests made during it."""

    def __init__(self, result, requests, seconds, args):
        self.result = result
        self.output = result.stdout + result.stderr
        self.requests = requests
        self.seconds = seconds
        self.args = args

    @property
    def recap(self):
        pattern = r"jerry\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
        match = re.search(pattern, self.result.stdout)
        assert match, self.result.stdout[-3000:]
        return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()), strict=True))

    def writes(self):
        """Writes to Nomad and Consul (a job plan is a read)."""
        return [(r["service"], r["method"], r["path"]) for r in self.requests
                if r["method"] in WRITE_METHODS and not r["path"].endswith("/plan")]

    def summary(self):
        """One line of the module's report: how long, which arguments, how many requests and writes."""
        return (f"{self.seconds:6.1f}s {' '.join(self.args) or '(plain)':30} requests={len(self.requests)} "
                f"writes={len(self.writes())}")

    def counts(self):
        counts = {}
        for r in self.requests:
            key = f"{r['service']} {r['method']} {r['path']}"
            counts[key] = counts.get(key, 0) + 1
        return counts


class Farm:
    """The lab, the data root, the fake vault and the runs made so far."""

    playbook = "playbooks/phase2.yml"
    run_class = Run
    timeout = 600
    # Where ansible-playbook runs, and environment on top of the lab's (an installed collection: see
    # test_galaxy_build).
    cwd = ROOT
    env_overrides = {}

    def __init__(self, base, acl, op_token, secrets):
        self.base = base
        self.acl = acl
        self.op_token = op_token
        self.data = base / "data"
        self.shim = base / "shim"
        self.shim.mkdir()
        (self.shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
        self.calls = base / "op-calls.jsonl"
        self.spec = base / "vault.json"
        self.spec.write_text(json.dumps({"token": op_token, "secrets": secrets, "log": str(self.calls)}))
        self.lab = LabProcess(acl_token=acl, extra_args=["--time-scale", "0.02"])
        self.runs = []

    def start(self):
        self.lab.start()
        self.admin = LabAdmin(self.lab.admin_addr)
        self.nomad = Api(self.lab.nomad_addr, self.acl, "X-Nomad-Token")
        self.consul = Api(self.lab.consul_addr, self.acl, "X-Consul-Token")
        return self

    def variables(self):
        """Extra vars of every run: the data root under the test's folder, secrets from the fake vault."""
        return {"openclaw_data_root": str(self.data),
                "data_root_fact_file": str(self.data / "facts.d" / "octant_openclaw.fact"),
                "openclaw_lab_fake_secrets": False,
                "openclaw_dns_servers": ["10.88.0.53"]}

    def run(self, *args, playbook=None, extra=None, check=True, inventory="inventory/lab", env=None):
        """ansible-playbook in a session of its own (a test may SIGKILL its whole process group); env adds
        to the environment."""
        extra_env = env or {}
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PATH=f"{BIN}:{os.environ['PATH']}",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(self.shim), os.environ.get("PYTHONPATH")])),
                   OCTANT_FAKE_OP_SPEC=str(self.spec), OCTANT_FAKE_OP_MODULE=str(FAKE),
                   OP_SERVICE_ACCOUNT_TOKEN=self.op_token, NOMAD_TOKEN=self.acl, CONSUL_HTTP_TOKEN=self.acl,
                   LAB_NOMAD_PORT=str(self.lab.nomad_port), LAB_CONSUL_PORT=str(self.lab.consul_port))
        for name in ("LAB_LITELLM_PORT", "NOMAD_ADDR", "CONSUL_HTTP_ADDR"):
            env.pop(name, None)
        env.update(self.env_overrides)
        env.update(extra_env)
        variables = self.variables()
        variables.update(extra or {})
        command = [str(BIN / "ansible-playbook"), "-i", inventory, playbook or self.playbook,
                   "-e", json.dumps(variables), *args]
        since = self.admin.last_seq()
        started = time.monotonic()
        result = subprocess.run(command, cwd=self.cwd, env=env, capture_output=True, text=True,
                                timeout=self.timeout, check=False, start_new_session=True)
        run = self.run_class(result, self.admin.requests(since=since), time.monotonic() - started, args)
        self.runs.append(run)
        if check:
            output = f"{result.stdout[-8000:]}\n{result.stderr[-3000:]}"
            assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
        return run

    def print_runs(self, title):
        """Print every run of the module (seen with pytest -s or on failure): the counts behind the tests."""
        print(f"\n{title} runs (seconds, arguments, requests, writes):")
        for run in self.runs:
            print(f"  {run.summary()}")

    def op_calls(self):
        if not self.calls.exists():
            return []
        return [json.loads(line) for line in self.calls.read_text().splitlines()]
