"""The ACL store: the builtin global-management policy, the anonymous and management tokens, user
policies and tokens, and resolving a request's token to an authorizer."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from datetime import UTC, datetime

from ..httpcore import HttpError
from .aclrules import ALLOW_ALL, ANONYMOUS_ID, Authorizer, compile_rules, merge_rules
from .common import field as json_field

GLOBAL_MANAGEMENT_ID = "00000000-0000-0000-0000-000000000001"
GLOBAL_MANAGEMENT_RULES = """
acl = "write"
agent_prefix "" {
  policy = "write"
}
event_prefix "" {
  policy = "write"
}
key_prefix "" {
  policy = "write"
}
keyring = "write"
node_prefix "" {
  policy = "write"
}
operator = "write"
mesh = "write"
peering = "write"
query_prefix "" {
  policy = "write"
}
service_prefix "" {
  policy = "write"
  intentions = "write"
}
session_prefix "" {
  policy = "write"
}"""
_POLICY_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,128}$")


def _now_text():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(*parts):
    return base64.b64encode(hashlib.sha256("\x00".join(parts).encode()).digest()).decode()


def _is_uuid(text):
    try:
        return str(uuid.UUID(text)) == text.lower()
    except (ValueError, TypeError, AttributeError):
        return False


class ACLStore:
    def __init__(self, state):
        self.state = state
        self.policies = {}
        self.tokens = {}
        self.bootstrap_index = 0
        self._compiled = {}  # (policy id, modify index) -> compiled rules

    @property
    def enabled(self):
        return bool(self.state.lab.acl_token)

    def bootstrap(self):
        idx = self.state.raft()
        self.bootstrap_index = idx
        self.policies[GLOBAL_MANAGEMENT_ID] = {
            "ID": GLOBAL_MANAGEMENT_ID, "Name": "global-management",
            "Description": "Builtin Policy that grants unlimited access", "Rules": GLOBAL_MANAGEMENT_RULES,
            "Datacenters": None, "Hash": _hash("global-management", GLOBAL_MANAGEMENT_RULES),
            "CreateIndex": idx, "ModifyIndex": idx}
        self._put_token({"AccessorID": ANONYMOUS_ID, "SecretID": "anonymous", "Description": "Anonymous Token",
                         "Policies": [], "Local": False}, idx)
        self.ensure_management_token()
        self.state.touch(idx, "acl-policies", "acl-tokens")

    def ensure_management_token(self):
        secret = self.state.lab.acl_token
        if secret and self.by_secret(secret) is None:
            accessor = str(uuid.uuid5(uuid.NAMESPACE_OID, f"labsim-management:{secret}"))
            self._put_token({"AccessorID": accessor, "SecretID": secret,
                             "Description": "Bootstrap Token (Global Management)",
                             "Policies": [GLOBAL_MANAGEMENT_ID], "Local": False}, self.bootstrap_index)

    def by_secret(self, secret):
        return next((t for t in self.tokens.values() if t["SecretID"] == secret), None)

    def authorize(self, request):
        """The authorizer for the request's token; an unknown token is 403 "ACL not found"."""
        if not self.enabled:
            return ALLOW_ALL
        secret = request_secret(request) or "anonymous"
        with self.state.lab.cond:
            token = self.by_secret(secret)
            if token is None:
                raise HttpError(403, "ACL not found")
            policies = [self.policies[p] for p in token["Policies"] if p in self.policies]
            if any(p["ID"] == GLOBAL_MANAGEMENT_ID for p in policies):
                return Authorizer(token["AccessorID"])
            return Authorizer(token["AccessorID"], merge_rules(self._rules(p) for p in policies))

    def _rules(self, policy):
        key = (policy["ID"], policy["ModifyIndex"])
        if key not in self._compiled:
            self._compiled[key] = compile_rules(policy["Rules"])
        return self._compiled[key]

    # -- policies --------------------------------------------------------------------------------------
    def policy_by_name(self, name):
        return next((p for p in self.policies.values() if p["Name"] == name), None)

    def put_policy(self, body, policy_id=None):
        name = json_field(body, "Name") or ""
        if not name:
            raise HttpError(500, "Invalid Policy: no Name is set")
        if not _POLICY_NAME.match(name):
            raise HttpError(500, "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' "
                                 "are allowed")
        same_name = self.policy_by_name(name)
        existing = None
        if policy_id is None:
            if same_name:
                raise HttpError(500, f'Invalid Policy: A Policy with Name "{name}" already exists')
            policy_id = str(uuid.uuid4())
        else:
            if not _is_uuid(policy_id):
                raise HttpError(500, "Policy ID invalid UUID")
            existing = self.policies.get(policy_id)
            if existing is None:
                raise HttpError(500, f"cannot find policy {policy_id}")
            if same_name and same_name["ID"] != policy_id:
                raise HttpError(500, f'Invalid Policy: A policy with name "{name}" already exists')
        rules = json_field(body, "Rules") or ""
        if policy_id == GLOBAL_MANAGEMENT_ID and rules != existing["Rules"]:
            raise HttpError(500, "Changing the Rules for the builtin global-management policy is not permitted")
        # Consul's own parser first (HCL1 into acl.PolicyRules, via the client checker); an RPC error: 500.
        refused = self.state.lab.client_check.acl_rules(rules)["findings"]
        if refused:
            raise HttpError(500, refused[0]["message"])
        compile_rules(rules)
        idx = self.state.raft()
        description = json_field(body, "Description") or ""
        policy = {"ID": policy_id, "Name": name, "Description": description, "Rules": rules,
                  "Datacenters": json_field(body, "Datacenters") or None, "Hash": _hash(name, description, rules),
                  "CreateIndex": existing["CreateIndex"] if existing else idx, "ModifyIndex": idx}
        self.policies[policy_id] = policy
        self.state.touch(idx, "acl-policies")
        return policy

    def delete_policy(self, policy_id):
        if policy_id not in self.policies:
            return
        if policy_id == GLOBAL_MANAGEMENT_ID:
            raise HttpError(500, "Delete operation not permitted on the builtin global-management policy")
        del self.policies[policy_id]
        self.state.touch(self.state.raft(), "acl-policies")

    # -- tokens ----------------------------------------------------------------------------------------
    def _put_token(self, token, idx):
        existing = self.tokens.get(token["AccessorID"])
        token.setdefault("CreateTime", existing["CreateTime"] if existing else _now_text())
        token["CreateIndex"] = existing["CreateIndex"] if existing else idx
        token["ModifyIndex"] = idx
        token["Hash"] = _hash(token["Description"], *token["Policies"])
        self.tokens[token["AccessorID"]] = token

    def _policy_links(self, body):
        ids = []
        for link in json_field(body, "Policies") or []:
            policy_id, name = json_field(link, "ID"), json_field(link, "Name")
            policy = self.policies.get(policy_id) if policy_id else self.policy_by_name(name)
            if policy is None:
                what = f'ID "{policy_id}"' if policy_id else f'name "{name}"'
                raise HttpError(500, f"No such ACL policy with {what}")
            if policy["ID"] not in ids:
                ids.append(policy["ID"])
        return ids

    def create_token(self, body):
        accessor = json_field(body, "AccessorID") or str(uuid.uuid4())
        secret = json_field(body, "SecretID") or str(uuid.uuid4())
        for label, value, taken in (("AccessorID", accessor, accessor in self.tokens),
                                    ("SecretID", secret, self.by_secret(secret) is not None)):
            if not _is_uuid(value):
                raise HttpError(500, f"Invalid Token: {label} must be a valid UUID")
            if taken:
                raise HttpError(500, f"Invalid Token: {label} is already in use")
        token = {"AccessorID": accessor, "SecretID": secret, "Description": json_field(body, "Description") or "",
                 "Policies": self._policy_links(body), "Local": bool(json_field(body, "Local"))}
        return self._commit_token(token)

    def update_token(self, accessor, body):
        existing = self.tokens.get(accessor)
        if existing is None:
            raise HttpError(500, f'Cannot find token "{accessor}"')
        secret = json_field(body, "SecretID")
        if secret and secret != existing["SecretID"]:
            raise HttpError(500, "Changing a token's SecretID is not permitted")
        token = dict(existing, Description=json_field(body, "Description") or "",
                     Policies=self._policy_links(body))
        return self._commit_token(token)

    def _commit_token(self, token):
        idx = self.state.raft()
        self._put_token(token, idx)
        self.state.touch(idx, "acl-tokens")
        return token

    def delete_token(self, accessor, caller_secret):
        if not _is_uuid(accessor):
            raise HttpError(500, "Accessor ID is missing or an invalid UUID")
        if accessor == ANONYMOUS_ID:
            raise HttpError(500, "Delete operation not permitted on the anonymous token")
        token = self.tokens.get(accessor)
        if token is None:
            return
        if token["SecretID"] == caller_secret:
            raise HttpError(500, "Deletion of the request's authorization token is not permitted")
        del self.tokens[accessor]
        self.state.touch(self.state.raft(), "acl-tokens")

    def token_json(self, token, show_secret=True):
        links = [{"ID": p, "Name": self.policies[p]["Name"]} for p in token["Policies"] if p in self.policies]
        out = {"AccessorID": token["AccessorID"], "SecretID": token["SecretID"] if show_secret else "<hidden>",
               "Description": token["Description"]}
        if links:
            out["Policies"] = links
        out.update({k: token[k] for k in ("Local", "CreateTime", "Hash", "CreateIndex", "ModifyIndex")})
        return out

    # -- persistence -----------------------------------------------------------------------------------
    def dump(self):
        return {"policies": self.policies, "tokens": self.tokens, "bootstrap_index": self.bootstrap_index}

    def restore(self, data):
        self.policies = data["policies"]
        self.tokens = data["tokens"]
        self.bootstrap_index = data["bootstrap_index"]
        self._compiled = {}
        self.ensure_management_token()


def request_secret(request):
    return request.arg("token") or request.header("X-Consul-Token") or request.bearer() or ""
