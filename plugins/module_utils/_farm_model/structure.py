# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The structural check of a value against its spec (kinds, ranges, patterns, op:// references),
the plain-data check, and the helpers every check and derived fact reads the model with."""

from __future__ import annotations

import datetime
import difflib
import math
import re
import unicodedata

from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.schema import (
    KIND_FIX,
    KIND_WORDS,
    MAX_DEPTH,
    MAX_TEXT,
    OP_PART_RE,
    OP_QUERY_RE,
    OP_SHAPE,
)


def _describe(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number" if math.isfinite(value) else "not a finite number (NaN or infinity)"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    if isinstance(value, (datetime.date, datetime.time)):
        return "a date or time"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _is(value, kind):
    """Whether value has the kind; a string must be one clean line, a number finite, to count."""
    if kind == "str":
        return isinstance(value, str) and _text_problem(value, False, MAX_TEXT) is None
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "num":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value))
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, (list, tuple))
    return isinstance(value, dict)


def _suggest(word, known):
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(word, known):
    """The start of a fix for a name that is not known: 'did you mean "x"? ', or "" when none is close."""
    close = _suggest(word, known)
    return f'did you mean "{close}"? ' if close else ""


def _join(path, key):
    """path.key, or path['key'] (escaped, shortened) for a key that is not a plain word."""
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,128}", key, re.ASCII):
        return f"{path}.{key}" if path else key
    return f"{path}[{_show(key)}]"


def _show(value, limit=64):
    """A value as a message may quote it: repr (control characters escaped), at most `limit` long."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 4] + "...'"


CONTROL_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL byte"}


def _text_problem(value, multiline, maxlen):
    """(msg, fix) when a string cannot be used as it is: control characters (tabs and line breaks
    only in free text), surrogates (not encodable as UTF-8), too long. Never quotes the value."""
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cs":
            return (f"contains an unpaired surrogate (U+{ord(char):04X}) at position {position}, which cannot be "
                    f"written as UTF-8", "retype the value; it was cut out of an emoji or a UTF-16 text")
        if category == "Cc" and not (multiline and char in "\t\n"):
            name = CONTROL_NAMES.get(char, "a control character")
            return (f"contains {name} (U+{ord(char):04X}) at position {position}",
                    "remove it: write the value on one line, quoted (a YAML block scalar '|' or '>' ends with a "
                    "line break)" if char in "\r\n" else "remove the control character")
    if len(value) > maxlen:
        return f"is {len(value)} characters long, more than {maxlen}", f"shorten it to at most {maxlen} characters"
    return None


def _number_problem(value, spec):
    """(msg, fix) when a number is outside its spec's range."""
    if spec.lo is not None and spec.lo <= value <= spec.hi:
        return None
    default = f" ({spec.default} is the default)" if spec.default is not None else ""
    return (f"{value} is outside {spec.lo}..{spec.hi}{spec.why}",
            f"use a value from {spec.lo} to {spec.hi}{default}")


class Problems:
    """An ordered, duplicate-free list of problems."""

    def __init__(self):
        self.items = []
        self._seen = set()

    def add(self, path, msg, fix):
        key = (path, msg)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append({"path": path, "msg": msg, "fix": fix})

    def unknown(self, path, what, name, known, fix):
        """`name` is not one of the `known` gateways, agents...: the message lists them, the fix starts with the
        closest one."""
        self.add(path, f"unknown {what} {name!r} ({what}s: {_names(known)})", _did_you_mean(name, known) + fix)


MAX_OP_REFERENCE = 512


def op_shape(value):
    """A malformed op:// value as a message shows it: the length of each part, never its text (a
    secret pasted after op:// must not be echoed)."""
    body, sep, _query = value[len("op://"):].partition("?")
    parts = ["<empty>" if not part else f"<{len(part)} chars>" for part in body.split("/")]
    return "op://" + "/".join(parts) + ("?<query>" if sep else "")


def op_reference_problem(value):
    """Why `value` is not a 1Password secret reference, or None. Never echoes the value: a malformed
    reference is shown by its shape (op_shape)."""
    if not isinstance(value, str):
        return f"must be an op:// reference ({OP_SHAPE}), got {_describe(value)}"
    if not value.startswith("op://"):
        return "is not an op:// reference; secrets must never be written into the model"
    if len(value) > MAX_OP_REFERENCE:
        return f"op:// reference of {len(value)} characters is longer than {MAX_OP_REFERENCE}"
    shape = op_shape(value)
    body, sep, query = value[len("op://"):].partition("?")
    parts = body.split("/")
    if len(parts) not in (3, 4):
        return f"op:// reference {shape} has {len(parts)} path parts; it must be {OP_SHAPE}"
    if not all(parts):
        return f"op:// reference {shape} has an empty vault, item, section or field name"
    names = ("vault", "item", "field") if len(parts) == 3 else ("vault", "item", "section", "field")
    bad = [name for name, part in zip(names, parts, strict=True) if not OP_PART_RE.fullmatch(part)]
    if bad:
        return (f"op:// reference {shape} has unsupported characters in its {bad[0]} name (1Password allows "
                f"letters, digits, spaces, '-', '_' and '.'; use the item or field ID otherwise)")
    if sep and not OP_QUERY_RE.fullmatch(query):
        return (f"op:// reference {shape} has an unsupported query (only ?attribute=otp, ?attribute=totp, "
                f"?attribute=type or ?ssh-format=openssh)")
    return None


def _op_fix(value):
    if isinstance(value, str) and value.startswith("op://"):
        return f"write it as {OP_SHAPE}"
    return ("store the secret in 1Password and write its reference instead, for example "
            "op://Homelab/<item>/<field> (and rotate the secret if it was ever committed)")


def _check_value(value, spec, path, problems):
    """Structural check of one value against its spec; True when the value is usable."""
    if spec.secret:
        problem = op_reference_problem(value)
        if problem:
            problems.add(path, problem, _op_fix(value))
            return False
        return True
    if spec.kind == "str" and isinstance(value, str):
        problem = _text_problem(value, spec.text, spec.maxlen)
        if problem:
            problems.add(path, *problem)
            return False
        if spec.pattern is not None and not spec.pattern.fullmatch(value):
            problems.add(path, f"{_show(value)} is not {spec.what}", spec.fix)
            return False
    elif spec.kind in ("int", "num") and isinstance(value, float) and not math.isfinite(value):
        problems.add(path, f"must be a finite number, got {value}",
                     f"{KIND_FIX[spec.kind]} (YAML reads .nan and .inf as not-a-number and infinity)")
        return False
    elif not _is(value, spec.kind):
        problems.add(path, f"must be {KIND_WORDS[spec.kind]}, got {_describe(value)}", KIND_FIX[spec.kind])
        return False
    elif spec.kind in ("int", "num"):
        problem = _number_problem(value, spec)
        if problem:
            problems.add(path, *problem)
            return False
    ok = True
    if spec.choices is not None and value not in spec.choices:
        problems.add(path, f"{_show(value)} is not one of: {', '.join(map(str, spec.choices))}",
                     f"use one of: {', '.join(map(str, spec.choices))}")
        ok = False
    if spec.kind == "list" and spec.elements is not None:
        for index, item in enumerate(value):
            ok = _check_value(item, spec.elements, f"{path}[{index}]", problems) and ok
    elif spec.kind == "dict":
        ok = _check_fields(value, spec.fields, path, problems) and ok
    elif spec.kind == "map" and spec.values is not None:
        for key, item in value.items():
            if not isinstance(key, str):
                problems.add(path, f"has a key {_show(key)} that is {_describe(key)}, not a string", "quote the key")
                ok = False
                continue
            ok = _check_value(item, spec.values, _join(path, key), problems) and ok
    return ok


def _check_fields(value, fields, path, problems):
    ok = True
    for key in value:
        if key not in fields:
            close = _suggest(key, fields)
            known = ", ".join(sorted(fields))
            fix = (f'did you mean "{close}"? Known keys here: {known}' if close
                   else f"remove it; known keys here: {known}")
            shown = f'"{key}"' if _is(key, "str") and len(key) <= 64 else _show(key)
            problems.add(_join(path, key), f"unknown key {shown}", fix)
            ok = False
    for key, spec in fields.items():
        if value.get(key) is None:  # missing, or an explicit null: "not set"
            if spec.required:
                example = spec.example or f"<{KIND_WORDS[spec.kind]}>"
                problems.add(_join(path, key), "is required", f"add {key}: {example}")
                ok = False
            continue
        ok = _check_value(value[key], spec, _join(path, key), problems) and ok
    return ok


# ------------------------------------------------------------------------------------------------
# Helpers shared by validate() and the filters
# ------------------------------------------------------------------------------------------------

def _get(mapping, key, kind, default=None):
    """mapping[key] when it is set and has the right kind, else default."""
    if not isinstance(mapping, dict):
        return default
    value = mapping.get(key)
    return value if value is not None and _is(value, kind) else default


def _opt(mapping, key, kind, default):
    """mapping[key] with `default` when it is not set (missing or null), None when it has the wrong
    kind (already reported by the structural check)."""
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if value is None:
        return default
    return value if _is(value, kind) else None


def _missing(names, name):
    """True when `names` is known (a dict) and lacks `name`; None means the list itself is broken."""
    return names is not None and name not in names


def _names(names):
    return ", ".join(sorted(names or ())) or "none"


def _entries(model, key):
    """(index, entry) for the mapping entries of a top-level list."""
    items = _get(model, key, "list", [])
    return [(index, item) for index, item in enumerate(items) if isinstance(item, dict)]


def _named_entries(model, key, field, named, problems, valid, invalid, unique):
    """(index, path, entry, name) of the mapping entries of the top-level list `key` (farm_agents...), `name` being
    their `field` when it is a string, else None. A name that the regex `valid` rejects is reported with
    invalid(name) -> (msg, fix), one that an earlier entry has with the fix `unique`. `named` collects
    {name: (index, entry)} of the first entry of each name, invalid ones too: references to them are not reported
    a second time."""
    what = f"{key[len('farm_'):-1]} {field}"  # farm_agents, id -> agent id
    for index, entry in _entries(model, key):
        path = f"{key}[{index}]"
        name = _get(entry, field, "str")
        if name is not None:
            if not valid.fullmatch(name):
                problems.add(f"{path}.{field}", *invalid(name))
            if name in named:
                problems.add(f"{path}.{field}", f"duplicate {what} {name!r} (also {key}[{named[name][0]}])", unique)
            else:
                named[name] = (index, entry)
        yield index, path, entry, name


PLAIN = (str, int, float, bool, type(None))
NOT_PLAIN = (
    ((bytes, bytearray), "is binary data (a !!binary value), not text",
     "write text instead; a secret belongs in 1Password, written here as its op:// reference"),
    ((datetime.date, datetime.time), "is a date or time (YAML reads an unquoted date or timestamp as one), not text",
     "quote the value"),
    ((set, frozenset), "is a set (!!set), not a list", "write a YAML list: [a, b] or one '- item' per line"),
)


def data_problems(value, path=""):
    """Problems of a value that is not plain data (strings, numbers, booleans, null, lists and
    mappings of them): YAML cycles (an alias inside its own anchor), binary values, timestamps, sets,
    other tagged types and nesting deeper than MAX_DEPTH. None of these can be checked, rendered or
    sent to a module, so validate() reports them alone."""
    problems = Problems()
    _walk(value, path, [], problems)
    return problems.items


def _walk(value, path, stack, problems):
    where = path or "(model)"
    if isinstance(value, PLAIN):
        return
    if isinstance(value, (dict, list, tuple)):
        if any(value is outer for outer in stack):
            problems.add(where, "contains itself (a YAML alias inside its own anchor makes a cycle)",
                         "replace the alias (*name) with a copy of the value, or point it at an anchor outside it")
            return
        if len(stack) >= MAX_DEPTH:
            problems.add(where, f"is nested more than {MAX_DEPTH} levels deep", "flatten it; the farm model needs "
                         "no more than six levels")
            return
        stack.append(value)
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, PLAIN):
                    problems.add(where, f"has a key that is {_describe(key)}", "write the key as a quoted string")
                    continue
                _walk(item, _join(path, key), stack, problems)
        else:
            for index, item in enumerate(value):
                _walk(item, f"{path}[{index}]", stack, problems)
        stack.pop()
        return
    for types, msg, fix in NOT_PLAIN:
        if isinstance(value, types):
            problems.add(where, msg, fix)
            return
    problems.add(where, f"is a {type(value).__name__}, not plain data (a string, number, true/false, list or "
                 f"mapping)", "remove the YAML tag or the template that produces this value")


def format_problems(problems):
    """One message listing every problem: path, what is wrong, how to fix it."""
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [f"The farm model has {len(problems)} {noun}; nothing was changed."]
    for problem in problems:
        path = problem["path"] or "(model)"
        lines.append(f"- {path}: {problem['msg']}. Fix: {problem['fix']}.")
    return "\n".join(lines)
