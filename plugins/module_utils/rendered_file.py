# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A file the collection renders on a node that something else may rewrite (OpenClaw rewrites its config on
Control UI edits and plugin installs): the logic of the rendered_file module.

The sha256 of what was last rendered is kept in a JSON record next to the file's folders (outside what a
container mounts). Comparing the file on the node with that record and with the new rendering gives one action:
create (no file), ok (already the new rendering), update (the file is the last rendering: the model changed),
force (edited by someone else, overwritten on request) or drift (edited by someone else: fail or keep it)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

WRITES = ("create", "update", "force")


def sha256_text(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path):
    """The file's sha256, or '' when there is no file."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 16), b""):
                digest.update(block)
    except FileNotFoundError:
        return ""
    return digest.hexdigest()


def read_record(path):
    """The sha256 a record holds; '' when there is no record or it cannot be read (treated as no record, so
    an edited file is still reported as drift, never overwritten)."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle).get("sha256", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def record_text(managed_by, path, sha256):
    """The record as the roles always wrote it (Ansible's to_nice_json(sort_keys=true) and a newline)."""
    return json.dumps({"managed_by": managed_by, "path": path, "sha256": sha256}, indent=4, sort_keys=True,
                      separators=(",", ": ")) + "\n"


def decide(current, recorded, want, force):
    if current == "":
        return "create"
    if current == want:
        return "ok"
    if current == recorded:
        return "update"
    return "force" if force else "drift"


def drift_message(label, current, recorded, reason, force_option, on_drift_option):
    seen = "no record of a previous rendering" if recorded == "" else f"recorded sha256 {recorded[:12]}"
    why = f"{reason}, so this may be a change someone wants to keep" if reason else \
        "This may be a change someone wants to keep"
    return (f"{label} was changed since octant.openclaw last rendered it ({seen}, now {current[:12]}). {why}; "
            f"nothing was overwritten. Move the change into the farm model and re-run with -e {force_option}=true "
            f"(the current file is kept as a timestamped backup next to it), or set {on_drift_option}=warn to keep "
            f"the edited file and only be warned.")


def kept_message(label, force_option, on_drift_option):
    return (f"{label} was changed since octant.openclaw last rendered it; it is kept unchanged "
            f"({on_drift_option}=warn). Re-run with -e {force_option}=true to replace it with the model's config "
            f"(a backup is kept).")


def forced_message(label, force_option):
    return (f"{label} had been changed since it was last rendered; {force_option}=true replaces it (the previous "
            f"file is kept as a timestamped backup next to it).")


def read_text(path):
    """The file's text for a diff ('' when there is none)."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def write_atomic(module, path, text, file_args, backup):
    """Replace `path` with `text` (a temporary file in the same folder, renamed over it), keeping a timestamped
    backup of the previous file when asked; then owner, group and mode. Returns the backup's path or ''."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        module.fail_json(msg=f"{path}: its folder {folder} does not exist; create it first")
    backup_file = module.backup_local(path) if backup and os.path.exists(path) else ""
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(text.encode("utf-8"))
        module.atomic_move(tmp, path, unsafe_writes=module.params.get("unsafe_writes", False))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    module.set_fs_attributes_if_different(dict(file_args, path=path), False)
    return backup_file
