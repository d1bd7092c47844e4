# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET /metrics of a real bus process (Node, as `openclaw-bus serve` runs it) on the lab: it parses with
prometheus_client's own parser, and after a run of messages its counters equal the process's own counts
(the senders' Outbox.sent, the relays' stats, the Consul clients' stats) and the senders' and the
gateway's independent counts: every message sent, delivered and acked once, the hand-off histogram
holding one observation per delivery."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from openclaw_bus import config as bus_config
from openclaw_bus.metrics import METRIC_NAMES
from openclaw_bus.node import Node
from tools.testsupport.labclient import free_port
from tools.testsupport.standins import FakeGateway

MESSAGES = 1000  # the figure: counters equal the bus's own counts after 1,000 messages
MODEL = {"agents": [{"id": "jerry", "gateway": "main", "capabilities": ["hub"], "may_message": ["bobby"]},
                    {"id": "bobby", "gateway": "main", "capabilities": ["ops"], "may_message": ["jerry"]}],
         "gateways": [{"name": "main", "node": "jerry"}]}


@pytest.fixture
def node(lab_process):
    from tools.testsupport.busfarm import Farm

    farm = Farm(lab_process, f"t{uuid.uuid4().hex[:10]}")
    farm.setup(MODEL, replies=False)
    gateway = FakeGateway(token="gw").start()  # answers NO_REPLY: no reply traffic
    cfg = bus_config.parse({
        "consul": {"address": lab_process.consul_addr},
        "layout": {"bus_root": farm.layout.bus_root, "registry_root": farm.layout.registry_root},
        "gateway": {"name": "main", "node": "jerry", "consul_token": farm.gateway_tokens["main"],
                    "url": gateway.url, "token": "gw"},
        "agents": [{"id": "jerry", "consul_token": farm.tokens["jerry"], "mcp_token": "m-jerry", "relay": False},
                   {"id": "bobby", "consul_token": farm.tokens["bobby"], "mcp_token": "m-bobby", "relay": True}],
        "model": MODEL,
        "mcp": {"host": "127.0.0.1", "port": free_port()},
        "relay": {"poll_wait": 2},
    })
    node = Node(cfg).serve_in_thread()
    node.url = f"http://127.0.0.1:{cfg.mcp_port}"
    node.gateway = gateway
    yield node
    node.shutdown()
    gateway.stop()
    farm.close()


def scrape(node):
    response = requests.get(node.url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    families = {}
    for family in text_string_to_metric_families(response.text):
        families[family.name] = family
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return families, samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_parse_and_match_the_bus_counts_after_a_run(node):
    families, samples = scrape(node)
    assert set(METRIC_NAMES) <= set(families), sorted(families)
    assert value(samples, "openclaw_bus_registered", gateway="main") == 1
    jerry = node.service.buses["jerry"]
    for n in range(MESSAGES):
        jerry.send("bobby", text=f"message {n}")
    # Generous waits: the run takes seconds alone, minutes on a loaded CI machine; no timing is asserted.
    assert node.gateway.wait_for(MESSAGES, 300), len(node.gateway.handoffs)
    relay = node.relay.agent_relays[0]
    deadline = time.monotonic() + 120
    while relay.stats["acked"] < MESSAGES and time.monotonic() < deadline:
        time.sleep(0.1)
    assert relay.stats["acked"] == MESSAGES, relay.stats
    families, samples = scrape(node)
    main_bobby = {"gateway": "main", "agent": "bobby"}
    # the families' sample names carry _total for counters
    sent = value(samples, "openclaw_bus_messages_sent_total", gateway="main", agent="jerry")
    assert sent == MESSAGES == jerry.outbox.sent
    assert value(samples, "openclaw_bus_messages_delivered_total", **main_bobby) == MESSAGES == relay.stats["delivered"]
    assert value(samples, "openclaw_bus_messages_acked_total", **main_bobby) == MESSAGES == relay.stats["acked"]
    assert len(node.gateway.handoffs) == MESSAGES
    for name in ("openclaw_bus_messages_dead_lettered_total", "openclaw_bus_delivery_retries_total",
                 "openclaw_bus_duplicates_dropped_total", "openclaw_bus_relay_errors_total"):
        assert value(samples, name, **main_bobby) == 0, name
    assert value(samples, "openclaw_bus_handoff_seconds_count", **main_bobby) == MESSAGES
    assert value(samples, "openclaw_bus_handoff_seconds_bucket", le="+Inf", **main_bobby) == MESSAGES
    assert value(samples, "openclaw_bus_inbox_backlog", **main_bobby) == 0
    assert value(samples, "openclaw_bus_relay_up", **main_bobby) == 1
    writes = value(samples, "openclaw_bus_consul_requests_total", gateway="main", agent="jerry", kind="write")
    assert writes == node.service.buses["jerry"].consul.stats["write"] >= MESSAGES


def test_a_gateway_that_fails_shows_as_retries_and_backlog(node):
    node.gateway.status = 500  # every agent run fails
    jerry = node.service.buses["jerry"]
    for n in range(3):
        jerry.send("bobby", text=f"will fail {n}")
    relay = node.relay.agent_relays[0]
    deadline = time.monotonic() + 20
    while relay.stats["failed"] < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    _families, samples = scrape(node)
    main_bobby = {"gateway": "main", "agent": "bobby"}
    assert value(samples, "openclaw_bus_delivery_retries_total", **main_bobby) == relay.stats["failed"] >= 2
    assert value(samples, "openclaw_bus_messages_delivered_total", **main_bobby) == 0
    assert value(samples, "openclaw_bus_inbox_backlog", **main_bobby) == 3
