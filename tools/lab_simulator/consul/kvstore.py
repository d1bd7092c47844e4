"""The KV state store: entries, tombstones and lock-delays, with the semantics of Consul's
agent/consul/state/kvs.go (indexes, CAS, locks, tree deletes)."""

from __future__ import annotations

import base64
import bisect
from dataclasses import dataclass, replace

from .common import StateError, b64

# Consul's default tombstone_ttl: deleted keys keep a prefix's index from sliding back for this long.
TOMBSTONE_TTL = 15 * 60.0


@dataclass(frozen=True)
class Entry:
    """One DirEntry. Frozen: a write stores a new object, so a txn snapshot is a shallow dict copy."""

    key: str
    value: bytes | None = None
    flags: int = 0
    session: str = ""
    lock_index: int = 0
    create_index: int = 0
    modify_index: int = 0

    def same_content(self, other):
        # DirEntry.Equal: what a write compares to decide whether anything changed.
        return (self.lock_index, self.key, self.flags, self.value or b"", self.session) == \
            (other.lock_index, other.key, other.flags, other.value or b"", other.session)

    def to_json(self, with_value=True):
        out = {"LockIndex": self.lock_index, "Key": self.key, "Flags": self.flags,
               "Value": b64(self.value) if with_value else None}
        if self.session:
            out["Session"] = self.session
        out["CreateIndex"] = self.create_index
        out["ModifyIndex"] = self.modify_index
        return out

    def dump(self):
        return {"key": self.key, "value": b64(self.value), "flags": self.flags, "session": self.session,
                "lock_index": self.lock_index, "create_index": self.create_index,
                "modify_index": self.modify_index}

    @classmethod
    def load(cls, data):
        value = base64.b64decode(data["value"]) if data.get("value") else None
        return cls(data["key"], value, data["flags"], data["session"], data["lock_index"],
                   data["create_index"], data["modify_index"])


class KVStore:
    def __init__(self, state):
        self.state = state
        self.entries = {}
        self.tombstones = {}   # key -> [raft index, lab time of deletion]
        self.lock_delays = {}  # key -> lab time until which acquiring is refused
        self._keys = None      # sorted keys, rebuilt lazily after inserts/deletes

    # -- reads -----------------------------------------------------------------------------------------
    def max_index(self):
        return self.state.table_index("kvs", "tombstones")

    def get(self, key):
        return self.entries.get(key)

    def sorted_keys(self):
        if self._keys is None:
            self._keys = sorted(self.entries)
        return self._keys

    def list(self, prefix):
        keys = self.sorted_keys()
        out = []
        for i in range(bisect.bisect_left(keys, prefix), len(keys)):
            if not keys[i].startswith(prefix):
                break
            out.append(self.entries[keys[i]])
        return out

    def list_index(self, prefix, entries):
        """kvsListTxn: the highest index among the entries and the tombstones under the prefix, else
        the whole KV table's index; the root always uses the table index."""
        if not prefix:
            return self.max_index()
        index = max((e.modify_index for e in entries), default=0)
        for key, (stone_index, _) in self.tombstones.items():
            if key.startswith(prefix):
                index = max(index, stone_index)
        return index or self.max_index()

    def lock_delayed(self, key):
        return self.lock_delays.get(key, 0) > self.state.lab.now()

    def held_by(self, session_id):
        return [e for e in self.entries.values() if e.session == session_id]

    # -- writes, each at one Raft index ---------------------------------------------------------------
    def _store(self, entry, idx):
        if entry.key not in self.entries:
            self._keys = None
        self.entries[entry.key] = entry
        self.state.touch(idx, "kvs")

    def _remove(self, key, idx, tombstone=True):
        del self.entries[key]
        self._keys = None
        if tombstone:
            self._bury(key, idx)
        self.state.touch(idx, "kvs")

    def _bury(self, key, idx):
        self.tombstones[key] = [idx, self.state.lab.now()]
        self.state.touch(idx, "tombstones")

    def set(self, entry, idx, update_session=False):
        """kvsSetTxn: keeps CreateIndex and (unless told) the Session; an identical write changes
        nothing, not even ModifyIndex. LockIndex comes from the request, so a plain PUT resets it."""
        existing = self.entries.get(entry.key)
        entry = replace(entry, create_index=existing.create_index if existing else idx)
        if not update_session:
            entry = replace(entry, session=existing.session if existing else "")
        if existing and existing.same_content(entry):
            return replace(entry, modify_index=existing.modify_index)
        entry = replace(entry, modify_index=idx)
        self._store(entry, idx)
        return entry

    def cas(self, entry, idx, cas_index):
        existing = self.entries.get(entry.key)
        if (cas_index == 0 and existing) or (cas_index and (not existing or existing.modify_index != cas_index)):
            return None
        return self.set(entry, idx)

    def lock(self, entry, idx):
        if not entry.session:
            raise StateError("missing session")
        if self.state.sessions.get(entry.session) is None:
            raise StateError(f'invalid session "{entry.session}"')
        existing = self.entries.get(entry.key)
        if existing is None:
            lock_index = 1
        elif existing.session == entry.session:
            lock_index = existing.lock_index
        elif existing.session:
            return None
        else:
            lock_index = existing.lock_index + 1
        return self.set(replace(entry, lock_index=lock_index), idx, update_session=True)

    def unlock(self, entry, idx):
        if not entry.session:
            raise StateError("missing session")
        existing = self.entries.get(entry.key)
        if existing is None or existing.session != entry.session:
            return None
        return self.set(replace(entry, session="", lock_index=existing.lock_index), idx, update_session=True)

    def delete(self, key, idx):
        if key in self.entries:
            self._remove(key, idx)

    def delete_cas(self, key, idx, cas_index):
        """True when deleted or when the key does not exist; False on an index mismatch."""
        existing = self.entries.get(key)
        if existing is None:
            return True
        if existing.modify_index != cas_index:
            return False
        self._remove(key, idx)
        return True

    def delete_tree(self, prefix, idx):
        # One tombstone for the whole prefix (none at the root), as kvsDeleteTreeTxn does.
        doomed = [e.key for e in self.list(prefix)]
        for key in doomed:
            self._remove(key, idx, tombstone=False)
        if doomed and prefix:
            self._bury(prefix, idx)

    def check_index(self, key, cas_index):
        return self._check(key, "index", "modify index {} != {}", lambda e: e.modify_index, cas_index)

    def check_session(self, key, session):
        return self._check(key, "session", 'session "{}" != "{}"', lambda e: e.session, session)

    def _check(self, key, what, mismatch, current, wanted):
        """The entry at key when current(entry) is `wanted`, else Consul's error for the failed check."""
        existing = self.entries.get(key)
        if existing is None:
            raise StateError(f'failed to check {what}, key "{key}" doesn\'t exist')
        if current(existing) != wanted:
            raise StateError(f'failed {what} check for key "{key}", current '
                             + mismatch.format(current(existing), wanted))
        return existing

    # -- sessions and time ------------------------------------------------------------------------------
    def invalidate_session(self, session, idx):
        """A destroyed or expired session: lock-delay on its keys, then release or delete them."""
        held = self.held_by(session.id)
        if session.lock_delay > 0:
            until = self.state.lab.now() + session.lock_delay
            for entry in held:
                self.lock_delays[entry.key] = until
        for entry in held:
            if session.behavior == "delete":
                self._remove(entry.key, idx)
            else:
                self._store(replace(entry, session="", modify_index=idx), idx)

    def reap(self, now):
        """Forget expired tombstones and lock-delays; a prefix's index may then slide backwards."""
        for key in [k for k, (_, t) in self.tombstones.items() if now - t >= TOMBSTONE_TTL]:
            del self.tombstones[key]
        for key in [k for k, until in self.lock_delays.items() if until <= now]:
            del self.lock_delays[key]

    # -- transactions and persistence --------------------------------------------------------------------
    def snapshot(self):
        return dict(self.entries), {k: list(v) for k, v in self.tombstones.items()}

    def rollback(self, snap):
        self.entries, self.tombstones = dict(snap[0]), {k: list(v) for k, v in snap[1].items()}
        self._keys = None

    def dump(self):
        return {"entries": [e.dump() for e in self.entries.values()], "tombstones": self.tombstones,
                "lock_delays": self.lock_delays}

    def restore(self, data):
        self.entries = {e["key"]: Entry.load(e) for e in data.get("entries", [])}
        self.tombstones = {k: list(v) for k, v in data.get("tombstones", {}).items()}
        self.lock_delays = dict(data.get("lock_delays", {}))
        self._keys = None
