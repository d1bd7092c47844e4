"""ACL rules and decisions: HCL/JSON rules, merging a token's policies (deny > write > list > read for the
same rule) and the authorizer (an exact rule wins, else the longest prefix; no rule means deny)."""

from __future__ import annotations

from ..httpcore import HttpError
from . import hcl
from .common import field as json_field

ANONYMOUS_ID = "00000000-0000-0000-0000-000000000002"
RESOURCES = ("agent", "event", "key", "node", "query", "service", "session")
GLOBAL_RULES = ("acl", "keyring", "mesh", "operator", "peering")
# Merging rules for the same name across policies: the first listed wins.
PRECEDENCE = ("deny", "write", "list", "read")
_GRANTS = {"write": {"read", "list", "write"}, "list": {"read", "list"}, "read": {"read"}, "deny": set()}


def compile_rules(text):
    """Rules text (HCL or JSON) -> {resource: {"exact": {name: level}, "prefix": {...}}, global: level}."""
    try:
        tree = hcl.parse(text or "")
    except ValueError as exc:
        raise HttpError(500, f"Failed to parse ACL rules: {exc}") from None
    rules = {}
    for kind, body in tree.items():
        if kind in GLOBAL_RULES:
            rules[kind] = _level(kind, body)
            continue
        resource, _, suffix = kind.partition("_")
        if resource not in RESOURCES or suffix not in ("", "prefix") or not isinstance(body, dict):
            continue  # like Consul's HCL decoding, unknown keys are ignored
        table = rules.setdefault(resource, {"exact": {}, "prefix": {}})["prefix" if suffix else "exact"]
        for name, rule in body.items():
            table[name] = _level(kind, json_field(rule, "policy"), resource == "key")
    return rules


def _level(kind, value, allow_list=False):
    if value not in ("read", "write", "deny") and not (allow_list and value == "list"):
        raise HttpError(500, f'Invalid {kind} policy: "{value}"')
    return value


def merge_rules(compiled):
    merged = {}
    for rules in compiled:
        for kind, body in rules.items():
            if isinstance(body, str):
                merged[kind] = _stronger(merged.get(kind), body)
                continue
            target = merged.setdefault(kind, {"exact": {}, "prefix": {}})
            for match in ("exact", "prefix"):
                for name, level in body[match].items():
                    target[match][name] = _stronger(target[match].get(name), level)
    return merged


def _stronger(a, b):
    if a is None:
        return b
    return a if PRECEDENCE.index(a) <= PRECEDENCE.index(b) else b


class Authorizer:
    """Decisions for one token. `rules is None` means management (or ACLs off): everything is allowed."""

    def __init__(self, accessor="", rules=None):
        self.accessor = accessor
        self.rules = rules

    def _rule(self, resource, name):
        # An exact rule for the name wins; otherwise the longest matching prefix rule.
        table = self.rules.get(resource)
        if not table:
            return None
        if name in table["exact"]:
            return table["exact"][name]
        best = max((p for p in table["prefix"] if name.startswith(p)), key=len, default=None)
        return None if best is None else table["prefix"][best]

    def allowed(self, resource, name, access):
        if self.rules is None:
            return True
        level = self.rules.get(resource) if resource in GLOBAL_RULES else self._rule(resource, name)
        return level is not None and access in _GRANTS[level]  # no rule: the default policy, deny

    def require(self, resource, name, access):
        if not self.allowed(resource, name, access):
            raise self.denied(resource, access, name)

    def require_key_write_prefix(self, prefix):
        """A recursive delete needs write on the prefix and no rule below it that is not write."""
        if self.rules is None:
            return
        table = self.rules.get("key", {"exact": {}, "prefix": {}})
        base = max((p for p in table["prefix"] if prefix.startswith(p)), key=len, default=None)
        below = [lvl for match in ("exact", "prefix") for name, lvl in table[match].items()
                 if name.startswith(prefix)]
        if base is None or table["prefix"][base] != "write" or any(lvl != "write" for lvl in below):
            raise self.denied("key", "write", prefix)

    def denied(self, resource, access, name=""):
        anonymous = self.accessor == ANONYMOUS_ID
        who = "anonymous token" if anonymous else f"token with AccessorID '{self.accessor}'"
        text = f"Permission denied: {who} lacks permission '{resource}:{access}'"
        if name:
            text += f' on "{name}"'
        if anonymous:
            text += ". The anonymous token is used implicitly when a request does not specify a token."
        return HttpError(403, text)


ALLOW_ALL = Authorizer()
