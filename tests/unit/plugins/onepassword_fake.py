# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""1Password replaced at the SDK's network boundary, `Client.authenticate`, and nowhere deeper:
reference validation, the response models and their parsing stay the real SDK's.

Unit tests: `FakeOnePassword(...).install(monkeypatch)`. Other processes (ansible-playbook and
the modules it runs): a sitecustomize that runs this file and calls `install_from_env()`; the
fake then reads OCTANT_FAKE_OP_SPEC (a JSON file: token, secrets, errors, log) and appends one
JSON line per call to `log` (call name, pid, references; never a value)."""

from __future__ import annotations

import json
import os

from onepassword import Client
from onepassword.types import ResolveAllResponse
from pydantic import TypeAdapter

# The real SDK's message for a malformed service account token (measured with onepassword-sdk 0.4.2).
AUTH_ERROR = ("invalid service account token, please make sure you provide a valid service account token as "
              "parameter:  service account deserialization failed, please create another token")


class FakeOnePassword:
    """A vault: `secrets` maps reference -> value, `errors` maps reference -> SDK error type
    (references in neither are answered with itemNotFound, as 1Password does). `calls` records
    ("authenticate", integration_name) and ("resolve_all", [references])."""

    def __init__(self, token, secrets, errors=None, log=None):
        self.token = token
        self.secrets = dict(secrets)
        self.errors = dict(errors or {})
        self.log = log
        self.calls = []
        self.resolve_error = None  # an exception resolve_all raises instead of answering
        self.raw_answer = None  # a JSON text the SDK core answers instead of the vault's (odd shapes)

    def count(self, call):
        return sum(1 for name, _detail in self.calls if name == call)

    def requested(self):
        """The reference lists of every resolve_all call, in order."""
        return [detail for name, detail in self.calls if name == "resolve_all"]

    def install(self, monkeypatch):
        monkeypatch.setattr(Client, "authenticate", self.authenticate)
        return self

    async def authenticate(self, auth, integration_name, integration_version):
        self._record("authenticate", integration_name)
        if auth != self.token:
            raise Exception(AUTH_ERROR)  # what the SDK raises: a bare Exception
        client = Client()
        client.secrets = _FakeSecrets(self)
        return client

    async def resolve_all(self, references):
        self._record("resolve_all", list(references))
        if self.resolve_error is not None:
            raise self.resolve_error
        if self.raw_answer is not None:
            return TypeAdapter(ResolveAllResponse).validate_json(self.raw_answer)
        answers = {}
        for ref in references:
            if ref in self.secrets:
                answers[ref] = {"content": {"secret": self.secrets[ref], "itemId": "i" * 26, "vaultId": "v" * 26}}
            else:
                error = {"type": self.errors.get(ref, "itemNotFound")}
                if error["type"] == "parsing":
                    error["message"] = "secret reference has invalid format"
                answers[ref] = {"error": error}
        # Parsed exactly as the SDK parses the core's JSON answer.
        return TypeAdapter(ResolveAllResponse).validate_json(json.dumps({"individualResponses": answers}))

    def _record(self, call, detail):
        self.calls.append((call, detail))
        if self.log:
            with open(self.log, "a", encoding="utf-8") as log:
                log.write(json.dumps({"pid": os.getpid(), "call": call, "detail": detail}) + "\n")


class _FakeSecrets:
    def __init__(self, fake):
        self._fake = fake

    async def resolve_all(self, secret_references):
        return await self._fake.resolve_all(secret_references)


def install_from_env():
    """Patch Client.authenticate in this process from the spec named by OCTANT_FAKE_OP_SPEC."""
    with open(os.environ["OCTANT_FAKE_OP_SPEC"], encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    fake = FakeOnePassword(spec["token"], spec["secrets"], spec.get("errors"), log=spec.get("log"))
    Client.authenticate = fake.authenticate
    return fake
