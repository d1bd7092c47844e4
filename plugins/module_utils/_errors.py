# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failures every module reports, in one format: what failed and why, then `. Hint: ` and
what to do when there is a known fix. `message` is what fail_json says; `result` the extra return
values that go with it (what was already done before the failure)."""

from __future__ import annotations

ENV_OF_ADDRESS = {"nomad": "NOMAD_ADDR", "consul": "CONSUL_HTTP_ADDR", "1password": "OP_SERVICE_ACCOUNT_TOKEN"}
ENV_OF_TOKEN = {"nomad": "NOMAD_TOKEN", "consul": "CONSUL_HTTP_TOKEN"}
OPTION_OF_ADDRESS = {"litellm": "farm_model_providers.litellm.base_url"}
DISPLAY_NAME = {"nomad": "Nomad", "consul": "Consul", "1password": "1Password", "litellm": "LiteLLM"}


def display_name(service):
    return DISPLAY_NAME.get(service, service.capitalize())


class ModuleError(Exception):
    """A failure a module reports: `text` (what failed and why), `hint` (what to do; it may be
    set after the error is raised), `result` (extra return values for fail_json)."""

    def __init__(self, text, hint=None, result=None):
        self.text = text
        self.hint = hint
        self.result = dict(result or {})
        super().__init__(self.message)

    @property
    def message(self):
        return f"{self.text}. Hint: {self.hint}" if self.hint else self.text


class InputError(ModuleError):
    """A problem with the module's arguments, found before any call."""


class ServiceError(ModuleError):
    """A failed call to Nomad, Consul, 1Password or LiteLLM. `status` is the HTTP status (None when
    the service could not be reached); `body` the server's text. `text` replaces the default
    `<Service> <call> failed (<status>): <body>` when the collection says more than the server."""

    def __init__(self, service, call, status=None, body="", hint=None, text=None, result=None):
        self.service = service
        self.call = call
        self.status = status
        self.body = (body or "").strip()
        if text is None:
            outcome = f"HTTP {status}" if status is not None else "no response"
            text = f"{display_name(service)} {call} failed ({outcome})"
            if self.body:
                text += f": {self.body[:2000]}"
        super().__init__(text, hint=hint, result=result)


class OperationError(ServiceError):
    """A failure decided by the collection, not an HTTP error (a refused or unfinished operation):
    `<Service> <call>: <reason>`, or the whole `text` when given (it embeds a failed call's own
    message)."""

    def __init__(self, service, call, reason="", hint=None, result=None, status=None, text=None):
        super().__init__(service, call, status, reason, hint=hint, result=result,
                         text=text if text is not None else f"{display_name(service)} {call}: {reason}")


class UnexpectedAnswerError(ServiceError):
    """A call that succeeded but answered something this collection cannot read: not JSON, an
    HTML page, JSON of another shape. `body` is a description of the answer's shape (never its
    values, which may be secrets)."""

    def __init__(self, service, call, status, description, address=None, hint=None):
        text = f"{display_name(service)} {call} returned an unexpected answer: {(description or '').strip()}"
        super().__init__(service, call, status, description, hint=hint or answer_hint(service, address), text=text)


def answer_hint(service, address):
    name = display_name(service)
    if not address:
        return None
    env = ENV_OF_ADDRESS.get(service)
    where = OPTION_OF_ADDRESS.get(service, f"{service}_address") + (f" or {env}" if env else "")
    return (f"is {address} really {name}? A proxy, a login page or another service may answer there; "
            f"check {where} (scheme, host and port)")


def hint_for(service, status, body, address=None):
    """A hint for the known cases; None when there is nothing useful to add."""
    body = body or ""
    token_env = ENV_OF_TOKEN.get(service, "the token option")
    if status == 403:
        if "ACL not found" in body or "ACL token not found" in body:
            return (f"the {service} token is unknown to the cluster (expired or from another cluster); "
                    f"set {service}_token or {token_env} to a valid token")
        missing = _missing_capability(body)
        if missing:
            return f"the token's policy lacks {missing}; grant it or use a token that has it"
        return f"the {service} token lacks the needed capability; check its policy (or set {token_env})"
    if status == 401:
        return f"authentication failed; set {service}_token or {token_env}"
    if status == 413:
        return "the request is larger than the service accepts; split it or shrink the value"
    if status is None and address:
        env = ENV_OF_ADDRESS.get(service, "the address option")
        return f"cannot reach {service} at {address}; check {service}_address or {env} and that it is running"
    return None


def _missing_capability(body):
    # Consul 1.15+: "Permission denied: token with AccessorID '..' lacks permission 'key:write' on "x""
    marker = "lacks permission "
    if marker in body:
        return body.split(marker, 1)[1].strip()
    return None
