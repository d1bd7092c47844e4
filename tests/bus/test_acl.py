# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least privilege, proved against the simulator's ACL enforcement with the tokens of the policies
that openclaw_bus.policies generates: each denial the design promises, and the one trade-off."""

from __future__ import annotations

import json
import uuid

import pytest

from openclaw_bus import policies
from openclaw_bus.consul import PermissionDenied, TxnFailed
from openclaw_bus.envelope import BusError, Layout
from openclaw_bus.mailbox import BusPermissionDenied

MODEL = {
    "agents": [
        {"id": "alice", "gateway": "gw1", "may_message": ["bob"]},
        {"id": "bob", "gateway": "gw1", "may_message": ["carol"]},
        {"id": "carol", "gateway": "gw2", "may_message": ["bob"]},
    ],
    "gateways": [{"name": "gw1", "node": "jerry"}, {"name": "gw2", "node": "bobby"}],
}


@pytest.fixture
def acl_farm(farm):
    farm.setup(MODEL)
    return farm


def test_reading_another_agents_inbox_is_denied_or_filtered(acl_farm):
    farm = acl_farm
    carol_msg = farm.bus("carol").send("bob", text="for bob only")
    alice_msg = farm.bus("alice").send("bob", text="from alice")
    alice = farm.consul("alice")
    with pytest.raises(PermissionDenied, match="Permission denied"):
        alice.get(carol_msg.key)
    entries, _ = alice.list(farm.layout.inbox("bob"))  # recursive reads are filtered by ACL
    assert [e.key for e in entries] == [alice_msg.key]
    with pytest.raises(PermissionDenied):
        alice.get(farm.layout.hwm_key("bob", "carol"))
    with pytest.raises(PermissionDenied):
        alice.get(farm.layout.dead_key("bob", "carol", 1))
    assert farm.consul("bob").get(carol_msg.key)[0] is not None  # the owner reads it


def test_writing_as_another_sender_is_denied(acl_farm):
    farm = acl_farm
    alice = farm.consul("alice")
    forged = json.dumps({"messageId": "x", "contextId": "y", "role": "user", "parts": [], "metadata": {}})
    with pytest.raises(PermissionDenied, match="Permission denied"):
        alice.put(farm.layout.message_key("bob", "carol", 1), forged, cas=0)
    with pytest.raises(PermissionDenied):
        alice.put(farm.layout.hwm_key("bob", "alice"), "{}")  # nor move bob's mark for itself
    assert alice.put(farm.layout.message_key("bob", "alice", 1), forged, cas=0) is True  # as itself: fine


def test_writing_to_a_recipient_not_allowed_is_denied(acl_farm):
    farm = acl_farm
    alice_bus = farm.bus("alice")
    with pytest.raises(PermissionDenied):
        farm.consul("alice").put(farm.layout.message_key("carol", "alice", 1), "{}", cas=0)
    with pytest.raises(BusPermissionDenied, match="'alice' may not message 'carol'"):
        alice_bus.send("carol", text="not allowed")


def test_acking_another_agents_messages_is_denied(acl_farm):
    farm = acl_farm
    sent = farm.bus("carol").send("bob", text="x")
    entry, _ = farm.consul("bob").get(sent.key)
    with pytest.raises(TxnFailed) as failed:
        farm.consul("alice").txn([{"Verb": "delete-cas", "Key": sent.key, "Index": entry.modify_index}])
    assert failed.value.denied()
    with pytest.raises(PermissionDenied):
        farm.consul("alice").delete(sent.key)


def test_replies_follow_the_reverse_of_may_message(farm):
    farm.setup(MODEL, replies=True)
    request = farm.bus("alice").send("bob", text="question")
    answer = farm.bus("bob").send("alice", text="answer", reply_to=request.message_id, role="agent")
    assert answer.seq == 1  # bob may answer alice, who may message bob


def test_without_replies_the_reverse_direction_is_denied(lab_process):
    from tools.testsupport.busfarm import Farm

    farm = Farm(lab_process, f"t{uuid.uuid4().hex[:10]}")
    try:
        farm.setup(MODEL, replies=False)
        with pytest.raises(BusPermissionDenied):
            farm.bus("bob").send("alice", text="answer")
    finally:
        farm.close()


def test_registry_is_read_only_for_agents_and_per_gateway_for_gateways(acl_farm):
    farm = acl_farm
    layout = farm.layout
    assert farm.consul("alice").list(layout.registry_root + "/")[0] == []  # readable (empty)
    with pytest.raises(PermissionDenied):
        farm.consul("alice").put(layout.agent_key("alice"), "{}")
    gw1 = farm.consul(gateway="gw1")
    assert gw1.put(layout.agent_key("alice"), "{}") is True
    with pytest.raises(PermissionDenied):
        gw1.put(layout.agent_key("carol"), "{}")       # carol lives on gw2
    with pytest.raises(PermissionDenied):
        gw1.put(layout.gateway_key("gw2"), "{}")
    with pytest.raises(PermissionDenied):
        gw1.get(layout.message_key("bob", "alice", 1))  # no mailbox right at all


def test_the_accepted_trade_off_an_agent_can_write_into_its_own_inbox(acl_farm):
    """Acking needs delete, and Consul's delete needs write: an agent can write into its own inbox
    under any sender name. That only deceives itself; nobody else is affected."""
    farm = acl_farm
    bob = farm.consul("bob")
    assert bob.put(farm.layout.message_key("bob", "carol", 99), "{}", cas=0) is True
    with pytest.raises(PermissionDenied):
        bob.put(farm.layout.message_key("alice", "carol", 1), "{}", cas=0)


def test_a_sender_may_withdraw_its_unread_messages_but_not_change_them(acl_farm):
    """The decision in policies.py: Consul lets the sender's write right overwrite and delete its own
    pending messages (no create-only right); a withdrawal is accepted, a change is dead-lettered."""
    farm = acl_farm
    alice_bus, alice = farm.bus("alice"), farm.consul("alice")
    withdrawn = alice_bus.send("bob", text="never mind")
    changed = alice_bus.send("bob", text="deploy v1")
    kept = alice_bus.send("bob", text="hello")
    assert alice.delete(withdrawn.key) is True  # the ACL cannot refuse it
    envelope = dict(changed.envelope, parts=[{"kind": "text", "text": "deploy v666"}])
    assert alice.put(changed.key, json.dumps(envelope)) is True  # nor this
    inbox = farm.bus("bob").inbox()
    batch = inbox.receive(wait=0)
    assert [m.id for m in batch.messages] == [kept.message_id]
    assert [(m.key, m.reason) for m in batch.malformed] == [
        (changed.key, "overwritten after it was sent: a message may not be changed once written")]
    done, dead = batch.housekeeping()
    inbox.ack([*batch.messages, *done], dead)
    letters, total = farm.bus("bob").dead_letters()
    assert total == 1 and letters[0]["key"] == changed.key
    assert json.loads(farm.management.get(farm.layout.hwm_key("bob", "alice"))[0].value)["seq"] == kept.seq


def test_generated_rules_are_exactly_these():
    generated = policies.generate(MODEL, Layout())
    assert generated["agents"]["alice"]["may_write_to"] == ["bob"]
    assert generated["agents"]["bob"]["may_write_to"] == ["alice", "carol"]  # alice may message bob
    rules = generated["agents"]["alice"]["rules"]
    blocks = [line for line in rules.splitlines() if line and not line.startswith(("#", " ", "}"))]
    assert blocks == ['key_prefix "openclaw/bus/alice/in/" {', 'key_prefix "openclaw/bus/alice/hwm/" {',
                      'key_prefix "openclaw/bus/alice/dead/" {', 'key_prefix "openclaw/bus/bob/in/alice/" {',
                      'key "openclaw/bus/bob/hwm/alice" {', 'key_prefix "openclaw/registry/" {']
    gw = generated["gateways"]["gw1"]
    assert gw["agents"] == ["alice", "bob"] and 'session "jerry" {' in gw["rules"]
    assert "openclaw/bus" not in gw["rules"]


@pytest.mark.parametrize(("model", "message"), [
    ({"agents": [{"id": "a", "may_message": ["zed"]}]}, "unknown agents"),
    ({"agents": [{"id": "a", "may_message": ["a"]}]}, "itself"),
    ({"agents": [{"id": "a"}, {"id": "a"}]}, "twice"),
    ({"agents": [{"id": "bad/id"}]}, "invalid"),
    ({"agents": []}, "non-empty"),
])
def test_model_errors_are_clear(model, message):
    with pytest.raises(BusError, match=message):
        policies.generate(model)
