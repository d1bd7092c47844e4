# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests (Hypothesis) of the envelope parser at the read boundary.

- What the bus writes, it reads back unchanged (one model for both sides).
- Any bytes under any key, with any flags and index history, come out of Inbox._parse as a Message
  or as Malformed with a reason, never as an exception; a Message can be rendered for the gateway,
  returned by the MCP tools, re-encoded and dead-lettered; a Malformed entry has a valid dead-letter
  key and a bounded dead-letter value.
- Against the lab with ACLs on: any generated entry written with the sender's own token is either
  handed over by the relay or dead-lettered, and the inbox is empty after the round.

Example budgets are small for CI; each test prints how many examples ran."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openclaw_bus.consul import KVEntry
from openclaw_bus.envelope import (
    OPAQUE_ID,
    TTL_MAX,
    TTL_MIN,
    BusError,
    Envelope,
    Layout,
    encode,
    new_envelope,
    parse_envelope,
)
from openclaw_bus.mailbox import HighWaterMarks, Inbox, Malformed, Message
from openclaw_bus.relay import AgentRelay, ChatCompletionsTarget, render
from tools.lab_simulator.consul.kv import _validate_key
from tools.testsupport.standins import FakeGateway

from .conftest import simple_model

LAYOUT = Layout("p/bus", "p/registry")
NOW = time.time()
COUNTS = {}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
opaque_ids = st.from_regex(OPAQUE_ID, fullmatch=True)


@st.composite
def envelopes(draw):
    """What a sender may ask the Outbox to write (not always writable: encode may refuse it)."""
    parts = draw(st.lists(st.one_of(st.builds(lambda t: {"kind": "text", "text": t}, st.text(max_size=50)),
                                    st.builds(lambda d: {"kind": "data", "data": d},
                                              st.dictionaries(st.text(max_size=8), json_values, max_size=4))),
                          min_size=1, max_size=3))
    return new_envelope("alice", "bob", parts, from_gateway=draw(st.sampled_from(["", "main"])),
                        context_id=draw(opaque_ids), task_id=draw(st.none() | opaque_ids),
                        reply_to=draw(st.none() | opaque_ids), ttl_seconds=draw(st.integers(TTL_MIN, TTL_MAX)),
                        role=draw(st.sampled_from(["user", "agent"])), message_id=draw(opaque_ids),
                        now=NOW - draw(st.integers(0, 3600)))


PATHS = [["kind"], ["messageId"], ["contextId"], ["taskId"], ["role"], ["parts"], ["parts", 0], ["parts", 0, "kind"],
         ["parts", 0, "text"], ["metadata"], ["metadata", "from_agent"], ["metadata", "to_agent"],
         ["metadata", "from_gateway"], ["metadata", "sent_at"], ["metadata", "ttl_seconds"],
         ["metadata", "reply_to"], ["metadata", "attempt"], ["extra"], ["metadata", "extra"]]


@st.composite
def hostile_values(draw):
    """Bytes as a sender could write them: a valid envelope, one with a field replaced, removed or added,
    arbitrary JSON, or arbitrary bytes."""
    choice = draw(st.integers(0, 4))
    if choice == 4:
        return draw(st.binary(max_size=300))
    if choice == 3:
        return json.dumps(draw(json_values)).encode()
    envelope = new_envelope("alice", "bob", [{"kind": "text", "text": draw(st.text(max_size=30))}],
                            message_id=draw(opaque_ids), now=NOW)
    if choice >= 1:
        path = draw(st.sampled_from(PATHS))
        target = envelope
        for name in path[:-1]:
            target = target[name] if isinstance(target, dict) or name < len(target) else {}
        if isinstance(target, dict) and (choice == 1 or path[-1] not in target):
            target[path[-1]] = draw(json_values)
        elif isinstance(target, dict):
            del target[path[-1]]
        elif isinstance(target, list) and target:
            target[0] = draw(json_values)
    try:
        return json.dumps(envelope, ensure_ascii=draw(st.booleans())).encode()
    except UnicodeEncodeError:  # a lone surrogate drawn: written escaped instead
        return json.dumps(envelope).encode()


tails = st.one_of(st.integers(1, 10 ** 12 - 1).map(lambda n: f"{n:012d}"), st.text(max_size=16),
                  st.from_regex(r"[0-9]{1,14}", fullmatch=True))
senders = st.one_of(st.just("alice"), st.text(max_size=10))


def _inbox(max_bytes=4096):
    marks = HighWaterMarks(None, LAYOUT, "bob")
    marks.loaded = True
    return Inbox(None, LAYOUT, "bob", marks, clock=lambda: NOW, max_bytes=max_bytes)


def _count(name):
    COUNTS[name] = COUNTS.get(name, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def _report():
    start = time.monotonic()
    yield
    print(f"\nhypothesis examples run: {COUNTS} in {time.monotonic() - start:.1f}s")


@settings(max_examples=200, deadline=None)
@given(envelopes())
def test_what_the_bus_writes_it_reads_back_unchanged(envelope):
    _count("write/read")
    try:
        body = encode(envelope)
    except BusError:  # refused before any request (NaN, huge integers, surrogates, ...): never written
        return
    assert parse_envelope(body) == envelope
    item = _inbox(max_bytes=65536)._parse(KVEntry(LAYOUT.message_key("bob", "alice", 7), body, 5, 5))
    assert isinstance(item, Message) and item.envelope == envelope


@settings(max_examples=1000, deadline=None)
@given(value=hostile_values(), sender=senders, tail=tails, flags=st.sampled_from([0, 0, 0, 3]),
       rewritten=st.booleans())
def test_any_entry_is_a_message_or_a_reasoned_dead_letter(value, sender, tail, flags, rewritten):
    _count("read boundary")
    inbox = _inbox()
    entry = KVEntry(f"{LAYOUT.inbox('bob')}{sender}/{tail}", value, 10, 11 if rewritten else 10, flags)
    item = inbox._parse(entry)  # never raises
    if isinstance(item, Malformed):
        _count("read boundary: dead-lettered")
        assert item.reason and len(item.reason) <= 320 and item.reason.isprintable()
        _validate_key(inbox._dead_key(item))  # Consul's strict key rules
        record = json.loads(inbox._dead_value(item, item.reason))
        assert record["reason"] == item.reason and len(inbox._dead_value(item, item.reason)) < 16 * 1024
        return
    _count("read boundary: delivered")
    assert isinstance(item, Message) and not rewritten and flags == 0 and item.sender == "alice"
    # Everything a delivered message goes through afterwards:
    json.dumps({"messages": [{"role": "user", "content": render(item)}]}, allow_nan=False)  # the hand-off body
    Envelope.model_validate(item.envelope).model_dump_json()                                 # check_inbox output
    assert parse_envelope(encode(item.envelope)) == item.envelope                            # re-encoded
    json.loads(inbox._dead_value(item, "expired"))                                           # dead-lettered


@pytest.fixture
def relay_farm(farm):
    farm.setup(simple_model("alice", "bob"))
    with FakeGateway(token="gw", answer="NO_REPLY") as gateway:
        relay = AgentRelay(farm.bus("bob"), ChatCompletionsTarget(gateway.url, "gw", timeout=5), poll_wait=1)
        yield farm, relay, gateway, farm.consul("alice"), iter(range(1, 10 ** 6))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=hostile_values())
def test_against_the_lab_every_entry_is_delivered_or_dead_lettered(relay_farm, value):
    _count("lab")
    farm, relay, gateway, alice, seqs = relay_farm
    key = farm.layout.message_key("bob", "alice", next(seqs))
    assert alice.put(key, value, cas=0) is True  # alice's own token, past the MCP server
    before = len(gateway.handoffs), relay.stats["dead"], relay.stats["duplicates"]
    relay.run_once(wait=0)  # never raises
    # A valid reply (metadata.reply_to set) is not relayed: it waits for the agent's check_inbox.
    reader = farm.bus("bob").inbox()
    replies = reader.receive(wait=0).messages
    assert all(m.reply_to for m in replies)
    if replies:
        reader.ack(replies)
    assert farm.management.list(farm.layout.inbox("bob"))[0] == []  # never stuck
    outcomes = {"lab: handed over": len(gateway.handoffs) - before[0],
                "lab: dead-lettered": relay.stats["dead"] - before[1],
                "lab: duplicate dropped": relay.stats["duplicates"] - before[2],
                "lab: reply for check_inbox": len(replies)}
    assert sum(outcomes.values()) == 1, outcomes
    _count(next(name for name, n in outcomes.items() if n))
