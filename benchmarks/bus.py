#!/usr/bin/env python3
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bus measured on the lab simulator (no injected latency), with the seed's 5 s polling design
side by side in the same run:

    .venv/bin/python benchmarks/bus.py [--messages 1000] [--baseline-messages 100] [--json]

Starts tools/labsim on free loopback ports (ACLs on), runs `openclaw-bus bench` logic in-process
with the lab's request log as a cross-check of the bus clients' own call counts, and prints:
requests per message for batches of 1/10/100 (txn limit 64 and 128), p50/p99 latency from send to
relay hand-off over N messages vs the polling baseline, throughput with 4 concurrent senders, and
the go/no-go checks. The baseline runs real 5 s polls on fewer messages spread over a window (each
poll costs real seconds); the latency that design has by construction is printed next to it.
Exit status 1 when the bench says no-go."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from openclaw_bus.bench import Bench, Thresholds  # noqa: E402
from tools.testsupport.labclient import LabAdmin, LabProcess  # noqa: E402

TOKEN = "2c9e4b1d-7a3f-4e6b-8d5c-0f1e2a3b4c5d"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--baseline-messages", type=int, default=100)
    parser.add_argument("--baseline-window", type=float, default=20.0)
    parser.add_argument("--json", action="store_true", help="print the full JSON report too")
    args = parser.parse_args()
    quiet = lambda line: print(f"  {line}", file=sys.stderr, flush=True)  # noqa: E731
    with LabProcess(acl_token=TOKEN) as lab:
        admin = LabAdmin(lab.admin_addr)
        report = Bench(lab.consul_addr, TOKEN, lab.admin_addr, 64, log=quiet).run(
            Thresholds(), args.messages, args.rate, args.senders, (1, 10, 100), args.baseline_messages,
            args.baseline_window, 5.0)
        admin.config(txn_max_ops=128)
        economy_128 = Bench(lab.consul_addr, TOKEN, lab.admin_addr, 128, log=quiet).economy((1, 10, 100))
    print_report(report, economy_128, args)
    if args.json:
        print(json.dumps({"report": report, "economy_txn_128": economy_128}, indent=2))
    return 0 if report["go"] else 1


def print_report(report, economy_128, args):
    print("openclaw-bus on the lab simulator (ACLs on, no injected latency)\n")
    print("Requests per message (send + receive + ack), own client counts | lab request log:")
    print(f"  {'batch':>5}  {'txn limit':>9}  {'writes':>6}  {'reads':>5}  {'txns':>4}  {'req/msg':>7}  lab (w/r/t)")
    for limit, rows in ((64, report["economy"]), (128, economy_128)):
        for row in rows:
            lab = row.get("lab", {})
            print(f"  {row['batch']:>5}  {limit:>9}  {row['write']:>6}  {row['read']:>5}  {row['txn']:>4}  "
                  f"{row['requests_per_message']:>7}  {lab.get('write')}/{lab.get('read')}/{lab.get('txn')}")
    lat, base = report["latency"], report.get("baseline")
    print(f"\nLatency send -> relay hand-off ({lat['messages']} messages at {lat['rate_per_s']:g}/s, one sender):")
    print(f"  bus:      p50 {lat['latency']['p50_ms']} ms  p90 {lat['latency']['p90_ms']} ms  "
          f"p99 {lat['latency']['p99_ms']} ms  max {lat['latency']['max_ms']} ms  "
          f"delivered {lat['delivered']}/{lat['messages']}  duplicates {lat['duplicates']}  "
          f"{lat['requests_per_message']} requests/message under load (lab: {lat.get('lab')})")
    if base:
        exp = base["expected_by_construction"]
        print(f"  baseline (poll every {base['poll_interval_s']:g} s, measured on {base['messages']} messages over "
              f"{base['window_s']:g} s, {base['polls']} polls): p50 {base['latency']['p50_ms']} ms  "
              f"p99 {base['latency']['p99_ms']} ms  delivered {base['delivered']}/{base['messages']}")
        print(f"  baseline by construction (uniform over the interval): p50 {exp['p50_ms']:g} ms  "
              f"p99 {exp['p99_ms']:g} ms")
        ratio = report.get("baseline_ratio") or {}
        print(f"  ratio baseline/bus: p50 x{ratio.get('p50')}  p99 x{ratio.get('p99')}")
    tp = report["throughput"]
    print(f"\nThroughput, {tp['senders']} concurrent senders, {tp['messages']} messages into one relayed inbox:")
    print(f"  sends {tp['send_throughput_per_s']} msg/s; delivered end to end {tp['throughput_per_s']} msg/s "
          f"({tp['end_to_end_seconds']} s); delivered {tp['delivered']}/{tp['messages']}; p50 "
          f"{tp['latency']['p50_ms']} ms p99 {tp['latency']['p99_ms']} ms under that load")
    print("\nGo/no-go:")
    for check in report["checks"]:
        print(f"  [{'ok' if check['ok'] else 'FAIL'}] {check['check']}: {check['value']} {check['op']} "
              f"{check['threshold']}")
    print(f"  => {'GO' if report['go'] else 'NO-GO'} ({report['seconds']} s)")


if __name__ == "__main__":
    sys.exit(main())
