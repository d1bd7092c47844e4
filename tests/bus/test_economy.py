# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counted economy, from the simulator's request log (and cross-checked with the client's own
counters): send = 1 write; receive <= 1 read per wake-up batch; ack <= 1 txn per batch that fits
the txn op limit. Amortised totals for batches of 1, 10 and 100."""

from __future__ import annotations

import threading

import pytest

from .conftest import count, simple_model


@pytest.fixture
def pair(farm):
    farm.setup(simple_model("snd", "rcv"))
    sender, receiver = farm.bus("snd"), farm.bus("rcv")
    sender.send("rcv", text="warm-up")  # sequence recovery happens once, here
    inbox = receiver.inbox()
    inbox.ack(inbox.receive(wait=0).messages)  # the inbox knows its index from now on
    return sender, receiver, inbox


def test_first_send_recovers_then_every_send_is_one_write(farm, lab):
    farm.setup(simple_model("snd", "rcv"))
    sender = farm.bus("snd")
    since = lab.last_seq()
    sender.send("rcv", text="first")
    assert count(lab.requests(service="consul", since=since)) == {"write": 1, "read": 2, "txn": 0, "other": 0}
    since = lab.last_seq()
    for i in range(20):
        sender.send("rcv", text=str(i))
    rows = lab.requests(service="consul", since=since)
    assert count(rows) == {"write": 20, "read": 0, "txn": 0, "other": 0}
    assert all(r["method"] == "PUT" and r["query"] == "cas=0" for r in rows)


def consume(inbox, expected, wait=5.0):
    """The relay's consumer loop: batches sized to ack in one txn each."""
    got, batches = 0, 0
    while got < expected:
        batch = inbox.receive(wait=wait, max_ops=inbox.txn_max_ops)
        if batch.messages:
            batches += 1
            inbox.ack(batch.messages)
            got += len(batch.messages)
    return batches


@pytest.mark.parametrize(("size", "txn_max_ops", "expected"), [
    (1, 64, {"write": 1, "read": 1, "txn": 1}),
    (10, 64, {"write": 10, "read": 1, "txn": 1}),
    (100, 64, {"write": 100, "read": 1, "txn": 2}),   # 62 + 38: two batches, the second needs no read
    (100, 128, {"write": 100, "read": 1, "txn": 1}),  # Consul >= 1.14
])
def test_amortised_requests_per_message(pair, lab, size, txn_max_ops, expected, record_property):
    sender, receiver, inbox = pair
    inbox.txn_max_ops = txn_max_ops
    lab.config(txn_max_ops=txn_max_ops)
    before = {c: dict(c.stats) for c in (sender.consul, receiver.consul)}
    since = lab.last_seq()
    for i in range(size):
        sender.send("rcv", text=f"m{i}")
    batches = consume(inbox, size)
    counts = count(lab.requests(service="consul", since=since))
    assert {k: counts[k] for k in expected} == expected and counts["other"] == 0
    assert batches == expected["txn"]  # one ack txn per wake-up batch
    own = {k: sender.consul.stats[k] + receiver.consul.stats[k] - before[sender.consul].get(k, 0)
           - before[receiver.consul].get(k, 0) for k in ("write", "read", "txn")}
    assert own == expected  # the client's own counters agree with the simulator's log
    per_message = round(sum(expected.values()) / size, 3)
    record_property("requests_per_message", per_message)
    print(f"\nbatch {size:>3} (txn limit {txn_max_ops}): {expected} -> {per_message} requests/message")


def test_a_blocked_receiver_wakes_with_one_read_per_batch(pair, lab):
    sender, receiver, inbox = pair
    results = []
    ready = threading.Event()

    def consumer():
        ready.set()
        results.append(inbox.receive(wait=10, max_ops=inbox.txn_max_ops))

    since = lab.last_seq()
    thread = threading.Thread(target=consumer)
    thread.start()
    ready.wait()
    sender.send("rcv", text="wake up")
    thread.join(15)
    batch = results[0]
    assert [m.envelope["parts"][0]["text"] for m in batch.messages] == ["wake up"] and batch.read
    inbox.ack(batch.messages)
    counts = count(lab.requests(service="consul", since=since))
    assert counts == {"write": 1, "read": 1, "txn": 1, "other": 0}
    blocking = [r for r in lab.requests(service="consul", since=since) if r["method"] == "GET"]
    assert "index=" in blocking[0]["query"] and "wait=" in blocking[0]["query"]
