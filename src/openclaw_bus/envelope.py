# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key layout, limits and the message envelope.

The envelope is an A2A protocol Message (kind "message", messageId, contextId, taskId, role, parts)
with the bus's routing facts in `metadata`, so it can be handed to an A2A peer unchanged and
replies thread by contextId:

    {"kind": "message", "messageId": "<uuid>", "contextId": "<uuid>", "taskId": null,
     "role": "user" | "agent",
     "parts": [{"kind": "text", "text": "..."}, {"kind": "data", "data": {...}}],
     "metadata": {"from_agent", "from_gateway", "to_agent", "sent_at" (RFC 3339 UTC),
                  "ttl_seconds", "reply_to" (messageId answered, or null), "attempt" (failed
                  deliveries so far)}}

Where the sender really is comes from the key (`.../in/<sender>/<seq>`), which ACLs protect.

`Envelope` (pydantic, strict, no extra fields) is the one model of that envelope: `encode` checks
what the bus writes against it and `parse_envelope` checks what the bus reads, at the boundary, so
anything a receiver accepts it could have written itself. What fails is dead-lettered by the
receiver with the reason (see mailbox.Inbox)."""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SEQ_WIDTH = 12  # 10^12 messages per sender->recipient pair
SEQ_MAX = 10 ** SEQ_WIDTH - 1
SEQ_TAIL = re.compile(rf"[0-9]{{{SEQ_WIDTH}}}")
# Patterns for pydantic (Rust regex: `$` is the very end). In Python use fullmatch: re's `$` also
# matches before a trailing newline.
AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
OPAQUE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
GATEWAY_OR_EMPTY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]{0,63})?$")
RFC3339_UTC = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$")
INT_LIMIT = 2 ** 63  # integers in data parts: within +-2^63 (what other JSON readers keep exactly enough)
ATTEMPT_MAX = 1_000_000

# The bus refuses encoded envelopes above this many bytes. Consul's own limit is 512 KiB per value
# (kv_max_value_size) and per txn request; 64 KiB keeps a full 64-op ack txn with dead letters and
# every read of a busy inbox small. Large content belongs in a file or URL the message points to.
MAX_MESSAGE_BYTES = 64 * 1024
TTL_DEFAULT = 24 * 3600
TTL_MIN = 10
TTL_MAX = 7 * 24 * 3600


class BusError(Exception):
    """A refusal the caller can act on (bad input, size, permission); the text says what to do."""


class MessageTooLarge(BusError):
    pass


class MalformedMessage(BusError):
    pass


# -- the envelope model: one for what the bus writes and what it reads -----------------------------------
class _Strict(BaseModel):
    # strict: no coercion ("5" is not 5, true is not 1); extra="forbid": nothing the bus does not write
    model_config = ConfigDict(strict=True, extra="forbid")


AgentId = Annotated[str, Field(pattern=AGENT_ID.pattern)]
OpaqueId = Annotated[str, Field(pattern=OPAQUE_ID.pattern)]


class TextPart(_Strict):
    kind: Literal["text"]
    text: str


class DataPart(_Strict):
    kind: Literal["data"]
    data: dict[str, Any] = Field(description="A JSON object: finite numbers, integers within +-2^63.")

    @field_validator("data")
    @classmethod
    def _plain_json(cls, value):
        _check_plain_json(value)
        return value


Part = Annotated[TextPart | DataPart, Field(discriminator="kind")]


class Metadata(_Strict):
    from_agent: AgentId = Field(description="The sender (equal to the sender in the message's key).")
    from_gateway: str = Field(pattern=GATEWAY_OR_EMPTY.pattern)
    to_agent: AgentId
    sent_at: str = Field(pattern=RFC3339_UTC.pattern, description="RFC 3339 UTC, e.g. 2026-11-25T19:22:58.231Z.")
    ttl_seconds: int = Field(ge=TTL_MIN, le=TTL_MAX)
    reply_to: OpaqueId | None = Field(description="The messageId this answers, or null.")
    attempt: int = Field(ge=0, le=ATTEMPT_MAX, description="Failed deliveries so far (counted by the receiver).")

    @field_validator("sent_at")
    @classmethod
    def _real_time(cls, value):
        if parse_time(value) is None:
            raise ValueError("not a real date and time")
        return value


class Envelope(_Strict):
    """A message as the A2A protocol shapes it (kind "message")."""

    kind: Literal["message"]
    messageId: OpaqueId = Field(description="Unique id; pass it to ack, or as reply_to when answering.")
    contextId: OpaqueId = Field(description="Conversation thread; pass it as context_id to answer in the same thread.")
    taskId: OpaqueId | None
    role: Literal["user", "agent"] = Field(description="'user' for a request, 'agent' for an answer to one.")
    parts: list[Part] = Field(min_length=1, description="[{kind: text, text}] and/or [{kind: data, data}].")
    metadata: Metadata = Field(description="from_agent, from_gateway, to_agent, sent_at, ttl_seconds, "
                                           "reply_to (the messageId answered), attempt.")


def _check_plain_json(value):
    """Numbers a JSON writer with allow_nan=False can write back and other readers keep: finite floats,
    integers within +-2^63 (depth is bounded by the parser already)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite")
        elif isinstance(item, int) and not isinstance(item, bool) and not -INT_LIMIT <= item <= INT_LIMIT:
            raise ValueError("integers must be within +-2^63")


def _clip(text, limit=300):
    """Printable ASCII only and bounded: reasons quote field names an attacker chose."""
    text = "".join(c if " " <= c <= "~" else "?" for c in str(text))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _validation_reason(exc):
    errors = exc.errors(include_url=False, include_input=False)
    shown = "; ".join(f"{'.'.join(_clip(p, 40) for p in e['loc']) or '(top)'}: {e['msg']}" for e in errors[:3])
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return _clip(f"invalid envelope: {shown}{more}")


def parse_envelope(raw, limit=MAX_MESSAGE_BYTES):
    """Bytes read from KV -> the validated envelope (a dict); raises MalformedMessage with the reason.

    Strict UTF-8 JSON (no NaN/Infinity, no lone surrogates, nesting bounded by the parser), at most
    `limit` bytes, valid against `Envelope`. Never raises anything else."""
    raw = raw or b""
    if len(raw) > limit:
        raise MalformedMessage(f"oversize: {len(raw)} bytes, the bus accepts at most {limit}")
    try:
        obj = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise MalformedMessage(_clip(f"not JSON: {exc}")) from None
    try:
        return Envelope.model_validate(obj).model_dump()
    except ValidationError as exc:
        raise MalformedMessage(_validation_reason(exc)) from None
    except (ValueError, TypeError, RecursionError) as exc:  # a validator's own failure: still a refusal
        raise MalformedMessage(_clip(f"invalid envelope: {exc}")) from None


@dataclass(frozen=True)
class Layout:
    """Where everything lives in Consul KV. Change the roots only for tests and benchmarks."""

    bus_root: str = "openclaw/bus"
    registry_root: str = "openclaw/registry"

    # mailbox
    def inbox(self, agent):
        return f"{self.bus_root}/{agent}/in/"

    def inbox_from(self, agent, sender):
        return f"{self.bus_root}/{agent}/in/{sender}/"

    def message_key(self, agent, sender, seq):
        return f"{self.bus_root}/{agent}/in/{sender}/{seq:0{SEQ_WIDTH}d}"

    def hwm_prefix(self, agent):
        return f"{self.bus_root}/{agent}/hwm/"

    def hwm_key(self, agent, sender):
        return f"{self.bus_root}/{agent}/hwm/{sender}"

    def dead_prefix(self, agent):
        return f"{self.bus_root}/{agent}/dead/"

    def dead_key(self, agent, sender, seq):
        return f"{self.bus_root}/{agent}/dead/{sender}/{seq:0{SEQ_WIDTH}d}"

    def parse_message_key(self, key):
        """`<root>/<recipient>/in/<sender>/<seq>` -> (recipient, sender, seq), or None."""
        root = self.bus_root + "/"
        if not key.startswith(root):
            return None
        parts = key[len(root):].split("/")
        if len(parts) != 4 or parts[1] != "in" or parse_seq(parts[3]) is None:
            return None
        return parts[0], parts[2], parse_seq(parts[3])

    # registry
    def agents_prefix(self):
        return f"{self.registry_root}/agents/"

    def agent_key(self, agent):
        return f"{self.registry_root}/agents/{agent}"

    def gateways_prefix(self):
        return f"{self.registry_root}/gateways/"

    def gateway_key(self, gateway):
        return f"{self.registry_root}/gateways/{gateway}"


def parse_seq(tail):
    """A key's sequence part -> int: exactly 12 ASCII digits, 1 or more; else None."""
    if isinstance(tail, str) and SEQ_TAIL.fullmatch(tail):
        seq = int(tail)
        return seq if seq >= 1 else None
    return None


def check_agent_id(value, what="agent id"):
    if not isinstance(value, str) or not AGENT_ID.fullmatch(value):
        raise BusError(f"invalid {what} {value!r}: use 1-64 characters from A-Z a-z 0-9 _ - "
                       "starting with a letter or digit")
    return value


def now_rfc3339(clock_value):
    return datetime.fromtimestamp(clock_value, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError, OverflowError):
        return None


def make_parts(text=None, data=None, parts=None):
    """text and/or data -> A2A parts; or validate explicit parts."""
    if parts is None:
        parts = []
        if text is not None:
            parts.append({"kind": "text", "text": text})
        if data is not None:
            parts.append({"kind": "data", "data": data})
    if not parts:
        raise BusError("a message needs content: give text, data (a JSON object) or both")
    for i, part in enumerate(parts):
        kind = part.get("kind") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            continue
        if kind == "data" and isinstance(part.get("data"), dict):
            continue
        raise BusError(f"part {i} must be {{kind: text, text: <string>}} or {{kind: data, data: <object>}}, "
                       f"got {str(part)[:120]}")
    return parts


def new_envelope(from_agent, to_agent, parts, *, from_gateway="", context_id=None, task_id=None, reply_to=None,
                 ttl_seconds=TTL_DEFAULT, role="user", message_id=None, now):
    check_agent_id(from_agent, "sender")
    check_agent_id(to_agent, "recipient")
    if role not in ("user", "agent"):
        raise BusError(f"role must be 'user' or 'agent', got {role!r}")
    if not isinstance(ttl_seconds, int) or isinstance(ttl_seconds, bool) or not TTL_MIN <= ttl_seconds <= TTL_MAX:
        raise BusError(f"ttl_seconds must be an integer from {TTL_MIN} to {TTL_MAX} (7 days), got {ttl_seconds!r}")
    for name, value in (("message id", message_id), ("context id", context_id), ("task id", task_id),
                        ("reply_to", reply_to)):
        if value is not None and (not isinstance(value, str) or not OPAQUE_ID.fullmatch(value)):
            raise BusError(f"{name} {value!r} must be 1-128 characters from A-Z a-z 0-9 . _ : -")
    return {
        "kind": "message",
        "messageId": message_id or str(uuid.uuid4()),
        "contextId": context_id or str(uuid.uuid4()),
        "taskId": task_id,
        "role": role,
        "parts": make_parts(parts=parts),
        "metadata": {
            "from_agent": from_agent,
            "from_gateway": from_gateway or "",
            "to_agent": to_agent,
            "sent_at": now_rfc3339(now),
            "ttl_seconds": ttl_seconds,
            "reply_to": reply_to,
            "attempt": 0,
        },
    }


def encode(envelope, limit=MAX_MESSAGE_BYTES):
    """The envelope -> the bytes the bus writes, checked with the reader's own parser (`parse_envelope`),
    so a receiver never has to refuse what a well-behaved sender wrote."""
    try:
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, TypeError) as exc:  # NaN/Infinity, lone surrogates, non-JSON types
        raise BusError(f"the message cannot be sent as JSON: {_clip(exc)}") from None
    if len(body) > limit:
        raise MessageTooLarge(
            f"message is {len(body)} bytes encoded; the bus accepts at most {limit} bytes per message "
            f"(Consul's hard limit is 512 KiB per value). Put large content in a file or URL and send a "
            f"reference to it.")
    try:
        parse_envelope(body, limit)
    except MalformedMessage as exc:
        raise BusError(f"the message is not a valid bus envelope: {exc}") from None
    return body


def decode(raw, limit=MAX_MESSAGE_BYTES):
    """Bytes from KV -> envelope dict; raises MalformedMessage (see parse_envelope)."""
    return parse_envelope(raw, limit)


def text_of(envelope):
    """All text parts joined; data parts rendered as compact JSON."""
    chunks = []
    for part in envelope.get("parts") or []:
        if part.get("kind") == "text":
            chunks.append(part.get("text") or "")
        elif part.get("kind") == "data":
            chunks.append(json.dumps(part.get("data"), separators=(",", ":"), ensure_ascii=False))
    return "\n".join(chunks)


def expires_at(envelope):
    meta = envelope.get("metadata") or {}
    sent = parse_time(meta.get("sent_at") or "")
    ttl = meta.get("ttl_seconds")
    if sent is None or not isinstance(ttl, int):
        return None
    return sent + ttl


def reply_id(message_id):
    """The messageId of the relay's answer to message_id: deterministic, so a reply re-sent after a
    crash is dropped as a duplicate by the receiver."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"openclaw-bus:reply:{message_id}"))
