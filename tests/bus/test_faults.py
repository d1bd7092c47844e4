# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul unavailable: senders get a clear retryable error (nothing half-queued), acks fail whole,
and a running relay resumes after Consul returns, without losing or duplicating a hand-off."""

from __future__ import annotations

import time

import pytest

from openclaw_bus.fakegateway import FakeGateway
from openclaw_bus.mailbox import BusUnavailable
from openclaw_bus.relay import AgentRelay, ChatCompletionsTarget, Relay

from .conftest import simple_model


def consul_down(lab, *buses):
    """Take the lab's Consul down. The simulator closes its listening socket but keeps serving the
    keep-alive connections already open (a real agent that dies resets them), so drop our pools."""
    lab.service("consul", False)
    for bus in buses:
        bus.consul.http.close()


@pytest.fixture
def pair(farm):
    farm.setup(simple_model("fa", "fb"))
    return farm.bus("fa"), farm.bus("fb")


def test_send_while_consul_is_down_is_a_clear_retryable_error(pair, lab):
    sender, _ = pair
    sender.send("fb", text="before")
    consul_down(lab, sender)
    try:
        with pytest.raises(BusUnavailable, match="NOT queued") as failed:
            sender.send("fb", text="during")
        assert failed.value.retryable
    finally:
        lab.service("consul", True)
    assert sender.send("fb", text="after").seq == 2  # no gap, no duplicate sequence


def test_ack_while_consul_is_down_changes_nothing(pair, lab):
    sender, receiver = pair
    sender.send("fb", text="x")
    inbox = receiver.inbox()
    batch = inbox.receive(wait=0)
    consul_down(lab, receiver)
    try:
        with pytest.raises(BusUnavailable, match="nothing was acknowledged"):
            inbox.ack(batch.messages)
    finally:
        lab.service("consul", True)
    assert inbox.ack(batch.messages).acked == [batch.messages[0].id]


def test_relay_resumes_after_consul_returns(pair, lab):
    sender, _ = pair
    with FakeGateway(token="gw", answer="NO_REPLY") as gateway:
        relay = Relay([AgentRelay(pair[1], ChatCompletionsTarget(gateway.url, "gw", 5), poll_wait=1)]).start()
        try:
            for i in range(5):
                sender.send("fb", text=f"a{i}")
            assert gateway.wait_for(5, 10)
            consul_down(lab, sender, pair[1])
            time.sleep(1.5)  # the relay's blocking read fails; it backs off and retries
            lab.service("consul", True)
            for i in range(5):
                sender.send("fb", text=f"b{i}")
            assert gateway.wait_for(10, 20)
        finally:
            relay.stop(timeout=0)
        ids = gateway.message_ids()
        assert len(ids) == len(set(ids)) == 10
        assert [h["content"].split("\n\n")[1] for h in gateway.handoffs] == [f"a{i}" for i in range(5)] + \
            [f"b{i}" for i in range(5)]
