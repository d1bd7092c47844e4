# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""1Password secret references (op://vault/item[/section]/field) resolved with the onepassword
SDK, shared by the onepassword lookup and the onepassword_info module.

- References are checked before anything is sent: our shape rules, then the SDK's own offline
  validator (characters, query parameters).
- One authentication per process and token: the Client is cached under a hash of the token
  (never the token itself) and the process id (a forked worker does not reuse its parent's client).
- One `client.secrets.resolve_all()` per call for every reference not cached yet; values are
  cached for the life of the process (except one-time passwords).
- Every failure is a OnePasswordError that names references and reasons, never a value or token.
- The SDK is async only: calls run under asyncio.run(), or on a private loop in a helper thread
  when the caller already runs an event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import threading
import traceback

from ansible_collections.octant.openclaw.plugins.module_utils._connection import ONEPASSWORD_OPTIONS, Service, resolve
from ansible_collections.octant.openclaw.plugins.module_utils._errors import InputError, ServiceError

try:
    from onepassword import Client, Secrets
    from onepassword.errors import RateLimitExceededException
    from pydantic import ValidationError
except ImportError:
    HAS_ONEPASSWORD = False
    ONEPASSWORD_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_ONEPASSWORD = True
    ONEPASSWORD_IMPORT_ERROR = None

ONEPASSWORD = Service("onepassword", ONEPASSWORD_OPTIONS, lambda: (("onepassword-sdk", ONEPASSWORD_IMPORT_ERROR),))
TOKEN_ENV = "OP_SERVICE_ACCOUNT_TOKEN"
PREFIX = "op://"
SHAPE = "op://<vault>/<item>/<field> or op://<vault>/<item>/<section>/<field>"

# What each ResolveReferenceError type of the SDK means, in words a user can act on.
REASONS = {
    "fieldNotFound": "no such field in the item",
    "vaultNotFound": "no such vault, or the service account cannot read it",
    "tooManyVaults": "more than one vault has this name; use the vault ID",
    "itemNotFound": "no such item in the vault, or the service account cannot read it",
    "tooManyItems": "more than one item has this name; use the item ID",
    "tooManyMatchingFields": "more than one field has this name; add the section or use the field ID",
    "noMatchingSections": "no such section in the item",
    "incompatibleTOTPQueryParameterField": "?attribute=totp is only valid on a one-time password field",
    "unableToGenerateTotpCode": "the one-time password cannot be generated from this field",
    "sSHKeyMetadataNotFound": "the field is not an SSH key",
    "unsupportedFileFormat": "only text files can be read",
    "incompatibleSshKeyQueryParameterField": "?ssh-format is only valid on an SSH private key field",
    "unableToParsePrivateKey": "the SSH private key cannot be parsed",
    "unableToFormatPrivateKeyToOpenSsh": "the SSH private key cannot be converted to OpenSSH format",
    "other": "1Password could not resolve it",
}
TOKEN_HINT = f"set service_account_token or {TOKEN_ENV} to a 1Password service account token (ops_...)"
RATE_HINT = ("the service account's request quota is used up; wait and retry, and fetch all the secrets "
             "a play needs in one call (one lookup with many terms, or onepassword_info with run_once)")

ANSWER_HINT = ("the onepassword-sdk package may not be the version this collection pins "
               "(requirements.txt), or something between the SDK and 1Password altered the answer")

_LOCK = threading.Lock()
_CLIENTS = {}  # sha256(token) -> (pid, Client)
_VALUES = {}  # (sha256(token), reference) -> value


class OnePasswordError(ServiceError):
    """A 1Password failure. `failures` maps each reference concerned to its reason (empty when
    the failure is not about particular references)."""

    def __init__(self, call, reason="", failures=None, hint=None, text=None):
        self.reason = reason
        self.failures = dict(failures or {})
        if text is None and self.failures:
            parts = [f"{ref!r}: {why}" for ref, why in self.failures.items()]
            noun = "reference" if len(parts) == 1 else f"{len(parts)} references"
            text = f"1Password {call} failed for {noun}: " + "; ".join(parts) + (f" ({reason})" if reason else "")
        elif text is None:
            text = f"1Password {call} failed: {reason}"
        super().__init__("1password", call, body=reason, hint=hint, text=text)


class OnePasswordAnswerError(OnePasswordError):
    """1Password (through the SDK) answered something the SDK cannot read: the same message
    shape as every other unexpected answer (_errors.UnexpectedAnswerError)."""

    def __init__(self, call, reason, hint=None):
        super().__init__(call, reason, hint=hint, text=f"1Password {call} returned an unexpected answer: {reason}")


def reference_problem(reference):
    """Why `reference` is not a valid secret reference, or None when it is."""
    if not isinstance(reference, str):
        return f"must be a string of the form {SHAPE}, got {type(reference).__name__}"
    if not reference.startswith(PREFIX):
        return f'must start with "{PREFIX}" ({SHAPE})'
    parts = reference[len(PREFIX):].split("?", 1)[0].split("/")
    if len(parts) not in (3, 4):
        return f"must be {SHAPE}; it has {len(parts)} path parts"
    if not all(parts):
        return f"has an empty vault, item, section or field name ({SHAPE})"
    if HAS_ONEPASSWORD:
        try:
            Secrets.validate_secret_reference(reference)
        except ImportError:
            return None  # no SDK core for this machine: authentication will say so
        except Exception as exc:  # the SDK raises a bare Exception with its parser's text
            return str(exc).replace("the secret reference could not be parsed: ", "")
    return None


def check_references(references):
    """Raise OnePasswordError naming every invalid reference, before anything is sent."""
    failures = {}
    for reference in references:
        problem = reference_problem(reference)
        if problem:
            failures[str(reference)] = problem
    if failures:
        raise OnePasswordError("reference check", failures=failures)


def clear_cache():
    """Forget cached clients and values (tests; long-lived processes that must re-read)."""
    with _LOCK:
        _CLIENTS.clear()
        _VALUES.clear()


def resolve_references(references, service_account_token=None, integration_name=None,
                       integration_version=None, log=None, environ=None):
    """The values of `references`, in order (duplicates allowed). The token falls back to
    OP_SERVICE_ACCOUNT_TOKEN. `log` receives progress lines that never hold a value."""
    log = log or (lambda _msg: None)
    if not HAS_ONEPASSWORD:
        raise OnePasswordError("import", "the onepassword-sdk Python package is not installed on the "
                               "controller (pip install onepassword-sdk)")
    references = [str(ref) if isinstance(ref, str) else ref for ref in references]
    check_references(references)
    if not references:
        return []
    options = resolve(ONEPASSWORD_OPTIONS, {"service_account_token": service_account_token,
                                            "integration_name": integration_name,
                                            "integration_version": integration_version}, environ)
    token = options["service_account_token"]
    if not token:
        raise OnePasswordError("authentication", "no service account token", hint=TOKEN_HINT)
    key = hashlib.sha256(token.encode()).hexdigest()
    with _LOCK:
        distinct = list(dict.fromkeys(references))
        missing = [ref for ref in distinct if (key, ref) not in _VALUES]
        log(f"1Password: {len(distinct)} reference(s), {len(distinct) - len(missing)} cached in this process, "
            f"{len(missing)} fetched in {'one resolve_all call' if missing else 'no call'}")
        if missing:
            fetched = _run(_fetch(key, token, options, missing, log))
            for ref, value in fetched.items():
                if not _is_one_time(ref):
                    _VALUES[(key, ref)] = value
        else:
            fetched = {}
        return [fetched[ref] if ref in fetched else _VALUES[(key, ref)] for ref in references]


async def _fetch(key, token, options, references, log):
    pid = os.getpid()
    pid_client = _CLIENTS.get(key)
    if pid_client is None or pid_client[0] != pid:
        log("1Password: authenticating (once per process and token)")
        try:
            client = await Client.authenticate(auth=token, integration_name=options["integration_name"],
                                               integration_version=options["integration_version"])
        except Exception as exc:
            raise _failure("authentication", exc, token, references, TOKEN_HINT) from None
        _CLIENTS[key] = (pid, client)
    else:
        client = pid_client[1]
    try:
        response = await client.secrets.resolve_all(references)
    except Exception as exc:
        _CLIENTS.pop(key, None)  # the next call authenticates again (token revoked, network...)
        raise _failure("resolve_all", exc, token, references) from None

    values, failures = {}, {}
    answers = response.individual_responses
    for ref in references:
        answer = answers.get(ref)
        if answer is None:
            failures[ref] = "1Password returned no answer for it"
        elif answer.error is not None:
            failures[ref] = _reason(answer.error)
        elif answer.content is None:
            failures[ref] = "1Password returned neither a value nor an error"
        else:
            values[ref] = answer.content.secret
    if failures:
        raise OnePasswordError("resolve", failures=failures)
    return values


def _reason(error):
    kind = getattr(error.type, "value", error.type)
    if kind == "parsing":
        # The parser's text describes the reference, never a value.
        return f"cannot be parsed: {getattr(error, 'message', '')}".rstrip(": ")
    return REASONS.get(kind, f"1Password error {kind!r}")


def _failure(call, exc, token, references, hint=None):
    """A OnePasswordError for an SDK exception; the token never survives into its text."""
    if HAS_ONEPASSWORD and isinstance(exc, RateLimitExceededException):
        reason, hint = "rate limit exceeded", RATE_HINT
    elif HAS_ONEPASSWORD and isinstance(exc, ValidationError):
        return OnePasswordAnswerError(call, _validation_summary(exc), hint=ANSWER_HINT)
    else:
        reason = str(exc).replace(token, "<token>").strip() or type(exc).__name__
    shown = list(references)[:5]
    more = f" and {len(references) - 5} more" if len(references) > 5 else ""
    reason = f"{reason[:500]} (references: {', '.join(repr(r) for r in shown)}{more})"
    return OnePasswordError(call, reason, hint=hint)


def _validation_summary(exc):
    """What the SDK could not read, by place and kind only: pydantic's own text quotes the input,
    and that input holds the secret values."""
    problems = exc.errors(include_input=False, include_url=False)
    first = problems[0] if problems else {}
    where = ".".join(str(part)[:80] for part in first.get("loc", ())) or "the top level"
    kind = first.get("type", "unknown")
    what = "truncated or malformed JSON" if kind == "json_invalid" else f"{kind} at {where}"
    count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
    return f"an answer the SDK cannot read ({count}; first: {what})"


def _is_one_time(reference):
    query = reference.partition("?")[2].lower()
    return "attribute=totp" in query or "attribute=otp" in query


def _run(coroutine):
    """Run a coroutine to completion from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # A loop already runs in this thread: asyncio.run() would refuse, so use a private loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# -- the onepassword_info module -----------------------------------------------------------------

NEEDS_NO_LOG = ("onepassword_info returns secret values: set 'no_log: true' on this task so they never reach "
                "the output or AWX job events (use the registered result as usual)")


def named_references(references):
    """(name, reference) pairs from a dict of name -> reference or a list of references."""
    if isinstance(references, dict):
        pairs = list(references.items())
    elif isinstance(references, list):
        pairs = [(ref, ref) for ref in references]
    else:
        raise InputError(f"references must be a dict of name -> op:// reference or a list, "
                         f"got {type(references).__name__}")
    for name, _ref in pairs:
        if not isinstance(name, str):
            raise InputError(f"every name and reference must be a string, got {name!r}")
    return pairs


def run_info(params, ctx):
    """onepassword_info: every reference resolved in one call; the task must be no_log."""
    pairs = named_references(params["references"])
    if not ctx.no_log:
        raise InputError(NEEDS_NO_LOG)
    options = {option.name: params[option.name] for option in ONEPASSWORD_OPTIONS}
    values = resolve_references([ref for _name, ref in pairs], **options)
    return {"changed": False, "secrets": {name: values[index] for index, (name, _ref) in enumerate(pairs)}}
