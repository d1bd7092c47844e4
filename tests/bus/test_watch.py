# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`openclaw-bus watch` as real processes, one per lab node, against the lab's Consul (ACLs on), notifying an
Apprise json:// endpoint on loopback. A node marked down: exactly one notification within grace + 10 s, sent
by a surviving node, with the runbook line. The sending watcher killed mid-incident (SIGKILL) and the node
back before anyone took over: no second problem notification, and the recovery still arrives, from another
watcher. Plus the classification of critical checks into incidents (folding a down node's services)."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from openclaw_bus.metrics import WATCH_METRIC_NAMES
from openclaw_bus.watch import incidents_from
from tools.testsupport.busfarm import MANAGEMENT_TOKEN
from tools.testsupport.labclient import Api, LabAdmin, LabProcess
from tools.testsupport.watchlab import Receiver, Watchers

GRACE = 3.0
NODES = ("jerry", "bobby", "billy")


@pytest.fixture
def farm(tmp_path):
    with LabProcess(acl_token=MANAGEMENT_TOKEN) as lab:
        receiver = Receiver()
        watchers = Watchers(lab, MANAGEMENT_TOKEN, receiver.url, NODES, GRACE, tmp_path, metrics=True)
        consul = Api(lab.consul_addr, MANAGEMENT_TOKEN, "X-Consul-Token")
        try:
            yield lab, LabAdmin(lab.admin_addr), consul, receiver, watchers
        finally:
            watchers.stop()
            receiver.stop()
            for log in sorted(tmp_path.glob("watch-*.log")):
                print(f"--- {log.name}\n{log.read_text()[-3000:]}")


def test_a_node_down_is_reported_once_by_a_survivor_and_a_killed_sender_loses_nothing(farm):
    lab, admin, consul, receiver, watchers = farm
    assert watchers.wait_leader(consul), "no watcher took the lock"
    time.sleep(GRACE + 1)
    assert receiver.messages() == [], "a healthy farm sends nothing"

    down_at = time.monotonic()
    admin.node("billy", False)
    (problem,) = receiver.wait_for(1, GRACE + 10)
    assert problem["at"] - down_at <= GRACE + 10
    assert problem["at"] - down_at >= GRACE - 0.5, "sent before the grace period ended"
    assert problem["title"] == "[openclaw] CRITICAL node billy" and problem["type"] == "failure"
    assert "Runbook: node billy is unreachable" in problem["message"]
    sender = problem["message"].rsplit("Sent by the watcher on ", 1)[1].rstrip(".")
    assert sender in ("jerry", "bobby"), problem["message"]

    # mid-incident: the sender dies without a word and, before anyone takes over, billy comes back
    watchers.kill(sender)
    time.sleep(1)
    admin.node("billy", True)
    messages = receiver.wait_for(2, 45)  # the dead session expires after 2 x TTL (20 s) at most
    assert len(messages) == 2, messages
    recovery = messages[1]
    assert recovery["title"] == "[openclaw] RECOVERED node billy" and recovery["type"] == "success"
    assert "Sent by the watcher on " + sender not in recovery["message"]
    time.sleep(GRACE + 2)
    assert len(receiver.messages()) == 2, receiver.messages()  # no second problem, no second recovery
    assert consul.get("/v1/kv/openclaw/watch/incidents/", params={"recurse": ""}).status_code == 404


def test_a_short_blip_is_not_reported(farm):
    lab, admin, consul, receiver, watchers = farm
    assert watchers.wait_leader(consul)
    admin.node("bobby", False)
    time.sleep(GRACE / 3)
    admin.node("bobby", True)
    time.sleep(GRACE + 2)
    assert receiver.messages() == []


def scrape(url):
    """/metrics through prometheus_client's own parser -> {(name, sorted labels): value}."""
    response = requests.get(url, timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    assert {f.name for f in families} == set(WATCH_METRIC_NAMES)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def total(samples, name, **labels):
    return sum(value for (sample, tags), value in samples.items()
               if sample == name and labels.items() <= dict(tags).items())


def test_the_watchers_metrics_follow_the_lock_and_count_what_the_owner_received(farm):
    lab, admin, consul, receiver, watchers = farm
    leader = watchers.wait_leader(consul)
    assert leader, "no watcher took the lock"
    time.sleep(1)  # the others' lock reads settle
    scraped = {node: scrape(url) for node, url in watchers.metrics.items()}
    assert {node: total(s, "openclaw_watch_leader") for node, s in scraped.items()} == {
        node: 1 if node == leader else 0 for node in NODES}

    # A node other than the leader's goes down: the leader's own session dies with its node,
    # and the lock (with the count) would move to another watcher.
    down = next(node for node in NODES if node != leader)
    admin.node(down, False)
    assert len(receiver.wait_for(1, GRACE + 10)) == 1
    time.sleep(0.5)  # the record is marked notified right after the send
    scraped = {node: scrape(url) for node, url in watchers.metrics.items()}
    everyone = [s for s in scraped.values()]
    assert sum(total(s, "openclaw_watch_notifications_sent_total", kind="problem") for s in everyone) == 1
    assert total(scraped[leader], "openclaw_watch_notifications_sent_total", kind="problem") == 1
    assert total(scraped[leader], "openclaw_watch_incidents", kind="node", state="notified") == 1
    assert sum(total(s, "openclaw_watch_incidents") for s in everyone) == 1, "only the leader reports incidents"
    assert total(scraped[leader], "openclaw_watch_critical_checks") >= 1

    admin.node(down, True)
    received = receiver.wait_for(2, GRACE + 10)
    assert [m["type"] for m in received] == ["failure", "success"]
    time.sleep(0.5)
    everyone = [scrape(url) for url in watchers.metrics.values()]
    assert sum(total(s, "openclaw_watch_notifications_sent_total") for s in everyone) == len(received)
    assert sum(total(s, "openclaw_watch_notifications_sent_total", kind="recovery") for s in everyone) == 1
    assert sum(total(s, "openclaw_watch_notification_failures_total") for s in everyone) == 0
    assert sum(total(s, "openclaw_watch_incidents") for s in everyone) == 0
    assert sum(total(s, "openclaw_watch_leader") for s in everyone) == 1


def test_critical_checks_become_one_incident_per_subject():
    checks = [
        {"Node": "billy", "CheckID": "serfHealth", "ServiceName": "", "Output": "Agent not live"},
        {"Node": "billy", "CheckID": "c1", "ServiceName": "openclaw-billy", "Output": ""},  # folded into the node
        {"Node": "bobby", "CheckID": "c2", "ServiceName": "openclaw-bobby", "Output": "HTTP 503"},
        {"Node": "bobby", "CheckID": "c3", "ServiceName": "openclaw-bobby", "Output": "body not ok"},
        {"Node": "jerry", "CheckID": "c4", "ServiceName": "openclaw-bus-jerry", "Output": "refused"},
        {"Node": "jerry", "CheckID": "c5", "ServiceName": "traefik", "Output": ""},
    ]
    assert sorted(incidents_from(checks)) == ["gateway:bobby", "node:billy", "relay:jerry"]
