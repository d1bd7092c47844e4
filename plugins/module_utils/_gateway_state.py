# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A gateway's data folder (<data root>/openclaw/<gateway>: config/, state/, workspaces/, managed/) as restic
backs it up and restores it.

SQLite stores are never read by restic while a gateway may write them: `stage` copies each one with SQLite's
online backup into managed/backup/<its path> and restic reads that copy instead (the live file and its -wal,
-shm and -journal are excluded). A staged copy is replaced only when its content changed, so an unchanged
store keeps its inode and times and a second backup adds nothing to the repository. `restore` puts a restored
tree back in place, the staged copies where their stores were, without the stale write-ahead logs."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile

from ansible_collections.octant.openclaw.plugins.module_utils._errors import InputError, ModuleError

SQLITE_MAGIC = b"SQLite format 3\x00"
STAGING = "managed/backup"
# Where a copy is made before it replaces the staged one: outside what restic reads, so that folder's times
# change only when a copy does.
SCRATCH = "managed/backup-scratch"
# Folders restic never reads: npm's download cache is rebuilt by the next plugin install.
SKIP_DIRS = ("state/.npm",)
SIDECARS = ("-wal", "-shm", "-journal")
# What a whole-gateway restore replaces; the records of what the roles rendered go with the files they describe.
GATEWAY_SCOPES = ("config", "workspaces", "state", "managed/config.json", "managed/workspaces.json")
BACKUP_PATHS = GATEWAY_SCOPES + (STAGING,)


def is_sqlite(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _walk_files(root, top):
    """Regular files under root/top (not following links), as paths relative to root, skipping SKIP_DIRS."""
    base = os.path.join(root, top)
    if os.path.isfile(base) and not os.path.islink(base):
        yield top
        return
    for current, dirs, files in os.walk(base):
        rel_dir = os.path.relpath(current, root)
        dirs[:] = sorted(d for d in dirs if os.path.join(rel_dir, d) not in SKIP_DIRS
                         and not os.path.islink(os.path.join(current, d)))
        for name in sorted(files):
            path = os.path.join(current, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield os.path.relpath(path, root)


def databases(root, tops=("config", "state", "workspaces")):
    """The SQLite stores under the gateway folder, relative to it."""
    return [rel for top in tops for rel in _walk_files(root, top) if is_sqlite(os.path.join(root, rel))]


def _same(a, b):
    if not os.path.exists(b) or os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as one, open(b, "rb") as two:
        while True:
            x, y = one.read(1 << 20), two.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def online_backup(source, dest):
    """SQLite's online backup of source into dest (a new file): a consistent copy while writers go on."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()


def stage(root, check_mode=False):
    """Copy every SQLite store into STAGING; return (databases, changed, removed, excludes)."""
    found = databases(root)
    staging = os.path.join(root, STAGING)
    scratch = os.path.join(root, SCRATCH)
    changed = []
    for rel in found:
        source = os.path.join(root, rel)
        target = os.path.join(staging, rel)
        if check_mode:
            if not os.path.exists(target):
                changed.append(rel)
            continue
        os.makedirs(scratch, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=scratch, prefix="store-")
        os.close(fd)
        os.unlink(tmp)
        try:
            online_backup(source, tmp)
            if _same(tmp, target):
                continue
            stamp = max(os.stat(source + suffix).st_mtime for suffix in ("",) + SIDECARS
                        if os.path.exists(source + suffix))
            os.chmod(tmp, os.stat(source).st_mode & 0o777)
            os.utime(tmp, (stamp, stamp))
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            os.replace(tmp, target)
            changed.append(rel)
        finally:
            for suffix in ("",) + SIDECARS:
                if os.path.exists(tmp + suffix):
                    os.unlink(tmp + suffix)
    removed = []
    if os.path.isdir(staging):
        for rel in list(_walk_files(staging, ".")):
            rel = os.path.normpath(rel)
            if rel not in found:
                removed.append(rel)
                if not check_mode:
                    os.unlink(os.path.join(staging, rel))
    excludes = [os.path.join(root, rel) + suffix for rel in found for suffix in ("",) + SIDECARS]
    excludes += [os.path.join(root, rel) for rel in SKIP_DIRS]
    return found, changed, removed, excludes


def newer(root, scopes, since, limit=20):
    """Files of the scopes (relative paths) modified after `since` (epoch seconds), newest first."""
    rows = []
    for top in scopes:
        if not os.path.exists(os.path.join(root, top)):
            continue
        for rel in _walk_files(root, top):
            mtime = os.stat(os.path.join(root, rel)).st_mtime
            if mtime > since:
                rows.append((mtime, rel))
    rows.sort(reverse=True)
    return [rel for _mtime, rel in rows[:limit]], len(rows)


def _clear(path, keep=()):
    """Remove what is under path (a folder) except the relative paths in keep."""
    for name in os.listdir(path):
        if name in keep:
            continue
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)


def restore(restored, root, scopes):
    """Replace each scope of root with the one in restored (a `restic restore` target), then put the staged
    SQLite copies of those scopes in place of their stores; return (files, databases)."""
    files = 0
    staged = os.path.join(restored, STAGING)
    for top in scopes:
        source = os.path.join(restored, top)
        target = os.path.join(root, top)
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
            keep = tuple(os.path.basename(skip) for skip in SKIP_DIRS if os.path.dirname(skip) == top)
            _clear(target, keep)
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
            shutil.copystat(source, target)
            files += len(list(_walk_files(restored, top)))
        elif os.path.isfile(source):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target)
            files += 1
        elif os.path.isdir(target) and top != "state":
            _clear(target)  # the scope was empty when the snapshot was taken
    restored_dbs = []
    for top in scopes:
        if not os.path.exists(os.path.join(staged, top)):
            continue
        for rel in _walk_files(staged, top):
            target = os.path.join(root, rel)
            for suffix in SIDECARS:
                if os.path.exists(target + suffix):
                    os.unlink(target + suffix)  # an old WAL replayed onto the restored store would corrupt it
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(os.path.join(staged, rel), target)
            restored_dbs.append(rel)
    return files, restored_dbs


def run_gateway_state(params, ctx):
    """The gateway_state module: stage, list what is newer, or restore."""
    root, action = params["path"], params["action"]
    if not os.path.isdir(root):
        raise InputError(f"path: {root} is not a folder (is the gateway deployed on this node?)")
    for scope in params["scopes"]:
        norm = os.path.normpath(scope)
        if os.path.isabs(scope) or norm.startswith("..") or norm in (".", "managed", "managed/backup"):
            raise InputError(f"scopes: {scope!r} is not a path inside the gateway folder; name config, state, "
                             "workspaces or a folder or file below them")
    if action == "restore" and ctx.check_mode:  # restic restore did not run either
        return {"changed": True, "files": 0, "databases": []}
    if action == "restore" and not os.path.isdir(params["restored"]):
        raise InputError(f"restored: {params['restored']} is not a folder")
    try:
        if action == "stage":
            found, changed, removed, excludes = stage(root, check_mode=ctx.check_mode)
            paths = [rel for rel in BACKUP_PATHS if os.path.exists(os.path.join(root, rel))]
            return {"changed": bool(changed or removed), "databases": found, "staged": changed,
                    "excludes": excludes, "paths": paths}
        if action == "newer":
            rows, count = newer(root, params["scopes"], params["since"])
            return {"changed": False, "newer": rows, "newer_count": count}
        files, dbs = restore(params["restored"], root, params["scopes"])
        return {"changed": True, "files": files, "databases": dbs}
    except Exception as err:  # noqa: BLE001 OSError, sqlite3.Error: named in the message
        raise ModuleError(f"{action} of {root} failed: {type(err).__name__}: {err}") from None
