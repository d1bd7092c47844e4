# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A sender that writes into Consul with its own token, past the MCP server: every kind of malformed
entry below sits among 200 good messages in one inbox. Each good one is delivered once and in order
(through the relay to a fake gateway, or through check_inbox + ack), each bad one is dead-lettered
with its reason, check_inbox answers throughout, and a withdrawn message (the sender deleting its own
unread message, which the decision in policies.py allows) simply never arrives."""

from __future__ import annotations

import copy
import json

import pytest

from openclaw_bus import config as bus_config
from openclaw_bus.envelope import new_envelope
from openclaw_bus.mcp_server import BusService
from openclaw_bus.relay import AgentRelay, ChatCompletionsTarget
from tools.testsupport.standins import FakeGateway

from .conftest import simple_model

GOOD = 200


def _raw(envelope, **dumps):
    return json.dumps(envelope, separators=(",", ":"), **dumps).encode()


def _set(path, value):
    def change(envelope):
        target = envelope
        for name in path[:-1]:
            target = target[name]
        if value is _DROP:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return _raw(envelope)
    return change


_DROP = object()

# name -> envelope dict (valid, for this key) -> the bytes written
BAD_VALUES = {
    "not JSON": lambda e: b"hello bob",
    "empty value": lambda e: b"",
    "a JSON array": lambda e: b"[1, 2]",
    "a JSON string": lambda e: b'"message"',
    "JSON null": lambda e: b"null",
    "messageId missing": _set(["messageId"], _DROP),
    "messageId a number": _set(["messageId"], 7),
    "messageId null": _set(["messageId"], None),
    "messageId with a trailing newline": _set(["messageId"], "id-1\n"),
    "messageId of 200 characters": _set(["messageId"], "m" * 200),
    "contextId a number": _set(["contextId"], 5),
    "taskId an object": _set(["taskId"], {"id": 1}),
    "parts a string": _set(["parts"], "hello"),
    "parts with a string item": _set(["parts"], ["hello"]),
    "parts empty": _set(["parts"], []),
    "part of an unknown kind": _set(["parts"], [{"kind": "file", "uri": "file:///etc/passwd"}]),
    "text part with a number": _set(["parts"], [{"kind": "text", "text": 5}]),
    "data part with a list": _set(["parts"], [{"kind": "data", "data": [1, 2]}]),
    "part with an extra field": _set(["parts"], [{"kind": "text", "text": "x", "raw": True}]),
    "metadata a string": _set(["metadata"], "from alice"),
    "metadata missing": _set(["metadata"], _DROP),
    "from_agent another agent": _set(["metadata", "from_agent"], "mallory"),
    "from_agent missing": _set(["metadata", "from_agent"], _DROP),
    "to_agent another agent": _set(["metadata", "to_agent"], "carol"),
    "ttl_seconds a string": _set(["metadata", "ttl_seconds"], "86400"),
    "ttl_seconds a boolean": _set(["metadata", "ttl_seconds"], True),
    "ttl_seconds out of range": _set(["metadata", "ttl_seconds"], 10 ** 9),
    "ttl_seconds a float": _set(["metadata", "ttl_seconds"], 86400.5),
    "sent_at not a time": _set(["metadata", "sent_at"], "yesterday"),
    "sent_at month 13": _set(["metadata", "sent_at"], "2026-13-01T00:00:00.000Z"),
    "sent_at far in the future": _set(["metadata", "sent_at"], "2999-01-01T00:00:00.000Z"),
    "reply_to a list": _set(["metadata", "reply_to"], ["x"]),
    "attempt negative": _set(["metadata", "attempt"], -1),
    "role system": _set(["role"], "system"),
    "kind task": _set(["kind"], "task"),
    "an extra top-level field": _set(["extensions"], ["x"]),
    "an extra metadata field": _set(["metadata", "claimed_from_agent"], "root"),
    "NaN in data": lambda e: _raw(dict(e, parts=[{"kind": "data", "data": {"x": float("nan")}}])),
    "1e400 in data": lambda e: _raw(dict(e, parts=[{"kind": "data", "data": {"x": 1}}])).replace(b'"x":1',
                                                                                               b'"x":1e400'),
    "an integer beyond 2^63": _set(["parts"], [{"kind": "data", "data": {"x": 2 ** 70}}]),
    "not UTF-8": lambda e: _raw(e, ensure_ascii=False).replace(b'"text":"', b'"text":"\xff\xfe'),
    "a lone surrogate": _set(["parts"], [{"kind": "text", "text": "\ud800"}]),
    "UTF-16": lambda e: json.dumps(e).encode("utf-16"),
    "a UTF-8 byte order mark": lambda e: b"\xef\xbb\xbf" + _raw(e),
    "trailing garbage": lambda e: _raw(e) + b" trailing",
    "two JSON documents": lambda e: _raw(e) + _raw(e),
    "nested 5000 deep": lambda e: _raw(dict(e, parts=[{"kind": "data", "data": {"x": 0}}])).replace(
        b'"x":0', b'"x":' + b"[" * 5000 + b"]" * 5000),
    "oversize": _set(["parts"], [{"kind": "text", "text": "x" * 70_000}]),
}
# Entries that are bad for their key or their history rather than their bytes.
BAD_KEYS = {"bad key: letters": "abc", "bad key: short": "42", "bad key: 13 digits": "0" * 12 + "9",
            "bad key: sequence 0": "0" * 12, "bad key: nested": "000000000001/x", "bad key: sign": "-00000000001"}
OTHER = ["overwritten after sending", "flags set"]


def _kinds():
    return [("value", k) for k in BAD_VALUES] + [("key", k) for k in BAD_KEYS] + [("other", k) for k in OTHER] + \
        [("withdrawn", "withdrawn by the sender")]


@pytest.fixture
def hostile(farm):
    farm.setup(simple_model("alice", "bob", "relayed"))
    return farm


def _service(farm, lab_process, agent, relayed):
    cfg = bus_config.parse({
        "consul": {"address": lab_process.consul_addr},
        "layout": {"bus_root": farm.layout.bus_root, "registry_root": farm.layout.registry_root},
        "gateway": {"name": "main", "node": "jerry", "url": "http://127.0.0.1:9", "token": "gw",
                    "consul_token": farm.gateway_tokens["main"]},
        "agents": [{"id": agent, "consul_token": farm.tokens[agent], "mcp_token": "m", "relay": relayed}],
        "mcp": {"host": "127.0.0.1", "port": 1},
    })
    return BusService(cfg, buses={agent: farm.bus(agent)}, registry=object())


class Writer:
    """alice, writing into `to`'s inbox with her own Consul token: good messages through her Outbox, bad
    entries straight into KV at the next sequence number."""

    def __init__(self, farm, to):
        self.farm, self.to = farm, to
        self.bus = farm.bus("alice")
        self.consul = farm.consul("alice")
        self.last = 0
        self.good = []
        self.bad = {}       # key -> kind name: every one of these must be dead-lettered
        self.withdrawn = []

    def key(self, tail):
        return f"{self.farm.layout.inbox_from(self.to, 'alice')}{tail}"

    def next_key(self):
        self.last += 1
        return self.farm.layout.message_key(self.to, "alice", self.last)

    def envelope(self, name):
        return new_envelope("alice", self.to, [{"kind": "text", "text": name}], from_gateway="main",
                            message_id=f"bad-{self.last + 1}", now=self.farm_clock())

    @staticmethod
    def farm_clock():
        import time

        return time.time()

    def send_good(self, n):
        sent = self.bus.send(self.to, text=f"good-{n}")
        self.last = max(self.last, sent.seq)
        self.good.append(sent.message_id)

    def write_bad(self, kind, name):
        if kind == "value":
            raw = BAD_VALUES[name](copy.deepcopy(self.envelope(name)))
            key = self.next_key()
            assert self.consul.put(key, raw, cas=0) is True
        elif kind == "key":
            key = self.key(BAD_KEYS[name])
            assert self.consul.put(key, json.dumps(self.envelope(name)), cas=0) is True
        elif name == "flags set":
            envelope = self.envelope(name)
            key = self.next_key()
            response = self.consul.request("PUT", f"/v1/kv/{key}", "write", params={"cas": "0", "flags": "7"},
                                           data=json.dumps(envelope).encode())
            assert response.json() is True
        elif kind == "other":  # overwritten: a valid message, then changed in place
            envelope = self.envelope(name)
            key = self.next_key()
            assert self.consul.put(key, json.dumps(envelope), cas=0) is True
            envelope["parts"] = [{"kind": "text", "text": "changed after sending"}]
            assert self.consul.put(key, json.dumps(envelope)) is True
        else:  # withdrawn: sent, then deleted by its sender before the receiver looked
            sent = self.bus.send(self.to, text="withdrawn")
            self.last = max(self.last, sent.seq)
            assert self.consul.delete(sent.key) is True
            self.withdrawn.append(sent.message_id)
            return
        self.bad[key] = name


def _write_all(writer, step):
    """200 good messages with every bad kind spread among them; `step()` (a relay round or a
    check_inbox + ack) runs after every 10 writes."""
    kinds = _kinds()
    every = GOOD // len(kinds)
    written, good = 0, 0
    while good < GOOD or kinds:
        if kinds and (good >= GOOD or good % every == every - 1) and written % 2 == 0:
            writer.write_bad(*kinds.pop(0))
        else:
            writer.send_good(good)
            good += 1
        written += 1
        if written % 10 == 0:
            step()
    return written


def _check_dead_letters(farm, writer, recipient):
    letters, total = farm.bus(recipient).dead_letters(limit=1000)
    by_key = {letter["key"]: letter for letter in letters}
    assert total == len(writer.bad) == len(by_key)
    missing = {key: name for key, name in writer.bad.items() if key not in by_key}
    assert missing == {}
    for key, name in writer.bad.items():
        assert by_key[key]["reason"], name
        assert by_key[key]["sender"] == "alice", name
    reasons = {name: by_key[key]["reason"] for key, name in writer.bad.items()}
    assert reasons["overwritten after sending"].startswith("overwritten after it was sent")
    assert reasons["from_agent another agent"].startswith("metadata.from_agent 'mallory' is not the sender")
    assert reasons["oversize"].startswith("malformed: oversize")
    assert reasons["nested 5000 deep"].startswith("malformed: not JSON: recursion limit exceeded")
    assert all(r.startswith("bad key:") for n, r in reasons.items() if n.startswith("bad key"))
    # Nothing is left in the inbox, and the mark stands on the last sequence number written.
    assert farm.management.list(farm.layout.inbox(recipient))[0] == []
    mark = json.loads(farm.management.get(farm.layout.hwm_key(recipient, "alice"))[0].value)
    assert mark["seq"] == writer.last and "attempts" not in mark
    return len(writer.bad)


def test_malformed_entries_never_stall_the_relay(hostile, lab_process):
    farm = hostile
    with FakeGateway(token="gw", answer="NO_REPLY") as gateway:
        relay = AgentRelay(farm.bus("relayed"), ChatCompletionsTarget(gateway.url, "gw", timeout=5), poll_wait=1)
        service = _service(farm, lab_process, "relayed", relayed=True)
        checks = []

        def step():
            relay.run_once(wait=0)
            checks.append(service.check_inbox("relayed", max_messages=100).messages)  # never raises

        writer = Writer(farm, "relayed")
        written = _write_all(writer, step)
        for _ in range(20):
            if not farm.management.list(farm.layout.inbox("relayed"))[0]:
                break
            step()
        texts = [h["content"].split("\n\n")[1] for h in gateway.handoffs]
    assert texts == [f"good-{n}" for n in range(GOOD)]  # all, once, in order
    assert [h["message_id"] for h in gateway.handoffs] == writer.good
    assert checks and all(c == [] for c in checks)  # a relayed agent's check_inbox shows answers only
    dead = _check_dead_letters(farm, writer, "relayed")
    assert relay.stats["dead"] == dead and relay.stats["failed"] == 0
    print(f"\nrelay: {written} entries written, {GOOD} good delivered, {dead} malformed dead-lettered "
          f"({len(BAD_VALUES)} bad values, {len(BAD_KEYS)} bad keys, {len(OTHER)} other), "
          f"{len(writer.withdrawn)} withdrawn")


def test_malformed_entries_never_break_check_inbox(hostile, lab_process):
    farm = hostile
    service = _service(farm, lab_process, "bob", relayed=False)
    seen = []

    def step():
        result = service.check_inbox("bob", max_messages=100)
        seen.extend(m.messageId for m in result.messages)
        if result.messages:
            acked = service.ack("bob", [m.messageId for m in result.messages])
            assert acked.already_gone == []

    writer = Writer(farm, "bob")
    _write_all(writer, step)
    for _ in range(20):
        if not farm.management.list(farm.layout.inbox("bob"))[0]:
            break
        step()
    assert seen == writer.good  # all, once, in order
    _check_dead_letters(farm, writer, "bob")
