# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.onepassword_info run through AnsibleModule as Ansible runs it (arguments in,
printed JSON out), with 1Password faked at Client.authenticate."""

from __future__ import annotations

import json
import re

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils import _onepassword as op
from ansible_collections.octant.openclaw.plugins.modules import onepassword_info
from ansible_collections.octant.openclaw.tests.unit.plugins.onepassword_fake import FakeOnePassword

TOKEN = "ops_module-test-token-0c2d4f"
DISCORD = "op://homelab/discord/token"
ANTHROPIC = "op://homelab/anthropic/api/key"
SECRETS = {
    DISCORD: "discord-Wb6yT1qE",
    ANTHROPIC: "sk-ant-Mn3kD8sA",
}
NAMED = {"discord": DISCORD, "anthropic": ANTHROPIC}


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    monkeypatch.delenv("OP_SERVICE_ACCOUNT_TOKEN", raising=False)
    op.clear_cache()
    yield
    op.clear_cache()


@pytest.fixture
def vault(monkeypatch):
    return FakeOnePassword(TOKEN, SECRETS).install(monkeypatch)


@pytest.fixture
def run(run_module):
    """Run the module as a `no_log: true` task would, unless told otherwise."""

    def runner(args, no_log=True, check_mode=False, fails=False):
        args = dict(args)
        args.setdefault("service_account_token", TOKEN)
        with pytest.raises(run_module.FailJson if fails else run_module.ExitJson) as outcome:
            run_module(onepassword_info, args, check_mode=check_mode, no_log=no_log)
        return outcome.value.result

    return runner


def test_named_references(vault, run):
    result = run({"references": NAMED})
    assert result["secrets"] == {"discord": SECRETS[DISCORD], "anthropic": SECRETS[ANTHROPIC]}
    assert result["changed"] is False
    assert vault.count("authenticate") == 1
    assert vault.requested() == [[DISCORD, ANTHROPIC]]


def test_list_of_references_is_keyed_by_reference(vault, run):
    result = run({"references": [ANTHROPIC, DISCORD]})
    assert result["secrets"] == SECRETS
    assert vault.count("resolve_all") == 1


def test_invocation_holds_no_value_and_no_token(vault, run):
    result = run({"references": NAMED})
    invocation = json.dumps(result["invocation"])
    assert result["invocation"]["module_args"]["service_account_token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert result["invocation"]["module_args"]["references"] == NAMED
    assert TOKEN not in json.dumps(result)
    for value in SECRETS.values():
        assert value not in invocation


def test_token_from_environment_is_masked_too(vault, run, monkeypatch):
    monkeypatch.setenv("OP_SERVICE_ACCOUNT_TOKEN", TOKEN)
    result = run({"references": NAMED, "service_account_token": None})
    assert result["secrets"]["discord"] == SECRETS[DISCORD]
    assert TOKEN not in json.dumps(result)


def test_check_mode_reads(vault, run):
    result = run({"references": NAMED}, check_mode=True)
    assert result["secrets"]["anthropic"] == SECRETS[ANTHROPIC]
    assert result["changed"] is False


def test_task_without_no_log_fails_before_any_call(vault, run):
    result = run({"references": NAMED}, no_log=False, fails=True)
    assert "no_log: true" in result["msg"]
    assert vault.calls == []


def test_invalid_reference_fails_before_any_call(vault, run):
    result = run({"references": {"discord": "op://homelab/discord"}}, fails=True)
    assert "'op://homelab/discord'" in result["msg"] and "path parts" in result["msg"]
    assert vault.calls == []


@pytest.mark.parametrize("references", ["op://homelab/discord/token", {"discord": ["op://a/b/c"]}, {"discord": 42}])
def test_malformed_references_option(vault, run, references):
    result = run({"references": references}, fails=True)
    assert "references" in result["msg"] or "must be a string" in result["msg"]
    assert vault.calls == []


def test_sdk_error_names_the_reference_never_a_value_or_token(vault, run):
    result = run({"references": {"discord": DISCORD, "gone": "op://homelab/gone/token"}}, fails=True)
    text = json.dumps(result)
    assert "'op://homelab/gone/token': no such item" in result["msg"]
    assert TOKEN not in text
    for value in SECRETS.values():
        assert value not in text


def test_wrong_token(vault, run):
    result = run({"references": NAMED, "service_account_token": "ops_wrong-93ac"}, fails=True)
    assert "authentication failed" in result["msg"]
    assert "ops_wrong-93ac" not in json.dumps(result)


def test_missing_sdk(vault, run, monkeypatch):
    monkeypatch.setattr(op, "ONEPASSWORD_IMPORT_ERROR", "Traceback: No module named 'onepassword'")
    result = run({"references": NAMED}, fails=True)
    assert "onepassword-sdk" in result["msg"]
    assert vault.calls == []


@pytest.mark.parametrize("answer", [
    "<!DOCTYPE html><html><head><title>Sign in</title></head></html>",
    '{"individualResponses": {"' + DISCORD + '": {"content": {"secret": "' + SECRETS[DISCORD],
    "null",
    '{"individualResponses": [1, "' + SECRETS[DISCORD] + '", null]}',
    '{"individualResponses": {"' + DISCORD + '": {"content": {"secret": 7}}}}',
    '{"message": "' + SECRETS[DISCORD] + '"}',
])
@pytest.mark.parametrize("check_mode", [False, True])
def test_an_odd_answer_from_the_sdk_core_fails_with_the_unexpected_answer_text(vault, run, answer, check_mode):
    vault.raw_answer = answer  # parsed by the real SDK's models
    result = run({"references": NAMED}, fails=True, check_mode=check_mode)
    assert result["msg"].startswith("1Password resolve_all returned an unexpected answer: an answer the SDK "
                                    "cannot read ("), result["msg"]
    assert "Hint: " in result["msg"]
    text = json.dumps(result)
    assert not re.search(r"KeyError|AttributeError|TypeError|IndexError|Traceback", text)
    for value in SECRETS.values():
        assert value not in text
