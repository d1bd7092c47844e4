# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul ACL rules, compared by meaning: a small parser for the HCL subset Consul's rule syntax
uses (and for the JSON form), a normal form in which whitespace, order, quoting, commas,
comments and the block/object spelling make no difference, and a canonical HCL rendering of
that form for readable diffs.

Accepted HCL: `# ...`, `// ...` and `/* ... */` comments; `name = value` or `name: value`
attributes (name an identifier or a quoted string); blocks `name "label" ... { body }` and
`name { body }`; values that are strings (with JSON escapes), numbers, true/false, lists and
objects; optional commas between items. That is what Consul policies are written in, for example

    key_prefix "openclaw/" { policy = "read" }
    session_prefix "" { policy = "write" }
    operator = "read"
    namespace "team" { key_prefix "" { policy = "list" } }
"""

from __future__ import annotations

import json
import re


class RulesError(ValueError):
    """Rules text that is neither valid HCL (of the subset above) nor JSON."""


class Obj:
    """An HCL/JSON object as an ordered list of (name, value) pairs; names may repeat."""

    __slots__ = ("pairs",)

    def __init__(self, pairs=None):
        self.pairs = list(pairs or [])

    def __repr__(self):
        return f"Obj({self.pairs!r})"


_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.\-]*)
  | (?P<punct>[{}\[\]=:,])
""", re.VERBOSE | re.DOTALL)


def _tokens(text):
    pos, line = 0, 1
    out = []
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            snippet = text[pos:pos + 20].split("\n")[0]
            if text.startswith("/*", pos):
                raise RulesError(f"line {line}: unterminated /* comment")
            if text[pos] == '"':
                raise RulesError(f"line {line}: unterminated string {snippet!r}")
            raise RulesError(f"line {line}: unexpected {snippet!r}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind not in ("ws", "comment"):
            out.append((kind, value, line))
        line += value.count("\n")
        pos = match.end()
    out.append(("eof", "", line))
    return out


class _Parser:
    def __init__(self, text):
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self, offset=0):
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def next(self):
        token = self.tokens[self.pos]
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def fail(self, token, expected):
        kind, value, line = token
        found = "end of text" if kind == "eof" else repr(value)
        raise RulesError(f"line {line}: expected {expected}, found {found}")

    def expect(self, punct):
        token = self.next()
        if token[0] != "punct" or token[1] != punct:
            self.fail(token, repr(punct))
        return token

    def body(self, closing=None):
        pairs = []
        while True:
            kind, value, _line = self.peek()
            if kind == "eof":
                if closing:
                    self.fail(self.peek(), repr(closing))
                return Obj(pairs)
            if kind == "punct" and value == closing:
                self.next()
                return Obj(pairs)
            if kind == "punct" and value == ",":
                self.next()
                continue
            pairs.append(self.item())

    def name(self):
        token = self.next()
        kind, value, _line = token
        if kind == "ident":
            return value
        if kind == "string":
            return _unquote(token)
        self.fail(token, "a name")
        return None  # not reached

    def item(self):
        line = self.peek()[2]
        name = self.name()
        kind, value, _line = self.peek()
        if kind == "punct" and value in ("=", ":"):
            self.next()
            return name, self.value()
        labels = []
        while self.peek()[0] == "string":
            labels.append(_unquote(self.next()))
        if self.peek()[0] == "punct" and self.peek()[1] == "{":
            self.next()
            inner = self.body("}")
            for label in reversed(labels):
                inner = Obj([(label, inner)])
            return name, inner
        kind, value, _line = self.peek()
        found = "end of text" if kind == "eof" else repr(value)
        raise RulesError(f"line {line}: expected '=' or a block after {name!r}, found {found}")

    def value(self):
        token = self.next()
        kind, value, _line = token
        if kind == "string":
            return _unquote(token)
        if kind == "number":
            return json.loads(value)
        if kind == "ident" and value in ("true", "false"):
            return value == "true"
        if kind == "punct" and value == "{":
            return self.body("}")
        if kind == "punct" and value == "[":
            items = []
            while True:
                if self.peek()[0] == "punct" and self.peek()[1] == "]":
                    self.next()
                    return items
                items.append(self.value())
                if self.peek()[0] == "punct" and self.peek()[1] == ",":
                    self.next()
                elif not (self.peek()[0] == "punct" and self.peek()[1] == "]"):
                    self.fail(self.peek(), "',' or ']'")
        self.fail(token, "a value")
        return None  # not reached


def _unquote(token):
    try:
        return json.loads(token[1])
    except ValueError:
        raise RulesError(f"line {token[2]}: bad string {token[1]}") from None


def parse_hcl(text):
    """The Obj of HCL rules text."""
    return _Parser(text or "").body()


def _from_json(value):
    if isinstance(value, dict):
        pairs = []
        for name, inner in value.items():
            if isinstance(inner, list) and inner and all(isinstance(i, dict) for i in inner):
                pairs.extend((name, _from_json(i)) for i in inner)  # repeated blocks
            else:
                pairs.append((name, _from_json(inner)))
        return Obj(pairs)
    if isinstance(value, list):
        return [_from_json(i) for i in value]
    return value


def parse_rules(text):
    """The Obj of rules given as HCL or JSON (JSON when the text is a JSON object)."""
    stripped = (text or "").strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return _from_json(data)
    return parse_hcl(text or "")


def canonical(obj):
    """The normal form of an Obj: nested dicts with sorted semantics. Repeated names whose values
    are objects merge (a block given twice equals one block with both bodies); a repeated scalar
    keeps its last value, as decoding into Consul's policy structure does."""
    if isinstance(obj, list):
        return [canonical(item) for item in obj]
    if not isinstance(obj, Obj):
        return obj
    grouped = {}
    for name, value in obj.pairs:
        grouped.setdefault(name, []).append(value)
    out = {}
    for name, values in grouped.items():
        objects = [v for v in values if isinstance(v, Obj)]
        if objects and len(objects) == len(values):
            out[name] = canonical(Obj([pair for o in objects for pair in o.pairs]))
        else:
            out[name] = canonical(values[-1])
    return out


def normalize_rules(text):
    """The normal form of rules text; raises RulesError when it does not parse."""
    return canonical(parse_rules(text))


def same_rules(left, right):
    """True when two rules texts mean the same. Text that does not parse compares as text
    (after trimming), so a policy Consul holds in a form we cannot read is never rewritten
    just because of that."""
    try:
        return normalize_rules(left) == normalize_rules(right)
    except RulesError:
        return (left or "").strip() == (right or "").strip()


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def render_hcl(data, indent=0):
    """Canonical HCL for a normal form: sorted names, labelled blocks for dicts of dicts,
    two-space indentation. parse(render(x)) normalises back to x."""
    pad = "  " * indent
    lines = []
    for name in sorted(data):
        value = data[name]
        key = name if _IDENT.match(name) else json.dumps(name)
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            for label in sorted(value):
                inner = render_hcl(value[label], indent + 1)
                lines.append(f"{pad}{key} {json.dumps(label)} {{")
                lines.extend(inner.splitlines())
                lines.append(f"{pad}}}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{key} {{")
            lines.extend(render_hcl(value, indent + 1).splitlines())
            lines.append(f"{pad}}}")
        else:
            lines.append(f"{pad}{key} = {_render_value(value)}")
    return "\n".join(lines) + ("\n" if lines and indent == 0 else "")


def _render_value(value):
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)} = {_render_value(v)}" for k, v in sorted(value.items()))
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_render_value(v) for v in value) + "]"
    return json.dumps(value)


def display_rules(text):
    """Rules as canonical HCL for a diff, or the text as it is when it does not parse."""
    try:
        return render_hcl(normalize_rules(text))
    except RulesError:
        return text or ""
