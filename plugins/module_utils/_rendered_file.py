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

from ansible_collections.octant.openclaw.plugins.module_utils._errors import InputError

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


def run_rendered_file(module, params, ctx):
    """The rendered_file module: write `content` unless the file drifted from the record (see decide)."""
    path, label = params["path"], params["label"] or params["path"]
    current, recorded, want = sha256_file(path), read_record(params["record"]), sha256_text(params["content"])
    action = decide(current, recorded, want, params["force"])
    result = {"action": action, "path": path, "current": current, "recorded": recorded, "want": want,
              "changed": False, "msg": f"{path} is the model's rendering"}
    try:
        return _apply(module, params, ctx, result, label)
    except OSError as err:
        raise InputError(f"{path}: {type(err).__name__}: {err}", result={"path": path}) from err


def _apply(module, params, ctx, result, label):
    path, action, current, recorded, want = (result[k] for k in ("path", "action", "current", "recorded", "want"))
    if action == "drift":
        if params["on_drift"] == "fail":
            raise InputError(drift_message(label, current, recorded, params["reason"], params["force_option"],
                                           params["on_drift_option"]),
                             result={k: v for k, v in result.items() if k != "msg"})
        result["msg"] = kept_message(label, params["force_option"], params["on_drift_option"])
        ctx.warn(result["msg"])
        return result
    if action == "force":
        result["msg"] = forced_message(label, params["force_option"])
        ctx.warn(result["msg"])
    elif action != "ok":
        result["msg"] = f"{path} {'created' if action == 'create' else 'replaced with the new rendering'}"
    file_args = module.load_file_common_arguments(params)
    if action in WRITES:
        result["changed"] = True
        if ctx.diff:
            result["diff"] = {"before": read_text(path), "after": params["content"],
                              "before_header": path, "after_header": path}
        if not ctx.check_mode:
            backup = write_atomic(module, path, params["content"], file_args, backup=True)
            if backup:
                result["backup_file"] = backup
        elif current:
            result["backup_file"] = module.backup_local(path)  # only its name in check mode
    if action in WRITES or recorded != want:
        result["changed"] = True
        if not ctx.check_mode:
            write_atomic(module, params["record"], record_text(params["managed_by"], path, want),
                         dict(file_args, mode=params["record_mode"]), backup=False)
    return result
