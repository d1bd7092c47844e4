#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_state
short_description: Stage a gateway's SQLite stores for a backup, find newer files, or put a restored tree in place
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
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
extends_documentation_fragment: [octant.openclaw.attributes]
attributes:
  check_mode:
    support: full
    details: O(action=stage) reports the stores it would stage; O(action=restore) changes nothing.
  diff_mode:
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

from ansible_collections.octant.openclaw.plugins.module_utils._gateway_state import run_gateway_state  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402

OPTIONS = {
    "path": {"type": "path", "required": True},
    "action": {"type": "str", "required": True, "choices": ["stage", "newer", "restore"]},
    "scopes": {"type": "list", "elements": "str", "default": []},
    "since": {"type": "float"},
    "restored": {"type": "path"},
}


def main():
    module = OpenClawModule(OPTIONS, required_if=[("action", "newer", ("since",)),
                                                  ("action", "restore", ("restored",))])
    module.run(run_gateway_state)


if __name__ == "__main__":
    main()
