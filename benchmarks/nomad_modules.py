#!/usr/bin/env python3
"""Request counts and wall time of the Nomad modules against the lab simulator.

    python benchmarks/nomad_modules.py            # (or .venv/bin/python ...)

Starts tools/labsim on free loopback ports, runs nomad_job, nomad_job_info and nomad_variable
in-process (exactly as Ansible runs a module's main()), and prints, per scenario, the requests
the simulator logged (by kind) and the wall time. Exits non-zero when a counted-economy target
of the issue is missed:
  - nomad_job re-run with no change: exactly 1 plan request, 0 register requests
  - nomad_job wait on a deployment that turns healthy after 5 s: at most 4 deployment requests
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "collections")]

from tools.testsupport.labclient import LabAdmin, LabProcess, run_module  # noqa: E402

TOKEN = "b7d2e4c1-8f3a-4b6e-9c0d-1a2b3c4d5e6f"




def kind(row):
    method, path = row["method"], row["path"]
    if path.endswith("/plan"):
        return "plan"
    if method == "POST" and path == "/v1/jobs":
        return "register"
    if path.startswith("/v1/deployment/") or path.endswith("/deployment"):
        return "deployment"
    if path.endswith("/allocations"):
        return "allocations"
    if path.startswith("/v1/var/"):
        return "var-read" if method == "GET" else "var-write"
    if method == "DELETE":
        return "deregister"
    return f"{method} {path.split('?')[0]}"


def job(name, image="docker.io/library/busybox:1.36", count=2, auto_revert=True):
    return {"ID": name, "Type": "service", "Datacenters": ["*"],
            "TaskGroups": [{"Name": "web", "Count": count,
                            "Update": {"MaxParallel": 1, "AutoRevert": auto_revert, "HealthCheck": "task_states"},
                            "Tasks": [{"Name": "app", "Driver": "podman",
                                       "Config": {"image": image, "command": "sleep", "args": ["3600"]},
                                       "Resources": {"CPU": 100, "MemoryMB": 64}}]}]}


class Bench:
    def __init__(self, lab, admin):
        self.base = {"nomad_address": lab.nomad_addr, "nomad_token": TOKEN}
        self.admin = admin
        self.rows = []

    def measure(self, title, module, args, check=False, diff=False):
        since = self.admin.last_seq()
        started = time.monotonic()
        result = run_module(module, dict(self.base, **args), check=check, diff=diff)
        elapsed = time.monotonic() - started
        counts = {}
        for row in self.admin.requests(service="nomad", since=since):
            counts[kind(row)] = counts.get(kind(row), 0) + 1
        outcome = "failed" if result.get("failed") else ("changed" if result.get("changed") else "ok")
        self.rows.append((title, outcome, counts, elapsed))
        return result, counts, elapsed

    def report(self):
        width = max(len(r[0]) for r in self.rows)
        print(f"{'scenario'.ljust(width)}  {'result':8} {'wall s':>7}  requests")
        for title, outcome, counts, elapsed in self.rows:
            text = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"
            print(f"{title.ljust(width)}  {outcome:8} {elapsed:7.2f}  {sum(counts.values())}: {text}")


def main():
    failures = []
    with LabProcess(acl_token=TOKEN) as lab:
        admin = LabAdmin(lab.admin_addr)
        bench = Bench(lab, admin)
        name = f"bench-{uuid.uuid4().hex[:6]}"

        bench.measure("nomad_job create (no wait)", "nomad_job", {"job": job(name)})
        _, counts, _ = bench.measure("nomad_job re-run, no change", "nomad_job", {"job": job(name)})
        if counts.get("plan") != 1 or counts.get("register", 0) != 0 or sum(counts.values()) != 1:
            failures.append(f"re-run with no change: expected 1 plan and 0 register, got {counts}")
        _, counts, _ = bench.measure("nomad_job change, check mode", "nomad_job",
                                     {"job": job(name, image="docker.io/library/busybox:1.37")}, check=True,
                                     diff=True)
        if counts.get("register") or counts.get("deregister"):
            failures.append(f"check mode wrote: {counts}")

        admin.config(time_scale=0.5)  # the job's min_healthy_time 10 s -> 5 s
        result, counts, elapsed = bench.measure(
            "nomad_job change + wait (healthy after 5 s)", "nomad_job",
            {"job": job(name, image="docker.io/library/busybox:1.37"), "wait": True, "wait_timeout": 120})
        if result.get("failed") or counts.get("deployment", 0) > 4:
            failures.append(f"wait on a 5 s deployment: expected <= 4 deployment requests and success, got "
                            f"{counts} ({result.get('msg', 'ok')})")
        admin.config(time_scale=0.01)  # a failing deployment is judged at healthy_deadline: 5 min -> 3 s

        admin.fail_next_deployment(name)
        result, _, _ = bench.measure("nomad_job change + wait, deployment fails", "nomad_job",
                                     {"job": job(name, image="docker.io/library/busybox:1.38"), "wait": True})
        if not result.get("rolled_back"):
            failures.append(f"failed deployment: auto-revert not reported: {result.get('msg')}")
        failed_message = result.get("msg")

        bench.measure("nomad_job_info one job", "nomad_job_info", {"name": name})
        bench.measure("nomad_job_info prefix list", "nomad_job_info", {"prefix": "bench-"})
        bench.measure("nomad_job absent (stop)", "nomad_job", {"name": name, "state": "absent"})
        _, counts, _ = bench.measure("nomad_job absent, missing job", "nomad_job",
                                     {"name": f"missing-{name}", "state": "absent"})
        if sum(counts.values()) != 1:
            failures.append(f"absent on a missing job: expected 1 request, got {counts}")

        path = f"nomad/jobs/{name}"
        items = {f"KEY_{i}": f"value-{i}-{uuid.uuid4().hex}" for i in range(20)}
        bench.measure("nomad_variable create (20 items)", "nomad_variable", {"path": path, "items": items})
        _, counts, _ = bench.measure("nomad_variable re-run, no change", "nomad_variable",
                                     {"path": path, "items": items})
        if counts != {"var-read": 1}:
            failures.append(f"variable re-run with no change: expected 1 read and 0 writes, got {counts}")
        bench.measure("nomad_variable change 1 item", "nomad_variable",
                      {"path": path, "items": dict(items, KEY_0="changed")}, diff=True)
        bench.report()
        print()
        print(f"failed deployment message: {failed_message}")
    if failures:
        print("\nTARGETS MISSED:\n  " + "\n  ".join(failures))
        return 1
    print("\nall counted-economy targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
