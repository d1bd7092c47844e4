# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan diff -> readable before/after, the changed decision and the plan summary."""

from __future__ import annotations

import json

from ansible_collections.octant.openclaw.plugins.module_utils import _nomad_diff as nomad_diff
from ansible_collections.octant.openclaw.tests.unit.plugins.nomad_fake import (
    IMAGE_CHANGE,
    plan_reply,
)


def test_none_diff_is_unchanged():
    assert nomad_diff.is_changed(plan_reply("None")) is False


def test_any_other_diff_type_is_a_change():
    for kind in ("Added", "Edited", "Deleted"):
        assert nomad_diff.is_changed(plan_reply(kind)) is True


def test_a_plan_without_diff_counts_as_change():
    assert nomad_diff.is_changed({"JobModifyIndex": 3}) is True


def test_changed_fields_only_keyed_by_path():
    before, after = nomad_diff.readable_diff(plan_reply(task_groups=IMAGE_CHANGE)["Diff"])
    assert before["TaskGroups.web.Count"] == "1"
    assert after["TaskGroups.web.Count"] == "2"
    assert before["TaskGroups.web.Tasks.app.Config.image"] == "nginx:1.25"
    assert after["TaskGroups.web.Tasks.app.Config.image"] == "nginx:1.27"
    # Unchanged fields (Type None) are left out.
    assert "TaskGroups.web.Tasks.app.Config.ports[0]" not in before
    assert "TaskGroups.web.Tasks.app.Config.ports[0]" not in after


def test_env_values_are_hidden_but_keys_shown():
    before, after = nomad_diff.readable_diff(plan_reply(task_groups=IMAGE_CHANGE)["Diff"])
    assert before["TaskGroups.web.Tasks.app.Env.API_KEY"] == "(hidden)"
    assert after["TaskGroups.web.Tasks.app.Env.API_KEY"] == "(hidden)"
    assert after["TaskGroups.web.Tasks.app.Env.MODE"] == "(hidden)"
    assert "TaskGroups.web.Tasks.app.Env.MODE" not in before
    text = json.dumps([before, after])
    assert "s3cret" not in text and "prod-mode-value" not in text


def test_flattened_env_fields_are_hidden():
    fields = [{"Type": "Edited", "Name": "Env[API_KEY]", "Old": "old-s3cret", "New": "new-s3cret"},
              {"Type": "Added", "Name": "Env[MODE]", "Old": "", "New": "prod"},
              {"Type": "Edited", "Name": "Meta[owner]", "Old": "jerry", "New": "bobby"}]
    groups = [{"Type": "Edited", "Name": "web", "Fields": None, "Objects": None,
               "Tasks": [{"Type": "Edited", "Name": "app", "Fields": fields, "Objects": None}]}]
    before, after = nomad_diff.readable_diff(plan_reply(task_groups=groups)["Diff"])
    task = "TaskGroups.web.Tasks.app."
    assert before == {task + "Env[API_KEY]": "(hidden)", task + "Meta[owner]": "jerry"}
    assert after == {task + "Env[API_KEY]": "(hidden)", task + "Env[MODE]": "(hidden)", task + "Meta[owner]": "bobby"}


def test_secret_looking_field_names_are_hidden_anywhere():
    fields = [{"Type": "Edited", "Name": "auth.password", "Old": "hunter2", "New": "hunter3"},
              {"Type": "Edited", "Name": "ConsulToken", "Old": "a", "New": "b"},
              {"Type": "Edited", "Name": "Priority", "Old": "50", "New": "60"},
              {"Type": "Edited", "Name": "Resources.SecretsMB", "Old": "0", "New": "1"}]
    before, after = nomad_diff.readable_diff(plan_reply(fields=fields)["Diff"])
    assert before == {"auth.password": "(hidden)", "ConsulToken": "(hidden)", "Priority": "50",
                      "Resources.SecretsMB": "0"}
    assert after["Priority"] == "60"


def test_set_like_fields_collect_lists():
    objects = [{"Type": "Edited", "Name": "Datacenters", "Objects": None, "Fields": [
        {"Type": "Added", "Name": "Datacenters", "Old": "", "New": "dc2"},
        {"Type": "Added", "Name": "Datacenters", "Old": "", "New": "dc3"},
        {"Type": "Deleted", "Name": "Datacenters", "Old": "dc1", "New": ""},
        {"Type": "None", "Name": "Datacenters", "Old": "home", "New": "home"}]}]
    before, after = nomad_diff.readable_diff(plan_reply(objects=objects)["Diff"])
    assert before == {"Datacenters.Datacenters": "dc1"}
    assert after == {"Datacenters.Datacenters": ["dc2", "dc3"]}


def test_added_group_without_fields_is_marked():
    groups = [{"Type": "Added", "Name": "bus", "Fields": None, "Objects": None, "Tasks": None},
              {"Type": "Deleted", "Name": "old", "Fields": None, "Objects": None, "Tasks": None},
              {"Type": "None", "Name": "web", "Fields": None, "Objects": None, "Tasks": None}]
    before, after = nomad_diff.readable_diff(plan_reply(task_groups=groups)["Diff"])
    assert after == {"TaskGroups.bus": "(added)"}
    assert before == {"TaskGroups.old": "(removed)"}


def test_new_job_shows_its_fields_as_after_only():
    groups = [{"Type": "Added", "Name": "web", "Objects": None,
               "Fields": [{"Type": "Added", "Name": "Count", "Old": "", "New": "1"}],
               "Tasks": [{"Type": "Added", "Name": "app", "Objects": None, "Annotations": None,
                          "Fields": [{"Type": "Added", "Name": "Driver", "Old": "", "New": "podman"}]}]}]
    before, after = nomad_diff.readable_diff(plan_reply("Added", task_groups=groups)["Diff"])
    assert before == {}
    assert after == {"TaskGroups.web.Count": "1", "TaskGroups.web.Tasks.app.Driver": "podman"}


def test_desired_updates_drop_zero_counts():
    plan = plan_reply(desired={"web": {"Place": 1, "Stop": 0, "DestructiveUpdate": 2, "Ignore": 0}})
    assert nomad_diff.desired_updates(plan) == {"web": {"Place": 1, "DestructiveUpdate": 2}}


def test_failed_allocations_are_summarized():
    plan = plan_reply(failed={"web": {"NodesEvaluated": 3, "DimensionExhausted": {"memory": 3},
                                      "CoalescedFailures": 1}})
    assert nomad_diff.failed_allocations(plan) == {
        "web": "3 nodes evaluated; DimensionExhausted: memory=3; 1 more like it"}


def test_plan_summary_has_no_raw_diff_and_no_env_values():
    summary = nomad_diff.plan_summary(plan_reply(task_groups=IMAGE_CHANGE, desired={"web": {"Place": 1}}))
    assert summary["diff_type"] == "Edited"
    assert summary["job_modify_index"] == 12
    assert summary["desired_updates"] == {"web": {"Place": 1}}
    assert summary["annotations"] == {"web/app": ["forces create/destroy update"]}
    assert "Diff" not in summary
    assert "s3cret" not in json.dumps(summary)
