# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Consul connection every Consul module uses: an ApiSession (requests) configured from the
shared connection options. Every call is plain HTTP: the modules need exact answers (a 404 told
apart from an empty body, a 409 transaction with its Errors, every session field) that the
python-consul client libraries do not give. Such a library (python-consul2 by default, or py-consul,
which community.general's Consul modules need; both install the `consul` package) is still the
declared requirement, checked by the module skeleton (CONSUL), so the collection's Python requirements stay
those of a Consul collection; nothing here depends on which one is installed. An explicit option
always wins over CONSUL_HTTP_* in the environment (connection.resolve)."""

from __future__ import annotations

import base64
import traceback
from urllib.parse import quote

from ansible_collections.octant.openclaw.plugins.module_utils._connection import CONSUL_OPTIONS, Service, resolve
from ansible_collections.octant.openclaw.plugins.module_utils._errors import ServiceError
from ansible_collections.octant.openclaw.plugins.module_utils._service_api import (
    ANY,
    NONE,
    REQUESTS_IMPORT_ERROR,
    ApiSession,
    Nullable,
    normalize_address,
)

try:  # python-consul2 or py-consul: the declared requirement, checked, not called (see above)
    import consul  # noqa: F401 pylint: disable=unused-import
except ImportError:
    CONSUL_IMPORT_ERROR = traceback.format_exc()
else:
    CONSUL_IMPORT_ERROR = None


CONSUL_LIBRARY = "python-consul2 (or py-consul)"
# Read when checked (the module's tests replace CONSUL_IMPORT_ERROR).
CONSUL = Service("consul", CONSUL_OPTIONS,
                 lambda: (("requests", REQUESTS_IMPORT_ERROR), (CONSUL_LIBRARY, CONSUL_IMPORT_ERROR)))

# The shapes of Consul's answers, as far as this collection reads them (see service_api).
KV_ENTRY = {"Key": str, "Value": (str, NONE), "ModifyIndex": int, "Flags": (int, NONE), "Session": (str, NONE)}
TXN_CONFLICT = {"Errors": ([{"OpIndex": (int, NONE), "What": (str, NONE)}], NONE)}
POLICY = {"ID": str, "Name": (str, NONE), "Description": (str, NONE), "Rules": (str, NONE),
          "Datacenters": ([str], NONE)}
LINKS = ([{"ID": (str, NONE), "Name": (str, NONE)}], NONE)
TOKEN = {"AccessorID": str, "SecretID": (str, NONE), "Description": (str, NONE), "Policies": LINKS,
         "Roles": LINKS, "Local": (bool, NONE)}
AGENT_SELF = {"Config": {"NodeName": str}}
TXN_DONE = {"Results": Nullable(list)}
SESSION = {"ID": str, "Name": (str, NONE), "Node": (str, NONE), "Behavior": (str, NONE), "TTL": (str, NONE),
           "LockDelay": (int, float, str, NONE), "NodeChecks": ([str], NONE), "Checks": ([str], NONE),
           "ServiceChecks": ([{"ID": str, "Namespace": (str, NONE)}], NONE)}


class ConsulApi:
    """One Consul connection: `http` (an ApiSession with its own requests.Session, TLS and token)."""

    def __init__(self, settings):
        settings = resolve(CONSUL_OPTIONS, settings)
        self.settings = settings
        self.address = normalize_address(settings["consul_address"])
        self.http = ApiSession(
            "consul", self.address, token=settings["consul_token"], token_header="X-Consul-Token",
            verify=settings["consul_validate_certs"], ca_file=settings["consul_ca_file"],
            client_cert=settings["consul_client_cert"], client_key=settings["consul_client_key"],
            timeout=settings["consul_timeout"], default_params={"dc": settings["consul_datacenter"]})

    # -- the HTTP face, used by the Consul modules -------------------------------------------
    # Why not the client library's calls: python-consul2 0.1.5 answers a 404 with an (index, None)
    # tuple whatever the call, Session.create cannot send NodeChecks or ServiceChecks and asserts on
    # a bad TTL, Policy.update drops an empty description, and Txn.put raises on the 409 whose body
    # says which operation failed; py-consul shares most of that code.

    def call(self, method, path, params=None, body=None, raw=None, ok=(200,), what=None, needs=None, expect=ANY,
             secret=False):
        """One HTTP call through `self.http`. `needs` names the ACL capability the call requires
        (for example `key_prefix "app/" write`): a 403 whose text does not name the missing
        capability gets it as the hint. `expect`: the shape of a 200 answer (ApiSession.call)."""
        try:
            return self.http.call(method, path, params=params, body=body, raw=raw, ok=ok, what=what, expect=expect,
                                  secret=secret)
        except ServiceError as err:
            if err.status == 403 and needs and "ACL not found" not in err.body \
                    and "lacks permission" not in err.body:
                err.hint = (f"the Consul token lacks {needs}; grant it in the token's policy or use a "
                            f"token that has it")
            raise

    # KV ------------------------------------------------------------------------------------
    def kv_get(self, key):
        """The entry of one key (Value decoded to bytes) or None when it does not exist."""
        what = f"KV read of {key!r}"
        reply = self.call("GET", kv_path(key), ok=(200, 404), what=what, needs=f'key "{key}" read',
                          expect=[KV_ENTRY])
        if reply.status == 404 or not reply.body:
            return None
        return self._decoded(reply.body[0], what)

    def kv_get_tree(self, prefix):
        """All entries under `prefix` (one recursive GET), Values decoded to bytes."""
        what = f"KV read of prefix {prefix!r}"
        reply = self.call("GET", kv_path(prefix), params={"recurse": ""}, ok=(200, 404), what=what,
                          needs=f'key_prefix "{prefix}" read', expect=[KV_ENTRY])
        if reply.status == 404 or not reply.body:
            return []
        return [self._decoded(entry, what) for entry in reply.body]

    def _decoded(self, entry, what):
        try:
            return decode_entry(entry)
        except ValueError:
            raise self.http.unexpected(what, f"HTTP 200 with a KV entry whose Value is not base64 "
                                             f"(key {entry['Key'][:100]!r})") from None

    def kv_put(self, key, value, flags=None, cas=None, acquire=None, release=None):
        """PUT one key; True when Consul applied it (False: cas mismatch or lock not obtained)."""
        params = {"flags": flags, "cas": cas, "acquire": acquire, "release": release}
        reply = self.call("PUT", kv_path(key), params=params, raw=value or b"", what=f"KV write of {key!r}",
                          needs=f'key "{key}" write', expect=bool)
        return reply.body is True

    def kv_delete(self, key, cas=None):
        reply = self.call("DELETE", kv_path(key), params={"cas": cas}, what=f"KV delete of {key!r}",
                          needs=f'key "{key}" write', expect=bool)
        return reply.body is True

    def txn(self, operations, what="transaction", needs=None):
        """PUT /v1/txn. Returns the Reply: status 200 (all applied) or 409 (all rolled back, the
        body's Errors say which operation failed). Anything else raises ServiceError."""
        reply = self.call("PUT", "/v1/txn", body=operations, ok=(200, 409), what=what, needs=needs, expect=TXN_DONE)
        if reply.status == 409:
            self.http.check(reply, TXN_CONFLICT, what)
        return reply

    # ACL -----------------------------------------------------------------------------------
    def acl_policy_by_name(self, name):
        reply = self.call("GET", "/v1/acl/policy/name/" + quote(name, safe=""), ok=(200, 404),
                          what=f"ACL policy read of {name!r}", needs='acl = "read"', expect=POLICY)
        return reply.body if reply.status == 200 else None

    def acl_policy_write(self, policy, policy_id=None):
        path = "/v1/acl/policy" + (f"/{quote(policy_id, safe='')}" if policy_id else "")
        verb = "update" if policy_id else "create"
        return self.call("PUT", path, body=policy, what=f"ACL policy {verb} of {policy.get('Name')!r}",
                         needs='acl = "write"', expect=POLICY).body

    def acl_policy_delete(self, policy_id, name=None):
        self.call("DELETE", f"/v1/acl/policy/{quote(policy_id, safe='')}",
                  what=f"ACL policy delete of {name or policy_id!r}", needs='acl = "write"', expect=bool)

    def acl_token_list(self):
        return self.call("GET", "/v1/acl/tokens", what="ACL token list", needs='acl = "read"', expect=[TOKEN],
                         secret=True).body or []

    def acl_token_read(self, accessor_id):
        return self.call("GET", f"/v1/acl/token/{quote(accessor_id, safe='')}",
                         what=f"ACL token read of {accessor_id}", needs='acl = "read"', expect=TOKEN,
                         secret=True).body

    def acl_token_get(self, accessor_id):
        """The token (with its SecretID for a caller with acl = "write"), or None when Consul does not
        know the accessor: 404, or 403 "ACL not found" from Consul before 1.11 (which is also the
        answer to a caller whose own token is unknown: that caller's next call fails)."""
        try:
            reply = self.call("GET", f"/v1/acl/token/{quote(accessor_id, safe='')}", ok=(200, 404),
                              what=f"ACL token read of {accessor_id}", needs='acl = "read"', expect=TOKEN,
                              secret=True)
        except ServiceError as err:
            if err.status == 403 and "ACL not found" in (err.body or ""):
                return None
            raise
        return reply.body if reply.status == 200 else None

    def acl_token_write(self, token, accessor_id=None):
        path = "/v1/acl/token" + (f"/{quote(accessor_id, safe='')}" if accessor_id else "")
        verb = "update" if accessor_id else "create"
        return self.call("PUT", path, body=token, what=f"ACL token {verb} of {token.get('Description')!r}",
                         needs='acl = "write"', expect=TOKEN, secret=True).body

    def acl_token_delete(self, accessor_id, description=None):
        self.call("DELETE", f"/v1/acl/token/{quote(accessor_id, safe='')}",
                  what=f"ACL token delete of {description or accessor_id!r}", needs='acl = "write"', expect=bool)

    # Sessions ------------------------------------------------------------------------------
    def agent_node_name(self):
        """The node name of the agent this client talks to (GET /v1/agent/self)."""
        body = self.call("GET", "/v1/agent/self", what="agent self read", needs='agent_prefix "" read',
                         expect=AGENT_SELF).body or {}
        return (body.get("Config") or {}).get("NodeName") or (body.get("Member") or {}).get("Name")

    def session_list_node(self, node):
        return self.call("GET", f"/v1/session/node/{quote(node, safe='')}", what=f"session list of node {node!r}",
                         needs=f'session "{node}" read', expect=[SESSION]).body or []

    def session_create(self, session):
        return self.call("PUT", "/v1/session/create", body=session,
                         what=f"session create of {session.get('Name')!r}",
                         needs=f'session "{session.get("Node", "")}" write', expect={"ID": str}).body["ID"]

    def session_renew(self, session_id, node=None):
        """The renewed session, or None when Consul no longer knows it (404)."""
        reply = self.call("PUT", f"/v1/session/renew/{quote(session_id, safe='')}", ok=(200, 404),
                          what=f"session renew of {session_id}", needs=f'session "{node or ""}" write',
                          expect=[SESSION])
        if reply.status == 404 or not reply.body:
            return None
        return reply.body[0]

    def session_destroy(self, session_id, node=None):
        self.call("PUT", f"/v1/session/destroy/{quote(session_id, safe='')}",
                  what=f"session destroy of {session_id}", needs=f'session "{node or ""}" write', expect=bool)


def kv_path(key):
    """/v1/kv/<key> with the key URL-quoted (slashes kept)."""
    return "/v1/kv/" + quote(key, safe="/")


def decode_entry(entry):
    """A KV entry with `Value` base64-decoded to bytes (b"" for a null value)."""
    entry = dict(entry)
    value = entry.get("Value")
    entry["Value"] = base64.b64decode(value) if value else b""
    return entry
