# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bus's reliability scenarios, counted message by message on the lab simulator (ACLs on), with real
`openclaw-bus serve` processes relaying to stand-in gateways (standins.FakeGateway). Each takes a
busfarm.Farm and returns its counts with a list of problems (empty: every count adds up).
benchmarks/bus_reliability.py runs them at 1,000 messages; tests/bus runs them small (test_crash.py,
test_faults.py, test_relay.py) and asserts the same counts.

1. crash: a backlog of N messages; the relay process is SIGKILLed twice, each time while the agent is
   working on a hand-off (the worst moment: the relay cannot know whether the agent saw it), and
   restarted on the same state dir. Every message must be handed over; a message may reach the agent
   twice only when a kill interrupted that very hand-off, and then the repeat says "possible
   duplicate". The agent answers every message: each reply must reach the sender exactly once.
2. consul-outage: 4 senders, N messages at a steady rate; Consul goes down for 10 s once half are
   queued. A send gets BusUnavailable and is retried with the same message_id (the bus's idempotency
   key). Every send that returned must be delivered, none silently twice, in per-sender order.
3. gateway-outage: three agents, two gateways (a and b on one, c alone); c's stand-in gateway refuses
   connections while a and b exchange N/2 messages and write N/2 to c. c's messages wait; the others'
   are handed over during the outage; after it returns all are delivered, in per-sender order."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import requests

from openclaw_bus.mailbox import BusUnavailable  # the package __init__ put src/ on sys.path
from openclaw_bus.relay import POSSIBLE_DUPLICATE

from . import ROOT
from .labclient import free_port
from .standins import FakeGateway

GATEWAY_TOKEN = "gateway-token"


class ScenarioError(Exception):
    """The scenario could not run to its end (a process did not come up, a wait timed out)."""


def full_mesh(gateways):
    """{gateway: (node, [agent, ...])} -> a farm model where every agent may message every other one."""
    everyone = [agent for _, agents in gateways.values() for agent in agents]
    return {"agents": [{"id": agent, "gateway": gateway, "capabilities": ["test"],
                        "may_message": [other for other in everyone if other != agent]}
                       for gateway, (_, agents) in gateways.items() for agent in agents],
            "gateways": [{"name": gateway, "node": node} for gateway, (node, _) in gateways.items()]}


class BusProcess:
    """`openclaw-bus serve` for one gateway as its own process (python -m openclaw_bus, PYTHONPATH=src),
    relaying the given agents to a stand-in gateway; restartable on the same config and state dir."""

    def __init__(self, farm, workdir, gateway, node, agents, model, gateway_url, **relay):
        self.gateway = gateway
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.workdir / f"state-{gateway}"
        self.port = free_port()
        config = {
            "consul": {"address": farm.address},
            "layout": {"bus_root": farm.layout.bus_root, "registry_root": farm.layout.registry_root},
            "gateway": {"name": gateway, "node": node, "consul_token": "env:BUS_GATEWAY_TOKEN", "url": gateway_url,
                        "token": GATEWAY_TOKEN},
            "agents": [{"id": agent, "consul_token": f"env:BUS_AGENT_TOKEN_{n}", "mcp_token_sha256": "0" * 64}
                       for n, agent in enumerate(agents)],
            "model": model,
            "mcp": {"host": "127.0.0.1", "port": self.port},
            # Short waits so a test-sized run recovers in seconds; the counts do not depend on them.
            "relay": {"state_dir": str(self.state_dir), "poll_wait": 2, "backoff_initial": 0.1, "backoff_max": 1.0,
                      **relay},
            "registry": {"session_ttl": 10},
        }
        self.config_path = self.workdir / f"bus-{gateway}.json"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), BUS_GATEWAY_TOKEN=farm.gateway_tokens[gateway],
                        **{f"BUS_AGENT_TOKEN_{n}": farm.tokens[agent] for n, agent in enumerate(agents)})
        self.proc = None

    def start(self):
        with open(self.workdir / f"bus-{self.gateway}.log", "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([sys.executable, "-m", "openclaw_bus", "serve", "--config",
                                          str(self.config_path), "--log-level", "ERROR"],
                                         env=self.env, stdout=subprocess.DEVNULL, stderr=log)
        return self

    def kill(self):
        """SIGKILL: no handler runs, nothing is flushed or acknowledged on the way out."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        stop_all([self])

    def health(self, timeout=15.0):
        """The process's /healthz (relay counters per agent), waiting for it to listen."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).json()
            except requests.RequestException:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise ScenarioError(f"bus process {self.gateway} does not answer /healthz") from None
                time.sleep(0.1)

    def journal(self, agent):
        """The relay journal as the next start will read it: {"handing": ids handed over without an
        answer recorded, "answered": ids answered but not acknowledged}."""
        entries = {}
        path = self.state_dir / f"{agent}.journal"
        for line in path.read_text().splitlines() if path.exists() else []:
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a torn last line: the relay skips it too
            if row.get("acked"):
                entries.pop(row["id"], None)
            elif row.get("handing"):
                entries.setdefault(row["id"], "handing")
            elif "answer" in row:
                entries[row["id"]] = "answered"
        return {state: sorted(i for i, s in entries.items() if s == state) for state in ("handing", "answered")}


def stop_all(procs):
    """SIGTERM to every running process first, then wait for each: they shut down in parallel."""
    running = [p.proc for p in procs if p.proc is not None and p.proc.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    for proc in running:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def quiet_when_caller_is_gone(gateway):
    """The stand-in gateway answers a hand-off whose relay was SIGKILLed meanwhile: writing the answer
    fails with a broken pipe, which http.server reports with a traceback. That is the expected outcome
    here, not an error: keep stderr clean."""
    report = gateway._server.handle_error

    def handle_error(request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            report(request, client_address)

    gateway._server.handle_error = handle_error


def handoffs_of(gateway):
    with gateway.lock:
        return list(gateway.handoffs)


def tally(handoffs, sent_by_sender):
    """Counts over a stand-in gateway's hand-off records against what was sent ({sender: ids in send
    order}): delivered, lost, hand-offs beyond the first one of a message (marked "possible duplicate"
    or silent), and order violations (a message handed over, for the first time, before one its sender
    sent earlier)."""
    sent = {i for ids in sent_by_sender.values() for i in ids}
    per_id = Counter(h["message_id"] for h in handoffs)
    marked = Counter(h["message_id"] for h in handoffs if POSSIBLE_DUPLICATE in h["content"])
    first = {mid: n for n, mid in enumerate(dict.fromkeys(h["message_id"] for h in handoffs))}
    order = 0
    for ids in sent_by_sender.values():
        seen = [first[i] for i in ids if i in first]
        order += sum(1 for earlier, later in zip(seen, seen[1:], strict=False) if later < earlier)
    return {"sent": len(sent), "delivered": len(sent & per_id.keys()), "lost": len(sent - per_id.keys()),
            "handoffs": len(handoffs), "unexpected": len(per_id.keys() - sent),
            "marked_repeats": sum(marked.values()),
            # an unmarked hand-off beyond the first of its message: the agent could not tell
            "silent_duplicates": sum(max(per_id[i] - marked[i] - 1, 0) for i in per_id),
            "order_violations": order}


def sender_thread(stop, examples):
    """Decorator: the function as a thread body that records an unexpected error (instead of dying
    silently) in examples["sender_error"] and stops the other senders."""

    def wrap(function):
        def run(*args):
            try:
                function(*args)
            except Exception as exc:  # reported as a problem of the scenario
                examples.setdefault("sender_error", f"{type(exc).__name__}: {exc}")
                stop.set()

        return run

    return wrap


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise ScenarioError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def pending_of(farm, agent):
    """A function listing what waits in the agent's inbox (read with the agent's own token, one client)."""
    client = farm.consul(agent)
    return lambda: client.list(farm.layout.inbox(agent))[0]


def delivery_problems(counts, label):
    problems = []
    for key in ("lost", "silent_duplicates", "unexpected", "order_violations"):
        if counts[key]:
            problems.append(f"{label}: {key.replace('_', ' ')} {counts[key]}")
    return problems


# -- 1. relay killed with SIGKILL mid-batch ------------------------------------------------------------------
class HoldingAgent:
    """The agent behind the stand-in gateway: answers every hand-off (so a reply travels back) and at
    the chosen hand-off numbers keeps the request open until released, so the relay can be killed
    while the agent is working on that message."""

    def __init__(self, hold_at, answer="done"):
        self.hold_at = set(hold_at)
        self.answer = answer
        self.calls = 0
        self.lock = threading.Lock()
        self.holds = queue.Queue()  # (messageId, release event) of each held hand-off

    def __call__(self, agent, content, body):
        with self.lock:
            self.calls += 1
            hold = self.calls in self.hold_at
        if hold:
            release = threading.Event()
            # relay.render's first line ends with ", message <messageId>."
            self.holds.put((re.search(r", message (\S+)\.$", content.split("\n", 1)[0]).group(1), release))
            release.wait(60)
        return self.answer

    def wait_for_hold(self, proc, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.proc.poll() is None:
            try:
                return self.holds.get(timeout=0.2)
            except queue.Empty:
                continue
        raise ScenarioError(f"the relay did not reach hand-off #{sorted(self.hold_at)} (exit status "
                            f"{proc.proc.poll()}, see {proc.workdir}/bus-{proc.gateway}.log)")


def crash(farm, workdir, messages=1000, kill_at=(0.3, 0.65), timeout=120.0):
    """Scenario 1 on `farm` (tests/bus/conftest.py's Farm): a backlog of `messages`, one SIGKILL per
    fraction in `kill_at` (at that share of the hand-offs), then a last run to the end. Returns the counts
    of tally() plus the journal at each kill, the held and the marked messageIds, replies, problems."""
    sender, receiver, gateway_name = "ck-s", "ck-r", "gwk"
    model = full_mesh({gateway_name: ("jerry", [sender, receiver])})
    farm.setup(model)
    # Hand-off numbers to kill at; the second count includes the repeat the first kill causes.
    agent = HoldingAgent(round(messages * f) + n for n, f in enumerate(kill_at))
    result = {"scenario": "crash", "messages": messages, "kills": 0, "held": [], "journal_at_kills": []}
    started = time.monotonic()
    with FakeGateway(token=GATEWAY_TOKEN, answer=agent) as gateway:
        quiet_when_caller_is_gone(gateway)
        proc = BusProcess(farm, workdir, gateway_name, "jerry", [receiver], model, gateway.url)
        bus, pending = farm.bus(sender), pending_of(farm, receiver)
        sent = [bus.send(receiver, text=f"job {i}").message_id for i in range(messages)]
        try:
            for _ in kill_at:
                proc.start()
                held, release = agent.wait_for_hold(proc, timeout)
                proc.kill()
                result["kills"] += 1
                result["held"].append(held)
                # What the restarted relay will find: the interrupted hand-off, and the answered messages
                # of this batch that were not acknowledged yet (acked after the restart, not handed over).
                result["journal_at_kills"].append(proc.journal(receiver))
                release.set()  # the agent finishes: it did see this message
                wait_until(lambda h=held: h in gateway.message_ids(), 10, "the held hand-off to finish")
            proc.start()
            # An empty inbox: every message was handed over (or dead-lettered: then the tally counts it lost).
            wait_until(lambda: not pending(), timeout, "the relay to acknowledge everything")
            replies = drain_replies(bus, set(sent), timeout)
            time.sleep(1.0)  # a late repeat would show up by now
            result["relay"] = proc.health()["relay"][receiver]
        finally:
            proc.stop()
        counts = tally(handoffs_of(gateway), {sender: sent})
    marked = sorted({h["message_id"] for h in handoffs_of(gateway) if POSSIBLE_DUPLICATE in h["content"]})
    result.update(counts, replies=replies, marked_ids=marked, seconds=round(time.monotonic() - started, 1))
    interrupted = sorted(i for j in result["journal_at_kills"] for i in j["handing"])
    result["interrupted"] = len(interrupted)
    result["answered_unacked_at_kills"] = sum(len(j["answered"]) for j in result["journal_at_kills"])
    problems = delivery_problems(counts, "crash")
    if result["kills"] != len(kill_at):
        problems.append(f"crash: {result['kills']} kills instead of {len(kill_at)}")
    # Exactly the interrupted hand-offs are repeated, each once and marked; nothing else twice.
    if interrupted != sorted(result["held"]) or marked != interrupted:
        problems.append(f"crash: held {result['held']}, interrupted per journal {interrupted}, marked {marked}")
    if counts["handoffs"] != messages + len(interrupted):
        problems.append(f"crash: {counts['handoffs']} hand-offs for {messages} messages and "
                        f"{len(interrupted)} interrupted hand-offs")
    if replies["received"] != messages or replies["silent_duplicates"] or replies["unexpected"]:
        problems.append(f"crash: replies {replies}")
    result["problems"] = problems
    return result


def drain_replies(bus, request_ids, timeout):
    """Collect (and acknowledge) the replies in the sender's inbox until one per request arrived."""
    inbox, got, dropped = bus.inbox(), Counter(), 0
    deadline = time.monotonic() + timeout
    while not request_ids <= got.keys() and time.monotonic() < deadline:
        batch = inbox.receive(wait=1, max_ops=inbox.txn_max_ops)
        got.update(m.reply_to for m in batch.messages)
        dropped += len(batch.duplicates)  # a reply re-sent after a restart, dropped by the bus
        done, dead = batch.housekeeping()
        inbox.ack([*batch.messages, *done], dead)
    return {"received": len(request_ids & got.keys()), "dropped_duplicates": dropped,
            "silent_duplicates": sum(n - 1 for n in got.values()), "unexpected": len(got.keys() - request_ids)}


# -- 2. Consul down in the middle ----------------------------------------------------------------------------
def consul_outage(farm, lab, workdir, messages=1000, senders=4, outage=10.0, rate=100.0, timeout=120.0):
    """Scenario 2: `senders` threads send `messages` in all at `rate` per second; the lab's Consul (`lab`, a
    LabAdmin) goes down for `outage` seconds once half are queued. Returns tally() counts of what the
    sends acknowledged, the BusUnavailable answers by kind, the receiver's dropped duplicates, problems."""
    receiver, gateway_name = "co-r", "gwo"
    names = [f"co-s{n}" for n in range(senders)]
    model = full_mesh({gateway_name: ("jerry", [*names, receiver])})
    farm.setup(model)
    lock = threading.Lock()
    queued = {name: [] for name in names}  # sender -> messageIds whose send returned, in order
    refused = Counter()         # "not_queued" / "unknown" BusUnavailable answers, each followed by a retry
    examples = {}
    stop = threading.Event()
    result = {"scenario": "consul-outage", "messages": messages, "senders": senders, "outage_s": outage}

    @sender_thread(stop, examples)
    def send_all(agent, count):
        bus = farm.bus(agent)
        interval, begin = senders / rate, time.monotonic()
        for i in range(count):
            pause = begin + i * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            message_id = f"{agent}.{i}.{uuid.uuid4().hex[:8]}"
            while not stop.is_set():  # until sent; the else below: the scenario was stopped
                try:
                    bus.send(receiver, text=f"{agent} {i}", message_id=message_id)
                    break
                except BusUnavailable as exc:
                    # Retryable by contract. The same message_id makes a retry safe even when the first
                    # attempt's outcome was unknown: the receiver drops the second copy.
                    kind = "not_queued" if "NOT queued" in str(exc) else "unknown"
                    with lock:
                        refused[kind] += 1
                        examples.setdefault(kind, str(exc))
                    time.sleep(0.5)
            else:
                return
            with lock:
                queued[agent].append(message_id)

    started = time.monotonic()
    with FakeGateway(token=GATEWAY_TOKEN, answer="NO_REPLY") as gateway:
        proc = BusProcess(farm, workdir, gateway_name, "jerry", [receiver], model, gateway.url).start()
        threads = [threading.Thread(target=send_all, args=(name, messages // senders + (n < messages % senders)),
                                    daemon=True) for n, name in enumerate(names)]
        try:
            proc.health()
            for thread in threads:
                thread.start()
            wait_until(lambda: sum(map(len, queued.values())) >= messages // 2, timeout, "half the messages queued")
            result["queued_before_outage"] = sum(map(len, queued.values()))
            lab.service("consul", False)  # closes the listener and resets the open connections
            down_at = time.time()         # (service() returns once the listener is closed)
            time.sleep(outage)
            lab.service("consul", True)
            up_at = time.time()
            result["handed_over_during_outage"] = sum(1 for h in handoffs_of(gateway) if down_at < h["time"] < up_at)
            for thread in threads:
                thread.join(timeout)
            pending = pending_of(farm, receiver)
            wait_until(lambda: not pending(), timeout, "the relay to acknowledge everything")
            result["recovered_s"] = round(max(h["time"] for h in handoffs_of(gateway)) - up_at, 1)
            time.sleep(1.0)  # a late repeat would show up by now
            result["relay"] = proc.health()["relay"][receiver]
        finally:
            stop.set()
            if not lab.api.get("/_lab/health").json()["services"]["consul"]:
                lab.service("consul", True)
            proc.stop()
        counts = tally(handoffs_of(gateway), queued)
    result.update(counts, refused=dict(refused), examples=examples, seconds=round(time.monotonic() - started, 1))
    result["queued"] = counts["sent"]
    result["dropped_duplicates"] = result["relay"].get("duplicates", 0)
    problems = delivery_problems(counts, "consul-outage")
    if "sender_error" in examples:
        problems.append(f"consul-outage: a sender failed: {examples['sender_error']}")
    if counts["sent"] != messages:
        problems.append(f"consul-outage: {counts['sent']} of {messages} sends returned")
    if not refused:
        problems.append("consul-outage: no send noticed the outage")
    # Every entry the receiver dropped as a duplicate must come from a send whose outcome was reported
    # as unknown; one more means a send said "NOT queued" although the message was queued.
    if result["dropped_duplicates"] > refused["unknown"]:
        problems.append(f"consul-outage: the receiver dropped {result['dropped_duplicates']} duplicate entries, "
                        f"but only {refused['unknown']} sends reported an unknown outcome")
    result["problems"] = problems
    return result


# -- 3. one agent's gateway down while the others talk --------------------------------------------------------
def gateway_outage(farm, workdir, messages=1000, rate=200.0, timeout=120.0):
    """Scenario 3: with go-c's stand-in gateway down, go-a and go-b each send messages/2 at `rate`/2 per
    second, alternately to each other and to go-c; then go-c's gateway returns. Returns tally() counts for
    the conversation ("peers") and for go-c ("to_c"), what waited, go-c's relay counters, problems."""
    a, b, c = "go-a", "go-b", "go-c"
    # a and b share a gateway (and a bus process); c has its own, and that one goes down.
    layout = {"gwab": ("jerry", [a, b]), "gwc": ("billy", [c])}
    model = full_mesh(layout)
    farm.setup(model)
    result = {"scenario": "gateway-outage", "messages": messages, "down": c}
    started = time.monotonic()
    gateways = {name: FakeGateway(token=GATEWAY_TOKEN, answer="NO_REPLY").start() for name in layout}
    gateways["gwc"].stop()  # down from the start: its port refuses connections until start() again
    procs = [BusProcess(farm, workdir, name, node, agents, model, gateways[name].url)
             for name, (node, agents) in layout.items()]
    sent = {(x, y): [] for x in (a, b) for y in (a, b, c) if x != y}  # (sender, recipient) -> ids in send order
    stop, errors = threading.Event(), {}

    @sender_thread(stop, errors)
    def send_all(agent, peer, count):
        bus = farm.bus(agent)
        interval, begin = 2 / rate, time.monotonic()
        for i in range(count):
            if stop.is_set():
                return
            pause = begin + i * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            to = peer if i % 2 == 0 else c  # the conversation and the waiting agent, interleaved
            sent[(agent, to)].append(bus.send(to, text=f"{agent} -> {to} {i}").message_id)

    def handed(agent):
        return [h for h in handoffs_of(gateways["gwc" if agent == c else "gwab"]) if h["agent"] == agent]

    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.health()
        down_at = time.time()
        threads = [threading.Thread(target=send_all, args=(agent, peer, messages // 2 + (agent == a) * (messages % 2)))
                   for agent, peer in ((a, b), (b, a))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)
        if errors:
            raise ScenarioError(f"a sender failed: {errors['sender_error']}")
        pending_ab = pending_of(farm, a), pending_of(farm, b)
        wait_until(lambda: not any(p() for p in pending_ab), timeout,
                   f"{a} and {b} to get their messages while {c}'s gateway is down")
        time.sleep(1.0)  # the waiting agent's relay keeps probing its gateway meanwhile
        pending = pending_of(farm, c)
        result["pending_while_down"] = len(pending())
        up_at = time.time()
        gateways["gwc"].start()
        wait_until(lambda: not pending(), timeout, f"{c} to get its messages after its gateway returned")
        result["recovered_s"] = round(max((h["time"] for h in handed(c)), default=up_at) - up_at, 1)
        time.sleep(1.0)  # a late repeat would show up by now
        result["relay_c"] = procs[1].health()["relay"][c]
    finally:
        stop.set()
        stop_all(procs)
        for gateway in gateways.values():
            gateway.stop()
    exchange = handed(a) + handed(b)
    result["peers"] = tally(exchange, {a: sent[(a, b)], b: sent[(b, a)]})
    result["peers"]["during_outage"] = sum(1 for h in exchange if down_at <= h["time"] < up_at)
    result["to_c"] = tally(handed(c), {a: sent[(a, c)], b: sent[(b, c)]})
    result["to_c"]["during_outage"] = sum(1 for h in handed(c) if h["time"] < up_at)
    result["seconds"] = round(time.monotonic() - started, 1)
    problems = delivery_problems(result["peers"], f"{a}<->{b}") + delivery_problems(result["to_c"], f"to {c}")
    if result["peers"]["during_outage"] != result["peers"]["sent"]:
        problems.append(f"{a}<->{b}: {result['peers']['during_outage']} of {result['peers']['sent']} handed over "
                        f"during the outage")
    if result["pending_while_down"] != result["to_c"]["sent"] or result["to_c"]["during_outage"]:
        problems.append(f"to {c}: {result['pending_while_down']} waiting and {result['to_c']['during_outage']} "
                        f"handed over while its gateway was down, of {result['to_c']['sent']}")
    if result["relay_c"].get("dead"):
        problems.append(f"to {c}: {result['relay_c']['dead']} dead-lettered")
    result["problems"] = problems
    return result
