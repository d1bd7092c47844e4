# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The 1Password resolver: batching, per-process caching, reference checks and error text.
The SDK is real except Client.authenticate (see tests/unit/plugins/onepassword_fake.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils import _onepassword as op
from ansible_collections.octant.openclaw.plugins.module_utils._errors import ServiceError
from ansible_collections.octant.openclaw.tests.unit.plugins.onepassword_fake import AUTH_ERROR, FakeOnePassword
from onepassword.errors import RateLimitExceededException

TOKEN = "ops_unit-test-token-5f0c9a"
DISCORD = "op://homelab/discord/token"
ANTHROPIC = "op://homelab/anthropic/api/key"
LITELLM = "op://homelab/litellm/master"
SECRETS = {
    DISCORD: "discord-Zq8vN3xL",
    ANTHROPIC: "sk-ant-K7p2RwQ9",
    LITELLM: "litellm-Hc4tY6bM",
}


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """Each test starts like a new process: no cached client or value, no token in the env."""
    monkeypatch.delenv("OP_SERVICE_ACCOUNT_TOKEN", raising=False)
    op.clear_cache()
    yield
    op.clear_cache()


@pytest.fixture
def vault(monkeypatch):
    return FakeOnePassword(TOKEN, SECRETS).install(monkeypatch)


def resolve(refs, **kwargs):
    kwargs.setdefault("service_account_token", TOKEN)
    return op.resolve_references(refs, **kwargs)


def assert_clean(text):
    assert TOKEN not in text
    for value in SECRETS.values():
        assert value not in text


@pytest.mark.parametrize("ref", [
    "op://homelab/discord/token",
    "op://homelab/anthropic/api/key",
    "op://my vault/my item/password",
    "op://homelab/github/one-time password?attribute=totp",
    "op://homelab/ssh/private key?ssh-format=openssh",
])
def test_valid_references(ref):
    assert op.reference_problem(ref) is None


@pytest.mark.parametrize(("ref", "reason"), [
    ("homelab/discord/token", 'must start with "op://"'),
    ("OP://homelab/discord/token", 'must start with "op://"'),
    ("op://homelab/discord", "it has 2 path parts"),
    ("op://a/b/c/d/e", "it has 5 path parts"),
    ("op://homelab//token", "empty vault, item, section or field"),
    ("op://homelab/discord/token/", "empty vault, item, section or field"),
    ("op://homelab/discord/token?bogus=1", "invalid query parameter key"),  # the SDK's validator
    ("op://homelab/discord/token\n", "invalid character"),  # the SDK's validator
    (42, "must be a string"),
])
def test_invalid_reference_reasons(ref, reason):
    assert reason in op.reference_problem(ref)


def test_invalid_reference_fails_before_any_sdk_call(vault):
    with pytest.raises(op.OnePasswordError) as failure:
        resolve([DISCORD, "op://homelab/discord", "op://homelab/x/y?bogus=1"])
    text = str(failure.value)
    assert "'op://homelab/discord'" in text and "'op://homelab/x/y?bogus=1'" in text
    assert "2 references" in text
    assert vault.calls == []
    assert_clean(text)


def test_one_resolve_all_for_all_references_in_order(vault):
    refs = [LITELLM, DISCORD, ANTHROPIC, DISCORD]
    assert resolve(refs) == [SECRETS[ref] for ref in refs]
    assert vault.count("authenticate") == 1
    assert vault.requested() == [[LITELLM, DISCORD, ANTHROPIC]]  # one call, duplicates sent once


def test_one_authentication_per_process_and_token(vault):
    for ref in SECRETS:
        resolve([ref])
    assert vault.count("authenticate") == 1
    assert vault.count("resolve_all") == 3
    vault.token = "ops_second-token"
    resolve([DISCORD], service_account_token="ops_second-token")
    assert vault.count("authenticate") == 2  # another token, another client


def test_cache_hit_makes_no_call(vault):
    resolve([DISCORD, ANTHROPIC])
    before = list(vault.calls)
    assert resolve([ANTHROPIC, DISCORD, ANTHROPIC]) == [SECRETS[ANTHROPIC], SECRETS[DISCORD], SECRETS[ANTHROPIC]]
    assert vault.calls == before


def test_only_missing_references_are_fetched(vault):
    resolve([DISCORD])
    assert resolve([DISCORD, LITELLM]) == [SECRETS[DISCORD], SECRETS[LITELLM]]
    assert vault.requested() == [[DISCORD], [LITELLM]]


def test_values_are_cached_per_token(vault):
    resolve([DISCORD])
    vault.token = "ops_other"
    resolve([DISCORD], service_account_token="ops_other")
    assert vault.requested() == [[DISCORD], [DISCORD]]  # another token may not read the same vaults


def test_one_time_passwords_are_not_cached(vault):
    totp = "op://homelab/github/otp?attribute=totp"
    vault.secrets[totp] = "123456"
    resolve([totp])
    resolve([totp])
    assert vault.requested() == [[totp], [totp]]


def test_cache_keys_hold_no_token(vault):
    resolve([DISCORD])
    assert TOKEN not in repr(op._CLIENTS) + repr(list(op._VALUES))


def test_token_from_environment(vault, monkeypatch):
    monkeypatch.setenv("OP_SERVICE_ACCOUNT_TOKEN", TOKEN)
    assert op.resolve_references([DISCORD]) == [SECRETS[DISCORD]]


def test_explicit_token_wins_over_environment(vault, monkeypatch):
    monkeypatch.setenv("OP_SERVICE_ACCOUNT_TOKEN", "ops_wrong")
    assert resolve([DISCORD]) == [SECRETS[DISCORD]]


def test_missing_token_fails_before_any_call(vault):
    with pytest.raises(op.OnePasswordError, match="OP_SERVICE_ACCOUNT_TOKEN") as failure:
        op.resolve_references([DISCORD])
    assert "no service account token" in str(failure.value)
    assert vault.calls == []


def test_empty_list_makes_no_call(vault):
    assert resolve([]) == []
    assert vault.calls == []


def test_item_and_field_not_found_name_the_reference_only(vault):
    vault.errors["op://homelab/discord/webhook"] = "fieldNotFound"
    with pytest.raises(op.OnePasswordError) as failure:
        resolve([DISCORD, "op://homelab/missing/token", "op://homelab/discord/webhook"])
    text = str(failure.value)
    assert "'op://homelab/missing/token': no such item in the vault" in text
    assert "'op://homelab/discord/webhook': no such field in the item" in text
    assert DISCORD not in text  # the reference that resolved is not blamed
    assert_clean(text)  # nor is its value, which came back in the same answer
    assert vault.count("resolve_all") == 1


def test_errors_are_service_errors(vault):
    with pytest.raises(ServiceError):
        resolve(["op://homelab/missing/token"])


def test_authentication_failure_names_references_not_token(vault):
    wrong = "ops_wrong-token-d41d8cd9"
    with pytest.raises(op.OnePasswordError) as failure:
        resolve([DISCORD], service_account_token=wrong)
    text = str(failure.value)
    assert "authentication failed" in text and "invalid service account token" in text
    assert repr(DISCORD) in text and "OP_SERVICE_ACCOUNT_TOKEN" in text
    assert wrong not in text
    assert_clean(text)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


def test_token_echoed_by_the_sdk_is_scrubbed(vault, monkeypatch):
    async def echoing(auth, integration_name, integration_version):
        raise Exception(f"bad token {auth}")

    monkeypatch.setattr(vault, "authenticate", echoing)
    vault.install(monkeypatch)
    with pytest.raises(op.OnePasswordError) as failure:
        resolve([DISCORD])
    assert TOKEN not in str(failure.value) and "bad token <token>" in str(failure.value)


def test_failed_authentication_is_not_cached(vault):
    with pytest.raises(op.OnePasswordError):
        resolve([DISCORD], service_account_token="ops_wrong")
    assert resolve([DISCORD]) == [SECRETS[DISCORD]]
    assert vault.count("authenticate") == 2


def test_rate_limit(vault):
    vault.resolve_error = RateLimitExceededException("rate limit exceeded")
    with pytest.raises(op.OnePasswordError) as failure:
        resolve([DISCORD, ANTHROPIC])
    text = str(failure.value)
    assert "rate limit exceeded" in text and "quota" in text and repr(ANTHROPIC) in text
    assert_clean(text)


def test_unparsable_answer_does_not_quote_it(vault):
    from onepassword.types import ResolveAllResponse
    from pydantic import TypeAdapter, ValidationError

    answer = {"individualResponses": {DISCORD: {"content": {"secret": SECRETS[DISCORD]}}}}  # no itemId
    with pytest.raises(ValidationError) as parsing:
        TypeAdapter(ResolveAllResponse).validate_python(answer)
    assert SECRETS[DISCORD] in str(parsing.value)  # pydantic quotes its input...
    vault.resolve_error = parsing.value
    with pytest.raises(op.OnePasswordError) as failure:
        resolve([DISCORD])
    assert "resolve_all returned an unexpected answer: an answer the SDK cannot read" in str(failure.value)
    assert "individualResponses" in str(failure.value)  # where, never what
    assert_clean(str(failure.value))  # ...the error we raise does not


def test_failed_resolve_drops_the_client(vault):
    vault.resolve_error = Exception("connection reset")
    with pytest.raises(op.OnePasswordError, match="connection reset"):
        resolve([DISCORD])
    vault.resolve_error = None
    assert resolve([DISCORD]) == [SECRETS[DISCORD]]
    assert vault.count("authenticate") == 2


def test_forked_process_does_not_reuse_the_parents_client(vault, monkeypatch):
    resolve([DISCORD])
    monkeypatch.setattr(op.os, "getpid", lambda: -1)
    resolve([ANTHROPIC])
    assert vault.count("authenticate") == 2


def test_works_when_an_event_loop_is_already_running(vault):
    async def caller():
        return resolve([DISCORD, ANTHROPIC])

    assert asyncio.run(caller()) == [SECRETS[DISCORD], SECRETS[ANTHROPIC]]
    assert vault.count("resolve_all") == 1


def test_integration_name_and_version_are_sent(vault):
    resolve([DISCORD])
    assert vault.calls[0] == ("authenticate", "octant.openclaw")


def test_real_sdk_rejects_a_fake_token_fast_and_offline():
    """No fake here: the real Client.authenticate refuses a malformed token locally."""
    fake_token = "ops_eyJub3QiOiJhIHNlcnZpY2UgYWNjb3VudCB0b2tlbiJ9"  # base64url JSON, not a token
    started = time.monotonic()
    with pytest.raises(op.OnePasswordError) as failure:
        resolve([DISCORD], service_account_token=fake_token)
    elapsed = time.monotonic() - started
    text = str(failure.value)
    assert elapsed < 5, elapsed  # measured: about a millisecond
    assert AUTH_ERROR in text  # the fake's message is the real SDK's, word for word
    assert "authentication failed" in text and repr(DISCORD) in text
    assert fake_token not in text
