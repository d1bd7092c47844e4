# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The octant.openclaw.onepassword lookup, loaded through Ansible's plugin loader (so its options
come from the doc fragments), with 1Password faked at Client.authenticate."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader
from ansible.utils.display import Display
from ansible_collections.octant.openclaw.plugins.module_utils import _onepassword as op
from ansible_collections.octant.openclaw.tests.unit.plugins.onepassword_fake import FakeOnePassword

TOKEN = "ops_lookup-test-token-93b1e7"
DISCORD = "op://homelab/discord/token"
ANTHROPIC = "op://homelab/anthropic/api/key"
ZAI = "op://homelab/zai/key"
TRICKY = "op://homelab/tricky/value"
SECRETS = {
    DISCORD: "discord-Lq2mR8tV",
    ANTHROPIC: "sk-ant-Xw5cJ1nP",
    ZAI: "zai-Fd7gH3kS",
    TRICKY: "{{ 7 * 6 }}",
}


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
def lookup():
    plugin = lookup_loader.get("octant.openclaw.onepassword")
    assert plugin is not None

    def run(*terms, **kwargs):
        kwargs.setdefault("service_account_token", TOKEN)
        return plugin.run(list(terms), variables={}, **kwargs)

    return run


def test_values_in_term_order_from_one_resolve_all(vault, lookup):
    assert lookup(ZAI, DISCORD, ANTHROPIC) == [SECRETS[ZAI], SECRETS[DISCORD], SECRETS[ANTHROPIC]]
    assert vault.count("authenticate") == 1
    assert vault.requested() == [[ZAI, DISCORD, ANTHROPIC]]


def test_list_terms_are_flattened(vault, lookup):
    assert lookup([DISCORD, ANTHROPIC], ZAI) == [SECRETS[DISCORD], SECRETS[ANTHROPIC], SECRETS[ZAI]]
    assert vault.count("resolve_all") == 1


def test_several_lookups_authenticate_once(vault, lookup):
    lookup(DISCORD)
    lookup(ANTHROPIC, ZAI)
    lookup(TRICKY)
    assert vault.count("authenticate") == 1
    assert vault.requested() == [[DISCORD], [ANTHROPIC, ZAI], [TRICKY]]


def test_cache_hit_makes_no_call(vault, lookup):
    lookup(DISCORD, ANTHROPIC)
    calls = list(vault.calls)
    assert lookup(ANTHROPIC, DISCORD) == [SECRETS[ANTHROPIC], SECRETS[DISCORD]]
    assert vault.calls == calls


def test_token_from_environment_through_the_doc_fragment(vault, monkeypatch):
    monkeypatch.setenv("OP_SERVICE_ACCOUNT_TOKEN", TOKEN)
    plugin = lookup_loader.get("octant.openclaw.onepassword")
    assert plugin.run([DISCORD], variables={}) == [SECRETS[DISCORD]]


def test_integration_name_option(vault, lookup):
    lookup(DISCORD, integration_name="awx-job-42")
    assert vault.calls[0] == ("authenticate", "awx-job-42")


def test_invalid_reference_fails_before_any_call(vault, lookup):
    with pytest.raises(AnsibleLookupError) as failure:
        lookup(DISCORD, "op://homelab/discord")
    assert "'op://homelab/discord'" in str(failure.value) and "path parts" in str(failure.value)
    assert vault.calls == []


def test_error_names_the_reference_never_a_value_or_token(vault, lookup):
    with pytest.raises(AnsibleLookupError) as failure:
        lookup(DISCORD, "op://homelab/missing/token")
    text = str(failure.value)
    assert "'op://homelab/missing/token': no such item" in text
    assert SECRETS[DISCORD] not in text and TOKEN not in text
    assert failure.value.__cause__ is None  # no SDK exception chained into what Ansible displays


def test_wrong_token_error_hides_the_token(vault, lookup):
    with pytest.raises(AnsibleLookupError) as failure:
        lookup(DISCORD, service_account_token="ops_wrong-token-77aa")
    assert "authentication failed" in str(failure.value)
    assert "ops_wrong-token-77aa" not in str(failure.value)


def test_nothing_displayed_holds_a_value(vault, lookup, capsys, monkeypatch):
    monkeypatch.setattr(Display(), "verbosity", 4)
    lookup(DISCORD, ANTHROPIC, ZAI)
    lookup(DISCORD)
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "3 reference(s), 0 cached in this process, 3 fetched in one resolve_all call" in text
    assert "1 reference(s), 1 cached in this process, 0 fetched in no call" in text
    for value in SECRETS.values():
        assert value not in text
    assert TOKEN not in text


def test_template_inside_a_secret_is_never_rendered(vault):
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    templar = Templar(loader=DataLoader(), variables={"op_token": TOKEN})
    expression = trust_as_template(
        f"{{{{ lookup('octant.openclaw.onepassword', '{TRICKY}', service_account_token=op_token) }}}}")
    assert templar.template(expression) == "{{ 7 * 6 }}"
