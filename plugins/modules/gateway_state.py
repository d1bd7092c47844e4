#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_state
short_description: Stage a gateway's SQLite stores for a backup, find newer files, or put a restored tree in place
version_added: 0.1.0
description:
  - Works on one gateway folder on its node (C(<data root>/openclaw/<gateway>) with C(config/), C(state/),
    C(workspaces/) and C(managed/)), for C(playbooks/backup.yml) and C(playbooks/restore.yml).
  - O(action=stage) copies every SQLite store (found by its header) with SQLite's online backup into
    C(managed/backup/<path>), so restic reads a consistent copy and never a live database. A staged copy is
    replaced only when its content changed, so an unchanged store adds nothing to the next snapshot. Returns the
    paths restic must exclude (the live stores with their C(-wal), C(-shm) and C(-journal), and npm's cache).
  - O(action=newer) lists the files of O(scopes) modified after O(since), to refuse overwriting newer data.
  - O(action=restore) replaces each of O(scopes) with the same path under O(restored) (a C(restic restore)
    target), then puts the staged SQLite copies in place of their stores and removes their stale write-ahead
    logs. The gateway must be stopped.
author:
  - octant.openclaw contributors (@octant)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: O(action=stage) reports the stores it would stage; O(action=restore) changes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  path:
    description: The gateway folder on the node.
    type: path
    required: true
  action:
    description: What to do.
    type: str
    choices: [stage, newer, restore]
    required: true
  scopes:
    description:
      - Paths relative to O(path) (O(action=newer) and O(action=restore)), for example C(config), C(state),
        C(workspaces), C(state/agents/<id>), C(state/credentials/whatsapp/<account>).
    type: list
    elements: str
    default: []
  since:
    description: With O(action=newer), epoch seconds (the snapshot's time).
    type: float
  restored:
    description: With O(action=restore), the folder C(restic restore) wrote the snapshot into.
    type: path
"""

EXAMPLES = r"""
- name: Stage the SQLite stores of gateway main
  octant.openclaw.gateway_state:
    path: /opt/homelab/data/openclaw/main
    action: stage
  register: staged

- name: Put one agent's state and workspace back
  octant.openclaw.gateway_state:
    path: /opt/homelab/data/openclaw/main
    action: restore
    restored: /opt/homelab/data/openclaw/main/managed/restore
    scopes: [state/agents/bobby, workspaces/bobby]
"""

RETURN = r"""
databases:
  description: SQLite stores found (stage) or put back (restore), relative to O(path).
  returned: O(action=stage) or O(action=restore)
  type: list
  elements: str
staged:
  description: Stores whose staged copy was (or in check mode would be) replaced.
  returned: O(action=stage)
  type: list
  elements: str
excludes:
  description: Absolute paths restic must not read (live stores, their sidecar files, npm's cache).
  returned: O(action=stage)
  type: list
  elements: str
paths:
  description: What restic backs up, relative to O(path) (those of C(config), C(workspaces), C(state), the staged
    copies and the roles' records that exist).
  returned: O(action=stage)
  type: list
  elements: str
newer:
  description: Up to 20 files of O(scopes) modified after O(since), newest first.
  returned: O(action=newer)
  type: list
  elements: str
newer_count:
  description: How many files of O(scopes) were modified after O(since).
  returned: O(action=newer)
  type: int
files:
  description: Files put back.
  returned: O(action=restore)
  type: int
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils import _gateway_state as gateway_state  # noqa: E402


def _scopes_ok(module, scopes):
    for scope in scopes:
        norm = os.path.normpath(scope)
        if os.path.isabs(scope) or norm.startswith("..") or norm in (".", "managed", "managed/backup"):
            module.fail_json(msg=f"scopes: {scope!r} is not a path inside the gateway folder; name config, state, "
                                 "workspaces or a folder or file below them")


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "action": {"type": "str", "required": True, "choices": ["stage", "newer", "restore"]},
            "scopes": {"type": "list", "elements": "str", "default": []},
            "since": {"type": "float"},
            "restored": {"type": "path"},
        },
        required_if=[("action", "newer", ("since",)), ("action", "restore", ("restored",))],
        supports_check_mode=True,
    )
    params = module.params
    root = params["path"]
    if not os.path.isdir(root):
        module.fail_json(msg=f"path: {root} is not a folder (is the gateway deployed on this node?)")
    _scopes_ok(module, params["scopes"])
    try:
        if params["action"] == "stage":
            found, changed, removed, excludes = gateway_state.stage(root, check_mode=module.check_mode)
            paths = [rel for rel in gateway_state.BACKUP_PATHS if os.path.exists(os.path.join(root, rel))]
            module.exit_json(changed=bool(changed or removed), databases=found, staged=changed, excludes=excludes,
                             paths=paths)
        if params["action"] == "newer":
            rows, count = gateway_state.newer(root, params["scopes"], params["since"])
            module.exit_json(changed=False, newer=rows, newer_count=count)
        if module.check_mode:  # restic restore did not run either
            module.exit_json(changed=True, files=0, databases=[])
        if not os.path.isdir(params["restored"]):
            module.fail_json(msg=f"restored: {params['restored']} is not a folder")
        files, dbs = gateway_state.restore(params["restored"], root, params["scopes"])
        module.exit_json(changed=True, files=files, databases=dbs)
    except Exception as err:  # noqa: BLE001 OSError, sqlite3.Error: named in the message
        module.fail_json(msg=f"{params['action']} of {root} failed: {type(err).__name__}: {err}")


if __name__ == "__main__":
    main()
