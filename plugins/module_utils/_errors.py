# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One clear failure message for every service error: which call, the status, the server's
text, and a hint for the cases users hit most."""

from __future__ import annotations

ENV_OF_ADDRESS = {"nomad": "NOMAD_ADDR", "consul": "CONSUL_HTTP_ADDR", "1password": "OP_SERVICE_ACCOUNT_TOKEN"}
ENV_OF_TOKEN = {"nomad": "NOMAD_TOKEN", "consul": "CONSUL_HTTP_TOKEN"}
OPTION_OF_ADDRESS = {"litellm": "farm_model_providers.litellm.base_url"}
DISPLAY_NAME = {"nomad": "Nomad", "consul": "Consul", "1password": "1Password", "litellm": "LiteLLM"}


class ServiceError(Exception):
    """A failed call to Nomad, Consul or 1Password. `status` is the HTTP status (None when the
    service could not be reached); `body` the server's text."""

    def __init__(self, service, call, status=None, body="", hint=None):
        self.service = service
        self.call = call
        self.status = status
        self.body = (body or "").strip()
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self):
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        text = f"{self.service.capitalize()} {self.call} failed ({status})"
        if self.body:
            text += f": {self.body[:2000]}"
        if self.hint:
            text += f". Hint: {self.hint}"
        return text


class UnexpectedAnswerError(ServiceError):
    """A call that succeeded but answered something this collection cannot read: not JSON, an
    HTML page, JSON of another shape. `body` is a description of the answer's shape (never its
    values, which may be secrets)."""

    def __init__(self, service, call, status, description, address=None, hint=None):
        super().__init__(service, call, status, description, hint=hint or answer_hint(service, address))

    @property
    def message(self):
        name = DISPLAY_NAME.get(self.service, self.service.capitalize())
        text = f"{name} {self.call} returned an unexpected answer: {self.body}"
        if self.hint:
            text += f". Hint: {self.hint}"
        return text


def answer_hint(service, address):
    name = DISPLAY_NAME.get(service, service.capitalize())
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
