#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restic
short_description: Run restic against the farm's repository with the password in restic's environment only
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Runs one restic command (C(restic) 0.14 or later on the host; the Debian/Ubuntu package C(restic), Homebrew's
    C(restic) on a Mac) and returns its JSON answer.
  - The password is a module option with C(no_log) and reaches restic as C(RESTIC_PASSWORD) in the environment of
    the restic process only, never on a command line, in a file or in the module's output.
extends_documentation_fragment: [octant.openclaw.attributes]
attributes:
  check_mode:
    support: partial
    details: C(snapshots), C(stats) and C(check) run; C(init), C(backup), C(forget) and C(restore) are reported only.
  diff_mode:
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

from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._restic import Restic, run_restic  # noqa: E402

OPTIONS = {
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
}


def main():
    module = OpenClawModule(OPTIONS, required_if=[("command", "backup", ("paths",)),
                                                  ("command", "restore", ("snapshot", "target"))])
    module.run(run_restic, Restic(module.module, module.params))


if __name__ == "__main__":
    main()
