# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus metrics of one bus process (`GET /metrics` on its HTTP port), with the official
prometheus_client. The counters are read at scrape time from the counts the bus keeps anyway (the
senders' `Outbox.sent`, the relays' `stats`, the Consul clients' `stats`), so a scrape always equals
the process's own numbers; only the hand-off latency is a histogram observed as messages are handed
over. Every series is labelled with the gateway and, where it has one, the agent."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .envelope import parse_time

# Hand-off latency: from the message's sent_at to the agent's answer through the gateway (seconds).
HANDOFF_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
# name, help, relay stats key
RELAY_COUNTERS = (
    ("openclaw_bus_messages_delivered", "Messages handed to the agent through its gateway", "delivered"),
    ("openclaw_bus_delivery_retries", "Failed hand-offs that will be retried (gateway down or agent run failed)",
     "failed"),
    ("openclaw_bus_messages_dead_lettered", "Messages moved to the dead-letter prefix by the relay", "dead"),
    ("openclaw_bus_messages_acked", "Messages acknowledged (removed from the inbox) by the relay", "acked"),
    ("openclaw_bus_duplicates_dropped", "Duplicate messages dropped before hand-off", "duplicates"),
    ("openclaw_bus_replies_sent", "Agent answers sent back to the sender", "replies"),
    ("openclaw_bus_relay_errors", "Relay rounds that failed on Consul or the bus (retried with backoff)", "errors"),
)
METRIC_NAMES = ("openclaw_bus_messages_sent",) + tuple(name for name, _h, _k in RELAY_COUNTERS) + (
    "openclaw_bus_consul_requests", "openclaw_bus_inbox_backlog", "openclaw_bus_registered",
    "openclaw_bus_relay_up", "openclaw_bus_handoff_seconds")


class BusCollector:
    """Reads a Node's counts at every scrape."""

    def __init__(self, node):
        self.node = node

    def collect(self):
        node = self.node
        gateway = node.config.gateway
        sent = CounterMetricFamily("openclaw_bus_messages_sent", "Messages written into a recipient's inbox",
                                   labels=["gateway", "agent"])
        for agent, bus in sorted(node.service.buses.items()):
            sent.add_metric([gateway, agent], bus.outbox.sent)
        yield sent
        relays = sorted(node.relay.agent_relays, key=lambda r: r.agent)
        for name, text, key in RELAY_COUNTERS:
            family = CounterMetricFamily(name, text, labels=["gateway", "agent"])
            for relay in relays:
                family.add_metric([gateway, relay.agent], relay.stats[key])
            yield family
        requests = CounterMetricFamily("openclaw_bus_consul_requests", "HTTP requests to Consul by kind",
                                       labels=["gateway", "agent", "kind"])
        for agent, bus in sorted(node.service.buses.items()):
            for kind, value in sorted(bus.consul.stats.items()):
                if kind != "requests":
                    requests.add_metric([gateway, agent, kind], value)
        yield requests
        backlog = GaugeMetricFamily("openclaw_bus_inbox_backlog",
                                    "Messages in the agent's inbox at the relay's latest read, not yet acknowledged",
                                    labels=["gateway", "agent"])
        up = GaugeMetricFamily("openclaw_bus_relay_up", "1 when the relay's latest round succeeded",
                               labels=["gateway", "agent"])
        for relay in relays:
            backlog.add_metric([gateway, relay.agent], relay.backlog)
            up.add_metric([gateway, relay.agent], 0 if relay.last_round_failed else 1)
        yield backlog
        yield up
        registered = GaugeMetricFamily("openclaw_bus_registered",
                                       "1 while this process holds the gateway's registry session", labels=["gateway"])
        registered.add_metric([gateway], 1 if node.presence.session else 0)
        yield registered


class BusMetrics:
    """The registry of one Node: the collector plus the hand-off histogram the relays observe."""

    def __init__(self, node, clock=time.time):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(BusCollector(node))
        self.handoff = Histogram("openclaw_bus_handoff_seconds", "From a message's sent_at to the agent's answer",
                                 ["gateway", "agent"], buckets=HANDOFF_BUCKETS, registry=self.registry)
        self.gateway = node.config.gateway
        self.clock = clock

    def observe_handoff(self, agent, message, answer):
        sent = parse_time(message.metadata.get("sent_at"))
        if sent is not None:
            self.handoff.labels(self.gateway, agent).observe(max(0.0, self.clock() - sent))


# The alert watcher (`openclaw-bus watch --metrics-port`): its own registry, read from the Watcher at scrape time.
WATCH_METRIC_NAMES = ("openclaw_watch_leader", "openclaw_watch_critical_checks", "openclaw_watch_incidents",
                      "openclaw_watch_notifications_sent", "openclaw_watch_notification_failures")
WATCH_INCIDENT_KINDS = ("node", "gateway", "relay")
WATCH_INCIDENT_STATES = ("pending", "sending", "notified", "recovering")


class WatchCollector:
    """Reads a Watcher's state at every scrape. Only the leader reads the incident records, so the other
    watchers report 0 open incidents and sum() over the farm counts each incident once."""

    def __init__(self, watcher):
        self.watcher = watcher

    def collect(self):
        watcher, node = self.watcher, self.watcher.node
        leader = GaugeMetricFamily("openclaw_watch_leader", "1 while this watcher holds the lock (the one that sends)",
                                   labels=["node"])
        leader.add_metric([node], 1 if watcher.leader else 0)
        yield leader
        checks = GaugeMetricFamily("openclaw_watch_critical_checks",
                                   "Critical Consul checks in the latest answer of the health query", labels=["node"])
        checks.add_metric([node], len(watcher.critical or []))
        yield checks
        counts = {}
        for kind, state in list(watcher.incidents.values()) if watcher.leader else []:
            counts[kind, state] = counts.get((kind, state), 0) + 1
        incidents = GaugeMetricFamily("openclaw_watch_incidents", "Open incidents by kind and state, as the leader "
                                      "last wrote them (0 on the other watchers)", labels=["node", "kind", "state"])
        for kind in WATCH_INCIDENT_KINDS:
            for state in WATCH_INCIDENT_STATES:
                incidents.add_metric([node, kind, state], counts.get((kind, state), 0))
        yield incidents
        for name, text, stats in (
                ("openclaw_watch_notifications_sent", "Notifications this watcher sent", watcher.sent_count),
                ("openclaw_watch_notification_failures", "Notifications Apprise could not send (retried)",
                 watcher.failed_count)):
            family = CounterMetricFamily(name, text, labels=["node", "kind"])
            for kind in ("problem", "recovery"):
                family.add_metric([node, kind], stats[kind])
            yield family


def watch_registry(watcher):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WatchCollector(watcher))
    return registry
