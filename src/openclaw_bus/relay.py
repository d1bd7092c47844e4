# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The relay: for each agent of the local gateway, takes inbound requests from its inbox and hands
them to the agent through the gateway's OpenAI-compatible endpoint (POST /v1/chat/completions with
model "openclaw/<agentId>"), sends the agent's answer back to the sender's inbox as a reply (same
contextId, metadata.reply_to = the request's messageId) and acknowledges only after that.

- Replies (messages with metadata.reply_to) are not relayed: they are answers the agent asked for
  and collects with send_message(wait_for_reply_seconds) or check_inbox. This also makes
  reply-to-reply loops between two relays impossible.
- Per sender, order holds: when a message fails, later ones from that sender wait behind it.
- A failed delivery (gateway down, refused, timed out, bad answer) is an attempt: attempt+1 is
  written into the message (one txn per round), the relay backs off exponentially, and after
  max_attempts the message goes to dead letters. With the gateway unreachable only one message per
  round is tried, so an outage costs attempts to one message at a time, not to the whole queue.
- A journal (optional file, JSON lines) records "handing over" before each hand-off and the answer
  right after it, before the ack: a relay killed between hand-off and ack acks after restart without
  handing the message over again, and re-sends the reply with the same deterministic messageId (the
  receiver drops duplicates). A relay killed *during* a hand-off cannot know whether the agent got
  it (the gateway has no idempotency key): the message is handed over again, marked as a possible
  duplicate in the text the agent reads, so a repeat is never silent."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter

import requests

from .consul import ConsulError
from .envelope import TTL_MAX, TTL_MIN, BusError, reply_id
from .mailbox import BusPermissionDenied

log = logging.getLogger(__name__)
NO_REPLY = "NO_REPLY"
# What the hand-off text asks an agent to answer when nothing should go back. Not OpenClaw's own silent
# token NO_REPLY: POST /v1/chat/completions (OpenClaw 2026.9.6) requires a visible answer, so a turn that
# ends in NO_REPLY is retried once by the gateway and then fails with HTTP 500, which the relay would
# count as a failed delivery and repeat until dead-lettered (tests/e2e/test_bus_relay.py shows both).
# Either token as the whole answer means "send nothing".
SKIP_REPLY = "BUS_NO_REPLY"
MAX_ATTEMPTS = 40       # with backoff 1s doubling to 60s: about 35 minutes of retries
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 60.0


class GatewayError(Exception):
    def __init__(self, message, unavailable=False):
        super().__init__(message)
        self.unavailable = unavailable


POSSIBLE_DUPLICATE = "possible duplicate"


def render(message, possible_duplicate=False):
    """The text the agent receives: who wrote, the thread, the content, and how answers travel."""
    meta = message.metadata
    lines = [f"[openclaw-bus] Message from agent {message.sender}"
             + (f" (gateway {meta.get('from_gateway')})" if meta.get("from_gateway") else "")
             + f", context {message.context_id}, message {message.id}."]
    if possible_duplicate:
        lines.append(f"({POSSIBLE_DUPLICATE}: the bus relay restarted while handing this message over, so you "
                     f"may have received message {message.id} before; do not act on it twice.)")
    for part in message.envelope.get("parts") or []:
        if part.get("kind") == "text":
            lines.append(part.get("text") or "")
        elif part.get("kind") == "data":
            lines.append("```json\n" + json.dumps(part.get("data"), indent=2, ensure_ascii=False) + "\n```")
    lines.append(f"(Your answer is sent back to {message.sender} automatically. If nothing should go back, "
                 f"answer exactly {SKIP_REPLY}.)")
    return "\n\n".join(lines)


class ChatCompletionsTarget:
    """Hands messages to agents through one gateway's POST /v1/chat/completions."""

    def __init__(self, url, token, timeout=300.0, model_prefix="openclaw/"):
        self.url = url.rstrip("/") + "/v1/chat/completions"
        self.token = token
        self.timeout = timeout
        self.model_prefix = model_prefix
        self.http = requests.Session()

    def deliver(self, agent_id, message, possible_duplicate=False):
        body = {"model": f"{self.model_prefix}{agent_id}", "stream": False,
                "messages": [{"role": "user", "content": render(message, possible_duplicate)}],
                # A stable OpenAI `user` gives one gateway session per (peer, thread).
                "user": f"openclaw-bus:{message.sender}:{message.context_id}"}
        headers = {"Authorization": f"Bearer {self.token}", "x-openclaw-agent-id": agent_id,
                   "X-OpenClaw-Bus-Message-Id": message.id}
        try:
            response = self.http.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise GatewayError(f"gateway did not answer within {self.timeout:g}s: {exc}") from None
        except requests.ConnectionError as exc:
            raise GatewayError(f"gateway unreachable at {self.url}: {str(exc)[:200]}", unavailable=True) from None
        if response.status_code != 200:
            raise GatewayError(f"gateway answered {response.status_code}: {response.text[:300]}",
                               unavailable=response.status_code in (502, 503, 504))
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise GatewayError(f"gateway answer is not a chat completion: {response.text[:300]}") from None
        if isinstance(content, list):  # content parts
            content = "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content or ""


class Journal:
    """Hand-offs not yet acknowledged: {messageId: {"answer", "replied"} or {"handing": True}}; a
    JSON-lines file when a path is given (flushed per line: survives SIGKILL of the relay; fsync only
    with `sync`, for power loss)."""

    def __init__(self, path=None, sync=False):
        self.path = path
        self.sync = sync
        self.entries = {}
        self._lock = threading.Lock()
        self._file = None
        if path:
            self._load()
            self._file = open(path, "a", encoding="utf-8")  # kept open for appends

    def _load(self):
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue  # a torn last line from a crash
                    self._apply(row)
        with open(self.path + ".tmp", "w", encoding="utf-8") as handle:
            for message_id, entry in self.entries.items():
                handle.write(json.dumps({"id": message_id, **entry}) + "\n")
        os.replace(self.path + ".tmp", self.path)

    def _apply(self, row):
        message_id = row.get("id")
        if not message_id:
            return
        if row.get("acked"):
            self.entries.pop(message_id, None)
        elif row.get("handing"):
            self.entries.setdefault(message_id, {"handing": True})
        elif "answer" in row:
            self.entries[message_id] = {"answer": row["answer"], "replied": bool(row.get("replied"))}
        elif row.get("replied") and message_id in self.entries:
            self.entries[message_id]["replied"] = True

    def _write(self, row):
        with self._lock:
            self._apply(row)
            if self._file:
                self._file.write(json.dumps(row) + "\n")
                self._file.flush()
                if self.sync:
                    os.fsync(self._file.fileno())

    def get(self, message_id):
        return self.entries.get(message_id)

    def handing(self, message_id):
        self._write({"id": message_id, "handing": True})

    def delivered(self, message_id, answer):
        self._write({"id": message_id, "answer": answer})

    def replied(self, message_id):
        self._write({"id": message_id, "replied": True})

    def not_handed(self, message_id):
        """The hand-off certainly did not reach the agent (connection refused, 502/503/504)."""
        if message_id in self.entries:
            self._write({"id": message_id, "acked": True})

    def acked(self, message_ids):
        for message_id in message_ids:
            if message_id in self.entries:
                self._write({"id": message_id, "acked": True})

    def close(self):
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None


class AgentRelay:
    """The relay loop of one local agent (its own AgentBus, so its own Consul token)."""

    def __init__(self, bus, target, max_attempts=MAX_ATTEMPTS, backoff_initial=BACKOFF_INITIAL,
                 backoff_max=BACKOFF_MAX, journal=None, on_handoff=None, reply=True, poll_wait=30.0):
        self.bus = bus
        self.agent = bus.agent
        self.target = target
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.backoff = backoff_initial
        self.retry_at = 0.0
        self.journal = journal or Journal()
        self.on_handoff = on_handoff
        self.reply = reply
        self.poll_wait = poll_wait
        self.inbox = bus.inbox()
        self.stats = Counter()
        self.last_error = None
        self.backlog = 0  # messages of the latest read not acknowledged by that round
        self.last_round_failed = False

    def run_once(self, wait=None):
        """One round: receive a batch (at most one read), hand over what is due, ack (one txn)."""
        wait = self.poll_wait if wait is None else wait
        pause = self.retry_at - time.monotonic()
        if pause > 0:
            wait = min(wait, pause)
        batch = self.inbox.receive(wait, select=lambda m: m.reply_to is None, max_ops=self.inbox.txn_max_ops)
        self.stats["rounds"] += 1
        self.stats["reads"] += int(batch.read)
        done, dead = batch.housekeeping()
        self.stats["duplicates"] += len(batch.duplicates)
        failures = []
        if time.monotonic() >= self.retry_at:
            failures = self._deliver(batch.messages, done, dead)
        if failures:
            self.inbox.record_failure(failures)
            self.stats["failed"] += len(failures)
            self.retry_at = time.monotonic() + self.backoff
            self.backoff = min(self.backoff * 2, self.backoff_max)
        if done or dead:
            result = self.inbox.ack(done, dead)
            self.stats["acked"] += len(result.acked)
            self.stats["dead"] += len(result.dead)
            self.stats["txns"] += result.txns
            self.journal.acked([m.id for m in done])
        self.backlog = max(0, len(batch.messages) - len(done) - len(dead))
        return batch

    def _deliver(self, messages, done, dead):
        failures, blocked = [], set()
        for message in messages:
            if message.sender in blocked:
                continue
            entry = self.journal.get(message.id)
            if entry is None or "answer" not in entry:
                if message.attempt >= self.max_attempts:
                    dead.append((message, f"attempts: {message.attempt} failed deliveries"))
                    continue
                interrupted = entry is not None  # handed over when the previous relay died
                self.journal.handing(message.id)
                try:
                    answer = self.target.deliver(self.agent, message, possible_duplicate=interrupted)
                except GatewayError as exc:
                    if exc.unavailable:
                        self.journal.not_handed(message.id)  # else it may have reached the agent
                    self.last_error = str(exc)
                    log.warning("relay %s: delivery of %s from %s failed (attempt %d): %s", self.agent, message.id,
                                message.sender, message.attempt + 1, exc)
                    failures.append(message)
                    blocked.add(message.sender)
                    if exc.unavailable:
                        break  # the gateway is down: do not spend attempts of the rest of the queue
                    continue
                self.journal.delivered(message.id, answer)
                self.stats["delivered"] += 1
                self.stats["possible_duplicates"] += int(interrupted)
                self.backoff = self.backoff_initial
                if self.on_handoff:
                    self.on_handoff(self.agent, message, answer)
                entry = self.journal.get(message.id)
            if not self._send_reply(message, entry):
                blocked.add(message.sender)  # keep order: the rest of this sender waits for the reply
                continue
            done.append(message)
        return failures

    def _send_reply(self, message, entry):
        answer = (entry or {}).get("answer") or ""
        if not self.reply or entry.get("replied") or answer.strip().upper() in ("", NO_REPLY, SKIP_REPLY):
            return True
        ttl = message.metadata.get("ttl_seconds")
        ttl = min(max(int(ttl), TTL_MIN), TTL_MAX) if isinstance(ttl, (int, float)) else None
        try:
            self.bus.send(message.sender, text=answer, context_id=message.context_id,
                          task_id=message.envelope.get("taskId"), reply_to=message.id, role="agent",
                          message_id=reply_id(message.id), **({"ttl_seconds": ttl} if ttl else {}))
        except BusPermissionDenied as exc:
            log.warning("relay %s: cannot reply to %s (not allowed): %s", self.agent, message.sender, exc)
        except BusError as exc:
            log.warning("relay %s: reply to %s not sent yet: %s", self.agent, message.sender, exc)
            return False
        self.journal.replied(message.id)
        self.stats["replies"] += 1
        return True

    def run(self, stop):
        backoff = 0.5
        while not stop.is_set():
            try:
                self.run_once()
                backoff = 0.5
                self.last_round_failed = False
            except (ConsulError, BusError) as exc:
                self.stats["errors"] += 1
                self.last_round_failed = True
                self.last_error = str(exc)
                log.warning("relay %s: %s", self.agent, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception:  # keep relaying; the traceback is the bug report
                self.stats["errors"] += 1
                self.last_round_failed = True
                log.exception("relay %s: unexpected error", self.agent)
                stop.wait(5.0)


class Relay:
    """Runs one AgentRelay thread per local agent."""

    def __init__(self, agent_relays):
        self.agent_relays = list(agent_relays)
        self.stop_event = threading.Event()
        self.threads = []

    def start(self):
        for agent_relay in self.agent_relays:
            thread = threading.Thread(target=agent_relay.run, args=(self.stop_event,),
                                      name=f"openclaw-bus-relay-{agent_relay.agent}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self, timeout=5.0):
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(deadline - time.monotonic(), 0))
        for agent_relay in self.agent_relays:
            agent_relay.journal.close()
