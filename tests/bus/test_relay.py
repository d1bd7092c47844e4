# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The relay against a fake OpenAI-compatible gateway: hand-off, reply routing, ack only after
delivery, gateway down then back, attempts and dead letters, per-sender order, crash journal."""

from __future__ import annotations

import json
import threading
import time

import pytest

from openclaw_bus.envelope import reply_id
from openclaw_bus.relay import AgentRelay, ChatCompletionsTarget, Journal, Relay
from tools.testsupport.standins import FakeGateway

from .conftest import count, simple_model


@pytest.fixture
def gateway():
    with FakeGateway(token="gw-secret", answer=lambda agent, content, body: f"{agent} got it") as fake:
        yield fake


@pytest.fixture
def trio(farm):
    farm.setup(simple_model("alice", "bob", "relayed"))
    return farm


def make_relay(farm, gateway, agent="relayed", **kwargs):
    target = ChatCompletionsTarget(gateway.url, "gw-secret", timeout=5)
    kwargs.setdefault("backoff_initial", 0.05)
    kwargs.setdefault("poll_wait", 2)
    return AgentRelay(farm.bus(agent), target, **kwargs)


def texts(messages):
    return [m.envelope["parts"][0]["text"] for m in messages]


def test_hands_over_replies_and_acks(trio, gateway, lab):
    alice = trio.bus("alice")
    sent = alice.send("relayed", text="status please", context_id="ctx-1")
    relay = make_relay(trio, gateway)
    relay.run_once(wait=0)
    (handoff,) = gateway.handoffs
    assert handoff["agent"] == "relayed" and handoff["message_id"] == sent.message_id
    assert "Message from agent alice (gateway main), context ctx-1" in handoff["content"]
    assert "status please" in handoff["content"] and handoff["user"] == "openclaw-bus:alice:ctx-1"
    assert trio.consul("relayed").list(trio.layout.inbox("relayed"))[0] == []  # acked after the hand-off
    reply = alice.wait_for_reply(sent, timeout=2)
    assert reply is not None and texts([reply]) == ["relayed got it"]
    assert reply.context_id == "ctx-1" and reply.reply_to == sent.message_id and reply.envelope["role"] == "agent"
    assert reply.id == reply_id(sent.message_id)
    assert relay.stats["delivered"] == 1 and relay.stats["replies"] == 1


def test_one_read_and_one_txn_per_batch(trio, gateway, lab):
    gateway.answer = "NO_REPLY"
    alice = trio.bus("alice")
    relay = make_relay(trio, gateway)
    relay.run_once(wait=0)  # learns the index
    for i in range(10):
        alice.send("relayed", text=str(i))
    since = lab.last_seq()
    relay.run_once(wait=5)
    assert len(gateway.handoffs) == 10
    counts = count(lab.requests(service="consul", since=since))
    assert counts == {"write": 0, "read": 1, "txn": 1, "other": 0}  # NO_REPLY: no answer is sent


def test_gateway_down_then_back_delivers_in_order(trio, gateway):
    alice = trio.bus("alice")
    gateway.stop()
    for i in range(3):
        alice.send("relayed", text=f"m{i}")
    relay = make_relay(trio, gateway)
    relay.run_once(wait=0)
    assert relay.stats["failed"] == 1  # one probe per round while the gateway is down
    pending = trio.bus("relayed").inbox().receive(wait=0).messages
    assert [m.attempt for m in pending] == [1, 0, 0]  # counted in the receiver's hwm, read by a fresh reader
    relay.run_once(wait=0)  # still backing off: nothing tried
    assert relay.stats["failed"] == 1
    gateway.start()
    time.sleep(0.1)
    relay.run_once(wait=0)
    assert [h["content"].split("\n\n")[1] for h in gateway.handoffs] == ["m0", "m1", "m2"]
    assert trio.bus("relayed").inbox().receive(wait=0).messages == []


def test_attempt_limit_moves_to_dead_letters(trio, gateway):
    gateway.status = 500
    sent = trio.bus("alice").send("relayed", text="poison")
    relay = make_relay(trio, gateway, max_attempts=2)
    for _ in range(4):
        relay.run_once(wait=0)
        time.sleep(0.12)
    assert relay.stats["failed"] == 2 and relay.stats["dead"] == 1
    letter = json.loads(trio.consul("relayed").get(trio.layout.dead_key("relayed", "alice", sent.seq))[0].value)
    assert letter["reason"].startswith("attempts: 2") and letter["envelope"]["metadata"]["attempt"] == 2


def test_a_failing_sender_does_not_block_the_others(trio, gateway):
    def answer(agent, content, body):
        if "poison" in content:
            raise RuntimeError("model crashed")  # the fake gateway answers 500
        return "NO_REPLY"

    gateway.answer = answer
    alice, bob = trio.bus("alice"), trio.bus("bob")
    alice.send("relayed", text="poison")
    alice.send("relayed", text="after poison")
    bob.send("relayed", text="from bob")
    relay = make_relay(trio, gateway)
    relay.run_once(wait=0)
    delivered = [h["content"] for h in gateway.handoffs]
    assert [c for c in delivered if "from bob" in c]
    assert not [c for c in delivered if "after poison" in c]  # alice's order holds behind the failure
    assert relay.stats["failed"] == 1


def test_replies_are_left_for_the_agent(trio, gateway):
    relayed, alice = trio.bus("relayed"), trio.bus("alice")
    question = relayed.send("alice", text="question")
    alice.send("relayed", text="the answer", reply_to=question.message_id, role="agent")
    relay = make_relay(trio, gateway)
    relay.run_once(wait=0)
    assert gateway.handoffs == []
    assert relayed.wait_for_reply(question, timeout=1) is not None  # collected by the asker


def test_journal_prevents_a_second_handoff_after_a_crash(trio, gateway, tmp_path):
    alice = trio.bus("alice")
    sent = alice.send("relayed", text="exactly once")
    path = str(tmp_path / "relayed.journal")
    crashed = make_relay(trio, gateway, journal=Journal(path))
    crashed.inbox.ack = lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed before the ack"))
    crashed.bus.send = lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed before the reply"))
    with pytest.raises(SystemExit):
        crashed.run_once(wait=0)
    assert len(gateway.handoffs) == 1
    restarted = make_relay(trio, gateway, journal=Journal(path))
    restarted.run_once(wait=0)
    assert len(gateway.handoffs) == 1  # not handed over again
    assert alice.wait_for_reply(sent, timeout=2) is not None  # the reply was sent after the restart
    assert Journal(path).entries == {}  # acked: compacted away


def test_relay_threads_deliver_after_the_gateway_returns(trio, gateway):
    gateway.answer = "NO_REPLY"
    gateway.stop()
    relay = Relay([make_relay(trio, gateway, poll_wait=1)]).start()
    try:
        alice = trio.bus("alice")
        for i in range(5):
            alice.send("relayed", text=f"q{i}")
        time.sleep(0.5)
        assert gateway.handoffs == []
        gateway.start()
        assert gateway.wait_for(5, timeout=10)
        assert [h["content"].split("\n\n")[1] for h in gateway.handoffs] == [f"q{i}" for i in range(5)]
    finally:
        relay.stop()
    assert threading.active_count() < 50


def test_a_backing_off_relay_with_a_full_batch_does_not_spin(trio, gateway, lab):
    gateway.stop()
    alice = trio.bus("alice")
    for i in range(100):  # more than one ack txn's worth: the rest stays in the relay's cache
        alice.send("relayed", text=str(i))
    agent_relay = make_relay(trio, gateway, poll_wait=1, backoff_initial=0.5)
    since = lab.last_seq()
    relay = Relay([agent_relay]).start()
    time.sleep(1.5)
    relay.stop(timeout=0)
    assert agent_relay.stats["failed"] <= 3  # 0 s, 0.5 s, 1.5 s
    assert agent_relay.stats["rounds"] <= 10
    assert count(lab.requests(service="consul", since=since))["read"] <= 6


def test_a_handoff_interrupted_by_a_crash_is_repeated_marked_as_possible_duplicate(trio, gateway, tmp_path):
    sent = trio.bus("alice").send("relayed", text="were you told?")
    path = str(tmp_path / "relayed.journal")
    Journal(path).handing(sent.message_id)  # the previous relay died while the gateway was working on it
    relay = make_relay(trio, gateway, journal=Journal(path))
    relay.run_once(wait=0)
    (handoff,) = gateway.handoffs
    assert "possible duplicate" in handoff["content"] and relay.stats["possible_duplicates"] == 1


def test_a_refused_connection_is_not_a_possible_duplicate(trio, gateway, tmp_path):
    trio.bus("alice").send("relayed", text="once")
    gateway.stop()
    relay = make_relay(trio, gateway, journal=Journal(str(tmp_path / "j")))
    relay.run_once(wait=0)
    gateway.start()
    time.sleep(0.1)
    relay.run_once(wait=0)
    (handoff,) = gateway.handoffs
    assert "possible duplicate" not in handoff["content"]


def test_one_gateway_down_its_messages_wait_while_the_others_talk(farm, tmp_path):
    """benchmarks/bus_reliability.py's gateway-outage at CI size, with real `openclaw-bus serve` processes:
    go-c's gateway refuses connections while go-a and go-b exchange messages and also write to go-c."""
    from tools.testsupport.reliability import gateway_outage

    result = gateway_outage(farm, tmp_path, messages=80, rate=200.0, timeout=60)
    assert result["problems"] == []
    peers, to_c = result["peers"], result["to_c"]
    # The conversation went on during the outage: all of it, once, in order.
    assert peers["sent"] == peers["delivered"] == peers["during_outage"] == peers["handoffs"] == 40
    assert peers["silent_duplicates"] == peers["order_violations"] == peers["lost"] == 0
    # go-c's messages waited (nothing handed over while down), then all arrived, once, in per-sender order.
    assert to_c["sent"] == result["pending_while_down"] == to_c["delivered"] == to_c["handoffs"] == 40
    assert to_c["during_outage"] == 0 and to_c["lost"] == to_c["silent_duplicates"] == to_c["order_violations"] == 0
    assert result["relay_c"]["failed"] >= 1 and result["relay_c"].get("dead", 0) == 0
