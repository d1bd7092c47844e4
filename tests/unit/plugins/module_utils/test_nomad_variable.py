# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NomadVariable logic with a fake NomadApi: key diff, CAS, purge/merge, check mode, secrets."""

from __future__ import annotations

import json

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._module import Context
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import VariableConflictError
from ansible_collections.octant.openclaw.plugins.module_utils._nomad_variable import (
    InputError,
    item_value,
    key_changes,
    key_diff,
    run_variable,
    validate_path,
)
from ansible_collections.octant.openclaw.tests.unit.plugins.nomad_fake import FakeNomad

PATH = "nomad/jobs/web"
S1, S2, S3 = "sk-ant-Unit1xQ", "tok-Unit2zR", "litellm-Unit3wP"


def params(**overrides):
    base = {"path": PATH, "items": {"A": S1, "B": S2}, "state": "present", "purge_items": True,
            "nomad_namespace": None}
    base.update(overrides)
    return base


def run(api, check=False, diff=False, **overrides):
    secrets = set()
    result = run_variable(api, params(**overrides), Context(check_mode=check, diff=diff, secrets=secrets))
    return result, secrets


def existing(api, items, index=50):
    api.variables[PATH] = {"Namespace": "default", "Path": PATH, "Items": dict(items), "ModifyIndex": index}


def test_create_uses_cas_zero():
    api = FakeNomad()
    result = run(api)[0]
    assert result["changed"] is True
    assert api.calls[-1][1]["cas"] == 0
    assert result["keys"] == ["A", "B"] and result["added_keys"] == ["A", "B"]
    assert result["modify_index"] == 101


def test_unchanged_means_one_read_zero_writes():
    api = FakeNomad()
    existing(api, {"A": S1, "B": S2})
    result = run(api)[0]
    assert result["changed"] is False
    assert api.names() == ["get_variable"]
    assert result["modify_index"] == 50


def test_update_uses_cas_of_the_read():
    api = FakeNomad()
    existing(api, {"A": S1, "B": "old", "C": S3}, index=77)
    result = run(api)[0]
    assert api.calls[-1][1]["cas"] == 77
    assert api.calls[-1][1]["items"] == {"A": S1, "B": S2}
    assert (result["added_keys"], result["changed_keys"], result["removed_keys"]) == ([], ["B"], ["C"])


def test_merge_keeps_unlisted_keys():
    api = FakeNomad()
    existing(api, {"A": S1, "C": S3})
    result = run(api, items={"B": S2}, purge_items=False)[0]
    assert api.calls[-1][1]["items"] == {"A": S1, "B": S2, "C": S3}
    assert result["keys"] == ["A", "B", "C"] and result["removed_keys"] == []


def test_conflict_propagates():
    api = FakeNomad()
    existing(api, {"A": "x"})
    api.put_error = VariableConflictError("PUT", 409, "Nomad variable 'nomad/jobs/web' changed since this task "
                                                      "read it")
    with pytest.raises(VariableConflictError):
        run(api)


def test_check_mode_writes_nothing():
    api = FakeNomad()
    existing(api, {"A": "x"})
    result = run(api, check=True)[0]
    assert result["changed"] is True
    assert api.writes() == []


def test_every_value_seen_is_registered_as_secret():
    api = FakeNomad()
    existing(api, {"OLD": S3})
    secrets = run(api)[1]
    assert secrets == {S1, S2, S3}


def test_results_and_diff_never_contain_values():
    api = FakeNomad()
    existing(api, {"A": "old-value-Zz9", "C": S3})
    result = run(api, diff=True)[0]
    text = json.dumps(result)
    for value in (S1, S2, S3, "old-value-Zz9"):
        assert value not in text
    assert result["diff"]["before"] == {"A": "(hidden)", "C": "(hidden)"}
    assert result["diff"]["after"] == {"A": "(hidden) changed", "B": "(hidden) added"}


def test_absent_missing_is_ok():
    api = FakeNomad()
    result = run(api, state="absent", items=None)[0]
    assert result["changed"] is False
    assert api.names() == ["get_variable"]


def test_absent_deletes_with_cas():
    api = FakeNomad()
    existing(api, {"A": S1}, index=60)
    result = run(api, state="absent", items=None, diff=True)[0]
    assert result["changed"] is True and result["removed_keys"] == ["A"]
    assert api.calls[-1] == ("delete_variable", {"path": PATH, "cas": 60, "namespace": None})
    assert result["diff"]["after"] == {}


def test_absent_check_mode():
    api = FakeNomad()
    existing(api, {"A": S1})
    result = run(api, check=True, state="absent", items=None)[0]
    assert result["changed"] is True and api.writes() == []


def test_present_needs_items():
    with pytest.raises(InputError, match="state=present needs items"):
        run(FakeNomad(), items=None)


@pytest.mark.parametrize(("path", "message"), [
    ("nomad", "'nomad' alone is reserved"),
    ("/abs", "no leading, trailing or doubled /"),
    ("a//b", "no leading, trailing or doubled /"),
    ("has space", "is not a valid Nomad variable path"),
    ("x" * 129, "is not a valid Nomad variable path"),
])
def test_path_validation(path, message):
    with pytest.raises(InputError, match=message):
        validate_path(path)


def test_item_values_are_strings():
    assert item_value("n", 3) == "3"
    assert item_value("b", True) == "true"
    with pytest.raises(InputError) as caught:
        item_value("LIST", ["do-not-print-me"])
    assert "item 'LIST' is a list" in str(caught.value)
    assert "do-not-print-me" not in str(caught.value)


def test_key_changes_and_key_diff():
    assert key_changes({"a": "1", "b": "2"}, {"b": "3", "c": "4"}) == (["c"], ["b"], ["a"], [])
    diff = key_diff(None, {"a": "1"}, PATH)
    assert diff["before"] == {} and diff["after"] == {"a": "(hidden) added"}
    assert diff["before_header"] == "nomad variable nomad/jobs/web (absent)"


def test_short_item_values_are_not_masked_everywhere():
    """Ansible masks no_log values by substring: "1" would turn every index into asterisks."""
    from ansible_collections.octant.openclaw.plugins.module_utils._module import MIN_SECRET_LENGTH as MIN_MASKED_LENGTH
    from ansible_collections.octant.openclaw.plugins.module_utils._nomad_variable import NomadVariable

    registered = set()
    variable = NomadVariable(api=None, params={"nomad_namespace": None}, ctx=Context(secrets=registered))
    variable._register({"SHORT": "1", "FLAG": "true", "KEY": "x" * MIN_MASKED_LENGTH})
    assert registered == {"x" * MIN_MASKED_LENGTH}
