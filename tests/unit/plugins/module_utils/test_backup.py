# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm_backup section of the model, the SQLite staging and restore of gateway_state, and which keys of a KV
export kv_restore puts back."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm
from ansible_collections.octant.openclaw.plugins.module_utils import _gateway_state as gs
from ansible_collections.octant.openclaw.plugins.module_utils._kv_restore import plan

from .test_farm_model import HOMELAB, HOSTS


def problems(backup):
    model = copy.deepcopy(HOMELAB)
    model["farm_backup"] = backup
    return [(p["path"], p["msg"], p["fix"]) for p in fm.validate(model, HOSTS)]


def test_the_homelab_section_is_valid_and_defaults_fill_in():
    assert problems(HOMELAB["farm_backup"]) == []
    model = fm.normalize(dict(copy.deepcopy(HOMELAB), farm_backup={"repository": "/srv/restic"}))
    assert model["farm_backup"]["keep_daily"] == 7 and model["farm_backup"]["check_every_days"] == 7


@pytest.mark.parametrize("repository", ["/srv/restic", "sftp:restic@billy:/srv/restic", "rest:https://r.lan/x",
                                        "s3:s3.amazonaws.com/bucket/openclaw"])
def test_repositories_restic_understands(repository):
    assert problems({"repository": repository, "password": "op://Homelab/restic/password"}) == []


@pytest.mark.parametrize("repository", ["relative/path", "ftp:host:/x", "/srv/with space", "sftp:", " /srv/restic",
                                        "/srv/restic\n"])
def test_other_repositories_are_refused_with_the_field_and_a_fix(repository):
    found = problems({"repository": repository})
    assert [p[0] for p in found] == ["farm_backup.repository"], found
    if "\n" not in repository:  # a line break is reported as such, before the pattern
        assert "restic repository" in found[0][1] and "sftp:" in found[0][2]


def test_the_password_must_be_an_op_reference_and_is_never_echoed():
    found = problems({"repository": "/srv/restic", "password": "hunter2-plain"})
    assert [p[0] for p in found] == ["farm_backup.password"]
    assert "hunter2-plain" not in json.dumps(found)


@pytest.mark.parametrize(("key", "value"), [("keep_daily", -1), ("keep_weekly", 521), ("keep_monthly", 1201),
                                            ("check_every_days", 366), ("check_read_data_percent", 101)])
def test_retention_is_bounded(key, value):
    found = problems({"repository": "/srv/restic", key: value})
    assert [p[0] for p in found] == [f"farm_backup.{key}"], found


def test_a_misspelt_key_is_named():
    found = problems({"repository": "/srv/restic", "keep_dayly": 3})
    assert [p[0] for p in found] == ["farm_backup.keep_dayly"], found


def make_store(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE IF NOT EXISTS t (x TEXT)")
    con.executemany("INSERT INTO t VALUES (?)", [(r,) for r in rows])
    con.commit()
    return con


def rows_of(path):
    """Rows of a store, read from a copy (opening a WAL-mode file leaves -wal/-shm next to it)."""
    copy_path = f"{path}.read"
    shutil.copyfile(path, copy_path)
    con = sqlite3.connect(copy_path)
    try:
        return [r[0] for r in con.execute("SELECT x FROM t ORDER BY rowid")]
    finally:
        con.close()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(copy_path + suffix):
                os.unlink(copy_path + suffix)


def test_stage_copies_committed_rows_from_the_wal_and_keeps_an_unchanged_copy(tmp_path):
    store = tmp_path / "state" / "agents" / "a" / "memory.sqlite"
    con = make_store(store, ["one", "two"])  # the writer stays open: the rows are in the WAL only
    (tmp_path / "state" / ".npm").mkdir()
    (tmp_path / "state" / ".npm" / "cache.sqlite").write_bytes(gs.SQLITE_MAGIC + b"\0" * 100)
    found, changed, removed, excludes = gs.stage(str(tmp_path))
    assert found == changed == ["state/agents/a/memory.sqlite"] and removed == []
    staged = tmp_path / gs.STAGING / "state/agents/a/memory.sqlite"
    assert rows_of(staged) == ["one", "two"]
    assert str(store) + "-wal" in excludes and str(tmp_path / "state/.npm") in excludes
    inode = staged.stat().st_ino
    assert gs.stage(str(tmp_path))[1] == []  # same content: the staged copy is left as it is
    assert staged.stat().st_ino == inode
    con.execute("INSERT INTO t VALUES ('three')")
    con.commit()
    assert gs.stage(str(tmp_path))[1] == ["state/agents/a/memory.sqlite"]
    assert rows_of(staged) == ["one", "two", "three"]
    con.close()
    store.unlink()
    assert gs.stage(str(tmp_path))[2] == ["state/agents/a/memory.sqlite"]
    assert not staged.exists()


def test_restore_replaces_the_scope_and_drops_a_stale_wal(tmp_path):
    root, restored = tmp_path / "gw", tmp_path / "restored"
    con = make_store(root / "state/agents/a/memory.sqlite", ["new"])
    (root / "state/agents/a/sessions").mkdir()
    (root / "state/agents/a/sessions/later.jsonl").write_text("after the snapshot")
    (root / "state/.npm").mkdir()
    (root / "state/.npm/keep").write_text("cache")
    (restored / "state/agents/a/sessions").mkdir(parents=True)
    (restored / "state/agents/a/sessions/s.jsonl").write_text("session")
    make_store(restored / gs.STAGING / "state/agents/a/memory.sqlite", ["old"]).close()
    files, dbs = gs.restore(str(restored), str(root), ["state"])
    con.close()
    assert dbs == ["state/agents/a/memory.sqlite"]
    assert not (root / "state/agents/a/memory.sqlite-wal").exists()
    assert rows_of(root / "state/agents/a/memory.sqlite") == ["old"]
    assert (root / "state/agents/a/sessions/s.jsonl").read_text() == "session"
    assert not (root / "state/agents/a/sessions/later.jsonl").exists()
    assert (root / "state/.npm/keep").read_text() == "cache"
    assert gs.newer(str(root), ["state"], 0)[1] >= 2
    assert files == 1


def msg(i):
    return json.dumps({"messageId": f"m-{i}"})


def test_kv_plan_never_overwrites_and_never_redelivers():
    export = {
        "registry/agents/bobby": "{}", "registry/gateways/main": "{}", "backup/checked": "1",
        "bus/bobby/hwm/jerry": json.dumps({"seq": 0, "ids": []}),
        "bus/bobby/in/jerry/000000000001": msg(1), "bus/bobby/in/jerry/000000000002": msg(2),
        "bus/bobby/in/jerry/000000000003": msg(3), "bus/billy/in/jerry/000000000001": msg(9),
    }
    current = {"bus/bobby/hwm/jerry": json.dumps({"seq": 1, "ids": ["m-1", "m-3"]}),
               "registry/agents/bobby": '{"newer": true}'}
    writes, delivered, skipped = plan(export, current)
    assert writes == {"bus/bobby/in/jerry/000000000002": msg(2), "bus/billy/in/jerry/000000000001": msg(9)}
    assert delivered == ["bus/bobby/in/jerry/000000000001", "bus/bobby/in/jerry/000000000003"]
    assert skipped == ["backup/checked", "registry/gateways/main"]
    # no mark now: the backed-up mark decides, and is restored itself
    writes, delivered, skipped = plan(dict(export, **{"bus/bobby/hwm/jerry": json.dumps({"seq": 2, "ids": []})}), {})
    assert "bus/bobby/hwm/jerry" in writes
    assert delivered == ["bus/bobby/in/jerry/000000000001", "bus/bobby/in/jerry/000000000002"]
