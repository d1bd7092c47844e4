# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mailbox: send with one CAS-create, receive with one blocking query per wake-up, ack with one
transaction per batch. See README.md in this package for the layout and the reasoning.

    <bus>/<recipient>/in/<sender>/<seq:012d>   a message (JSON envelope), created with ?cas=0
    <bus>/<recipient>/hwm/<sender>             {"seq", "top", "acks", "ids"}: high-water mark per sender
    <bus>/<recipient>/dead/<sender>/<seq>      dead letters {"reason", "dead_at", "key", "envelope"}

Every entry read from an inbox is checked at the boundary (`Inbox._parse`): key shape, size, the
envelope model (envelope.parse_envelope), sender and recipient against the key, and that it was
never rewritten after it was created (ModifyIndex == CreateIndex: messages are write-once; the
receiver keeps its attempt counts in its own high-water mark, not in the message). Whatever fails is
`Malformed`: dead-lettered with the reason by the next ack, which also moves the sender's mark over
it, so it never blocks the inbox, the relay or check_inbox.

Sequence numbers are allocated by the sender from a counter it keeps in memory, recovered once per
recipient (the recipient's hwm for this sender + the highest key still pending); a `false` answer
to the CAS-create means the counter was stale: recover and retry. One process per agent identity
sends (its sends to one recipient are serialised), so the keys of one sender appear in order."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from .consul import (
    BlockingIndex,
    ConsulError,
    ConsulTimeout,
    ConsulUnavailable,
    PermissionDenied,
    TxnFailed,
)
from .envelope import (
    AGENT_ID,
    MAX_MESSAGE_BYTES,
    SEQ_MAX,
    TTL_DEFAULT,
    BusError,
    Layout,
    MalformedMessage,
    check_agent_id,
    decode,
    encode,
    expires_at,
    make_parts,
    new_envelope,
    now_rfc3339,
    parse_envelope,
    parse_seq,
    parse_time,
)

TXN_MAX_OPS = 64  # Consul < 1.14; 128 from 1.14. Batching by 64 works on both.
IDS_KEPT = 128    # messageIds remembered per sender in the hwm, for dedup above the mark
SEND_RETRIES = 3
TXN_VALUE_BUDGET = 384 * 1024  # base64'd dead-letter bytes per ack txn (Consul: 512 KiB per txn request)
RAW_HEAD = 4096   # bytes of a malformed entry kept in its dead letter
CLOCK_SKEW = 3600  # a sent_at further in the future than this is refused (it would dodge the TTL)


class BusPermissionDenied(BusError):
    pass


class BusUnavailable(BusError):
    """Consul is unreachable: nothing was queued (or, for a timeout, the text says it is unknown)."""

    retryable = True


@dataclass
class Message:
    key: str
    sender: str
    seq: int
    create_index: int
    modify_index: int
    envelope: dict
    size: int

    # Read from the envelope each time: a failed delivery rewrites metadata.attempt in place.
    id = property(lambda self: self.envelope["messageId"])
    context_id = property(lambda self: self.envelope.get("contextId"))
    metadata = property(lambda self: self.envelope["metadata"])
    reply_to = property(lambda self: self.metadata.get("reply_to"))
    # Failed deliveries so far, as the receiver counted them (its hwm), not as the sender wrote.
    attempt = property(lambda self: self.metadata["attempt"])

    def expired(self, now):
        deadline = expires_at(self.envelope)
        return deadline is not None and now > deadline


@dataclass
class Malformed:
    """An entry under the inbox that is not a valid message (bad key, oversize, not an envelope, a sender
    or recipient that disagrees with the key, rewritten after creation). It is moved to the dead-letter
    prefix with the reason; with a well-formed key it also moves the sender's mark (`seq`)."""

    key: str
    sender: str          # the key's sender when it is a valid agent id, else "_"
    seq: int | None      # None: the key is outside the layout
    modify_index: int
    raw: bytes
    reason: str
    id: str | None = None


@dataclass
class Batch:
    messages: list = field(default_factory=list)    # deliverable, in arrival order (per sender: by seq)
    duplicates: list = field(default_factory=list)  # already processed (hwm or messageId): delete them
    expired: list = field(default_factory=list)     # past their TTL: dead-letter them
    malformed: list = field(default_factory=list)   # not messages: dead-letter them
    index: int = 0
    read: bool = False                              # did this batch cost a read?

    def housekeeping(self):
        """(done, dead) lists an ack should carry for what needs no delivery."""
        return list(self.duplicates), [(m, "expired") for m in self.expired] + \
            [(m, m.reason) for m in self.malformed]


@dataclass
class Sent:
    message_id: str
    context_id: str
    to: str
    seq: int
    key: str
    envelope: dict
    size: int


@dataclass
class AckResult:
    acked: list = field(default_factory=list)         # messageIds deleted as done
    dead: list = field(default_factory=list)          # (messageId or key, reason) moved to dead letters
    txns: int = 0
    index: int = 0


@dataclass
class Mark:
    seq: int = 0        # every message of this sender with seq <= this is processed
    ids: list = field(default_factory=list)  # recent processed messageIds (dedup above `seq`)
    acks: int = 0       # transactions that touched the mark (so every ack changes the value)
    top: int = 0        # highest seq ever processed (out-of-order acks)
    modify_index: int = 0
    attempts: dict = field(default_factory=dict)  # seq -> (create_index, failed deliveries) of pending ones


class HighWaterMarks:
    """The recipient's per-sender high-water marks, cached. Shared by every Inbox of one agent in a
    process; `lock` also serialises that agent's acks so each hwm update is a clean CAS."""

    def __init__(self, consul, layout, agent):
        self.consul = consul
        self.layout = layout
        self.agent = agent
        self.lock = threading.RLock()
        self.marks = {}
        self.loaded = False

    def load(self):
        entries, _ = self.consul.list(self.layout.hwm_prefix(self.agent))
        marks = {}
        prefix = self.layout.hwm_prefix(self.agent)
        for entry in entries:
            sender = entry.key[len(prefix):]
            marks[sender] = _mark_from(entry)
        with self.lock:
            self.marks = marks
            self.loaded = True

    def ensure_loaded(self):
        if not self.loaded:
            self.load()

    def get(self, sender):
        return self.marks.get(sender) or Mark()

    def is_duplicate(self, message):
        mark = self.get(message.sender)
        return message.seq <= mark.seq or message.id in mark.ids

    def attempt(self, sender, seq, create_index):
        """Failed deliveries counted for this message (a re-created key starts again at 0)."""
        counted = self.get(sender).attempts.get(seq)
        return counted[1] if counted and counted[0] == create_index else 0


def _mark_from(entry):
    data = entry.json()
    data = data if isinstance(data, dict) else {}
    seq = data.get("seq") if isinstance(data.get("seq"), int) else 0
    ids = [i for i in data.get("ids") or [] if isinstance(i, str)] if isinstance(data.get("ids"), list) else []
    acks = data.get("acks") if isinstance(data.get("acks"), int) else 0
    top = data.get("top") if isinstance(data.get("top"), int) else seq
    attempts = {}
    raw_attempts = data.get("attempts")
    for seq_text, value in (raw_attempts.items() if isinstance(raw_attempts, dict) else ()):
        if seq_text.isdecimal() and isinstance(value, list) and len(value) == 2 and \
                all(isinstance(v, int) for v in value):
            attempts[int(seq_text)] = (value[0], value[1])
    return Mark(seq, ids, acks, top, entry.modify_index, attempts)


def _mark_value(mark):
    record = {"seq": mark.seq, "top": mark.top, "acks": mark.acks, "ids": mark.ids}
    if mark.attempts:
        record["attempts"] = {str(seq): list(v) for seq, v in sorted(mark.attempts.items())}
    return json.dumps(record, separators=(",", ":")).encode()


class Outbox:
    """Sends as one agent. Per recipient: a sequence counter in memory and a lock (sends to one
    recipient are serialised so keys appear in sequence order)."""

    def __init__(self, consul, layout, agent, gateway="", clock=time.time, max_bytes=MAX_MESSAGE_BYTES,
                 retry_delays=(0.2, 0.5, 1.0)):
        self.consul = consul
        self.layout = layout
        self.agent = check_agent_id(agent)
        self.gateway = gateway
        self.clock = clock
        self.max_bytes = max_bytes
        self.retry_delays = retry_delays
        self._next = {}
        self._locks = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        self.recoveries = 0
        self.sent = 0  # messages created in a recipient's inbox by this process (the metrics read it)

    def _lock(self, to):
        with self._locks_guard:
            return self._locks[to]

    def send(self, to, *, text=None, data=None, parts=None, context_id=None, task_id=None, reply_to=None,
             ttl_seconds=TTL_DEFAULT, role="user", message_id=None):
        envelope = new_envelope(self.agent, to, make_parts(text, data, parts), from_gateway=self.gateway,
                                context_id=context_id, task_id=task_id, reply_to=reply_to,
                                ttl_seconds=ttl_seconds, role=role, message_id=message_id, now=self.clock())
        body = encode(envelope, self.max_bytes)
        with self._lock(to):
            return self._send_locked(to, envelope, body)

    def _send_locked(self, to, envelope, body):
        if to not in self._next:
            self._recover(to)
        delays = list(self.retry_delays)
        conflicts = 0
        while True:
            seq = self._next[to]
            if seq > SEQ_MAX:
                raise BusError(f"the sequence numbers of {self.agent!r} -> {to!r} are exhausted ({SEQ_MAX})")
            key = self.layout.message_key(to, self.agent, seq)
            try:
                created = self.consul.put(key, body, cas=0)
            except ConsulTimeout:
                created = self._created_by_us(key, envelope["messageId"])
                if created is None:  # the key is not there: the write did not happen, retry it
                    if not delays:
                        raise BusUnavailable(f"Consul did not confirm the write of message {envelope['messageId']} "
                                             f"to {to}; it was NOT queued. Retry later.") from None
                    time.sleep(delays.pop(0))
                    continue
            except PermissionDenied as exc:
                raise BusPermissionDenied(
                    f"Consul refused the message: the token of agent {self.agent!r} may not write into "
                    f"{to!r}'s inbox ({exc}). The ACL policy lets an agent write only into the inboxes of the "
                    f"agents it may message.") from None
            except ConsulUnavailable as exc:
                if not delays:
                    raise BusUnavailable(f"Consul is unavailable; the message to {to} was NOT queued. Retry "
                                         f"later. ({exc})") from None
                time.sleep(delays.pop(0))
                continue
            if created:
                self._next[to] = seq + 1
                self.sent += 1
                return Sent(envelope["messageId"], envelope["contextId"], to, seq, key, envelope, len(body))
            conflicts += 1
            if conflicts > SEND_RETRIES:
                raise BusError(f"could not allocate a sequence number for a message to {to}: {conflicts} "
                               f"CAS conflicts. Is another process sending as {self.agent!r}?")
            self._recover(to)
            self._next[to] = max(self._next[to], seq + 1)

    def _created_by_us(self, key, message_id):
        """After a timeout: True when the key holds our message, False when another, None when absent."""
        for delay in (*self.retry_delays, None):
            try:
                entry, _ = self.consul.get(key)
            except ConsulUnavailable:
                if delay is None:
                    raise BusUnavailable(f"Consul is unavailable; it is unknown whether message {message_id} "
                                         f"was queued (resend with the same message_id: the receiver drops "
                                         f"duplicates).") from None
                time.sleep(delay)
                continue
            if entry is None:
                return None
            try:
                return decode(entry.value)["messageId"] == message_id
            except MalformedMessage:
                return False
        return None

    def _recover(self, to):
        """Next sequence number for `to`: after the recipient's hwm for us and every pending key."""
        self.recoveries += 1
        try:
            entry, _ = self.consul.get(self.layout.hwm_key(to, self.agent))
            keys, _ = self.consul.keys(self.layout.inbox_from(to, self.agent))
        except PermissionDenied as exc:
            raise BusPermissionDenied(
                f"agent {self.agent!r} may not message {to!r}: Consul refused reading its own pending "
                f"messages there ({exc})") from None
        except ConsulUnavailable as exc:
            raise BusUnavailable(f"Consul is unavailable; the message to {to} was NOT queued ({exc})") from None
        mark = _mark_from(entry) if entry else Mark()
        top = max(mark.seq, mark.top)
        for key in keys:
            seq = parse_seq(key.rsplit("/", 1)[-1]) if isinstance(key, str) else None
            if seq is not None:
                top = max(top, seq)
        self._next[to] = top + 1


class Inbox:
    """One agent's inbox (or, with `sender`, only that sender's sub-prefix). Not thread-safe: one
    consumer thread per Inbox instance; several instances of one agent share its HighWaterMarks."""

    def __init__(self, consul, layout, agent, marks, sender=None, txn_max_ops=TXN_MAX_OPS, clock=time.time,
                 max_bytes=MAX_MESSAGE_BYTES):
        if txn_max_ops < 8:
            raise ValueError("txn_max_ops must be at least 8")
        self.consul = consul
        self.layout = layout
        self.agent = agent
        self.marks = marks
        self.prefix = layout.inbox_from(agent, sender) if sender else layout.inbox(agent)
        self.txn_max_ops = txn_max_ops
        self.clock = clock
        self.max_bytes = max_bytes
        self.index = BlockingIndex()
        self.listing = {}       # key -> KVEntry: the latest known pending state
        self._handed = set()    # (key, modify_index) handed out by receive()
        self._version = 0       # bumped whenever the listing is replaced
        self._served = 0        # the listing version the last receive() classified

    # -- receive ---------------------------------------------------------------------------------------
    def receive(self, wait=0.0, select=None, max_ops=None, max_messages=None):
        """A batch: what is pending now, or, when nothing new is pending, what arrives within `wait`
        seconds (one blocking query; a return does not always mean a change). Costs no read when the
        listing known from the last read or ack still holds entries not handed out.

        select(message) -> False leaves a message to another consumer (it is not in the batch, costs
        nothing and does not make later receives return early). max_ops caps the batch so that acking
        all of it fits into one transaction of that many operations; max_messages caps its messages.
        What is left out is handed out by the next receive, without a read."""
        self.marks.ensure_loaded()
        read = False
        # From the cache only when the listing changed since the last batch (an ack brought it back) and
        # holds something not handed out yet; otherwise a consumer that cannot take what is left (a relay
        # backing off) would spin on it instead of blocking.
        if not (self._version != self._served and self._has_new()):
            deadline = time.monotonic() + max(wait, 0.0)
            while True:
                blocking = self.index.value >= 1 and wait > 0
                remaining = max(deadline - time.monotonic(), 0.0)
                entries, _ = self.consul.list(self.prefix, index=self.index, wait=remaining)
                read = True
                self._set_listing(entries)
                if blocking or remaining <= 0 or self._has_new():
                    break
                # A plain read (index unknown or reset) found nothing new: now block on the index.
        batch, self._handed = self._classify(select, max_ops, max_messages)
        self._served = self._version
        batch.read = read
        return batch

    def _set_listing(self, entries):
        self.listing = {e.key: e for e in entries}
        self._version += 1

    def peek(self, select=None):
        """The cached listing classified, without a read and without handing anything out."""
        return self._classify(select)[0]

    def _has_new(self):
        return any((e.key, e.modify_index) not in self._handed for e in self.listing.values())

    def refresh(self):
        """A plain (non-blocking) read of the inbox; updates the listing and the index."""
        entries, _ = self.consul.list(self.prefix, index=self.index, wait=0)
        self._set_listing(entries)

    def _classify(self, select=None, max_ops=None, max_messages=None):
        now = self.clock()
        batch = Batch(index=self.index.value)
        seen_ids = set()
        handed = set()
        cost, senders, full = 1, set(), False  # 1: the refresh read an ack carries
        for entry in sorted(self.listing.values(), key=lambda e: (e.create_index, e.key)):
            pair = (entry.key, entry.modify_index)
            item = self._parse(entry)
            if isinstance(item, Malformed):
                target, need = batch.malformed, 2
            else:
                duplicate = self.marks.is_duplicate(item) or item.id in seen_ids
                seen_ids.add(item.id)
                if duplicate:
                    target, need = batch.duplicates, 1
                elif item.expired(now):
                    target, need = batch.expired, 2
                elif select is not None and not select(item):
                    handed.add(pair)  # another consumer's: seen, not ours
                    continue
                else:
                    target, need = batch.messages, 1
            if full:
                continue
            need += 0 if item.sender in senders else 1
            if (max_ops and cost + need > max_ops) or \
                    (max_messages is not None and target is batch.messages and len(batch.messages) >= max_messages):
                full = True  # keep order: nothing after this point goes into this batch
                continue
            cost += need
            senders.add(item.sender)
            target.append(item)
            handed.add(pair)
        return batch, handed

    def _parse(self, entry):
        """One inbox entry -> Message, or Malformed with the reason. The read boundary: never raises."""
        rest = entry.key[len(self.layout.inbox(self.agent)):]
        sender, _, tail = rest.partition("/")
        raw = entry.value or b""
        seq = parse_seq(tail)
        if not AGENT_ID.fullmatch(sender) or seq is None:
            return Malformed(entry.key, sender if AGENT_ID.fullmatch(sender) else "_", None, entry.modify_index,
                             raw, "bad key: not <sender>/<12-digit sequence number from 1>")

        def bad(reason, message_id=None):
            return Malformed(entry.key, sender, seq, entry.modify_index, raw, reason, message_id)

        if entry.modify_index != entry.create_index:
            # Messages are write-once (CAS-create) and the receiver never rewrites them.
            return bad("overwritten after it was sent: a message may not be changed once written")
        if entry.flags:
            return bad(f"flags set ({entry.flags}): the bus writes none")
        try:
            envelope = parse_envelope(raw, self.max_bytes)
        except MalformedMessage as exc:
            return bad(f"malformed: {exc}")
        meta = envelope["metadata"]
        if meta["from_agent"] != sender:  # the ACL-protected path is the truth
            return bad(f"metadata.from_agent {meta['from_agent']!r} is not the sender in the key ({sender!r})",
                       envelope["messageId"])
        if meta["to_agent"] != self.agent:
            return bad(f"metadata.to_agent {meta['to_agent']!r} is not this inbox ({self.agent!r})",
                       envelope["messageId"])
        if parse_time(meta["sent_at"]) > self.clock() + CLOCK_SKEW:
            return bad(f"metadata.sent_at {meta['sent_at']} is more than {CLOCK_SKEW} s in the future",
                       envelope["messageId"])
        meta["attempt"] = self.marks.attempt(sender, seq, entry.create_index)
        return Message(entry.key, sender, seq, entry.create_index, entry.modify_index, envelope, len(raw))

    # -- ack -------------------------------------------------------------------------------------------
    def capacity(self, senders=1):
        """How many plain acks fit in one transaction (one hwm op per sender, one refresh read)."""
        return self.txn_max_ops - senders - 1

    def ack(self, done=(), dead=(), refresh=True):
        """Delete `done` messages and move `dead` ((message, reason) pairs) to dead letters, setting the
        per-sender high-water marks, in as few transactions as the op limit allows (one per batch that
        fits). With `refresh` the last transaction also reads the inbox back (get-tree), so the next
        receive() needs no read unless something new arrives."""
        done, dead = list(done), list(dead)
        if not done and not dead:
            return AckResult(index=self.index.value)
        with self.marks.lock:
            self.marks.ensure_loaded()
            for attempt in range(3):
                try:
                    return self._ack_once(done, dead, refresh)
                except TxnFailed as exc:
                    if exc.denied():
                        raise BusPermissionDenied(f"Consul refused the ack of {self.agent!r}: {exc}") from None
                    if attempt == 2:
                        raise BusError(f"ack failed three times on conflicts: {exc}") from None
                    # Something changed under us (hwm or a message): reload both and retry.
                    self.marks.load()
                    self.refresh()
                    done = [m for m in (self._current(m) for m in done) if m is not None]
                    dead = [(m2, r) for m2, r in ((self._current(m), r) for m, r in dead) if m2 is not None]
                except ConsulTimeout as exc:  # sent, no answer: acking again is safe (what is gone is skipped)
                    raise BusUnavailable(f"Consul did not confirm the ack; it may or may not have been applied. "
                                         f"Acking the same messages again is safe. ({exc})") from None
                except ConsulUnavailable as exc:
                    raise BusUnavailable(f"Consul is unavailable; nothing was acknowledged (of a batch larger than "
                                         f"one transaction, the first part may have been) ({exc})") from None
        raise AssertionError("unreachable")

    def _current(self, item):
        """The listing's current version of an item (same key, and same messageId for a message), or
        None when it is gone or is something else now."""
        entry = self.listing.get(item.key)
        if entry is None:
            return None
        fresh = self._parse(entry)
        if isinstance(item, Malformed):
            return fresh if isinstance(fresh, Malformed) else None
        return fresh if isinstance(fresh, Message) and fresh.id == item.id else None

    def _ack_once(self, done, dead, refresh):
        items = [(m, None) for m in done] + list(dead)
        items.sort(key=lambda pair: (pair[0].sender, _seq_of(pair[0]) or 0))
        chunks = self._chunks(items, reserve=1 if refresh else 0)
        pending = defaultdict(dict)  # sender -> {key: seq} still pending after what is processed so far
        highest = defaultdict(int)   # sender -> highest seq seen in the listing or among the items
        for key in self.listing:
            sender, seq = self._sender_seq(key)
            if sender is not None:
                pending[sender][key] = seq
                highest[sender] = max(highest[sender], seq)
        for item, _ in items:
            highest[item.sender] = max(highest[item.sender], _seq_of(item) or 0)
        result = AckResult()
        for number, chunk in enumerate(chunks):
            last = number == len(chunks) - 1
            ops, senders = [], {}
            for item, reason in chunk:
                ops.append({"Verb": "delete-cas", "Key": item.key, "Index": item.modify_index})
                if reason is not None:
                    ops.append({"Verb": "set", "Key": self._dead_key(item), "Value": self._dead_value(item, reason)})
                if _seq_of(item) is not None:  # a key outside the layout moves no mark
                    senders.setdefault(item.sender, []).append(item)
                pending[item.sender].pop(item.key, None)
            new_marks = {}
            for sender, handled in senders.items():
                mark = self.marks.get(sender)
                # Everything of this sender below its lowest still-pending seq is done (one writer per
                # sender, so a lower seq that is not listed was already deleted); with nothing pending,
                # everything seen is done. Messages done above a pending one are kept by id instead.
                still = pending[sender].values()
                done_top = max([mark.top, *(_seq_of(i) or 0 for i in handled)])
                top = min(still) - 1 if still else max(highest[sender], done_top)
                ids = list(mark.ids)
                for item in handled:
                    if isinstance(item, Message) and item.id not in ids:
                        ids.append(item.id)
                seq = max(mark.seq, top)
                gone = {_seq_of(i) for i in handled}
                attempts = {k: v for k, v in mark.attempts.items() if k > seq and k not in gone}
                new = Mark(seq, ids[-IDS_KEPT:], mark.acks + 1, done_top, mark.modify_index, attempts)
                new_marks[sender] = new
                ops.append({"Verb": "cas", "Key": self.layout.hwm_key(self.agent, sender), "Value": _mark_value(new),
                            "Index": mark.modify_index})
            if last and refresh:
                ops.append({"Verb": "get-tree", "Key": self.prefix})
            results = self.consul.txn(ops)
            result.txns += 1
            txn_index = self._written_marks(new_marks, results)
            for item, reason in chunk:
                self.listing.pop(item.key, None)
                if reason is None:
                    result.acked.append(item.id)
                else:
                    result.dead.append((item.id or item.key, reason))
            if last and refresh:
                self._set_listing(e for e in results if e.key.startswith(self.prefix))
                self.index.value = max(txn_index, 1)  # the prefix's index is this txn's (its tombstones)
        result.index = self.index.value
        return result

    def _written_marks(self, new_marks, results):
        """After the txn that wrote `new_marks` ({sender: Mark}): each mark takes the ModifyIndex Consul
        gave it and becomes the sender's mark. Returns the txn's index."""
        txn_index = max((e.modify_index for e in results), default=0)
        for sender, new in new_marks.items():
            key = self.layout.hwm_key(self.agent, sender)
            written = next((e for e in results if e.key == key), None)
            new.modify_index = written.modify_index if written else txn_index
            self.marks.marks[sender] = new
        return txn_index

    def _chunks(self, items, reserve):
        """Cut the ack into transactions within the op limit and, for dead letters (which carry the
        envelope), within TXN_VALUE_BUDGET bytes: a txn Consul refuses as too large would stall the ack."""
        budget = self.txn_max_ops - reserve
        chunks, chunk, cost, size, senders = [], [], 0, 0, set()
        for item, reason in items:
            need = (2 if reason is not None else 1) + (0 if item.sender in senders else 1)
            weight = (len(item.raw[:RAW_HEAD]) if isinstance(item, Malformed) else item.size) * 2 \
                if reason is not None else 0  # JSON-escaped, then base64: a generous bound
            if chunk and (cost + need > budget or size + weight > TXN_VALUE_BUDGET):
                chunks.append(chunk)
                chunk, cost, size, senders = [], 0, 0, set()
                need = (2 if reason is not None else 1) + 1
            chunk.append((item, reason))
            cost += need
            size += weight
            senders.add(item.sender)
        if chunk:
            chunks.append(chunk)
        return chunks

    def _sender_seq(self, key):
        rest = key[len(self.layout.inbox(self.agent)):]
        sender, _, tail = rest.partition("/")
        seq = parse_seq(tail)
        return (sender, seq) if seq is not None and AGENT_ID.fullmatch(sender) else (None, None)

    def _dead_key(self, item):
        if isinstance(item, Malformed):
            # Unique per write (a ModifyIndex is a Raft index), so a later bad entry never hides an earlier one.
            tail = f"{item.seq:012d}" if item.seq is not None else "badkey"
            return f"{self.layout.dead_prefix(self.agent)}{item.sender}/{tail}-{item.modify_index}"
        return self.layout.dead_key(self.agent, item.sender, item.seq)

    def _dead_value(self, item, reason):
        record = {"reason": reason, "dead_at": now_rfc3339(self.clock()), "key": item.key, "sender": item.sender}
        if isinstance(item, Malformed):
            record.update({"message_id": item.id, "size": len(item.raw),
                           "raw_head_b64": base64.b64encode(item.raw[:RAW_HEAD]).decode()})
        else:
            record.update({"message_id": item.id, "size": item.size, "envelope": item.envelope})
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()

    # -- failed deliveries -----------------------------------------------------------------------------
    def record_failure(self, messages, refresh=True):
        """Count one more failed delivery of each message, in the receiver's own high-water mark of its
        sender (CAS; messages themselves stay write-once), one op per sender, one transaction per op
        budget. Returns the messages whose count was recorded, with their new attempt."""
        messages = list(messages)
        if not messages:
            return []
        by_sender = defaultdict(list)
        for message in messages:
            by_sender[message.sender].append(message)
        senders = list(by_sender)
        budget = self.txn_max_ops - 1
        updated = []
        with self.marks.lock:
            self.marks.ensure_loaded()
            for start in range(0, len(senders), budget):
                chunk = senders[start:start + budget]
                last = start + budget >= len(senders)
                ops, new_marks = [], {}
                for sender in chunk:
                    mark = self.marks.get(sender)
                    attempts = dict(mark.attempts)
                    for message in by_sender[sender]:
                        attempts[message.seq] = (message.create_index, message.attempt + 1)
                    if len(attempts) > IDS_KEPT:  # bounded: the lowest seqs are the ones being retried
                        attempts = dict(sorted(attempts.items())[:IDS_KEPT])
                    new = Mark(mark.seq, mark.ids, mark.acks, mark.top, mark.modify_index, attempts)
                    new_marks[sender] = new
                    ops.append({"Verb": "cas", "Key": self.layout.hwm_key(self.agent, sender),
                                "Value": _mark_value(new), "Index": mark.modify_index})
                if last and refresh:
                    ops.append({"Verb": "get-tree", "Key": self.prefix})
                try:
                    results = self.consul.txn(ops)
                except TxnFailed as exc:
                    if exc.denied():
                        raise BusPermissionDenied(f"Consul refused recording a failed delivery: {exc}") from None
                    self.marks.load()  # changed under us (an ack elsewhere): not counted this time
                    continue
                except ConsulUnavailable as exc:  # a timeout included: the attempt may have been counted
                    raise BusUnavailable(f"Consul is unavailable; the attempt counter may not have been updated "
                                         f"({exc})") from None
                txn_index = self._written_marks(new_marks, results)
                for sender in new_marks:
                    for message in by_sender[sender]:
                        message.metadata["attempt"] = message.attempt + 1
                        updated.append(message)
                if last and refresh:
                    self._set_listing(e for e in results if e.key.startswith(self.prefix))
                    self.index.value = max(txn_index, 1)
        return updated

    def dead_letters(self, limit=100):
        """This agent's dead letters, newest first: [{"key", "sender", "message_id", "reason", "dead_at",
        "size"}] (at most `limit`) and how many there are. One recursive read of dead/."""
        try:
            entries, _ = self.consul.list(self.layout.dead_prefix(self.agent))
        except ConsulError as exc:
            raise BusUnavailable(f"Consul is unavailable; could not read the dead letters ({exc})") from None
        letters = []
        for entry in sorted(entries, key=lambda e: e.modify_index, reverse=True):
            record = entry.json()
            record = record if isinstance(record, dict) else {}
            sender = entry.key[len(self.layout.dead_prefix(self.agent)):].split("/", 1)[0]

            size = record.get("size")
            letters.append({"key": _text(record, "key", entry.key), "sender": _text(record, "sender", sender),
                            "message_id": _text(record, "message_id") or None,
                            "reason": _text(record, "reason", "unreadable dead letter"),
                            "dead_at": _text(record, "dead_at"),
                            "size": size if isinstance(size, int) else len(entry.value or b"")})
        return letters[:max(limit, 0)], len(letters)

    # -- lookups ---------------------------------------------------------------------------------------
    def find(self, message_ids):
        """Pending messages with these ids ({id: Message}); reads the inbox only when the cached
        listing does not have them all."""
        wanted = set(message_ids)
        found = self._lookup(wanted)
        if len(found) < len(wanted):
            self.refresh()
            found = self._lookup(wanted)
        return found

    def _lookup(self, wanted):
        found = {}
        for entry in self.listing.values():
            item = self._parse(entry)
            if not isinstance(item, Malformed) and item.id in wanted and item.id not in found:
                found[item.id] = item
        return found


def _seq_of(item):
    return item.seq


def _text(record, name, default=""):
    value = record.get(name)
    return value if isinstance(value, str) else default


class AgentBus:
    """Everything one agent does on the bus, with that agent's own Consul token."""

    def __init__(self, consul, agent, gateway="", layout=None, txn_max_ops=TXN_MAX_OPS, clock=time.time,
                 max_message_bytes=MAX_MESSAGE_BYTES):
        self.consul = consul
        self.agent = check_agent_id(agent)
        self.gateway = gateway
        self.layout = layout or Layout()
        self.txn_max_ops = txn_max_ops
        self.clock = clock
        self.max_message_bytes = max_message_bytes
        self.marks = HighWaterMarks(consul, self.layout, agent)
        self.outbox = Outbox(consul, self.layout, agent, gateway, clock, max_message_bytes)

    def inbox(self, sender=None):
        return Inbox(self.consul, self.layout, self.agent, self.marks, sender=sender, txn_max_ops=self.txn_max_ops,
                     clock=self.clock, max_bytes=self.max_message_bytes)

    def send(self, to, **kwargs):
        return self.outbox.send(to, **kwargs)

    def dead_letters(self, limit=100):
        """(newest `limit` dead letters with their reasons, how many there are): see Inbox.dead_letters."""
        return self.inbox().dead_letters(limit)

    def wait_for_reply(self, sent, timeout, consume=True):
        """The reply to `sent` (a message from sent.to whose metadata.reply_to is its id) arriving within
        `timeout` seconds, acknowledged when `consume`; None when none came."""
        inbox = self.inbox(sender=sent.to)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            remaining = max(deadline - time.monotonic(), 0.0)
            try:
                batch = inbox.receive(wait=remaining)
            except ConsulError as exc:
                raise BusUnavailable(f"Consul is unavailable while waiting for the reply ({exc})") from None
            for message in batch.messages:
                if message.reply_to == sent.message_id:
                    if consume:
                        done, dead = batch.housekeeping()
                        inbox.ack([message, *done], dead, refresh=False)
                    return message
            if remaining <= 0:
                return None
