#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restic
short_description: Run restic against the farm's repository with the password in restic's environment only
version_added: 0.1.0
description:
  - Runs one restic command (C(restic) 0.14 or later on the host; the Debian/Ubuntu package C(restic), Homebrew's
    C(restic) on a Mac) and returns its JSON answer.
  - The password is a module option with C(no_log) and reaches restic as C(RESTIC_PASSWORD) in the environment of
    the restic process only, never on a command line, in a file or in the module's output.
author:
  - octant.openclaw contributors (@octant)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: partial
    details: C(snapshots), C(stats) and C(check) run; C(init), C(backup), C(forget) and C(restore) are reported only.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  repository:
    description: The restic repository (a path or C(sftp:), C(rest:), C(s3:) ...).
    type: str
    required: true
  password:
    description: The repository password (resolved from its op:// reference by the playbook).
    type: str
    required: true
  command:
    description:
      - V(init) creates the repository unless it exists; V(backup) snapshots O(paths) (relative to O(chdir));
        V(forget) applies the O(keep) retention per host and prunes; V(check) checks the repository; V(snapshots)
        lists snapshots; V(restore) restores O(snapshot) into O(target); V(stats) reports the repository's size.
    type: str
    required: true
    choices: [init, backup, forget, check, snapshots, restore, stats]
  chdir:
    description: Folder restic runs in (O(command=backup) stores O(paths) relative to it).
    type: path
  paths:
    description: Paths to back up.
    type: list
    elements: str
    default: []
  excludes:
    description: Absolute paths restic must not read (glob characters in them are escaped).
    type: list
    elements: str
    default: []
  tags:
    description: Tags of the new snapshot (O(command=backup)), or tags a snapshot must have (O(command=snapshots)).
    type: list
    elements: str
    default: []
  host:
    description: The host name recorded in the snapshot (O(command=backup)) or required of it (O(command=snapshots)).
    type: str
  keep:
    description: "Retention of O(command=forget), for example C({daily: 7, weekly: 4, monthly: 6})."
    type: dict
    default: {}
  read_data_percent:
    description: With O(command=check), the percentage of pack files to read (0 checks the structure only).
    type: int
    default: 0
  snapshot:
    description: With O(command=restore), the snapshot id.
    type: str
  target:
    description: With O(command=restore), the folder to restore into.
    type: path
  includes:
    description: With O(command=restore), the paths of the snapshot to restore (all when empty).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Back up a gateway folder
  octant.openclaw.restic:
    repository: "{{ openclaw_farm.farm_backup.repository }}"
    password: "{{ backup_password }}"
    command: backup
    chdir: /opt/homelab/data/openclaw/main
    paths: [config, state, workspaces]
    host: openclaw-main
    tags: [gateway=main, openclaw=2026.9.6]
  no_log: false
"""

RETURN = r"""
summary:
  description: The summary restic printed (O(command=backup)), including C(snapshot_id) and C(data_added).
  returned: O(command=backup)
  type: dict
snapshots:
  description: Snapshots as C(restic snapshots --json) lists them, oldest first.
  returned: O(command=snapshots)
  type: list
  elements: dict
stats:
  description: C(restic stats --mode raw-data --json) (C(total_size), C(total_uncompressed_size), blobs).
  returned: O(command=stats)
  type: dict
forget:
  description: What C(restic forget --json) kept and removed, per group.
  returned: O(command=forget)
  type: list
  elements: dict
output:
  description: restic's text output (O(command=check) and O(command=restore)).
  returned: O(command=check) or O(command=restore)
  type: str
"""

import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


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


def main():
    module = AnsibleModule(
        argument_spec={
            "repository": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "command": {"type": "str", "required": True,
                        "choices": ["init", "backup", "forget", "check", "snapshots", "restore", "stats"]},
            "chdir": {"type": "path"},
            "paths": {"type": "list", "elements": "str", "default": []},
            "excludes": {"type": "list", "elements": "str", "default": []},
            "tags": {"type": "list", "elements": "str", "default": []},
            "host": {"type": "str"},
            "keep": {"type": "dict", "default": {}},
            "read_data_percent": {"type": "int", "default": 0},
            "snapshot": {"type": "str"},
            "target": {"type": "path"},
            "includes": {"type": "list", "elements": "str", "default": []},
        },
        required_if=[("command", "backup", ("paths",)), ("command", "restore", ("snapshot", "target"))],
        supports_check_mode=True,
    )
    p = module.params
    restic = module.get_bin_path("restic")
    if restic is None:
        module.fail_json(msg="restic is not installed on this host: install the distribution's restic package "
                             "(apt-get install restic) or, on a Mac, brew install restic")
    # The password only ever travels in restic's own environment.
    env = {"RESTIC_REPOSITORY": p["repository"], "RESTIC_PASSWORD": p["password"]}
    for name in ("RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND"):
        os.environ.pop(name, None)

    def run(args, check_rc=True):
        rc, out, err = module.run_command([restic, *args], cwd=p["chdir"], environ_update=env)
        if check_rc and rc != 0:
            module.fail_json(msg=f"restic {args[0]} failed (exit {rc}): {err.strip()[-2000:]}", rc=rc)
        return rc, out, err

    command = p["command"]
    if command == "init":
        rc, _out, _err = run(["cat", "config"], check_rc=False)
        if rc == 0:
            module.exit_json(changed=False)
        if not module.check_mode:
            run(["init"])
        module.exit_json(changed=True)
    if module.check_mode and command not in ("snapshots", "stats", "check"):
        module.exit_json(changed=True)
    if command == "backup":
        args = ["backup", "--json", "--quiet"]
        if p["host"]:
            args += ["--host", p["host"]]
        for tag in p["tags"]:
            args += ["--tag", tag]
        for path in p["excludes"]:
            args += ["--exclude", escape(path)]
        _rc, out, _err = run([*args, "--", *p["paths"]])
        summary = [row for row in json_lines(out) if row.get("message_type") == "summary"]
        if not summary:
            module.fail_json(msg="restic backup printed no summary")
        module.exit_json(changed=True, summary=summary[-1])
    if command == "snapshots":
        args = ["snapshots", "--json"]
        if p["host"]:
            args += ["--host", p["host"]]
        for tag in p["tags"]:
            args += ["--tag", tag]
        _rc, out, _err = run(args)
        module.exit_json(changed=False, snapshots=json.loads(out or "[]"))
    if command == "stats":
        _rc, out, _err = run(["stats", "--json", "--mode", "raw-data"])
        module.exit_json(changed=False, stats=json.loads(out))
    if command == "check":
        args = ["check"]
        if p["read_data_percent"] > 0:
            args.append(f"--read-data-subset={p['read_data_percent']}%")
        _rc, out, err = run(args)
        module.exit_json(changed=False, output=(out + err).strip())
    if command == "forget":
        args = ["forget", "--json", "--prune", "--group-by", "host"]
        for period, count in sorted(p["keep"].items()):
            if period not in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
                module.fail_json(msg=f"keep: unknown period {period!r}; use daily, weekly, monthly ...")
            args += [f"--keep-{period}", str(int(count))]
        _rc, out, _err = run(args)
        groups = [row for row in json_lines(out) if isinstance(row, list)]
        forget = groups[0] if groups else []
        removed = sum(len(group.get("remove") or []) for group in forget)
        module.exit_json(changed=removed > 0, forget=forget, removed=removed)
    # restore
    args = ["restore", p["snapshot"], "--target", p["target"]]
    for path in p["includes"]:
        args += ["--include", escape(path)]
    _rc, out, err = run(args)
    module.exit_json(changed=True, output=(out + err).strip())


if __name__ == "__main__":
    main()
