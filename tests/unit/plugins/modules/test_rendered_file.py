# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.rendered_file run through AnsibleModule as Ansible runs it, on files in a temporary folder:
create, ok, update, drift (fail and warn), force with a backup, check mode and diff mode."""

from __future__ import annotations

import hashlib
import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.octant.openclaw.plugins.modules import rendered_file

OLD = '{\n  "gateway": {"port": 18789}\n}\n'
NEW = '{\n  "gateway": {"port": 18800}\n}\n'
EDITED = '{\n  "gateway": {"port": 18789},\n  "logging": {"level": "debug"}\n}\n'


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def node(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "managed").mkdir()
    return tmp_path


@pytest.fixture
def run(run_module, node):
    def runner(content, fails=False, check_mode=False, diff=False, **args):
        args = dict({"path": str(node / "config" / "openclaw.json"), "content": content,
                     "record": str(node / "managed" / "config.json"), "managed_by": "octant.openclaw.gateway",
                     "mode": "0640"}, **args)
        with pytest.raises(run_module.FailJson if fails else run_module.ExitJson) as outcome:
            run_module(rendered_file, args, check_mode=check_mode, diff=diff)
        return outcome.value.result

    return runner


def config(node):
    return node / "config" / "openclaw.json"


def record(node):
    return json.loads((node / "managed" / "config.json").read_text())


def backups(node):
    return sorted(p for p in (node / "config").iterdir()
                  if p.name.startswith("openclaw.json.") and p.name.endswith("~"))


def edit(node, text=EDITED):
    config(node).write_text(text)  # as OpenClaw does on a Control UI edit


def test_create_then_ok(run, node):
    first = run(OLD)
    assert (first["changed"], first["action"], first["current"], first["want"]) == (True, "create", "", sha(OLD))
    assert config(node).read_text() == OLD and oct(config(node).stat().st_mode & 0o777) == "0o640"
    assert record(node) == {"managed_by": "octant.openclaw.gateway", "path": str(config(node)), "sha256": sha(OLD)}
    assert oct((node / "managed" / "config.json").stat().st_mode & 0o777) == "0o600"
    # the record is byte for byte what the role's to_nice_json(sort_keys=true) wrote before the module
    assert (node / "managed" / "config.json").read_text() == json.dumps(
        record(node), indent=4, sort_keys=True, separators=(",", ": ")) + "\n"
    again = run(OLD)
    assert (again["changed"], again["action"]) == (False, "ok")
    assert backups(node) == []


def test_a_new_rendering_replaces_the_last_one_with_a_backup(run, node):
    run(OLD)
    result = run(NEW)
    assert (result["changed"], result["action"], result["recorded"]) == (True, "update", sha(OLD))
    assert config(node).read_text() == NEW and record(node)["sha256"] == sha(NEW)
    assert [p.read_text() for p in backups(node)] == [OLD] and result["backup_file"] == str(backups(node)[0])


def test_drift_fails_and_writes_nothing(run, node):
    run(OLD)
    edit(node)
    result = run(NEW, fails=True, label=f"{config(node)} on jerry", force_option="gateway_force_config",
                 on_drift_option="gateway_config_drift",
                 reason="OpenClaw rewrites its config on Control UI edits and plugin installs")
    assert result["msg"] == (
        f"{config(node)} on jerry was changed since octant.openclaw last rendered it (recorded sha256 "
        f"{sha(OLD)[:12]}, now {sha(EDITED)[:12]}). OpenClaw rewrites its config on Control UI edits and plugin "
        "installs, so this may be a change someone wants to keep; nothing was overwritten. Move the change into the "
        "farm model and re-run with -e gateway_force_config=true (the current file is kept as a timestamped backup "
        "next to it), or set gateway_config_drift=warn to keep the edited file and only be warned.")
    assert result["action"] == "drift"
    assert config(node).read_text() == EDITED and record(node)["sha256"] == sha(OLD) and backups(node) == []


def test_a_file_without_a_record_counts_as_edited(run, node):
    edit(node)
    result = run(NEW, fails=True)
    assert "(no record of a previous rendering, now " in result["msg"]
    assert "This may be a change someone wants to keep; nothing was overwritten." in result["msg"]
    assert "-e force=true" in result["msg"] and "on_drift=warn" in result["msg"]
    assert not (node / "managed" / "config.json").exists()


def test_an_unreadable_record_counts_as_none(run, node):
    run(OLD)
    (node / "managed" / "config.json").write_text("not json")
    result = run(NEW, fails=True)
    assert "(no record of a previous rendering" in result["msg"]
    assert config(node).read_text() == OLD


def test_drift_warn_keeps_the_file(run, node, monkeypatch):
    warned = []  # AnsibleModule.warn: how Ansible shows it (stderr or the result) depends on the runner
    monkeypatch.setattr(AnsibleModule, "warn", lambda module, text: warned.append(text))
    run(OLD)
    edit(node)
    result = run(NEW, on_drift="warn", label="the config", force_option="gateway_force_config",
                 on_drift_option="gateway_config_drift")
    assert (result["changed"], result["action"]) == (False, "drift")
    assert result["msg"] == ("the config was changed since octant.openclaw last rendered it; it is kept unchanged "
                             "(gateway_config_drift=warn). Re-run with -e gateway_force_config=true to replace it with "
                             "the model's config (a backup is kept).")
    assert warned == [result["msg"]]  # a module warning
    assert config(node).read_text() == EDITED and record(node)["sha256"] == sha(OLD)


def test_force_replaces_an_edited_file_and_keeps_it_as_a_backup(run, node):
    run(OLD)
    edit(node)
    result = run(NEW, force=True, label="the config", force_option="gateway_force_config")
    assert (result["changed"], result["action"]) == (True, "force")
    assert result["msg"] == ("the config had been changed since it was last rendered; gateway_force_config=true "
                             "replaces it (the previous file is kept as a timestamped backup next to it).")
    assert config(node).read_text() == NEW and record(node)["sha256"] == sha(NEW)
    assert [p.read_text() for p in backups(node)] == [EDITED]
    assert run(NEW, force=True)["action"] == "ok"  # forcing a file that is the rendering changes nothing


def test_an_edit_that_matches_the_new_rendering_adopts_the_record(run, node):
    run(OLD)
    edit(node, NEW)  # someone made the same change the model now makes
    result = run(NEW)
    assert (result["changed"], result["action"]) == (True, "ok")
    assert record(node)["sha256"] == sha(NEW) and backups(node) == []


def test_check_mode_predicts_and_writes_nothing(run, node):
    created = run(OLD, check_mode=True)
    assert (created["changed"], created["action"]) == (True, "create")
    assert not config(node).exists() and not (node / "managed" / "config.json").exists()
    run(OLD)
    edit(node)
    forced = run(NEW, check_mode=True, force=True)
    assert (forced["changed"], forced["action"]) == (True, "force") and forced["backup_file"].endswith("~")
    assert config(node).read_text() == EDITED and backups(node) == [] and record(node)["sha256"] == sha(OLD)
    warned = run(NEW, check_mode=True, on_drift="warn")
    assert (warned["changed"], warned["action"]) == (False, "drift")
    assert run(NEW, check_mode=True, fails=True)["action"] == "drift"


def test_check_mode_on_a_fresh_node_without_its_folders(run_module, tmp_path):
    args = {"path": str(tmp_path / "gw" / "config" / "openclaw.json"), "content": OLD,
            "record": str(tmp_path / "gw" / "managed" / "config.json")}
    with pytest.raises(run_module.ExitJson) as outcome:
        run_module(rendered_file, args, check_mode=True)
    assert (outcome.value.result["changed"], outcome.value.result["action"]) == (True, "create")
    assert not (tmp_path / "gw").exists()


def test_diff_shows_the_file_before_and_after(run, node):
    created = run(OLD, diff=True, check_mode=True)
    assert created["diff"] == {"before": "", "after": OLD, "before_header": str(config(node)),
                               "after_header": str(config(node))}
    run(OLD)
    assert "diff" not in run(OLD, diff=True)  # nothing to write, nothing to show
    updated = run(NEW, diff=True)
    assert (updated["diff"]["before"], updated["diff"]["after"]) == (OLD, NEW)
    edit(node)
    assert "diff" not in run(OLD, diff=True, on_drift="warn")  # a kept file is not shown as a change


def test_a_missing_folder_is_a_clear_error(run_module, tmp_path):
    args = {"path": str(tmp_path / "nowhere" / "openclaw.json"), "content": OLD,
            "record": str(tmp_path / "config.json")}
    with pytest.raises(run_module.FailJson) as outcome:
        run_module(rendered_file, args)
    assert outcome.value.result["msg"] == (f"{tmp_path}/nowhere/openclaw.json: its folder {tmp_path}/nowhere does not "
                                           "exist; create it first")
