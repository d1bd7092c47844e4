# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The three Nomad modules end to end in-process, NomadApi replaced by a fake: argument
validation messages, one clear failure message, no_log masking, check/diff wiring."""

from __future__ import annotations

import json

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import VariableConflictError
from ansible_collections.octant.openclaw.plugins.modules import nomad_job, nomad_job_info, nomad_variable
from ansible_collections.octant.openclaw.tests.unit.plugins.nomad_fake import (
    IMAGE_CHANGE,
    FakeNomad,
    job_changed_error,
    plan_reply,
    web_job,
)

SECRET_A = "sk-ant-ModuleTest-4f9a"
SECRET_B = "discord-ModuleTest-77c1"


@pytest.fixture
def fake(monkeypatch):
    api = FakeNomad()
    for module in (nomad_job, nomad_job_info, nomad_variable):
        monkeypatch.setattr(module, "NomadApi", lambda settings: api)
    for name in ("NOMAD_ADDR", "NOMAD_TOKEN", "NOMAD_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    return api


def outcome(run_module, module, args, **kw):
    """The module's result, whether it exited or failed. (The conftest's exception classes are
    matched by name: pytest may load conftest.py under another module name than the import.)"""
    with pytest.raises(Exception) as caught:  # noqa: B017 - narrowed right below
        run_module(module, args, **kw)
    assert type(caught.value).__name__ in ("AnsibleExitJson", "AnsibleFailJson"), caught.value
    return caught.value.result


# -- nomad_job --------------------------------------------------------------------------------
def test_job_and_hcl_are_mutually_exclusive(run_module, fake):
    result = outcome(run_module, nomad_job, {"job": web_job(), "hcl": "job {}"})
    assert result["failed"] and result["msg"] == "parameters are mutually exclusive: job|hcl"
    assert fake.calls == []


def test_present_needs_job_or_hcl(run_module, fake):
    result = outcome(run_module, nomad_job, {"name": "web"})
    assert result["msg"] == "state is present but any of the following are missing: job, hcl"


def test_bad_state_choice(run_module, fake):
    result = outcome(run_module, nomad_job, {"name": "web", "state": "stopped"})
    assert "value of state must be one of: present, absent, got: stopped" in result["msg"]


def test_input_error_is_the_message(run_module, fake):
    result = outcome(run_module, nomad_job, {"job": {"job": {"web": {}}}})
    assert result["msg"].startswith("job uses HCL-style key(s) job;")


def test_service_error_is_one_clear_message(run_module, fake):
    fake.register_error = job_changed_error()
    result = outcome(run_module, nomad_job, {"job": web_job()})
    assert result["failed"] is True
    assert result["msg"].startswith("Nomad job 'web' was changed by someone else between this task's plan")


def test_check_and_diff_reach_the_logic(run_module, fake):
    fake.plan = plan_reply("Edited", task_groups=IMAGE_CHANGE)
    result = outcome(run_module, nomad_job, {"job": web_job()}, check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["diff"]["after"]["TaskGroups.web.Tasks.app.Config.image"] == "nginx:1.27"
    assert fake.writes() == []


def test_unchanged_run(run_module, fake):
    fake.plan = plan_reply("None")
    result = outcome(run_module, nomad_job, {"job": {"Job": web_job()}})
    assert result["changed"] is False and result["job_id"] == "web"
    assert fake.names() == ["plan_job"]


# -- nomad_job_info ---------------------------------------------------------------------------
def test_info_name_and_prefix_are_exclusive(run_module, fake):
    result = outcome(run_module, nomad_job_info, {"name": "a", "prefix": "b"})
    assert result["msg"] == "parameters are mutually exclusive: name|prefix"


def test_info_lists(run_module, fake):
    fake.jobs = {"web": {}}
    result = outcome(run_module, nomad_job_info, {"prefix": "w"})
    assert result["jobs"] == [{"ID": "web"}] and result["changed"] is False


# -- nomad_variable -----------------------------------------------------------------------------
def test_variable_values_never_reach_the_output(run_module, fake):
    fake.variables["nomad/jobs/web"] = {"Namespace": "default", "Path": "nomad/jobs/web", "ModifyIndex": 5,
                                        "Items": {"OLD": SECRET_B}}
    result = outcome(run_module, nomad_variable, {"path": "nomad/jobs/web", "items": {"KEY": SECRET_A}},
                     diff=True)
    text = json.dumps(result)
    assert SECRET_A not in text and SECRET_B not in text
    assert result["changed"] is True
    assert result["added_keys"] == ["KEY"] and result["removed_keys"] == ["OLD"]


def test_variable_namespace_alias(run_module, fake):
    outcome(run_module, nomad_variable, {"path": "nomad/jobs/web", "items": {"K": SECRET_A}, "namespace": "farm"})
    assert fake.calls[0] == ("get_variable", {"path": "nomad/jobs/web", "namespace": "farm"})


def test_variable_conflict_message(run_module, fake):
    fake.put_error = VariableConflictError("PUT", 409, "Nomad variable 'nomad/jobs/web' (namespace default) "
                                                       "changed since this task read it")
    result = outcome(run_module, nomad_variable, {"path": "nomad/jobs/web", "items": {"K": SECRET_A}})
    assert result["failed"] is True
    assert result["msg"] == "Nomad variable 'nomad/jobs/web' (namespace default) changed since this task read it"


def test_variable_bad_item_type_names_key_only(run_module, fake):
    result = outcome(run_module, nomad_variable, {"path": "nomad/jobs/web", "items": {"K": [SECRET_A]}})
    assert result["msg"].startswith("item 'K' is a list")
    assert SECRET_A not in json.dumps(result)


def test_variable_path_is_required(run_module, fake):
    result = outcome(run_module, nomad_variable, {"items": {"K": "v"}})
    assert result["msg"] == "missing required arguments: path"
