#!/usr/bin/env python3
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request counts and wall time of octant.openclaw.consul_kv on the 200-key scenarios of issue 3,
measured on the lab simulator's request log.

    .venv/bin/python benchmarks/consul_modules.py [--keys 200] [--json]

Starts tools/labsim on free loopback ports (ACLs on), runs the module in-process exactly as
Ansible runs it (arguments in, JSON out), and prints per scenario the reads, writes and
transactions the simulator saw and the wall time. Exits non-zero when a count differs from the
expected economy (one read; ceil(keys / ops) transactions)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "collections")]

from tools.testsupport.labclient import LabAdmin, LabProcess, run_module  # noqa: E402

TOKEN = "5b0e7c1a-2f4d-4e8b-9a6c-3d1f0e2b7a94"




def measure(admin, label, action, expect=None):
    seq = admin.last_seq()
    start = time.perf_counter()
    results = action()
    elapsed = time.perf_counter() - start
    rows = admin.requests(service="consul", since=seq)
    reads = sum(r["method"] == "GET" for r in rows)
    writes = sum(r["method"] in ("PUT", "POST", "DELETE") for r in rows)
    txns = sum(r["path"] == "/v1/txn" for r in rows)
    failed = [r for r in results if r.get("failed")]
    row = {"scenario": label, "reads": reads, "writes": writes, "txns": txns, "requests": len(rows),
           "wall_ms": round(elapsed * 1000, 1), "changed": any(r.get("changed") for r in results),
           "failed": len(failed)}
    if expect is not None:
        row["expected"] = expect
        row["ok"] = (reads, writes) == expect and not failed
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args(argv)
    n = args.keys

    with LabProcess(acl_token=TOKEN) as lab:
        admin = LabAdmin(lab.admin_addr)
        conn = {"consul_address": lab.consul_addr, "consul_token": TOKEN}

        def tree(value, check=False, **extra):
            data = {f"agent-{i:03d}/model": f"{value}-{i}" for i in range(n)}
            return lambda: [run_module("consul_kv", dict(conn, prefix="bench/tree", tree=data, **extra), check=check)]

        run_module("consul_kv", dict(conn, key="bench/warm-up", value="x"))  # imports out of the timings

        t64 = math.ceil(n / 64)
        t128 = math.ceil(n / 128)
        rows = [
            measure(admin, f"tree {n} keys, create (txn_max_ops 64)", tree("a"), (1, t64)),
            measure(admin, f"tree {n} keys, unchanged", tree("a"), (1, 0)),
            measure(admin, f"tree {n} keys, all changed, check mode", tree("b", check=True), (1, 0)),
            measure(admin, f"tree {n} keys, all changed (txn_max_ops 64)", tree("b"), (1, t64)),
        ]
        admin.config(txn_max_ops=128)
        rows.append(measure(admin, f"tree {n} keys, all changed (txn_max_ops 128, Consul >= 1.14)",
                            tree("c", txn_max_ops=128), (1, t128)))
        admin.config(txn_max_ops=64)
        rows.append(measure(admin, f"tree {n} keys, delete_unlisted removes all but 1",
                            lambda: [run_module("consul_kv", dict(conn, prefix="bench/tree", delete_unlisted=True,
                                                                  tree={"agent-000/model": "c-0"}))],
                            (1, math.ceil((n - 1) / 64))))
        rows.append(measure(admin, f"baseline: {n} key-mode tasks, create",
                            lambda: [run_module("consul_kv", dict(conn, key=f"bench/keys/k{i:03d}", value="a"))
                                     for i in range(n)], (n, n)))
        rows.append(measure(admin, f"baseline: {n} key-mode tasks, unchanged",
                            lambda: [run_module("consul_kv", dict(conn, key=f"bench/keys/k{i:03d}", value="a"))
                                     for i in range(n)], (n, 0)))

    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["scenario"]) for r in rows)
        print(f"{'scenario':<{width}}  reads  writes  txns  requests  wall ms  check")
        for r in rows:
            verdict = "ok" if r.get("ok") else f"EXPECTED {r.get('expected')}"
            print(f"{r['scenario']:<{width}}  {r['reads']:>5}  {r['writes']:>6}  {r['txns']:>4}  {r['requests']:>8}  "
                  f"{r['wall_ms']:>7}  {verdict}")
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
