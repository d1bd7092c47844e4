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

Where the sender really is comes from the key (`.../in/<sender>/<seq>`), which ACLs protect; the
receiver overwrites metadata.from_agent/to_agent with the path's values."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

SEQ_WIDTH = 12  # 10^12 messages per sender->recipient pair
AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
OPAQUE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

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
        if len(parts) != 4 or parts[1] != "in" or not parts[3].isdigit():
            return None
        return parts[0], parts[2], int(parts[3])

    # registry
    def agents_prefix(self):
        return f"{self.registry_root}/agents/"

    def agent_key(self, agent):
        return f"{self.registry_root}/agents/{agent}"

    def gateways_prefix(self):
        return f"{self.registry_root}/gateways/"

    def gateway_key(self, gateway):
        return f"{self.registry_root}/gateways/{gateway}"


def check_agent_id(value, what="agent id"):
    if not isinstance(value, str) or not AGENT_ID.match(value):
        raise BusError(f"invalid {what} {value!r}: use 1-64 characters from A-Z a-z 0-9 _ - "
                       "starting with a letter or digit")
    return value


def now_rfc3339(clock_value):
    return datetime.fromtimestamp(clock_value, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
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
        if value is not None and (not isinstance(value, str) or not OPAQUE_ID.match(value)):
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
    body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > limit:
        raise MessageTooLarge(
            f"message is {len(body)} bytes encoded; the bus accepts at most {limit} bytes per message "
            f"(Consul's hard limit is 512 KiB per value). Put large content in a file or URL and send a "
            f"reference to it.")
    return body


def decode(raw):
    """Bytes from KV -> envelope dict; raises MalformedMessage."""
    try:
        envelope = json.loads(raw or b"")
    except ValueError as exc:
        raise MalformedMessage(f"not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise MalformedMessage("not a JSON object")
    for name in ("messageId", "contextId", "role", "parts", "metadata"):
        if name not in envelope:
            raise MalformedMessage(f"missing {name}")
    if not isinstance(envelope["metadata"], dict) or not isinstance(envelope["parts"], list):
        raise MalformedMessage("metadata must be an object and parts a list")
    if not isinstance(envelope["messageId"], str):
        raise MalformedMessage("messageId must be a string")
    return envelope


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
    if sent is None or not isinstance(ttl, (int, float)):
        return None
    return sent + ttl


def reply_id(message_id):
    """The messageId of the relay's answer to message_id: deterministic, so a reply re-sent after a
    crash is dropped as a duplicate by the receiver."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"openclaw-bus:reply:{message_id}"))
