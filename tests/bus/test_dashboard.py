# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operators' examples name only series the processes expose: every metric in the Grafana dashboard
(examples/grafana/openclaw-farm.json) and in the Prometheus rules (examples/prometheus/) is a series name of
a bus process's or a watcher's /metrics, as prometheus_client writes it (`_total`, `_bucket`...): both
registries are filled through their real collectors and their exposition parsed."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from openclaw_bus.metrics import METRIC_NAMES, WATCH_METRIC_NAMES, BusMetrics, watch_registry

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "examples" / "grafana" / "openclaw-farm.json"
RULES = ROOT / "examples" / "prometheus" / "openclaw-bus.rules.yml"
METRIC = re.compile(r"\bopenclaw_[a-z0-9_]+")


def series(registry):
    text = generate_latest(registry).decode()
    families = list(text_string_to_metric_families(text))
    return {f.name for f in families}, {s.name for f in families for s in f.samples}


def exposed():
    """(family names, sample names) of one bus process with one agent and of one watcher."""
    relay = SimpleNamespace(agent="a", stats=defaultdict(int), backlog=0, last_round_failed=False)
    bus = SimpleNamespace(outbox=SimpleNamespace(sent=0), consul=SimpleNamespace(stats={"read": 0}))
    node = SimpleNamespace(config=SimpleNamespace(gateway="g"), service=SimpleNamespace(buses={"a": bus}),
                           relay=SimpleNamespace(agent_relays=[relay]), presence=SimpleNamespace(session=None))
    metrics = BusMetrics(node)
    metrics.handoff.labels("g", "a").observe(1.0)
    watcher = SimpleNamespace(node="n", leader=True, critical=[], incidents={},
                              sent_count={"problem": 0, "recovery": 0}, failed_count={"problem": 0, "recovery": 0})
    bus_families, bus_samples = series(metrics.registry)
    watch_families, watch_samples = series(watch_registry(watcher))
    return bus_families | watch_families, bus_samples | watch_samples


def dashboard_exprs():
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "definition") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(DASHBOARD.read_text()))
    return found


def unknown(exprs, samples):
    return sorted({name for expr in exprs for name in METRIC.findall(expr)} - samples)


def test_the_metric_name_lists_are_what_the_registries_expose():
    families, samples = exposed()
    # the text format writes a histogram's creation time as a family of its own
    assert {f for f in families if not f.endswith("_created")} == set(METRIC_NAMES) | set(WATCH_METRIC_NAMES)
    assert {"openclaw_bus_messages_sent_total", "openclaw_bus_handoff_seconds_bucket",
            "openclaw_watch_notifications_sent_total", "openclaw_watch_leader"} <= samples


def test_every_metric_in_the_dashboard_exists():
    _, samples = exposed()
    exprs = dashboard_exprs()
    assert unknown(exprs, samples) == []
    assert unknown(["rate(openclaw_bus_messages_sent[5m])"], samples) == ["openclaw_bus_messages_sent"], \
        "a counter without _total is not a series"
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    # what the operators asked for: sent/delivered rate, backlog, dead letters, hand-off p50/p99, relay up, leader
    assert {"openclaw_bus_messages_sent_total", "openclaw_bus_messages_delivered_total",
            "openclaw_bus_inbox_backlog", "openclaw_bus_messages_dead_lettered_total",
            "openclaw_bus_handoff_seconds_bucket", "openclaw_bus_relay_up", "openclaw_watch_leader"} <= used
    assert any("histogram_quantile(0.5," in e for e in exprs) and any("histogram_quantile(0.99," in e for e in exprs)
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and all(p["targets"] for p in dashboard["panels"])


def test_every_metric_in_the_alert_rules_exists():
    _, samples = exposed()
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert unknown([r["expr"] for r in rules], samples) == []
    assert all(r["annotations"].get("runbook") for r in rules)
    (leader,) = [r for r in rules if r["alert"] == "OpenClawNoWatcherLeader"]
    assert leader["expr"] == "sum(openclaw_watch_leader) == 0" and leader["for"] == "5m"
