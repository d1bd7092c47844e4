#!/usr/bin/env python3
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alert latency of `openclaw-bus watch`: three watchers (one per lab node, real processes, ACLs on) and an
Apprise json:// endpoint on loopback. Each incident marks a node down in the lab (the next node each time),
waits for its notification, marks the node up and waits for the recovery:

    .venv/bin/python benchmarks/watch_latency.py [--incidents 10] [--grace 5] [--json]

Prints per incident the seconds from the fault to the notification, the same minus the grace period (what the
watchers add), the seconds from the node's return to the recovery message, and who sent; then min/median/max.
Exit status 1 when an incident got no notification within grace + 10 s or more than one."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tools.testsupport.labclient import Api, LabAdmin, LabProcess  # noqa: E402
from tools.testsupport.watchlab import Receiver, Watchers  # noqa: E402

TOKEN = "5e2b9c1d-8a7f-4e3b-b6d0-2c9a1f4e7b38"
NODES = ("jerry", "bobby", "billy")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10)
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows, failed = [], False
    with LabProcess(acl_token=TOKEN) as lab, tempfile.TemporaryDirectory() as logs:
        admin, consul, receiver = LabAdmin(lab.admin_addr), Api(lab.consul_addr, TOKEN, "X-Consul-Token"), Receiver()
        watchers = Watchers(lab, TOKEN, receiver.url, NODES, args.grace, logs)
        try:
            if not watchers.wait_leader(consul):
                sys.exit("no watcher took the lock")
            for n in range(args.incidents):
                node = NODES[n % len(NODES)]
                seen = len(receiver.messages())
                down = time.monotonic()
                admin.node(node, False)
                got = receiver.wait_for(seen + 1, args.grace + 10)
                problem = got[seen] if len(got) > seen else None
                time.sleep(0.5)  # a second notification would show up here
                extra = len(receiver.messages()) - seen - 1
                up = time.monotonic()
                admin.node(node, True)
                got = receiver.wait_for(seen + 2, 30)
                recovery = got[seen + 1] if len(got) > seen + 1 and extra == 0 else None
                row = {"incident": n + 1, "node": node,
                       "notified_s": round(problem["at"] - down, 3) if problem else None,
                       "added_s": round(problem["at"] - down - args.grace, 3) if problem else None,
                       "recovery_s": round(recovery["at"] - up, 3) if recovery else None,
                       "sender": problem["message"].rsplit("on ", 1)[1].rstrip(".") if problem else None,
                       "extra": extra}
                failed |= problem is None or problem["at"] - down > args.grace + 10 or extra != 0
                rows.append(row)
                time.sleep(0.5)
        finally:
            watchers.stop()
            receiver.stop()
    notified = [r["notified_s"] for r in rows if r["notified_s"] is not None]
    summary = {"grace_s": args.grace, "incidents": len(rows), "notified": len(notified),
               "min_s": min(notified, default=None), "median_s": statistics.median(notified) if notified else None,
               "max_s": max(notified, default=None)}
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=2))
    else:
        print(f"{'#':>3} {'node':6} {'fault->alert s':>15} {'minus grace s':>14} {'up->recovery s':>15}  sender")
        for r in rows:
            print(f"{r['incident']:>3} {r['node']:6} {r['notified_s']!s:>15} {r['added_s']!s:>14} "
                  f"{r['recovery_s']!s:>15}  {r['sender']}{'  EXTRA ' + str(r['extra']) if r['extra'] else ''}")
        print(f"grace {args.grace:g} s; {summary['notified']}/{summary['incidents']} notified; fault->alert "
              f"min {summary['min_s']} s, median {summary['median_s']} s, max {summary['max_s']} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
