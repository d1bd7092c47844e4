# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`openclaw-bus watch`: alerts with no single point of failure. One watcher runs on every node; they
all follow Consul health with one blocking query (/v1/health/state/critical, no polling loop), and the one
holding the lock key <prefix>/leader sends. Its session is bound to its node's serfHealth check, so a node
that dies releases the lock at once and a watcher on a surviving node takes over and reports it.

An incident is one kind + subject: `node:<node>` (serfHealth critical), `gateway:<name>` (a check of the
Consul service openclaw-<name>) or `relay:<node>` (a check of the bus service openclaw-bus-<node>, whose
relay delivers the agents' messages). Checks of a node that is down are folded into that node's incident.
Incidents live in Consul KV under <prefix>/incidents/, written with check-and-set by the leader only:

    pending    critical, not yet for `grace` seconds (recovered before that: deleted, nothing sent)
    sending    the leader claimed it and is notifying          -> notified
    notified   the owner was told                             -> recovering when it is no longer critical
    recovering the recovery message is being sent             -> deleted

A new leader picks up where the old one stopped: it never re-sends a notified incident, and it sends the
recovery of an incident that recovered while nobody led. A claim older than CLAIM_TIMEOUT (the sender died
between claim and send) is sent again, marked as possibly repeated. Problem notifications are rate-limited
(at most `rate_limit` per hour; the rest wait, still pending); recoveries are never held back.
Notifications go through Apprise (URLs from an environment variable, never the command line)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from .consul import BlockingIndex, ConsulError, KVEntry

log = logging.getLogger(__name__)

SERF_CHECK = "serfHealth"
SESSION_TTL = 10  # seconds, Consul's minimum; the lock follows the node's serfHealth check at once anyway
CLAIM_TIMEOUT = 30.0
MAX_WAIT = 60.0
RETRY = 5.0

RUNBOOKS = {
    "node": "Runbook: node {subject} is unreachable for Consul (serfHealth). Check its power and network; "
            "Nomad reschedules its gateways and bus on other nodes; `nomad node status {subject}`, then "
            "`ansible-playbook playbooks/health.yml`.",
    "gateway": "Runbook: gateway {subject} fails its checks. `nomad job status openclaw-{subject}` and "
               "`nomad alloc logs -stderr <alloc>`; a hand-edited config shows in `ansible-playbook "
               "playbooks/drift.yml`; redeploy with `playbooks/phase2.yml --tags gateway`.",
    "relay": "Runbook: the bus relay on {subject} is down, so its agents get no messages (they wait in Consul "
             "KV and arrive when it returns). `nomad job status openclaw-bus-{subject}`, "
             "`nomad job restart openclaw-bus-{subject}`.",
}


@dataclass(frozen=True)
class Incident:
    kind: str
    subject: str
    node: str
    output: str

    @property
    def key(self):
        return f"{self.kind}:{self.subject}"


def incidents_from(checks, service_prefix="openclaw-", bus_prefix="openclaw-bus-"):
    """Critical checks -> {key: Incident}; a down node's own service checks fold into the node's incident."""
    down = {c["Node"] for c in checks if c.get("CheckID") == SERF_CHECK}
    found = {}
    for check in checks:
        node, service = check.get("Node", ""), check.get("ServiceName") or ""
        if check.get("CheckID") == SERF_CHECK:
            incident = Incident("node", node, node, check.get("Output") or "")
        elif node in down:
            continue
        elif service.startswith(bus_prefix):
            incident = Incident("relay", service[len(bus_prefix):], node, check.get("Output") or "")
        elif service.startswith(service_prefix):
            incident = Incident("gateway", service[len(service_prefix):], node, check.get("Output") or "")
        else:
            continue
        found.setdefault(incident.key, incident)
    return found


class AppriseNotifier:
    """Apprise with the given URLs (Slack, Discord, ntfy, Gotify, Telegram, e-mail, json://...)."""

    def __init__(self, urls):
        import apprise

        self.apprise = apprise.Apprise()
        for url in urls:
            if not self.apprise.add(url):
                # the URL may hold a token: name its scheme only
                raise ValueError(f"Apprise does not accept the notification URL with scheme "
                                 f"{url.split(':', 1)[0]!r}")

    def __call__(self, title, body, failure):
        import apprise

        kind = apprise.NotifyType.FAILURE if failure else apprise.NotifyType.SUCCESS
        return bool(self.apprise.notify(title=title, body=body, notify_type=kind))


class Watcher:
    def __init__(self, consul, node, notify, grace=60.0, rate_limit=20, prefix="openclaw/watch",
                 service_prefix="openclaw-", clock=time.time):
        self.consul = consul
        self.node = node
        self.notify = notify
        self.grace = float(grace)
        self.rate_limit = int(rate_limit)
        self.prefix = prefix.strip("/")
        self.service_prefix = service_prefix
        self.clock = clock
        self.session = None
        self.leader = False
        self.critical = None  # the latest answer of the health query (None until the first)
        self.sent = deque()  # times of problem notifications in the last hour (rate limit)
        # for the metrics: notifications sent / failed by kind, and {incident key: (kind, state)} as the
        # leader last read or wrote them (empty on the other watchers)
        self.sent_count = {"problem": 0, "recovery": 0}
        self.failed_count = {"problem": 0, "recovery": 0}
        self.incidents = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._wake = threading.Event()

    # -- leadership ------------------------------------------------------------------------------------
    def _create_session(self):
        body = {"Name": f"openclaw-watch-{self.node}", "Node": self.node, "NodeChecks": [SERF_CHECK],
                "TTL": f"{SESSION_TTL}s", "Behavior": "release", "LockDelay": "0s"}
        return self.consul.request("PUT", "/v1/session/create", "session", data=json.dumps(body)).json()["ID"]

    def lead_loop(self):
        """Hold a session, contend for the lock, and follow the lock key with blocking queries (waking at
        least every TTL/2 to renew the session)."""
        key, index = f"{self.prefix}/leader", BlockingIndex()
        while not self.stopping.is_set():
            try:
                if self.session is None:
                    self.session = self._create_session()
                    index = BlockingIndex()
                entry = self._read_lock(key, index)
                holder = entry.session if entry else ""
                if not holder:
                    value = json.dumps({"node": self.node, "since": self.clock()})
                    if self.consul.put(key, value, acquire=self.session):
                        log.info("watch: %s leads", self.node)
                        self._set_leader(True)
                        continue
                self._set_leader(holder == self.session)
                if not self.consul.session_renew(self.session):
                    self.session = None
                    self._set_leader(False)
            except ConsulError as exc:
                # e.g. "Check 'serfHealth' is in critical state": this node is down for Consul
                log.warning("watch: %s cannot lead: %s", self.node, exc)
                self.session = None
                self._set_leader(False)
                self.stopping.wait(RETRY)

    def _read_lock(self, key, index):
        params = index.params(SESSION_TTL / 2)
        timeout = SESSION_TTL + self.consul.timeout
        response = self.consul.request("GET", f"/v1/kv/{key}", "read", params=params, timeout=timeout,
                                       ok=(200, 404))
        index.update(response.headers.get("X-Consul-Index"))
        if response.status_code == 404:
            return None
        return KVEntry.from_json(response.json()[0])

    def _set_leader(self, leader):
        if leader != self.leader:
            self.leader = leader
            if not leader:
                self.incidents = {}
            self._wake.set()

    # -- health ------------------------------------------------------------------------------------------
    def health_loop(self):
        """One blocking query on the critical checks at a time; every answer wakes the reconciler."""
        index = BlockingIndex()
        while not self.stopping.is_set():
            try:
                params = index.params(MAX_WAIT)
                response = self.consul.request("GET", "/v1/health/state/critical", "read", params=params,
                                               timeout=MAX_WAIT + MAX_WAIT / 16 + self.consul.timeout)
                index.update(response.headers.get("X-Consul-Index"))
                self.critical = response.json()
                self._wake.set()
            except ConsulError as exc:
                log.warning("watch: health query failed: %s", exc)
                self.stopping.wait(RETRY)

    def reconcile_loop(self):
        """Reconcile on a health change, on becoming leader, or when the next grace deadline is due."""
        due = None
        while not self.stopping.is_set():
            self._wake.wait(timeout=due if self.leader else None)
            self._wake.clear()
            due = None
            if self.leader and self.critical is not None and not self.stopping.is_set():
                try:
                    due = self.reconcile()
                except ConsulError as exc:
                    log.warning("watch: reconcile failed: %s", exc)
                    due = RETRY

    # -- incidents ---------------------------------------------------------------------------------------
    def reconcile(self):
        """Bring the incident records in line with the critical checks; notify what is due. Returns the
        seconds until the next deadline (a grace period ending, a retry, the rate limit), or None."""
        with self._lock:
            if not self.leader:
                return None
            now = self.clock()
            current = incidents_from(self.critical or [], self.service_prefix)
            stored = {e.key.rsplit("/", 1)[-1]: e for e in self.consul.list(f"{self.prefix}/incidents/")[0]}
            self.incidents = {key: _view(entry.json()) for key, entry in stored.items()}
            next_due = float("inf")
            for key, incident in current.items():
                if key not in stored:
                    record = {"kind": incident.kind, "subject": incident.subject, "node": incident.node,
                              "output": incident.output[:500], "since": now, "state": "pending"}
                    self._put(self._key(key), record, cas=0)
                    next_due = min(next_due, self.grace)
                    continue
                entry, record = stored[key], stored[key].json() or {}
                if record.get("state") == "recovering":  # it came back and failed again: a new incident
                    self._recover(entry, record)
                    continue
                due = record.get("since", now) + self.grace - now
                stale_claim = record.get("state") == "sending" and now - record.get("claimed", now) > CLAIM_TIMEOUT
                if record.get("state") == "pending" or stale_claim:
                    if due > 0:
                        next_due = min(next_due, due)
                    elif not self._allowed(now):
                        next_due = min(next_due, 60.0)
                    elif not self._problem(entry, record, repeated=stale_claim):
                        next_due = min(next_due, RETRY)
            for key, entry in stored.items():
                if key in current:
                    continue
                record = entry.json() or {}
                if record.get("state") in ("notified", "sending", "recovering"):
                    if not self._recover(entry, record):
                        next_due = min(next_due, RETRY)
                else:  # shorter than the grace period: nobody is told
                    self._delete(entry, cas=entry.modify_index)
            return None if next_due == float("inf") else max(next_due, 0.5)  # None: only a change wakes it

    def _key(self, key):
        return f"{self.prefix}/incidents/{key}"

    def _put(self, key, record, cas):
        ok = self.consul.put(key, json.dumps(record), cas=cas)
        if ok:
            self.incidents[key.rsplit("/", 1)[-1]] = _view(record)
        return ok

    def _delete(self, entry, cas):
        ok = self.consul.delete(entry.key, cas=cas)
        if ok:
            self.incidents.pop(entry.key.rsplit("/", 1)[-1], None)
        return ok

    def _allowed(self, now):
        while self.sent and now - self.sent[0] > 3600:
            self.sent.popleft()
        return len(self.sent) < self.rate_limit

    def _claim(self, entry, record, state, **fields):
        record = dict(record, state=state, **fields)
        if not self._put(entry.key, record, cas=entry.modify_index):
            return None  # someone else changed it: the next wake sees what
        fresh, _ = self.consul.get(entry.key)
        return fresh

    def _problem(self, entry, record, repeated=False):
        now = self.clock()
        claimed = self._claim(entry, record, "sending", claimed=now)
        if claimed is None:
            return True
        kind, subject = record["kind"], record["subject"]
        title = f"[openclaw] CRITICAL {kind} {subject}" + (" (possibly repeated)" if repeated else "")
        where = f" on node {record['node']}" if kind != "node" else ""
        body = (f"{kind} {subject}{where} has been critical since {_when(record['since'])} "
                f"({now - record['since']:.0f} s, grace {self.grace:g} s). {record.get('output') or ''}".rstrip()
                + f"\n{RUNBOOKS[kind].format(subject=subject)}\nSent by the watcher on {self.node}.")
        if not self._send(title, body, failure=True):
            self._put(claimed.key, dict(record, state="pending"), cas=claimed.modify_index)
            return False
        self.sent.append(now)
        self._put(claimed.key, dict(record, state="notified", notified=now, by=self.node), cas=claimed.modify_index)
        return True

    def _recover(self, entry, record):
        if record.get("state") != "recovering":
            entry = self._claim(entry, record, "recovering", recovered=self.clock())
            if entry is None:
                return True
        kind, subject = record["kind"], record["subject"]
        lasted = self.clock() - record["since"]
        title = f"[openclaw] RECOVERED {kind} {subject}"
        body = (f"{kind} {subject} is passing again after {lasted:.0f} s (critical since {_when(record['since'])})."
                f"\nSent by the watcher on {self.node}.")
        if not self._send(title, body, failure=False):
            return False
        self._delete(entry, cas=entry.modify_index)
        return True

    def _send(self, title, body, failure):
        try:
            ok = self.notify(title, body, failure)
        except Exception as exc:  # noqa: BLE001 - a notifier plugin's failure must not stop the watcher
            log.warning("watch: notification failed: %s", exc)
            ok = False
        (self.sent_count if ok else self.failed_count)["problem" if failure else "recovery"] += 1
        log.info("watch: %s %s", "sent" if ok else "could not send", title)
        return ok

    # -- running -----------------------------------------------------------------------------------------
    def run(self):
        threads = [threading.Thread(target=target, name=f"watch-{target.__name__}", daemon=True)
                   for target in (self.lead_loop, self.health_loop, self.reconcile_loop)]
        for thread in threads:
            thread.start()
        try:
            while not self.stopping.wait(1.0):
                pass
        finally:
            self.stop()

    def stop(self):
        self.stopping.set()
        self._wake.set()
        if self.session:
            try:
                self.consul.session_destroy(self.session)  # hand the lock over at once
            except ConsulError:
                pass


def _view(record):
    record = record or {}
    return record.get("kind", ""), record.get("state", "")


def _when(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


__all__ = ["AppriseNotifier", "Incident", "Watcher", "incidents_from"]
