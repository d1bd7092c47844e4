"""Nomad ACLs: policies written in the policy language (HCL or its JSON form), client and
management tokens, and the capability checks the endpoints make (acl/policy.go, acl/acl.go).

Capabilities each endpoint needs (as the RPC handlers in nomad/*_endpoint.go check them):
  list jobs                 list-jobs                 read a job and its sub-resources, allocations,
  register a job            submit-job | register-job   deployments, evaluations   read-job
  plan                      submit-job | plan-job     revert                     submit-job | revert-job
  stop (DELETE)             submit-job | purge-job | deregister-job (purge: submit-job | purge-job)
  variables                 path rules: read (GET), write (PUT), destroy (DELETE), list (filters /v1/vars)
  nodes                     node policy read          agent/self                 agent policy read
  ACL policies and tokens   management (a token may read itself and the policies it holds)
  status, regions           no token needed
A missing token is the anonymous token (policy "anonymous" if it exists). An unknown or malformed
token is refused with 403 "Permission denied", as Nomad >= 1.7 does (its Authenticate step)."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from .common import PERMISSION_DENIED, fail, is_uuid, multierror, nanos, new_id, reply, rfc3339, stable_id

_NS_CAPS = frozenset((
    "deny list-jobs parse-job read-job submit-job dispatch-job read-logs read-fs alloc-exec alloc-node-exec "
    "alloc-lifecycle sentinel-override csi-register-plugin csi-write-volume csi-read-volume csi-list-volume "
    "csi-mount-volume host-volume-create host-volume-register host-volume-read host-volume-write "
    "host-volume-delete list-scaling-policies read-scaling-policy read-job-scaling scale-job "
    "submit-recommendation register-job revert-job deregister-job purge-job evaluate-job plan-job "
    "tag-job-version stable-job fail-deployment pause-deployment promote-deployment unblock-deployment "
    "cancel-deployment set-alloc-health-deployment gc-allocation pause-allocation force-periodic-job "
    "delete-service-registration").split())
_READ = ["list-jobs", "parse-job", "read-job", "csi-list-volume", "csi-read-volume", "read-job-scaling",
         "list-scaling-policies", "read-scaling-policy", "host-volume-read"]
_POLICIES = {
    "deny": ["deny"], "read": _READ,
    "write": _READ + ["scale-job", "submit-job", "dispatch-job", "read-logs", "read-fs", "alloc-exec",
                      "alloc-lifecycle", "csi-mount-volume", "csi-write-volume", "submit-recommendation",
                      "host-volume-create"],
    "scale": ["list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job", "read-job",
              "submit-recommendation"],
}
_VAR_CAPS = ("list", "read", "write", "destroy", "deny")
_RANK = ("", "list", "read", "scale", "write")
_SIMPLE_BLOCKS = ("node", "agent", "operator", "quota", "plugin")
_VALID_NAME = re.compile(r"^[a-zA-Z0-9-]{1,128}$")
_VALID_NAMESPACE = re.compile(r"^[a-zA-Z0-9-*]{1,128}$")
_TOKEN = re.compile(r'\s+|#[^\n]*|//[^\n]*|/\*.*?\*/|"(?:[^"\\]|\\.)*"|[A-Za-z_][\w.-]*|-?\d+|[={}\[\],]', re.S)


# -- the policy language ----------------------------------------------------------------------

def _tokens(text):
    pos, out = 0, []
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"At {text.count(chr(10), 0, pos) + 1}: illegal char {text[pos]!r}")
        token = match.group(0)
        if not (token.isspace() or token.startswith(("#", "//", "/*"))):
            out.append(token)
        pos = match.end()
    return out


def parse_hcl(text):
    """The subset of HCL policies use: `key = value`, lists, and labelled blocks."""
    if text.lstrip().startswith("{"):
        return json.loads(text)
    tokens = _tokens(text)
    body, pos = _body(tokens, 0)
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos]!r}")
    return body


def _body(tokens, pos):
    out = {}
    while pos < len(tokens) and tokens[pos] != "}":
        name = tokens[pos]
        pos += 1
        if pos < len(tokens) and tokens[pos] == "=":
            out[name], pos = _value(tokens, pos + 1)
            continue
        labels = []
        while pos < len(tokens) and tokens[pos].startswith('"'):
            labels.append(json.loads(tokens[pos]))
            pos += 1
        if pos >= len(tokens) or tokens[pos] != "{":
            raise ValueError(f"expected '{{' after {name!r}")
        inner, pos = _body(tokens, pos + 1)
        if pos >= len(tokens):
            raise ValueError("unterminated block")
        pos += 1
        keys = [name] + labels  # namespace "default" {...} -> out["namespace"]["default"]
        target = out
        for label in keys[:-1]:
            target = target.setdefault(label, {})
        target[keys[-1]] = inner
    return out, pos


def _value(tokens, pos):
    token = tokens[pos]
    if token.startswith('"'):
        return json.loads(token), pos + 1
    if token == "[":
        items, pos = [], pos + 1
        while tokens[pos] != "]":
            item, pos = _value(tokens, pos)
            items.append(item)
            if tokens[pos] == ",":
                pos += 1
        return items, pos + 1
    if token in ("true", "false"):
        return token == "true", pos + 1
    return token, pos + 1


def compile_rules(rules):
    """acl.Parse: a compiled policy, or ValueError with Nomad's message."""
    try:
        raw = parse_hcl(rules) if rules.strip() else {}
    except (ValueError, IndexError) as exc:
        raise ValueError(f"Failed to parse ACL Policy: {exc}") from None
    policy = {"namespaces": {}, "variables": {}}
    for key in raw:
        if key not in ("namespace",) + _SIMPLE_BLOCKS:
            raise ValueError(f'Failed to parse ACL Policy: invalid key "{key}"')
    for name, spec in (raw.get("namespace") or {}).items():
        if not _VALID_NAMESPACE.match(name):
            raise ValueError(f'Invalid namespace name: "{name}"')
        level = spec.get("policy", "")
        if level not in ("", "deny", "read", "write", "scale"):
            raise ValueError(f'Invalid namespace policy: "{level}"')
        caps = list(spec.get("capabilities", []))
        for cap in caps:
            if cap not in _NS_CAPS:
                raise ValueError(f"Invalid namespace capability '{cap}'")
        caps += _POLICIES.get(level, [])
        policy["namespaces"][name] = caps
        paths = (spec.get("variables") or {}).get("path") or {}
        if "variables" in spec and not paths:
            raise ValueError(f"Invalid variable policy: no variable paths in namespace {name}")
        for path, rule in paths.items():
            if path.startswith("/"):
                raise ValueError(f"Invalid variable path \"{path}\" in namespace {name}: cannot start with a "
                                 "leading '/'`")
            var_caps = list(rule.get("capabilities", []))
            for cap in var_caps:
                if cap not in _VAR_CAPS:
                    raise ValueError(f"Invalid variable capability '{cap}' in namespace {name}")
            if "deny" in var_caps:
                var_caps = ["deny"]
            elif "read" in var_caps and "list" not in var_caps:
                var_caps.append("list")
            policy["variables"][(name, path)] = var_caps
    for block in _SIMPLE_BLOCKS:
        if block in raw:
            level = raw[block].get("policy", "")
            if level not in ("", "deny", "read", "write", "list", "scale"):
                raise ValueError(f'Invalid {block} policy: "{level}"')
            policy[block] = level
    return policy


# -- authorization ---------------------------------------------------------------------------------

def _glob(pattern, subject):
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), subject, re.S) is not None


def _closest(table, subject):
    """Exact match first, else the glob with the smallest difference (findClosestMatchingGlob)."""
    if subject in table:
        return table[subject]
    matches = [(len(subject) - len(p) + p.count("*"), p) for p in table if "*" in p and _glob(p, subject)]
    return table[min(matches)[1]] if matches else None


class Authorizer:
    """What one token may do. `None` policies = management (or ACLs disabled)."""

    def __init__(self, token, policies):
        self.token = token
        self.management = policies is None
        self.namespaces, self.variables, self.blocks = {}, {}, {}
        for policy in policies or ():
            for name, caps in policy["namespaces"].items():
                current = self.namespaces.setdefault(name, set())
                if "deny" in caps or "deny" in current:  # deny wins over every other grant
                    current.clear()
                    current.add("deny")
                else:
                    current.update(caps)
            for (name, path), caps in policy["variables"].items():
                self.variables.setdefault(f"{name}\x00{path}", set()).update(caps)
            for block in _SIMPLE_BLOCKS:
                level, previous = policy.get(block), self.blocks.get(block) or ""
                if level and previous != "deny" and (level == "deny" or _RANK.index(level) > _RANK.index(previous)):
                    self.blocks[block] = level

    def ns_allows(self, namespace, *ops):
        if self.management:
            return True
        if namespace == "*":
            return any(caps & set(ops) and "deny" not in caps for caps in self.namespaces.values())
        caps = _closest(self.namespaces, namespace) or set()
        return "deny" not in caps and bool(caps & set(ops))

    def ns_visible(self, namespace):
        """Any capability but deny: enough to see a namespace exists."""
        if self.management:
            return True
        caps = _closest(self.namespaces, namespace) or set()
        return bool(caps) and "deny" not in caps

    def require_ns(self, namespace, *ops):
        if not self.ns_allows(namespace, *ops):
            fail(403, PERMISSION_DENIED)

    def var_allows(self, namespace, path, op):
        if self.management:
            return True
        caps = _closest(self.variables, f"{namespace}\x00{path}") or set()
        return op in caps

    def require_var(self, namespace, path, op):
        if not self.var_allows(namespace, path, op):
            fail(403, PERMISSION_DENIED)

    def require_block(self, block, level="read"):
        if self.management:
            return
        have = self.blocks.get(block, "")
        if have == "deny" or have not in (("read", "write") if level == "read" else ("write",)):
            fail(403, PERMISSION_DENIED)

    def require_management(self):
        if not self.management:
            fail(403, PERMISSION_DENIED)


def request_token(request):
    """X-Nomad-Token, else Authorization: Bearer <token> (first word)."""
    token = (request.header("X-Nomad-Token") or "").strip()
    if token:
        return token
    parts = (request.header("Authorization") or "").split(" ")
    if len(parts) > 1 and parts[0].lower() == "bearer":
        return " ".join(parts[1:]).strip().split(" ")[0]
    return ""


def authorize(st, request):
    lab = st.lab
    if lab.acl_token is None:
        return Authorizer(None, None)
    secret = request_token(request)
    if secret == lab.acl_token:
        return Authorizer(management_token(lab), None)
    if secret == "":
        anonymous = st.policies.get("anonymous")
        return Authorizer(None, [compile_rules(anonymous["Rules"])] if anonymous else [])
    token = next((t for t in st.tokens.values() if t["SecretID"] == secret), None) if is_uuid(secret) else None
    if token is None:
        fail(403, PERMISSION_DENIED)
    if token["Type"] == "management":
        return Authorizer(token, None)
    policies = [compile_rules(st.policies[name]["Rules"]) for name in token["Policies"] or ()
                if name in st.policies]
    return Authorizer(token, policies)


def management_token(lab):
    """The bootstrap token the lab was started with, shaped like the one `acl bootstrap` makes."""
    return {"AccessorID": stable_id(f"token:{lab.acl_token}"), "SecretID": lab.acl_token,
            "Name": "Bootstrap Token", "Type": "management", "Policies": None, "Roles": None, "Global": True,
            "Hash": _hash(lab.acl_token), "CreateTime": rfc3339(0), "ExpirationTime": None,
            "ExpirationTTL": 0, "CreateIndex": 1, "ModifyIndex": 1}


def _hash(*parts):
    digest = hashlib.blake2b(digest_size=32)
    for part in parts:
        digest.update(part.encode())
    return base64.b64encode(digest.digest()).decode()


# -- endpoints ----------------------------------------------------------------------------------------

def _enabled(st):
    if st.lab.acl_token is None:
        fail(400, "ACL support disabled")


def _policy_stub(policy):
    return {k: policy[k] for k in ("Name", "Description", "JobACL", "Hash", "CreateIndex", "ModifyIndex")}


def list_policies(nomad, request):
    _enabled(nomad.st)
    auth = authorize(nomad.st, request)
    prefix = request.arg("prefix", "")
    mine = None if auth.management else set((auth.token or {}).get("Policies") or ())
    stubs = [_policy_stub(p) for name, p in sorted(nomad.st.policies.items())
             if name.startswith(prefix) and (mine is None or name in mine)]
    return nomad.blocking(request, lambda: nomad.st.tables["acl_policy"], lambda: stubs)


def policy(nomad, request, name):
    _enabled(nomad.st)
    st = nomad.st
    auth = authorize(st, request)
    if request.method == "GET":
        allowed = auth.management or name == "anonymous" or name in ((auth.token or {}).get("Policies") or ())
        if not allowed:
            fail(403, PERMISSION_DENIED)
        if name not in st.policies:
            fail(404, "ACL policy not found")
        return nomad.blocking(request, lambda: st.policies.get(name, {}).get("ModifyIndex", 1),
                              lambda: st.policies[name])
    auth.require_management()
    if request.method == "DELETE":
        index = st.bump("acl_policy")
        st.policies.pop(name, None)
        return reply(..., index, query_meta=False)
    body = request.json({}) or {}
    if body.get("Name") != name:
        fail(400, "ACL policy name does not match request path")
    errors = []
    if not _VALID_NAME.match(name):
        errors.append(f"invalid name '{name}'")
    try:
        compile_rules(body.get("Rules") or "")
    except ValueError as exc:
        errors.append(f"failed to parse rules: {exc}")
    if len(body.get("Description") or "") > 256:
        errors.append("description longer than 256")
    if errors:
        fail(400, f"policy 0 invalid: {multierror(errors)}")
    index = st.bump("acl_policy")
    existing = st.policies.get(name)
    st.policies[name] = {"Name": name, "Description": body.get("Description") or "", "Rules": body.get("Rules") or "",
                         "RulesJSON": None, "JobACL": body.get("JobACL"),
                         "Hash": _hash(name, body.get("Description") or "", body.get("Rules") or ""),
                         "CreateIndex": existing["CreateIndex"] if existing else index, "ModifyIndex": index}
    return reply(..., index, query_meta=False)


def _token_stub(token):
    return {k: token[k] for k in ("AccessorID", "Name", "Type", "Policies", "Roles", "Global", "Hash", "CreateTime",
                                  "ExpirationTime", "CreateIndex", "ModifyIndex")}


def list_tokens(nomad, request):
    _enabled(nomad.st)
    authorize(nomad.st, request).require_management()
    stubs = [_token_stub(management_token(nomad.lab))]
    stubs += [_token_stub(t) for t in sorted(nomad.st.tokens.values(), key=lambda t: t["CreateIndex"])]
    return nomad.blocking(request, lambda: nomad.st.tables["acl_token"], lambda: stubs)


def create_token(nomad, request):
    _enabled(nomad.st)
    st = nomad.st
    authorize(st, request).require_management()
    body = request.json({}) or {}
    token_type = body.get("Type") or "client"
    policies = body.get("Policies") or []
    errors = []
    if len(body.get("Name") or "") > 256:
        errors.append("token name too long")
    if token_type == "client" and not policies and not body.get("Roles"):
        errors.append("client token missing policies or roles")
    elif token_type == "management" and policies:
        errors.append("management token cannot be associated with policies or roles")
    elif token_type not in ("client", "management"):
        errors.append("token type must be client or management")
    if errors:
        fail(400, f"token 0 invalid: {multierror(errors)}")
    index = st.bump("acl_token")
    accessor = body.get("AccessorID") or new_id()
    secret = body.get("SecretID") or new_id()
    token = {"AccessorID": accessor, "SecretID": secret, "Name": body.get("Name") or "", "Type": token_type,
             "Policies": policies or None, "Roles": None, "Global": bool(body.get("Global")),
             "Hash": _hash(body.get("Name") or "", token_type, *policies), "CreateTime": rfc3339(nomad.lab.now()),
             "ExpirationTime": None, "ExpirationTTL": 0, "CreateIndex": index, "ModifyIndex": index,
             "_created": nanos(nomad.lab.now())}
    st.tokens[accessor] = token
    return reply({k: v for k, v in token.items() if not k.startswith("_")}, index, query_meta=False)


def token_self(nomad, request):
    _enabled(nomad.st)
    auth = authorize(nomad.st, request)
    if auth.token is None:
        fail(404, "ACL token not found")
    return nomad.blocking(request, lambda: nomad.st.tables["acl_token"],
                          lambda: {k: v for k, v in auth.token.items() if not k.startswith("_")})


def token(nomad, request, accessor):
    _enabled(nomad.st)
    st = nomad.st
    auth = authorize(st, request)
    found = st.tokens.get(accessor)
    if accessor == management_token(nomad.lab)["AccessorID"]:
        found = management_token(nomad.lab)
    if request.method == "DELETE":
        auth.require_management()
        index = st.bump("acl_token")
        st.tokens.pop(accessor, None)
        return reply(..., index, query_meta=False)
    if not (auth.management or (auth.token and auth.token["AccessorID"] == accessor)):
        fail(403, PERMISSION_DENIED)
    if found is None:
        fail(404, "ACL token not found")
    return nomad.blocking(request, lambda: found["ModifyIndex"],
                          lambda: {k: v for k, v in found.items() if not k.startswith("_")})


def bootstrap(nomad, request):
    _enabled(nomad.st)
    fail(400, "ACL bootstrap already done (reset index: 1)")
