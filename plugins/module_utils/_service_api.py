# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP calls for what the service clients (python-nomad, python-consul2) lack, such as blocking
queries, transactions that return 409 bodies and HCL parsing, made through the client's own
requests.Session so TLS, tokens and connection reuse stay in one place."""

from __future__ import annotations

import json
import re
import traceback

from ansible_collections.octant.openclaw.plugins.module_utils._connection import Service
from ansible_collections.octant.openclaw.plugins.module_utils._errors import (
    ServiceError,
    UnexpectedAnswerError,
    hint_for,
)

try:
    import requests
except ImportError:
    requests = None
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    REQUESTS_IMPORT_ERROR = None


# Plain HTTP services (LiteLLM): no connection options of their own, only requests.
HTTP = Service("http", (), lambda: (("requests", REQUESTS_IMPORT_ERROR),))


def normalize_address(address, default_scheme="http"):
    """`127.0.0.1:8500` (as CONSUL_HTTP_ADDR often is) -> `http://127.0.0.1:8500`."""
    address = (address or "").strip().rstrip("/")
    if "://" not in address:
        address = f"{default_scheme}://{address}"
    return address


# -- answer shapes -------------------------------------------------------------------------------
# A shape is: a type (dict, list, str, int, float, bool, NONE) matched with isinstance (a bool is
# not an int); a tuple of shapes (any of them); a dict {key: shape} (a JSON object whose keys have
# those shapes; a key whose shape admits NONE may be missing; other keys are not checked); a list
# [shape] (a JSON list whose every item has that shape); MapOf(shape) (a JSON object whose every
# value has that shape); Nullable(shape) (a key that must be present, its value null or of that
# shape). A dict shape may refer to itself (nested diffs).

ANY = object()  # no check
NONE = type(None)
JSON_NAMES = {dict: "a JSON object", list: "a JSON list", str: "a JSON string", int: "a JSON integer",
              float: "a JSON number", bool: "a JSON boolean", NONE: "JSON null"}
MAX_SNIPPET = 60


class MapOf:
    """A JSON object used as a map: any keys, every value of `shape`."""

    def __init__(self, shape):
        self.shape = shape


class Nullable:
    """A key that must be present; its value is JSON null or has `shape`."""

    def __init__(self, shape):
        self.shape = shape


class NotJson(str):
    """A body that did not parse as JSON."""


def describe(value, secret=False):
    """What came back, in a few words: its JSON type and size, key names, an HTML page's title;
    never a JSON value. A non-JSON text is quoted (its first characters) only when not `secret`."""
    if isinstance(value, NotJson):
        text = str(value).strip()
        if not text:
            return "an empty body"
        if re.match(r"<(!doctype\s+html|html|head|body)\b", text, re.I) or re.search(r"<html\b", text[:500], re.I):
            title = re.search(r"<title[^>]*>([^<]{1,200})", text, re.I)
            name = " ".join(title.group(1).split())[:MAX_SNIPPET] if title else ""
            return f"an HTML page{f' titled {name!r}' if name else ''} ({len(text)} characters)"
        if text[0] in "[{":
            return f"truncated or malformed JSON ({len(text)} characters)"
        if secret:
            return f"{len(text)} characters of text that is not JSON"
        snippet = " ".join(text.split())
        more = "..." if len(snippet) > MAX_SNIPPET else ""
        return f"text that is not JSON: {snippet[:MAX_SNIPPET]!r}{more}"
    if isinstance(value, dict):
        keys = sorted(str(k)[:30] for k in value)
        shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        return f"a JSON object with keys {shown}" if keys else "an empty JSON object"
    if isinstance(value, list):
        return f"a JSON list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, str):
        return f"a JSON string of {len(value)} character{'' if len(value) == 1 else 's'}"
    return JSON_NAMES.get(type(value), type(value).__name__)


def expected(shape):
    """A shape in words (outermost level only)."""
    if isinstance(shape, tuple):
        return " or ".join(expected(s) for s in shape)
    if isinstance(shape, dict):
        required = [k for k, v in shape.items() if not _admits_none(v)]
        return f"a JSON object with {', '.join(required)}" if required else "a JSON object"
    if isinstance(shape, list):
        return f"a JSON list of {_plural(expected(shape[0]))}"
    if isinstance(shape, MapOf):
        return "a JSON object"
    if isinstance(shape, Nullable):
        return f"{expected(shape.shape)} or JSON null"
    return JSON_NAMES.get(shape, getattr(shape, "__name__", str(shape)))


def _plural(text):
    return text.replace("a JSON ", "JSON ", 1) + "s" if text.startswith("a JSON ") else text


def _admits_none(shape):
    return shape is NONE or (isinstance(shape, tuple) and any(_admits_none(s) for s in shape))


def _mismatch(value, shape, where):
    """None when `value` has `shape`, else (where, the value there, the shape expected there)."""
    if isinstance(shape, tuple):
        problems = [_mismatch(value, s, where) for s in shape]
        if all(problems):
            # Inside a container of the right kind, report the deeper problem.
            deeper = [p for p in problems if p[0] != where]
            return deeper[0] if deeper else (where, value, shape)
        return None
    if isinstance(value, NotJson):
        return where, value, shape
    if isinstance(shape, Nullable):
        return None if value is None else _mismatch(value, shape.shape, where)
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return where, value, shape
        for key, sub in shape.items():
            if key not in value:
                if _admits_none(sub):
                    continue
                return _join(where, key), _MISSING, sub
            found = _mismatch(value[key], sub, _join(where, key))
            if found:
                return found
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return where, value, shape
        return _first(_mismatch(item, shape[0], f"{where}[{number}]") for number, item in enumerate(value))
    if isinstance(shape, MapOf):
        if not isinstance(value, dict):
            return where, value, shape
        return _first(_mismatch(item, shape.shape, _join(where, str(key)[:30])) for key, item in value.items())
    if shape is int and isinstance(value, bool):
        return where, value, shape
    if shape is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return None
    return None if isinstance(value, shape) else (where, value, shape)


_MISSING = object()


def _first(found):
    """The first mismatch of the items of a list or map (checked lazily), or None."""
    return next((f for f in found if f), None)


def _join(where, key):
    return f"{where}.{key}" if where else str(key)


def answer_problem(value, shape, secret=False):
    """None when `value` (a decoded body, or NotJson text) has `shape`; else what came back and
    what was expected, in words."""
    found = _mismatch(value, shape, "")
    if not found:
        return None
    where, inner, wanted = found
    if not where:
        return f"{describe(value, secret)} where {expected(wanted)} was expected"
    got = "missing" if inner is _MISSING else describe(inner, secret)
    return f"{describe(value, secret)} whose {where} is {got} where {expected(wanted)} was expected"


class Reply:
    """Status, decoded JSON (or text) body and headers of one call; `is_json` tells whether the
    body was JSON (a non-JSON text is kept as `body` for callers that read text)."""

    def __init__(self, status, body, headers, is_json=True):
        self.status = status
        self.body = body
        self.headers = headers
        self.is_json = is_json

    def index(self, header):
        try:
            return int(self.headers.get(header, 0))
        except (TypeError, ValueError):
            return 0


class ApiSession:
    """One service's HTTP API: base address, token header, TLS settings and a requests.Session."""

    def __init__(self, service, address, token=None, token_header="X-Consul-Token", verify=True,
                 ca_file=None, client_cert=None, client_key=None, timeout=30, session=None,
                 default_params=None):
        self.service = service
        self.address = normalize_address(address)
        # A pasted token often ends in a newline; requests would refuse it and quote it back.
        self.token = token.strip() if isinstance(token, str) else token
        self.token_header = token_header
        self.session = session if session is not None else requests.Session()
        # TLS is verified unless turned off; a CA file replaces the system store.
        self.verify = (ca_file or True) if verify else False
        self.cert = (client_cert, client_key) if client_cert and client_key else client_cert or None
        self.timeout = timeout
        self.default_params = {k: v for k, v in (default_params or {}).items() if v}

    def call(self, method, path, params=None, body=None, raw=None, ok=(200,), timeout=None, what=None,
             expect=ANY, secret=False):
        """Make one call; return a Reply when the status is in `ok`, else raise ServiceError.
        `body` is sent as JSON, `raw` as bytes. `expect` is the shape a 200 answer must have
        (see shape_problem); any other answer raises UnexpectedAnswerError. `secret`: the answer
        may hold secrets, so a non-JSON text is never quoted."""
        what = what or f"{method} {path}"
        query = dict(self.default_params)
        query.update({k: v for k, v in (params or {}).items() if v is not None})
        headers = {}
        if self.token:
            headers[self.token_header] = self.token
        data = raw
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            response = self.session.request(
                method, self.address + path, params=query, data=data, headers=headers,
                verify=self.verify, cert=self.cert, timeout=timeout or self.timeout)
        except requests.exceptions.SSLError as exc:
            raise ServiceError(self.service, what, None, str(exc),
                               hint=f"TLS verification failed for {self.address}; set the CA file option "
                                    f"or, only for a lab, turn certificate validation off") from None
        except requests.exceptions.InvalidHeader:
            # requests quotes the offending header value (the token) in its message: never echo it.
            raise ServiceError(self.service, what, None, "the token cannot be sent in an HTTP header",
                               hint=f"the {self.service} token contains spaces or control characters; "
                                    f"check {self.service}_token") from None
        except requests.exceptions.ReadTimeout:
            # Reachable but slow: the address is right, the timeout (or the server's load) is not.
            raise ServiceError(self.service, what, None, f"timed out: no answer within {timeout or self.timeout} s",
                               hint=f"{self.service} at {self.address} is slow to answer; raise "
                                    f"{self.service}_timeout or check the server's load") from None
        except requests.exceptions.RequestException as exc:
            raise ServiceError(self.service, what, None, _short(exc),
                               hint=hint_for(self.service, None, "", self.address)) from None
        text = response.text
        if response.status_code not in ok:
            raise ServiceError(self.service, what, response.status_code, text,
                               hint=hint_for(self.service, response.status_code, text, self.address))
        try:
            decoded, is_json = (json.loads(text), True) if text else (None, True)
        except ValueError:
            decoded, is_json = text, False
        reply = Reply(response.status_code, decoded, response.headers, is_json)
        if expect is not ANY and reply.status == 200:
            self.check(reply, expect, what, secret)
        return reply

    def check(self, reply, expect, what, secret=False):
        """Raise UnexpectedAnswerError unless the reply's body has the shape `expect`."""
        problem = answer_problem(reply.body if reply.is_json else NotJson(reply.body), expect, secret)
        if problem:
            raise self.unexpected(what, f"HTTP {reply.status} with {problem}", reply.status)
        return reply.body

    def unexpected(self, what, description, status=200):
        """The error for an answer this collection cannot use (for checks a shape cannot say)."""
        return UnexpectedAnswerError(self.service, what, status, description, self.address)


def _short(exc):
    text = str(exc)
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    return text
