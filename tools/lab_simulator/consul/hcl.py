"""Just enough HCL to read Consul ACL rules: `name = value` attributes and `type "label" { ... }` blocks,
strings, numbers, booleans, lists and comments. Blocks come back as {type: {label: body}}, the shape the
JSON form of the same rules has."""

from __future__ import annotations

import json
import re

_TOKEN = re.compile(r'''
    (?P<space>\s+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.-]*)
  | (?P<punct>[{}\[\]=,:])
''', re.VERBOSE | re.DOTALL)


class HCLError(ValueError):
    pass


def parse(text):
    """HCL or JSON text -> dict."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass  # HCL object syntax also starts with "{"
    return _Parser(_tokens(text)).body(closing=None)


def _tokens(text):
    pos, out = 0, []
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            line = text.count("\n", 0, pos) + 1
            raise HCLError(f"At {line}: illegal character {text[pos]!r}")
        kind = match.lastgroup
        if kind != "space":
            out.append((kind, match.group(kind), text.count("\n", 0, pos) + 1))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None, 0)

    def take(self, kind=None, value=None):
        token = self.peek()
        if token[0] is None or (kind and token[0] != kind) or (value and token[1] != value):
            want = value or kind or "a token"
            raise HCLError(f"At {token[2]}: expected {want}, got {token[1]!r}")
        self.pos += 1
        return token

    def body(self, closing):
        out = {}
        while True:
            kind, value, _ = self.peek()
            if kind is None and closing is None:
                return out
            if kind == "punct" and value == closing:
                self.take()
                return out
            if kind == "punct" and value == ",":
                self.take()
                continue
            key = self.key()
            labels = []
            while self.peek()[0] == "string":
                labels.append(json.loads(self.take()[1]))
            if self.peek()[1] in ("=", ":") and not labels:
                self.take()
                out[key] = self.value()
                continue
            self.take("punct", "{")
            block = self.body("}")
            target = out.setdefault(key, {})
            for label in labels[:-1]:
                target = target.setdefault(label, {})
            if labels:
                target[labels[-1]] = block
            else:
                target.update(block)

    def key(self):
        kind, value, _ = self.take()
        if kind == "ident":
            return value
        if kind == "string":
            return json.loads(value)
        raise HCLError(f"expected a name, got {value!r}")

    def value(self):
        kind, value, line = self.take()
        if kind == "string":
            return json.loads(value)
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind == "ident" and value in ("true", "false"):
            return value == "true"
        if value == "{":
            return self.body("}")
        if value == "[":
            items = []
            while self.peek()[1] != "]":
                items.append(self.value())
                if self.peek()[1] == ",":
                    self.take()
            self.take("punct", "]")
            return items
        raise HCLError(f"At {line}: unexpected {value!r}")
