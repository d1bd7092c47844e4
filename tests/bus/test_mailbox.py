# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mailbox semantics on the lab simulator: send/receive/ack, per-sender order, dedup, TTL and
dead letters, oversize refusal, sequence recovery and index resets."""

from __future__ import annotations

import json
import threading
import time

import pytest

from openclaw_bus.envelope import MAX_MESSAGE_BYTES, MessageTooLarge

from .conftest import simple_model


@pytest.fixture
def pair(farm):
    farm.setup(simple_model("alice", "bob"))
    return farm.bus("alice"), farm.bus("bob")


def test_send_receive_ack_roundtrip(pair, farm):
    alice, bob = pair
    sent = alice.send("bob", text="hello", data={"n": 1})
    inbox = bob.inbox()
    batch = inbox.receive(wait=1)
    assert [m.id for m in batch.messages] == [sent.message_id]
    message = batch.messages[0]
    assert message.key == farm.layout.message_key("bob", "alice", 1)
    assert message.envelope["kind"] == "message" and message.envelope["role"] == "user"
    assert message.envelope["parts"] == [{"kind": "text", "text": "hello"}, {"kind": "data", "data": {"n": 1}}]
    meta = message.metadata
    assert (meta["from_agent"], meta["to_agent"], meta["from_gateway"], meta["attempt"]) == ("alice", "bob", "main", 0)
    result = inbox.ack([message])
    assert result.acked == [sent.message_id] and result.txns == 1
    mark = json.loads(farm.management.get(farm.layout.hwm_key("bob", "alice"))[0].value)
    assert mark["seq"] == 1 and sent.message_id in mark["ids"]
    assert farm.management.get(message.key)[0] is None
    assert inbox.receive(wait=0).messages == []


def test_blocking_receive_wakes_on_send(pair):
    alice, bob = pair
    inbox = bob.inbox()
    assert inbox.receive(wait=0).messages == []
    timer = threading.Timer(0.3, lambda: alice.send("bob", text="later"))
    timer.start()
    start = time.monotonic()
    batch = inbox.receive(wait=10)
    assert time.monotonic() - start < 5
    assert [m.envelope["parts"][0]["text"] for m in batch.messages] == ["later"]


def test_per_sender_order_and_sequence(farm):
    farm.setup(simple_model("a", "b", "c"))
    a, b, c = farm.bus("a"), farm.bus("b"), farm.bus("c")
    for i in range(5):
        a.send("c", text=f"a{i}")
        b.send("c", text=f"b{i}")
    batch = c.inbox().receive(wait=0)
    from_a = [m for m in batch.messages if m.sender == "a"]
    assert [m.seq for m in from_a] == [1, 2, 3, 4, 5]
    assert [m.envelope["parts"][0]["text"] for m in from_a] == [f"a{i}" for i in range(5)]
    assert [m.sender for m in batch.messages] == ["a", "b"] * 5  # arrival order across senders


def test_sender_recovers_its_counter_after_restart(pair, farm):
    alice, bob = pair
    for i in range(3):
        alice.send("bob", text=str(i))
    inbox = bob.inbox()
    batch = inbox.receive(wait=0)
    inbox.ack(batch.messages[:2])  # hwm 2, seq 3 pending
    restarted = farm.bus("alice")   # a new process: no counter in memory
    sent = restarted.send("bob", text="after restart")
    assert sent.seq == 4 and restarted.outbox.recoveries == 1
    # everything acked: recovery comes from the high-water mark alone
    inbox.ack(inbox.receive(wait=0).messages)
    again = farm.bus("alice").send("bob", text="again")
    assert again.seq == 5


def test_stale_counter_retries_on_cas_false(pair, farm):
    alice, bob = pair
    alice.send("bob", text="one")
    other = farm.bus("alice")  # same identity, second process, counter recovered now
    other.send("bob", text="two")
    sent = alice.send("bob", text="three")  # alice's counter says 2: CAS-create answers false
    assert sent.seq == 3 and alice.outbox.recoveries == 2
    assert [m.seq for m in bob.inbox().receive(wait=0).messages] == [1, 2, 3]


def test_duplicates_are_dropped_by_message_id_and_hwm(pair, farm):
    alice, bob = pair
    first = alice.send("bob", text="x", message_id="idem-1")
    again = alice.send("bob", text="x", message_id="idem-1")  # a retry with the same id: new seq
    inbox = bob.inbox()
    batch = inbox.receive(wait=0)
    assert [m.id for m in batch.messages] == ["idem-1"] and [m.seq for m in batch.duplicates] == [again.seq]
    done, dead = batch.housekeeping()
    inbox.ack([*batch.messages, *done], dead)
    # the same id once more after the ack: the hwm's ids drop it
    alice.send("bob", text="x", message_id="idem-1")
    later = inbox.receive(wait=0)
    assert later.messages == [] and [m.id for m in later.duplicates] == ["idem-1"]
    # a key re-created below the high-water mark (a sender retry racing an ack) is a duplicate too
    farm.consul("alice").put(first.key, json.dumps(first.envelope | {"messageId": "other-id"}), cas=0)
    assert first.seq in [m.seq for m in inbox.receive(wait=0).duplicates]


def test_expired_messages_go_to_dead_letters_in_the_ack_txn(pair, farm):
    alice, bob = pair
    clock = {"now": time.time()}
    bob.clock = lambda: clock["now"]
    sent = alice.send("bob", text="short-lived", ttl_seconds=10)
    keep = alice.send("bob", text="long-lived")
    inbox = bob.inbox()
    inbox.clock = bob.clock
    clock["now"] += 11
    batch = inbox.receive(wait=0)
    assert [m.id for m in batch.expired] == [sent.message_id]
    assert [m.id for m in batch.messages] == [keep.message_id]
    done, dead = batch.housekeeping()
    result = inbox.ack(batch.messages + done, dead)
    assert result.txns == 1 and result.dead == [(sent.message_id, "expired")]
    letter = json.loads(farm.management.get(farm.layout.dead_key("bob", "alice", sent.seq))[0].value)
    assert letter["reason"] == "expired" and letter["envelope"]["messageId"] == sent.message_id
    mark = json.loads(farm.management.get(farm.layout.hwm_key("bob", "alice"))[0].value)
    assert mark["seq"] == 2


def test_malformed_entries_are_dead_lettered(pair, farm):
    alice, bob = pair
    farm.consul("alice").put(farm.layout.message_key("bob", "alice", 1), b"not json", cas=0)
    inbox = bob.inbox()
    batch = inbox.receive(wait=0)
    assert [m.reason for m in batch.malformed] == ["malformed: not JSON: expected ident at line 1 column 2"]
    done, dead = batch.housekeeping()
    assert inbox.ack(done, dead).dead[0][1].startswith("malformed")
    letters, total = bob.dead_letters()
    assert total == 1 and letters[0]["key"] == farm.layout.message_key("bob", "alice", 1)
    assert letters[0]["reason"] == batch.malformed[0].reason and letters[0]["sender"] == "alice"
    assert alice.send("bob", text="next").seq == 2  # the dead letter moved the hwm


def test_oversize_is_refused_before_any_request(pair, lab):
    alice, _ = pair
    since = lab.last_seq()
    with pytest.raises(MessageTooLarge, match=r"at most 65536 bytes .*512 KiB.*reference"):
        alice.send("bob", text="x" * MAX_MESSAGE_BYTES)
    assert lab.requests(service="consul", since=since) == []
    assert alice.send("bob", text="x" * 60_000).size < MAX_MESSAGE_BYTES


def test_out_of_order_ack_keeps_the_mark_below_pending(pair, farm):
    alice, bob = pair
    for i in range(3):
        alice.send("bob", text=str(i))
    inbox = bob.inbox()
    batch = inbox.receive(wait=0)
    inbox.ack([batch.messages[2]])  # ack seq 3 while 1 and 2 are pending
    mark = json.loads(farm.management.get(farm.layout.hwm_key("bob", "alice"))[0].value)
    assert mark["seq"] == 0 and batch.messages[2].id in mark["ids"]
    assert [m.seq for m in inbox.receive(wait=0).messages] == [1, 2]  # not dropped as duplicates
    inbox.ack(inbox.receive(wait=0).messages)
    mark = json.loads(farm.management.get(farm.layout.hwm_key("bob", "alice"))[0].value)
    assert mark["seq"] == 3


def test_ack_respects_the_txn_op_limit(pair, lab, farm):
    alice, bob = pair
    for i in range(100):
        alice.send("bob", text=str(i))
    inbox = bob.inbox()
    batch = inbox.receive(wait=0)
    assert len(batch.messages) == 100
    since = lab.last_seq()
    result = inbox.ack(batch.messages)
    assert result.txns == 2 and len(result.acked) == 100
    txns = [r for r in lab.requests(service="consul", since=since) if r["path"] == "/v1/txn"]
    assert len(txns) == 2 and all(r["status"] == 200 for r in txns)
    assert inbox.receive(wait=0).messages == []


def test_index_reset_when_the_prefix_index_goes_backwards(clock_farm, clock_lab):
    farm, lab = clock_farm, clock_lab  # moving the clock would expire other tests' sessions
    farm.setup(simple_model("alice", "bob"))
    alice, bob = farm.bus("alice"), farm.bus("bob")
    alice.send("bob", text="stays")
    inbox = bob.inbox()
    inbox.receive(wait=0)
    second = alice.send("bob", text="acked")
    batch = inbox.receive(wait=1)
    inbox.ack([m for m in batch.messages if m.id == second.message_id])
    held = inbox.index.value
    lab.advance_clock(16 * 60)  # tombstones reaped: the prefix index slides back below `held`
    since = lab.last_seq()
    batch = inbox.receive(wait=0.5)  # times out and comes back with a lower index
    assert inbox.index.resets == 1 and inbox.index.value == 0
    assert [m.envelope["parts"][0]["text"] for m in batch.messages] == ["stays"]
    alice.send("bob", text="new")
    start = time.monotonic()
    batch = inbox.receive(wait=10)
    assert "new" in [m.envelope["parts"][0]["text"] for m in batch.messages]
    assert time.monotonic() - start < 5
    assert inbox.index.value >= 1
    sent_indexes = [r["query"] for r in lab.requests(service="consul", since=since) if "index=" in r["query"]]
    assert sent_indexes and not any("index=0" in q.split("&") for q in sent_indexes)
    assert held > 0


def test_a_key_outside_the_layout_is_dead_lettered_without_moving_marks(pair, farm):
    alice, bob = pair
    farm.consul("alice").put(f"{farm.layout.inbox_from('bob', 'alice')}not-a-seq", b"{}", cas=0)
    alice.send("bob", text="real")
    inbox = bob.inbox()
    batch = inbox.receive(wait=0)
    reason = "bad key: not <sender>/<12-digit sequence number from 1>"
    assert [m.reason for m in batch.malformed] == [reason] and len(batch.messages) == 1
    done, dead = batch.housekeeping()
    result = inbox.ack([*batch.messages, *done], dead)
    assert result.txns == 1 and result.dead[0][1] == reason
    (letter,), _ = bob.dead_letters()
    assert letter["key"] == f"{farm.layout.inbox_from('bob', 'alice')}not-a-seq" and letter["reason"] == reason
    assert json.loads(farm.management.get(farm.layout.hwm_key("bob", "alice"))[0].value)["seq"] == 1
