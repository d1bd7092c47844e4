"""Small helpers shared by the Nomad endpoints: plain-text errors, JSON replies with Nomad's
query-meta headers, Go-style durations and timestamps, ids."""

from __future__ import annotations

import datetime
import json
import re
import uuid

from ..httpcore import HttpError, Response

PERMISSION_DENIED = "Permission denied"
INVALID_METHOD = "Invalid method"
_NS = 1_000_000_000


def fail(status, text):
    """Nomad answers errors as plain text (text/plain; charset=utf-8, as httpcore sends strings)."""
    raise HttpError(status, text)


def meta_headers(index=None, query_meta=True):
    """Reads carry X-Nomad-Index (at least 1)/KnownLeader/LastContact (setMeta); writes only the index."""
    headers = {}
    if index is not None:
        headers["X-Nomad-Index"] = str(max(index, 1) if query_meta else index)
    if query_meta:
        headers["X-Nomad-KnownLeader"] = "true"
        headers["X-Nomad-LastContact"] = "0"
    return headers


def reply(obj, index=None, query_meta=True, status=200):
    """A JSON body (`...` for none, as Nomad sends for writes that return nothing)."""
    body = b"" if obj is ... else json.dumps(obj).encode()
    return Response(status, body, meta_headers(index, query_meta))


def require_method(request, *methods):
    if request.method not in methods:
        fail(405, INVALID_METHOD)


def parse_bool(request, name):
    """Go's strconv.ParseBool on a query parameter; absent or empty is False."""
    raw = request.arg(name, "")
    if raw == "":
        return False
    value = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}.get(raw)
    if value is None:
        fail(500, f'Failed to parse value of "{name}" ({raw}) as a bool: strconv.ParseBool: '
                  f'parsing "{raw}": invalid syntax')
    return value


_GO_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": _NS, "m": 60 * _NS, "h": 3600 * _NS}


def parse_go_duration(text):
    """time.ParseDuration: a unit is required except for "0". Returns seconds or None."""
    if text in ("0", "+0", "-0"):
        return 0.0
    body = text.lstrip("+-")
    pos, total = 0, 0.0
    for match in _GO_DURATION.finditer(body):
        if match.start() != pos or match.group(1) in ("", "."):
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(body):
        return None
    return (-total if text.startswith("-") else total) / _NS


def go_duration(nanos):
    """time.Duration.String(): 5s, 1m30s, 1h0m0s, 250ms, 0s."""
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < _NS:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + _trim(nanos / size) + unit
    hours, rest = divmod(nanos, 3600 * _NS)
    minutes, rest = divmod(rest, 60 * _NS)
    seconds = _trim(rest / _NS) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _trim(number):
    text = f"{number:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def nanos(seconds):
    return int(seconds * _NS)


def rfc3339(seconds):
    """Go's time.Time JSON encoding (RFC 3339 with nanoseconds, UTC)."""
    if not seconds:
        return "0001-01-01T00:00:00Z"
    stamp = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    frac = f"{stamp.microsecond:06d}".rstrip("0")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def new_id():
    return str(uuid.uuid4())


def stable_id(name):
    """A uuid that is the same for the same name across restarts (node IDs, token accessors)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"labsim-nomad:{name}"))


def is_uuid(text):
    try:
        return str(uuid.UUID(text)) == text.lower() and len(text) == 36
    except (ValueError, AttributeError):
        return False


def public(record):
    """A stored record without the simulator's private bookkeeping keys (leading underscore).
    Only the top level: user data below (Meta, Env, Config) may use any key."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def multierror(errors):
    """hashicorp/go-multierror's default format; nested lists are nested multierrors."""
    texts = [multierror(e) if isinstance(e, list) else e for e in errors]
    if len(texts) == 1:
        return f"1 error occurred:\n\t* {texts[0]}\n\n"
    points = "\n\t".join(f"* {t}" for t in texts)
    return f"{len(texts)} errors occurred:\n\t{points}\n\n"
