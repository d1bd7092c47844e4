# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restic module's logic: one restic command run with the repository password in restic's own
environment only (never on its command line, never in a result)."""

from __future__ import annotations

import json
import os
import re

from ansible_collections.octant.openclaw.plugins.module_utils._errors import InputError, ModuleError

KEEP_PERIODS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


def escape(path):
    """A literal path as a restic exclude pattern (filepath.Match syntax)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", path)


def json_lines(text):
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") or line.startswith("["):
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


class Restic:
    """restic on this host, run through the AnsibleModule (run_command, get_bin_path)."""

    def __init__(self, module, params):
        self.module = module
        self.chdir = params["chdir"]
        self.binary = module.get_bin_path("restic")
        # The password only ever travels in restic's own environment.
        self.env = {"RESTIC_REPOSITORY": params["repository"], "RESTIC_PASSWORD": params["password"]}

    def __call__(self, args, check_rc=True):
        rc, out, err = self.module.run_command([self.binary, *args], cwd=self.chdir, environ_update=self.env)
        if check_rc and rc != 0:
            raise ModuleError(f"restic {args[0]} failed (exit {rc}): {err.strip()[-2000:]}", result={"rc": rc})
        return rc, out, err


def _filters(p):
    args = ["--host", p["host"]] if p["host"] else []
    for tag in p["tags"]:
        args += ["--tag", tag]
    return args


def run_restic(run, p, ctx):
    """The restic module: `run` is a Restic."""
    if run.binary is None:
        raise ModuleError("restic is not installed on this host: install the distribution's restic package "
                          "(apt-get install restic) or, on a Mac, brew install restic")
    for name in ("RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND"):
        os.environ.pop(name, None)
    command = p["command"]
    if command == "init":
        rc, _out, _err = run(["cat", "config"], check_rc=False)
        if rc == 0:
            return {"changed": False}
        if not ctx.check_mode:
            run(["init"])
        return {"changed": True}
    if ctx.check_mode and command not in ("snapshots", "stats", "check"):
        return {"changed": True}
    if command == "backup":
        args = ["backup", "--json", "--quiet", *_filters(p)]
        for path in p["excludes"]:
            args += ["--exclude", escape(path)]
        _rc, out, _err = run([*args, "--", *p["paths"]])
        summary = [row for row in json_lines(out) if row.get("message_type") == "summary"]
        if not summary:
            raise ModuleError("restic backup printed no summary")
        return {"changed": True, "summary": summary[-1]}
    if command == "snapshots":
        _rc, out, _err = run(["snapshots", "--json", *_filters(p)])
        return {"changed": False, "snapshots": json.loads(out or "[]")}
    if command == "stats":
        _rc, out, _err = run(["stats", "--json", "--mode", "raw-data"])
        return {"changed": False, "stats": json.loads(out)}
    if command == "check":
        args = ["check"]
        if p["read_data_percent"] > 0:
            args.append(f"--read-data-subset={p['read_data_percent']}%")
        _rc, out, err = run(args)
        return {"changed": False, "output": (out + err).strip()}
    if command == "forget":
        return _forget(run, p)
    args = ["restore", p["snapshot"], "--target", p["target"]]
    for path in p["includes"]:
        args += ["--include", escape(path)]
    _rc, out, err = run(args)
    return {"changed": True, "output": (out + err).strip()}


def _forget(run, p):
    args = ["forget", "--json", "--prune", "--group-by", "host"]
    for period, count in sorted(p["keep"].items()):
        if period not in KEEP_PERIODS:
            raise InputError(f"keep: unknown period {period!r}; use daily, weekly, monthly ...")
        args += [f"--keep-{period}", str(int(count))]
    _rc, out, _err = run(args)
    groups = [row for row in json_lines(out) if isinstance(row, list)]
    forget = groups[0] if groups else []
    removed = sum(len(group.get("remove") or []) for group in forget)
    return {"changed": removed > 0, "forget": forget, "removed": removed}
