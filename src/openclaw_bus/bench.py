# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`openclaw-bus bench`: measure the bus against a Consul address and decide go/no-go.

Phases (all under a throwaway prefix `openclaw-bench/<run>/`, deleted at the end):
- economy: requests per message for batches of 1, 10 and 100 (send, one consumer's receive + ack);
- latency: N messages at a steady rate from one sender, handed over by a real relay to a local
  stand-in gateway (sink.GatewaySink, answering NO_REPLY so it measures the bus, not a model):
  latency from the send call to the hand-off, p50/p90/p99/max, delivery ratio, requests per message;
- throughput: K concurrent senders as fast as they can into one relayed inbox;
- baseline: the seed's design, an agent polling its inbox every `poll_interval` seconds (5 s), on a
  smaller number of messages spread over a window, because each real poll costs real seconds; the
  report also gives the latency that design has by construction (uniform over the interval).

Requests are counted from the bus clients' own HTTP calls (a live cluster has no request log) and,
with --lab-admin, cross-checked against the lab simulator's /_lab/requests."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass

import requests

from .consul import Consul
from .envelope import Layout
from .mailbox import AgentBus
from .relay import AgentRelay, ChatCompletionsTarget, Relay
from .sink import GatewaySink


@dataclass
class Thresholds:
    max_p50_ms: float = 1000.0
    max_p99_ms: float = 5000.0           # the seed's target: A2A < 5 s end to end
    min_delivery_ratio: float = 0.999    # the seed's target: delivery > 99.9 %
    min_throughput: float = 20.0         # messages/s end to end with the concurrent senders
    max_requests_per_message: float = 3.0


def percentile(values, pct):
    """Nearest-rank percentile of a list (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(int(-(-pct * len(ordered) // 100)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(latencies):
    ms = [v * 1000 for v in latencies]
    return {"count": len(ms), "p50_ms": _round(percentile(ms, 50)), "p90_ms": _round(percentile(ms, 90)),
            "p99_ms": _round(percentile(ms, 99)), "max_ms": _round(max(ms) if ms else None),
            "mean_ms": _round(sum(ms) / len(ms) if ms else None)}


def _round(value):
    return None if value is None else round(value, 2)


class LabLog:
    """The lab simulator's request log (only with --lab-admin)."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def rows(self, since):
        response = requests.get(f"{self.url}/_lab/requests", params={"since": since, "service": "consul"}, timeout=30)
        response.raise_for_status()
        return response.json()

    def last_seq(self):
        response = requests.get(f"{self.url}/_lab/requests", params={"service": "consul"}, timeout=30)
        response.raise_for_status()
        rows = response.json()
        return rows[-1]["seq"] if rows else 0

    def count(self, since):
        out = {"write": 0, "read": 0, "txn": 0, "other": 0}
        for row in self.rows(since):
            if row["path"] == "/v1/txn":
                out["txn"] += 1
            elif row["path"].startswith("/v1/kv/"):
                out["read" if row["method"] == "GET" else "write"] += 1
            else:
                out["other"] += 1
        return out


class Bench:
    def __init__(self, address, token=None, lab_admin=None, txn_max_ops=64, prefix=None, log=print):
        self.address = address
        self.token = token
        self.lab = LabLog(lab_admin) if lab_admin else None
        self.txn_max_ops = txn_max_ops
        self.root = prefix or f"openclaw-bench/{uuid.uuid4().hex[:8]}"
        self.layout = Layout(f"{self.root}/bus", f"{self.root}/registry")
        self.log = log
        self.clients = []

    def _bus(self, agent):
        client = Consul(self.address, self.token, timeout=30)
        self.clients.append(client)
        return AgentBus(client, agent, gateway="bench", layout=self.layout, txn_max_ops=self.txn_max_ops)

    def _counts(self, buses, before):
        out = {"write": 0, "read": 0, "txn": 0}
        for bus in buses:
            for kind in out:
                out[kind] += bus.consul.stats.get(kind, 0) - before.get((id(bus), kind), 0)
        return out

    @staticmethod
    def _snapshot(buses):
        return {(id(b), k): b.consul.stats.get(k, 0) for b in buses for k in ("write", "read", "txn")}

    # -- economy -----------------------------------------------------------------------------------------
    def economy(self, batches=(1, 10, 100)):
        rows = []
        for size in batches:
            sender, receiver = self._bus("eco-s"), self._bus(f"eco-r{size}")
            sender.send(receiver.agent, text="warm-up")
            inbox = receiver.inbox()
            inbox.ack(inbox.receive(wait=0).messages)
            buses = [sender, receiver]
            before = self._snapshot(buses)
            since = self.lab.last_seq() if self.lab else None
            for i in range(size):
                sender.send(receiver.agent, text=f"m{i}")
            got = wakeups = 0
            while got < size:
                batch = inbox.receive(wait=10, max_ops=inbox.txn_max_ops)
                if batch.messages:
                    wakeups += 1
                    inbox.ack(batch.messages)
                    got += len(batch.messages)
            own = self._counts(buses, before)
            row = {"batch": size, "messages": size, "consumer_batches": wakeups, **own,
                   "requests_per_message": round(sum(own.values()) / size, 3)}
            if self.lab:
                row["lab"] = self.lab.count(since)
            rows.append(row)
            self.log(f"economy: batch {size:>3}: writes {own['write']}, reads {own['read']}, txns {own['txn']} "
                     f"-> {row['requests_per_message']} requests/message")
        return rows

    # -- relayed phases ------------------------------------------------------------------------------------
    def _relayed(self, agent, gateway):
        bus = self._bus(agent)
        relay = AgentRelay(bus, ChatCompletionsTarget(gateway.url, gateway.token, timeout=30), poll_wait=5,
                           backoff_initial=0.05, backoff_max=1.0)
        relay.inbox.receive(wait=0)  # know the index before the clock starts
        return bus, Relay([relay]).start()

    def latency(self, messages=1000, rate=200.0, timeout=60.0):
        with GatewaySink(token="bench", answer="NO_REPLY") as gateway:
            receiver, relay = self._relayed("lat-r", gateway)
            sender = self._bus("lat-s")
            sender.send("lat-r", text="warm-up")
            gateway.wait_for(1, 10)
            gateway.handoffs.clear()
            buses = [sender, receiver]
            before = self._snapshot(buses)
            since = self.lab.last_seq() if self.lab else None
            started, errors = {}, 0
            begin = time.monotonic()
            for i in range(messages):
                due = begin + i / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                t0 = time.time()
                try:
                    sent = sender.send("lat-r", text=f"latency probe {i}")
                except Exception:  # counted: a failed send is an undelivered message
                    errors += 1
                    continue
                started[sent.message_id] = t0
            gateway.wait_for(len(started), timeout)
            relay.stop(timeout=0)
            result = self._delivery(gateway, started, messages, errors)
            own = self._counts(buses, before)
            result["requests"] = own
            result["requests_per_message"] = round(sum(own.values()) / max(messages, 1), 3)
            if self.lab:
                result["lab"] = self.lab.count(since)
            result["rate_per_s"] = rate
            self.log(f"latency: {messages} messages at {rate:g}/s: p50 {result['latency']['p50_ms']} ms, p99 "
                     f"{result['latency']['p99_ms']} ms, delivered {result['delivered']}/{messages}, "
                     f"{result['requests_per_message']} requests/message")
            return result

    @staticmethod
    def _delivery(gateway, started, messages, errors):
        seen, duplicates, latencies = set(), 0, []
        with gateway.lock:
            handoffs = list(gateway.handoffs)
        for handoff in handoffs:
            message_id = handoff["message_id"]
            if message_id in seen:
                duplicates += 1
                continue
            seen.add(message_id)
            if message_id in started:
                latencies.append(handoff["time"] - started[message_id])
        delivered = len(seen & set(started))
        return {"messages": messages, "send_errors": errors, "delivered": delivered, "duplicates": duplicates,
                "delivery_ratio": round(delivered / messages, 6) if messages else None,
                "latency": summary_ms(latencies)}

    def throughput(self, senders=4, messages=1000, timeout=60.0):
        per_sender = max(messages // senders, 1)
        total = per_sender * senders
        with GatewaySink(token="bench", answer="NO_REPLY") as gateway:
            receiver, relay = self._relayed("tp-r", gateway)
            buses = [self._bus(f"tp-s{i}") for i in range(senders)]
            for bus in buses:
                bus.send("tp-r", text="warm-up")
            gateway.wait_for(senders, 10)
            gateway.handoffs.clear()
            started, errors, lock = {}, [0], threading.Lock()
            barrier = threading.Barrier(senders + 1)
            ends = []

            def run(bus):
                barrier.wait()
                for i in range(per_sender):
                    t0 = time.time()
                    try:
                        sent = bus.send("tp-r", text=f"throughput {bus.agent} {i}")
                    except Exception:
                        with lock:
                            errors[0] += 1
                        continue
                    with lock:
                        started[sent.message_id] = t0
                ends.append(time.time())

            threads = [threading.Thread(target=run, args=(bus,)) for bus in buses]
            for thread in threads:
                thread.start()
            barrier.wait()
            t_start = time.time()
            for thread in threads:
                thread.join()
            gateway.wait_for(len(started), timeout)
            relay.stop(timeout=0)
            result = self._delivery(gateway, started, total, errors[0])
            last = max((h["time"] for h in gateway.handoffs), default=t_start)
            send_seconds = max(ends) - t_start
            result.update({"senders": senders, "send_seconds": round(send_seconds, 3),
                           "end_to_end_seconds": round(last - t_start, 3),
                           "send_throughput_per_s": round(total / send_seconds, 1) if send_seconds else None,
                           "throughput_per_s": round(result["delivered"] / (last - t_start), 1)
                           if last > t_start else None})
            self.log(f"throughput: {senders} senders x {per_sender}: sends {result['send_throughput_per_s']}/s, "
                     f"delivered end to end {result['throughput_per_s']}/s, {result['delivered']}/{total}")
            return result

    # -- the seed's design ------------------------------------------------------------------------------------
    def baseline(self, messages=100, window=20.0, poll_interval=5.0):
        """An agent that polls its inbox every poll_interval seconds (plain GET, no blocking query),
        hands over what it finds and deletes it. Messages are sent at random times over `window`."""
        receiver, sender = self._bus("poll-r"), self._bus("poll-s")
        prefix = self.layout.inbox("poll-r")
        handed, stop = {}, threading.Event()
        polls = [0]

        def poller():
            next_poll = time.monotonic()
            while not stop.is_set():
                entries, _ = receiver.consul.list(prefix)
                polls[0] += 1
                now = time.time()
                ops = []
                for entry in entries:
                    envelope = entry.json() or {}
                    handed.setdefault(envelope.get("messageId"), now)
                    ops.append({"Verb": "delete-cas", "Key": entry.key, "Index": entry.modify_index})
                for start in range(0, len(ops), self.txn_max_ops):
                    receiver.consul.txn(ops[start:start + self.txn_max_ops])
                next_poll += poll_interval
                stop.wait(max(next_poll - time.monotonic(), 0))

        schedule = sorted(random.uniform(0, window) for _ in range(messages))  # noqa: S311 - not security
        thread = threading.Thread(target=poller, daemon=True)
        thread.start()
        begin, started = time.monotonic(), {}
        for offset in schedule:
            pause = begin + offset - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            t0 = time.time()
            started[sender.send("poll-r", text="poll probe").message_id] = t0
        deadline = time.monotonic() + 2 * poll_interval + 5
        while time.monotonic() < deadline and not set(started) <= set(handed):
            time.sleep(0.1)
        stop.set()
        latencies = [handed[i] - t for i, t in started.items() if i in handed]
        result = {"messages": messages, "window_s": window, "poll_interval_s": poll_interval, "polls": polls[0],
                  "delivered": len(latencies), "latency": summary_ms(latencies),
                  "expected_by_construction": {"p50_ms": poll_interval * 500, "p99_ms": poll_interval * 990,
                                               "note": "arrival uniform over the poll interval"}}
        self.log(f"baseline (poll every {poll_interval:g}s): {messages} messages over {window:g}s: p50 "
                 f"{result['latency']['p50_ms']} ms, p99 {result['latency']['p99_ms']} ms ({polls[0]} polls)")
        return result

    # -- all of it ---------------------------------------------------------------------------------------------
    def run(self, thresholds=None, messages=1000, rate=200.0, senders=4, batches=(1, 10, 100),
            baseline_messages=100, baseline_window=20.0, poll_interval=5.0):
        thresholds = thresholds or Thresholds()
        started = time.time()
        report = {"consul": self.address, "prefix": self.root, "txn_max_ops": self.txn_max_ops,
                  "request_counts_from": "bus clients' own HTTP calls" + (" + lab request log" if self.lab else "")}
        try:
            report["economy"] = self.economy(batches)
            report["latency"] = self.latency(messages, rate)
            report["throughput"] = self.throughput(senders, messages)
            if baseline_messages:
                report["baseline"] = self.baseline(baseline_messages, baseline_window, poll_interval)
                bus_lat, base_lat = report["latency"]["latency"], report["baseline"]["latency"]
                if bus_lat["p50_ms"] and base_lat["p50_ms"]:
                    report["baseline_ratio"] = {
                        "p50": round(base_lat["p50_ms"] / bus_lat["p50_ms"], 1),
                        "p99": round(base_lat["p99_ms"] / bus_lat["p99_ms"], 1),
                        "meaning": "baseline latency / bus latency (how many times faster the bus is)"}
        finally:
            self.cleanup()
        report["checks"] = checks = self.checks(report, thresholds)
        report["thresholds"] = asdict(thresholds)
        report["go"] = all(c["ok"] for c in checks)
        report["seconds"] = round(time.time() - started, 1)
        return report

    @staticmethod
    def checks(report, t):
        lat, tp = report["latency"], report["throughput"]
        ratio = min(lat["delivery_ratio"] or 0, tp["delivery_ratio"] or 0)
        rows = [("latency p50 (ms)", lat["latency"]["p50_ms"], "<=", t.max_p50_ms),
                ("latency p99 (ms)", lat["latency"]["p99_ms"], "<=", t.max_p99_ms),
                ("delivery ratio", ratio, ">=", t.min_delivery_ratio),
                ("duplicates handed over", lat["duplicates"] + tp["duplicates"], "<=", 0),
                ("throughput end to end (msg/s)", tp["throughput_per_s"], ">=", t.min_throughput),
                ("requests per message under load", lat["requests_per_message"], "<=", t.max_requests_per_message)]
        out = []
        for name, value, op, limit in rows:
            ok = value is not None and (value <= limit if op == "<=" else value >= limit)
            out.append({"check": name, "value": value, "op": op, "threshold": limit, "ok": ok})
        return out

    def cleanup(self):
        try:
            client = Consul(self.address, self.token)
            client.delete(self.root + "/", recurse=True)
            client.close()
        except Exception as exc:  # leave the data, say so
            self.log(f"cleanup of {self.root}/ failed: {exc}")
        for client in self.clients:
            client.close()
