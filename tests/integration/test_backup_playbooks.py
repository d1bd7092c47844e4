# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/backup.yml and restore.yml on the lab (real restic, the lab simulator, 1Password faked at
Client.authenticate): a deployed gateway with agent state (a SQLite store in WAL mode with a writer
connection open, sessions, a linked WhatsApp account) is backed up, changed, and restored; a second backup of
unchanged data adds nothing to the repository; no secret value is in any output or in the repository.
The tests build on each other in file order."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.integration.labfarm import Farm
from tests.integration.test_phase_playbooks import OP_TOKEN, SECRETS
from tools.testsupport.labclient import live_mode

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.skipif(live_mode(), reason="runs the farm against the lab simulator only"),
              pytest.mark.skipif(shutil.which("restic") is None, reason="needs restic (scripts/test installs it)")]

ACL = "0c6f1d2e-7b3a-4f59-8e21-4d9c0b7a6e13"
PASSWORD_REF = "op://OctantLab/restic/password"
PASSWORD = "restic-pw-Qx73Lm2Vt9"
ALL_SECRETS = dict(SECRETS, **{PASSWORD_REF: PASSWORD})


class BackupFarm(Farm):
    def variables(self):
        variables = super().variables()
        variables["farm_backup"] = {"repository": str(self.base / "restic"), "password": PASSWORD_REF,
                                    "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6, "check_every_days": 7}
        return variables


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    farm = BackupFarm(tmp_path_factory.mktemp("backup"), ACL, OP_TOKEN, ALL_SECRETS)
    farm.env_overrides = {"XDG_STATE_HOME": str(farm.base / "controller-state")}
    farm.start()
    yield farm
    farm.lab.stop()
    farm.print_runs("backup")


def restic(farm, *args, text=True):
    env = dict(os.environ, RESTIC_REPOSITORY=str(farm.base / "restic"), RESTIC_PASSWORD=PASSWORD)
    result = subprocess.run(["restic", *args], env=env, capture_output=True, text=text, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def gateway(farm):
    return farm.data / "openclaw" / "main"


def assert_no_secret(text, where):
    for ref, value in ALL_SECRETS.items():
        assert value not in text, f"the value of {ref} appears in {where}"
    assert OP_TOKEN not in text, f"the 1Password token appears in {where}"


def dump_sqlite(path, scratch=None):
    """The content of a store; a staged copy is read from a scratch copy (opening it in place would create and
    remove its -wal/-shm and so change its folder)."""
    if scratch is not None:
        path = shutil.copy(path, scratch / "store.sqlite")
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


@pytest.fixture(scope="module")
def store(farm):
    """Agent jerry's SQLite store in WAL mode; its writer connection stays open (committed rows stay in the WAL,
    so a file copy of the main file would miss them)."""
    path = gateway(farm) / "state" / "agents" / "jerry" / "memory.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE IF NOT EXISTS memory (id INTEGER PRIMARY KEY, text TEXT)")
    con.executemany("INSERT INTO memory (text) VALUES (?)", [(f"fact {i} " * 20,) for i in range(500)])
    con.commit()
    yield path, con
    con.close()


def test_deploy_then_first_backup(farm, store):
    farm.run("--skip-tags", "channels")  # phase2.yml: the gateway, its workspaces and registry
    root = gateway(farm)
    sessions = root / "state" / "agents" / "jerry" / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    (sessions / "s-1.jsonl").write_text('{"role":"user","text":"hello"}\n' * 50)
    creds = root / "state" / "credentials" / "whatsapp" / "default"
    creds.mkdir(parents=True, exist_ok=True)
    (creds / "creds.json").write_bytes(os.urandom(2048))
    (root / "workspaces" / "jerry" / "MEMORY.md").write_text("remember the milk\n")
    assert (root / "state" / "agents" / "jerry" / "memory.sqlite-wal").stat().st_size > 0
    # two messages to bobby in flight, none processed yet
    for seq in (1, 2):
        farm.consul.put(f"/v1/kv/openclaw/bus/bobby/in/jerry/{seq:012d}",
                        data=json.dumps({"kind": "message", "messageId": f"m-{seq}"})).raise_for_status()
    farm.consul.put("/v1/kv/openclaw/bus/bobby/hwm/jerry",
                    data=json.dumps({"seq": 0, "top": 0, "acks": 0, "ids": []})).raise_for_status()

    run = farm.run("-vvv", playbook="playbooks/backup.yml")
    assert_no_secret(run.output, "the backup's -vvv output")
    snapshots = json.loads(restic(farm, "snapshots", "--json"))
    gw = [s for s in snapshots if s["hostname"] == "openclaw-main"]
    assert len(gw) == 1 and "gateway=main" in gw[0]["tags"] and "openclaw=2026.9.6" in gw[0]["tags"]
    assert any(t.startswith("run=") for t in gw[0]["tags"])
    assert [s for s in snapshots if s["hostname"] == "farm"]
    # the staged store has every committed row although they are only in the live store's WAL
    listing = restic(farm, "ls", gw[0]["id"]).splitlines()
    assert "/managed/backup/state/agents/jerry/memory.sqlite" in listing
    assert "/state/agents/jerry/memory.sqlite" not in listing
    assert not [line for line in listing if line.endswith(("-wal", "-shm"))]
    assert "/state/credentials/whatsapp/default/creds.json" in listing
    staged = root / "managed" / "backup" / "state" / "agents" / "jerry" / "memory.sqlite"
    assert dump_sqlite(staged, farm.base) == dump_sqlite(store[0])
    kv = json.loads(restic(farm, "dump", "latest", "/farm/consul-kv.json", "--host", "farm"))
    assert any(key.startswith("registry/") or "agents" in key for key in kv["tree"]), kv["tree"].keys()
    stats = json.loads(restic(farm, "stats", "--json", "--mode", "raw-data"))
    print(f"\nfirst backup: {run.seconds:.1f}s, repository {stats['total_size']} bytes")


def test_second_backup_adds_nothing(farm, store):
    before = json.loads(restic(farm, "stats", "--json", "--mode", "raw-data"))
    check = farm.run("--check", playbook="playbooks/backup.yml")
    assert check.writes() == [], check.writes()
    assert len(json.loads(restic(farm, "snapshots", "--json"))) == 2, "check mode took a snapshot"
    run = farm.run(playbook="playbooks/backup.yml")
    # keep_daily keeps the newest snapshot of the day: the first one was forgotten and pruned
    snapshots = json.loads(restic(farm, "snapshots", "--json", "--host", "openclaw-main"))
    assert len(snapshots) == 1 and snapshots[0]["parent"], snapshots
    report = run.result.stdout[run.result.stdout.index("Report the snapshots"):]
    added = [int(n) for n in re.findall(r"data_added: (\d+)", report)]
    assert len(added) == 2 and added == [0, 0], report[:3000]  # the farm's and the gateway's snapshot
    after = json.loads(restic(farm, "stats", "--json", "--mode", "raw-data"))
    assert after["total_size"] == before["total_size"], (before, after)
    print(f"\nsecond backup: {run.seconds:.1f}s, data_added {added}")


def test_no_secret_in_the_repository(farm):
    for snap in json.loads(restic(farm, "snapshots", "--json")):
        tar = restic(farm, "dump", snap["id"], "/", "--archive", "tar", text=False)
        assert len(tar) > 1024
        for ref, value in ALL_SECRETS.items():
            assert value.encode() not in tar, f"the value of {ref} is in snapshot {snap['short_id']}"
    for path in (farm.base / "restic").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes()
    for path in farm.data.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data, path


def test_restore_refuses_newer_data_then_restores_byte_for_byte(farm, store):
    root = gateway(farm)
    path, con = store
    keep = {rel: (root / rel).read_bytes() for rel in (
        "state/agents/jerry/sessions/s-1.jsonl", "state/credentials/whatsapp/default/creds.json",
        "workspaces/jerry/MEMORY.md", "config/openclaw.json")}
    staged = root / "managed" / "backup" / "state" / "agents" / "jerry" / "memory.sqlite"
    want_rows = dump_sqlite(staged, farm.base)
    # damage: a lost session and workspace file, rewritten credentials, rows the snapshot does not have
    con.execute("INSERT INTO memory (text) VALUES ('after the backup')")
    con.commit()
    con.close()
    (root / "state/agents/jerry/sessions/s-1.jsonl").unlink()
    (root / "workspaces/jerry/MEMORY.md").unlink()
    (root / "state/credentials/whatsapp/default/creds.json").write_bytes(b"{}")

    refused = farm.run(playbook="playbooks/restore.yml", extra={"restore_gateway": "main"}, check=False)
    assert refused.result.returncode != 0
    assert "modified after snapshot" in refused.output and "restore_force=true" in refused.output
    assert refused.writes() == [], refused.writes()

    check = farm.run("--check", playbook="playbooks/restore.yml",
                     extra={"restore_gateway": "main", "restore_force": True, "restore_kv": True})
    assert check.writes() == [], check.writes()
    assert not (root / "workspaces/jerry/MEMORY.md").exists() and not (root / "managed" / "restore").exists()

    run = farm.run("-vvv", playbook="playbooks/restore.yml", extra={"restore_gateway": "main", "restore_force": True})
    assert_no_secret(run.output, "the restore's -vvv output")
    for rel, data in keep.items():
        assert (root / rel).read_bytes() == data, rel
    assert not (root / "state/agents/jerry/memory.sqlite-wal").exists()
    assert dump_sqlite(path) == want_rows
    assert not (root / "managed" / "restore").exists()
    methods = [(m, p) for _s, m, p in run.writes()]
    assert ("DELETE", "/v1/job/openclaw-main") in methods and ("POST", "/v1/jobs") in methods or \
        any(p == "/v1/job/openclaw-main" and m in ("POST", "PUT") for m, p in methods), methods
    print(f"\nrestore: {run.seconds:.1f}s")


def kv_keys(farm):
    return set(farm.consul.get("/v1/kv/openclaw/", params={"keys": ""}).json())


def test_restore_one_whatsapp_account_and_the_kv_export(farm):
    """One WhatsApp account (nothing else of the gateway), and the KV export: the registry and the messages
    bobby has not processed come back; nothing newer is overwritten, nothing processed is delivered again."""
    root = gateway(farm)
    creds = root / "state/credentials/whatsapp/default/creds.json"
    want = creds.read_bytes()
    creds.unlink()
    other = root / "workspaces/jerry/NOTE.md"
    other.write_text("written after the backup\n")
    before = kv_keys(farm)
    registry = sorted(k for k in before if k.startswith("openclaw/registry/"))
    assert registry, before
    # bobby processed message 1 (deleted, mark at 1); message 2 and one registry key were lost
    farm.consul.put("/v1/kv/openclaw/bus/bobby/hwm/jerry",
                    data=json.dumps({"seq": 1, "top": 1, "acks": 1, "ids": ["m-1"]})).raise_for_status()
    for key in ("openclaw/bus/bobby/in/jerry/000000000001", "openclaw/bus/bobby/in/jerry/000000000002",
                registry[0]):
        farm.consul.request("DELETE", f"/v1/kv/{key}").raise_for_status()
    run = farm.run(playbook="playbooks/restore.yml",
                   extra={"restore_gateway": "main", "restore_whatsapp_account": "default", "restore_kv": True})
    assert creds.read_bytes() == want
    assert other.read_text() == "written after the backup\n"  # outside the account: untouched
    after = kv_keys(farm)
    assert "openclaw/bus/bobby/in/jerry/000000000002" in after
    assert "openclaw/bus/bobby/in/jerry/000000000001" not in after, "a processed message was delivered again"
    assert registry[0] in after
    mark = farm.consul.get("/v1/kv/openclaw/bus/bobby/hwm/jerry", params={"raw": ""}).json()
    assert mark["seq"] == 1, "the newer high-water mark was overwritten"
    assert "1 bus messages left out as already processed" in " ".join(run.output.split())

