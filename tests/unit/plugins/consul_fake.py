# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fakes shared by the Consul unit tests (no tests here): an in-memory stand-in for the
ConsulApi methods the Consul modules call, recording every call, and a NomadApi stand-in for
the variable calls consul_acl_token makes. Imported as
ansible_collections.octant.openclaw.tests.unit.plugins.consul_fake."""

from __future__ import annotations

import base64
import copy
import itertools
import uuid

from ansible_collections.octant.openclaw.plugins.module_utils._errors import ServiceError
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import VariableConflictError
from ansible_collections.octant.openclaw.plugins.module_utils._service_api import Reply

WRITE_CALLS = {"kv_put", "kv_delete", "txn", "acl_policy_write", "acl_policy_delete", "acl_token_write",
               "acl_token_delete", "session_create", "session_renew", "session_destroy"}


class FakeConsul:
    """The ConsulApi surface of the Consul modules, in memory. `calls` lists (name, args);
    `txn_faults` maps a transaction number (from 1) to a ServiceError to raise or to a 409 body
    to answer, before anything of that transaction is applied."""

    def __init__(self, node="jerry"):
        self.index = itertools.count(10)
        self.kv = {}
        self.policies = {}
        self.tokens = {}
        self.sessions = {}
        self.node = node
        self.calls = []
        self.txn_faults = {}
        self.txn_count = 0
        self.on_txn = None

    # helpers ---------------------------------------------------------------------------------
    def log(self, name, *args):
        self.calls.append((name, args))

    def count(self, name):
        return sum(1 for call in self.calls if call[0] == name)

    def writes(self):
        return [c for c in self.calls if c[0] in WRITE_CALLS]

    def seed(self, key, value, flags=0, session=None):
        index = next(self.index)
        self.kv[key] = {"Key": key, "Value": value.encode() if isinstance(value, str) else value,
                        "Flags": flags, "CreateIndex": index, "ModifyIndex": index, "LockIndex": 0}
        if session:
            self.kv[key]["Session"] = session
            self.kv[key]["LockIndex"] = 1
        return self.kv[key]

    # KV --------------------------------------------------------------------------------------
    def kv_get(self, key):
        self.log("kv_get", key)
        return copy.deepcopy(self.kv.get(key))

    def kv_get_tree(self, prefix):
        self.log("kv_get_tree", prefix)
        return [copy.deepcopy(self.kv[k]) for k in sorted(self.kv) if k.startswith(prefix)]

    def kv_put(self, key, value, flags=None, cas=None, acquire=None, release=None):
        self.log("kv_put", key, value, flags, cas, acquire, release)
        entry = self.kv.get(key)
        if cas is not None:
            if (cas == 0 and entry) or (cas and (not entry or entry["ModifyIndex"] != cas)):
                return False
        if acquire:
            if acquire not in self.sessions:
                raise ServiceError("consul", f"KV write of {key!r}", 500, f'invalid session "{acquire}"')
            if entry and entry.get("Session") not in (None, acquire):
                return False
        if release and (not entry or entry.get("Session") != release):
            return False
        index = next(self.index)
        new = dict(entry or {"Key": key, "CreateIndex": index, "LockIndex": 0, "Flags": 0})
        new["Value"] = value or b""
        if flags is not None:
            new["Flags"] = flags
        new["ModifyIndex"] = index
        if acquire:
            if new.get("Session") != acquire:
                new["LockIndex"] = new.get("LockIndex", 0) + 1
            new["Session"] = acquire
        if release:
            new.pop("Session", None)
        self.kv[key] = new
        return True

    def kv_delete(self, key, cas=None):
        self.log("kv_delete", key, cas)
        entry = self.kv.get(key)
        if cas is not None and entry and entry["ModifyIndex"] != cas:
            return False
        self.kv.pop(key, None)
        return True

    def txn(self, operations, what="transaction", needs=None):
        self.log("txn", len(operations))
        self.txn_count += 1
        if self.on_txn:
            self.on_txn(self, self.txn_count)
        fault = self.txn_faults.get(self.txn_count)
        if isinstance(fault, ServiceError):
            raise fault
        if fault is not None:
            return Reply(409, fault, {})
        staged = copy.deepcopy(self.kv)
        errors = []
        index = next(self.index)
        for i, op in enumerate(operations):
            kv = op["KV"]
            key, entry = kv["Key"], staged.get(kv["Key"])
            if kv["Verb"] == "cas":
                if (kv["Index"] == 0 and entry) or (kv["Index"] and (not entry or entry["ModifyIndex"] != kv["Index"])):
                    errors.append({"OpIndex": i, "What": f'failed to set key "{key}", index is stale'})
                    continue
                new = dict(entry or {"Key": key, "CreateIndex": index, "LockIndex": 0})
                new.update(Value=base64.b64decode(kv["Value"]), Flags=kv.get("Flags", 0), ModifyIndex=index)
                staged[key] = new
            elif kv["Verb"] == "delete-cas":
                if entry and entry["ModifyIndex"] != kv["Index"]:
                    errors.append({"OpIndex": i, "What": f'failed to delete key "{key}", index is stale'})
                    continue
                staged.pop(key, None)
            else:
                raise AssertionError(f"unexpected verb {kv['Verb']}")
        if errors:
            return Reply(409, {"Results": None, "Errors": errors}, {})
        self.kv = staged
        return Reply(200, {"Results": [], "Errors": None}, {})

    # ACL -------------------------------------------------------------------------------------
    def acl_policy_by_name(self, name):
        self.log("acl_policy_by_name", name)
        for policy in self.policies.values():
            if policy["Name"] == name:
                return copy.deepcopy(policy)
        return None

    def acl_policy_write(self, policy, policy_id=None):
        self.log("acl_policy_write", copy.deepcopy(policy), policy_id)
        policy_id = policy_id or str(uuid.uuid4())
        stored = dict(policy, ID=policy_id, CreateIndex=1, ModifyIndex=next(self.index))
        self.policies[policy_id] = stored
        return copy.deepcopy(stored)

    def acl_policy_delete(self, policy_id, name=None):
        self.log("acl_policy_delete", policy_id)
        self.policies.pop(policy_id, None)

    def add_token(self, description, policies=(), local=False):
        accessor, secret = str(uuid.uuid4()), str(uuid.uuid4())
        self.tokens[accessor] = {"AccessorID": accessor, "SecretID": secret, "Description": description,
                                 "Policies": [{"ID": f"id-{p}", "Name": p} for p in policies], "Roles": [],
                                 "Local": local, "CreateIndex": 1, "ModifyIndex": 1}
        return self.tokens[accessor]

    def acl_token_list(self):
        self.log("acl_token_list")
        return [copy.deepcopy(t) for t in self.tokens.values()]  # Consul lists SecretIDs too

    def acl_token_read(self, accessor_id):
        self.log("acl_token_read", accessor_id)
        return copy.deepcopy(self.tokens[accessor_id])

    def acl_token_get(self, accessor_id):
        self.log("acl_token_get", accessor_id)
        return copy.deepcopy(self.tokens.get(accessor_id))

    def acl_token_write(self, token, accessor_id=None):
        self.log("acl_token_write", copy.deepcopy(token), accessor_id)
        links = [{"ID": f"id-{p['Name']}", "Name": p["Name"]} for p in token.get("Policies", [])]
        roles = [{"ID": f"id-{r['Name']}", "Name": r["Name"]} for r in token.get("Roles", [])]
        if accessor_id:
            stored = self.tokens[accessor_id]
            stored.update(Description=token["Description"], Policies=links, Roles=roles, ModifyIndex=next(self.index))
        else:
            stored = self.add_token(token["Description"], local=token.get("Local", False))
            stored.update(Policies=links, Roles=roles)
        return copy.deepcopy(stored)

    def acl_token_delete(self, accessor_id, description=None):
        self.log("acl_token_delete", accessor_id)
        self.tokens.pop(accessor_id, None)

    # sessions --------------------------------------------------------------------------------
    def agent_node_name(self):
        self.log("agent_node_name")
        return self.node

    def session_list_node(self, node):
        self.log("session_list_node", node)
        return [copy.deepcopy(s) for s in self.sessions.values() if s["Node"] == node]

    def session_create(self, session):
        self.log("session_create", copy.deepcopy(session))
        session_id = str(uuid.uuid4())
        stored = {"ID": session_id, "Name": session.get("Name", ""), "Node": session["Node"],
                  "Behavior": session.get("Behavior", "release"), "TTL": session.get("TTL", ""),
                  "LockDelay": _ns(session.get("LockDelay", "15s")),
                  "NodeChecks": session.get("NodeChecks", ["serfHealth"]),
                  "ServiceChecks": session.get("ServiceChecks")}
        self.sessions[session_id] = stored
        return session_id

    def session_renew(self, session_id, node=None):
        self.log("session_renew", session_id)
        return copy.deepcopy(self.sessions.get(session_id))

    def session_destroy(self, session_id, node=None):
        self.log("session_destroy", session_id)
        self.sessions.pop(session_id, None)


def _ns(duration):
    return int(float(duration.rstrip("s")) * 1e9)


class FakeNomad:
    """The NomadApi variable calls: get_variable / put_variable with CAS. `conflicts` makes the
    next N writes fail with VariableConflictError (a concurrent writer changed the variable)."""

    def __init__(self):
        self.variables = {}
        self.calls = []
        self.conflicts = 0
        self.namespace = "default"

    def get_variable(self, path, namespace=None):
        self.calls.append(("get_variable", path))
        variable = self.variables.get(path)
        return copy.deepcopy(variable)

    def put_variable(self, path, items, cas, namespace=None):
        self.calls.append(("put_variable", path, cas))
        current = self.variables.get(path)
        if self.conflicts:
            self.conflicts -= 1
            other = dict((current or {}).get("Items") or {}, OTHER="written-concurrently")
            self.variables[path] = {"Path": path, "Items": other, "ModifyIndex": (cas or 0) + 100}
            raise VariableConflictError(f"PUT /v1/var/{path}", 409, "changed")
        if (current or {}).get("ModifyIndex", 0) != cas:
            raise VariableConflictError(f"PUT /v1/var/{path}", 409, "changed")
        self.variables[path] = {"Path": path, "Items": dict(items), "ModifyIndex": cas + 1}
        return copy.deepcopy(self.variables[path])
