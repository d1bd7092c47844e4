# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul unavailable: senders get a clear retryable error (nothing half-queued), acks fail whole, a
write whose answer is lost is read back rather than reported as not queued, and a running relay
resumes after Consul returns, without losing or duplicating a hand-off."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from openclaw_bus.consul import Consul
from openclaw_bus.mailbox import AgentBus, BusUnavailable
from tools.testsupport.reliability import consul_outage

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


class AnswerDroppingProxy:
    """An HTTP relay in front of the lab's Consul that passes every request on but, for the first `drops`
    KV writes, closes the client's connection instead of returning Consul's answer: the write is applied
    and the client never hears of it (a Consul agent dying right after the commit looks like this)."""

    def __init__(self, upstream, drops):
        self.upstream = upstream
        self.drops = drops
        self.server = None

    def __enter__(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("x-consul-token", "content-type")}
                answer = requests.request(self.command, proxy.upstream + self.path, data=body, headers=headers,
                                          timeout=30)
                if self.command == "PUT" and self.path.startswith("/v1/kv/") and proxy.drops > 0:
                    proxy.drops -= 1
                    self.close_connection = True  # applied upstream; no answer
                    return
                self.send_response(answer.status_code)
                for name in ("Content-Type", "X-Consul-Index"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_PUT = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_a_write_whose_answer_is_lost_is_read_back_not_reported_as_not_queued(pair, farm):
    """A dropped connection after the request went out is not "unreachable": the message may be queued.
    The sender reads the key back instead of retrying blindly (a second copy) or saying "NOT queued"."""
    _, receiver = pair
    with AnswerDroppingProxy(farm.address, drops=4) as proxy:  # more drops than the sender's retries
        client = Consul(proxy.url, farm.tokens["fa"])
        sender = AgentBus(client, "fa", layout=farm.layout)
        sent = sender.send("fb", text="once")
        client.close()
    assert proxy.drops == 3 and sent.seq == 1
    batch = receiver.inbox().receive(wait=0)
    assert [m.id for m in batch.messages] == [sent.message_id] and batch.duplicates == []


def test_consul_down_mid_stream_nothing_acknowledged_is_lost(farm, lab, tmp_path):
    """benchmarks/bus_reliability.py's consul-outage at CI size: senders keep sending while Consul is
    down (and retry what is refused, with the same message_id); a real `openclaw-bus serve` relays."""
    result = consul_outage(farm, lab, tmp_path, messages=120, senders=3, outage=3.0, rate=60.0, timeout=60)
    assert result["problems"] == []
    assert result["queued"] == result["delivered"] == 120 and result["lost"] == 0 and result["unexpected"] == 0
    assert result["handoffs"] == 120 and result["silent_duplicates"] == 0 and result["marked_repeats"] == 0
    assert result["order_violations"] == 0
    assert sum(result["refused"].values()) >= 3  # every sender ran into the outage and retried
    assert "NOT queued" in result["examples"]["not_queued"]
    # Only a send reported as "unknown" may have left a copy behind (then dropped by the receiver).
    assert result["dropped_duplicates"] <= result["refused"].get("unknown", 0)
