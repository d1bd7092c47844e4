"""Simulated Consul HTTP API: KV, transactions, sessions, ACLs, agent services, health and catalog.

One Raft index counts every write across all tables, and each table remembers the index of its last
change, so X-Consul-Index values behave as Consul's do (see the reference consul-nomad-api.md).

Deliberate simplifications: one datacenter ("dc1") and one server that is always leader; the agent is the
lab's first node; HTTP/TCP checks never run; only KV operations in /v1/txn; no roles, auth methods, token
expiry, namespaces or partitions; the concurrent-connection limit counts requests, not connections."""

from __future__ import annotations

from ..httpcore import HttpError, Response
from . import acl, agent, kv, sessions, txn
from .aclstore import ACLStore
from .catalog import Catalog
from .common import ConsulRouter, clean_path_redirect, error_response
from .kvstore import KVStore
from .sessions import SessionStore

# Consul's http_max_conns_per_client default. Lab clients all come from loopback, so the simulator counts
# requests in flight (a blocking query holds one connection) across all of them.
MAX_CONNS_PER_CLIENT = 200
TOO_MANY_CONNS = "Your IP is issuing too many concurrent connections, please rate limit your calls\n"

ROUTER = ConsulRouter()
for _module in (kv, txn, sessions, acl, agent):
    _module.register(ROUTER)


class ConsulState:
    def __init__(self, lab):
        self.lab = lab
        self.in_flight = 0
        self.reset()

    def reset(self):
        self.index = 0
        self.tables = {}
        self.kv = KVStore(self)
        self.sessions = SessionStore(self)
        self.catalog = Catalog(self)
        self.acl = ACLStore(self)
        self.catalog.bootstrap()
        self.acl.bootstrap()

    # -- Raft bookkeeping (call with the lab lock held) -------------------------------------------------
    def raft(self):
        """Consume the next Raft index: every write takes one, whether or not it changes anything."""
        self.index += 1
        return self.index

    def touch(self, idx, *tables):
        for table in tables:
            self.tables[table] = idx

    def table_index(self, *tables):
        return max(self.tables.get(t, 0) for t in tables)

    # -- the framework's interface ----------------------------------------------------------------------
    def app(self, request):
        with self.lab.cond:
            self.in_flight += 1
            crowded = self.in_flight > MAX_CONNS_PER_CLIENT
        try:
            if crowded:
                response = Response(429, TOO_MANY_CONNS)
            else:
                response = clean_path_redirect(request) or ROUTER.dispatch(request, self)
        except HttpError as err:
            response = error_response(err)
        finally:
            with self.lab.cond:
                self.in_flight -= 1
        # Consul sends its default ACL policy on every response, even with ACLs off.
        response.headers["X-Consul-Default-ACL-Policy"] = "deny" if self.acl.enabled else "allow"
        return response

    def tick(self):
        now = self.lab.now()
        self.kv.reap(now)
        changed = self.sessions.expire(now)
        changed = self.catalog.tick(now) or changed
        if changed:
            self.lab.notify()

    def set_node_health(self, node, up):
        self.catalog.set_node_health(node, up)
        self.lab.notify()

    def dump(self):
        return {"index": self.index, "tables": self.tables, "kv": self.kv.dump(),
                "sessions": self.sessions.dump(), "catalog": self.catalog.dump(), "acl": self.acl.dump()}

    def restore(self, data):
        if not data:
            return
        self.index = data["index"]
        self.tables = data["tables"]
        self.kv.restore(data["kv"])
        self.catalog.restore(data["catalog"])
        self.sessions.restore(data["sessions"])
        self.acl.restore(data["acl"])
