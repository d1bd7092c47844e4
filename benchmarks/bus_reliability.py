#!/usr/bin/env python3
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openclaw-bus reliability, counted message by message on the lab simulator (ACLs on), with real
`openclaw-bus serve` processes relaying to stand-in gateways:

    .venv/bin/python benchmarks/bus_reliability.py [--messages 1000] [--outage 10] [--json]

Runs the three scenarios of tools/testsupport/reliability.py, which says what each does and counts:
crash (the relay SIGKILLed twice mid hand-off), consul-outage (Consul down while 4 senders send) and
gateway-outage (one agent's gateway refuses connections).

Prints a table of counts and the wall time per scenario; exit status 1 when a message is lost or is
handed over twice without the mark, or another count does not add up. tests/bus runs the same
scenarios small (test_crash.py, test_faults.py, test_relay.py) and asserts the same counts."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.testsupport.busfarm import MANAGEMENT_TOKEN, Farm  # noqa: E402
from tools.testsupport.labclient import LabAdmin, LabProcess  # noqa: E402
from tools.testsupport.reliability import consul_outage, crash, gateway_outage  # noqa: E402


# -- the report -----------------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=10.0, help="seconds Consul stays down (scenario 2)")
    parser.add_argument("--rate", type=float, default=100.0, help="messages/s of the senders in scenario 2")
    parser.add_argument("--json", action="store_true", help="print the full JSON results too")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bus-reliability-"))  # configs, relay state dirs, process logs
    results = []
    with LabProcess(acl_token=MANAGEMENT_TOKEN) as lab_process:
        lab = LabAdmin(lab_process.admin_addr)
        runs = (("crash", lambda farm: crash(farm, workdir / "crash", args.messages)),
                ("consul-outage", lambda farm: consul_outage(farm, lab, workdir / "consul", args.messages,
                                                             outage=args.outage, rate=args.rate)),
                ("gateway-outage", lambda farm: gateway_outage(farm, workdir / "gateway", args.messages)))
        for name, run in runs:
            farm = Farm(lab_process, f"rel{uuid.uuid4().hex[:8]}")
            print(f"  running {name} ...", file=sys.stderr, flush=True)
            try:
                results.append(run(farm))
            except Exception as exc:  # a scenario that cannot finish is a failed measurement, not a crash
                results.append({"scenario": name, "problems": [f"{name}: {type(exc).__name__}: {exc}"]})
            finally:
                farm.close()
    print_report(results)
    failed = any(r["problems"] for r in results)
    if failed:
        print(f"configs, relay journals and process logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0


def print_report(results):
    print("openclaw-bus reliability on the lab simulator (ACLs on), real `openclaw-bus serve` relay processes")
    print(f"command: {shlex.join(['.venv/bin/python', 'benchmarks/bus_reliability.py', *sys.argv[1:]])}\n")
    print(f"  {'scenario':<16} {'sent':>5} {'delivered':>9} {'lost':>4} {'hand-offs':>9} {'marked':>6} "
          f"{'silent dup':>10} {'order':>5} {'wall s':>6}")
    for r in results:
        for n, (label, c) in enumerate(_rows(r)):
            print(f"  {label:<16} {c['sent']:>5} {c['delivered']:>9} {c['lost']:>4} {c['handoffs']:>9} "
                  f"{c['marked_repeats']:>6} {c['silent_duplicates']:>10} {c['order_violations']:>5} "
                  f"{r['seconds'] if n == 0 else '':>6}")
    print("  marked: hand-offs repeated with \"possible duplicate\" in the text the agent reads; silent dup:")
    print("  repeated without it; order: messages handed over before one their sender sent earlier\n")
    for r in results:
        if "seconds" in r:
            print(DETAILS[r["scenario"]](r))
    problems = [p for r in results for p in r["problems"]]
    print("\n" + ("OK: nothing lost, nothing handed over twice without the mark, every count adds up"
                  if not problems else "FAIL:\n  " + "\n  ".join(problems)))
    sys.stdout.flush()


def _rows(r):
    if "seconds" not in r:
        return []
    if r["scenario"] == "gateway-outage":
        return [(f"gw-out to {r['down']}", r["to_c"]), ("gw-out others", r["peers"])]
    return [(r["scenario"], r)]


def _crash_details(r):
    j, replies = r["journal_at_kills"], r["replies"]
    return (f"crash: SIGKILL x{r['kills']}, each while the agent held a hand-off open. Relay journal at the kills: "
            f"{[len(x['handing']) for x in j]} hand-off(s) interrupted, {[len(x['answered']) for x in j]} answered "
            f"but not acknowledged. Hand-offs beyond one per message: {r['handoffs'] - r['delivered']}, marked: "
            f"{r['marked_repeats']} (the interrupted ones: {'yes' if r['marked_ids'] == sorted(r['held']) else 'NO'})."
            f"\n  Replies back to the sender: {replies['received']}/{r['messages']}, silent duplicates "
            f"{replies['silent_duplicates']}, re-sent copies dropped by the bus {replies['dropped_duplicates']}.")


def _consul_details(r):
    refused = r["refused"]
    lines = [f"consul-outage: {r['senders']} senders at {r['messages']} messages; Consul down {r['outage_s']:g} s "
             f"after {r['queued_before_outage']} were queued ({r['handed_over_during_outage']} handed over meanwhile)."
             f"\n  Sends refused \"NOT queued\" and retried: {refused.get('not_queued', 0)}; outcome unknown and "
             f"retried with the same message_id: {refused.get('unknown', 0)}; copies dropped by the receiver as "
             f"duplicates: {r['dropped_duplicates']}; last message handed over {r['recovered_s']} s after Consul "
             f"returned."]
    lines += [f"  {kind}: {text[:220]}" for kind, text in sorted(r["examples"].items())]
    return "\n".join(lines)


def _gateway_details(r):
    peers, to_c, relay = r["peers"], r["to_c"], r["relay_c"]
    return (f"gateway-outage: {r['down']}'s gateway refused connections while the two others exchanged "
            f"{peers['sent']} messages, {peers['during_outage']} handed over during the outage.\n  To {r['down']}: "
            f"{to_c['sent']} sent, {r['pending_while_down']} waiting in its inbox and {to_c['during_outage']} handed "
            f"over while down, {relay.get('failed', 0)} failed attempts (one message per round), "
            f"{relay.get('dead', 0)} dead-lettered; {to_c['delivered']} delivered, the last {r['recovered_s']} s "
            f"after it returned.")


DETAILS = {"crash": _crash_details, "consul-outage": _consul_details, "gateway-outage": _gateway_details}


if __name__ == "__main__":
    sys.exit(main())
