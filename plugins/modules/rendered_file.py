#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rendered_file
short_description: Write a rendered file on a node without silently overwriting someone else's edits to it
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Writes O(content) to O(path) and keeps the sha256 of what it wrote in a JSON record O(record) (keep it outside
    every folder a container mounts). For files that something else rewrites too, such as OpenClaw's config, which
    the gateway rewrites on Control UI edits and plugin installs.
  - "Compares the file on the node with the record and with O(content); RV(action) is one of: V(create) (no file:
    written), V(ok) (already O(content): left alone, the record brought up to date), V(update) (the file is what was
    last rendered, so the rendering changed: replaced, with a backup), V(force) (edited by someone else and
    O(force=true): replaced, with a backup) or V(drift) (edited by someone else: the module fails with
    O(on_drift=fail), or keeps the file and warns with O(on_drift=warn))."
  - A file without a record (or with an unreadable one) that differs from O(content) counts as edited.
  - Backups are named C(<path>.<pid>.<timestamp>~), next to the file. Owner, group and mode are applied to a file
    the module writes (the record gets O(record_mode)); a file left alone is not touched.
extends_documentation_fragment: [octant.openclaw.attributes, ansible.builtin.files]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The file's content before and after, when it is (or would be) written; the record is not shown.
options:
  path:
    description: The file on the node. Its folder must exist.
    type: path
    required: true
  content:
    description:
      - What the file must hold (text, written as UTF-8).
      - It appears in diffs and in C(-vvv) output, so it must hold no secret (the collection's configs refer to
        secrets in the environment).
    type: str
    required: true
  record:
    description: The JSON file that keeps the sha256 of what was last rendered (C({managed_by, path, sha256})).
    type: path
    required: true
  managed_by:
    description: Written into the record, to say which role owns the file.
    type: str
    default: octant.openclaw
  on_drift:
    description:
      - What to do when the file was edited since it was last rendered (and O(force) is false). V(fail) stops before
        anything is written; V(warn) keeps the edited file, warns and reports RV(action=drift).
    type: str
    choices: [fail, warn]
    default: fail
  force:
    description: Overwrite an edited file anyway (the previous file is kept as a timestamped backup next to it).
    type: bool
    default: false
  record_mode:
    description: Mode of the record.
    type: raw
    default: "0600"
  label:
    description: How messages name the file (for example C(<path> on <host>)); O(path) when not set.
    type: str
  reason:
    description: Why the file may have been edited on the node, said in the failure message.
    type: str
    default: ""
  force_option:
    description: The name of the setting a user changes to force, in messages (a role gives its own variable's name).
    type: str
    default: force
  on_drift_option:
    description: The name of the setting a user changes to only be warned, in messages.
    type: str
    default: on_drift
seealso:
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: OpenClaw config of gateway main
  octant.openclaw.rendered_file:
    path: /opt/homelab/data/openclaw/main/config/openclaw.json
    content: "{{ openclaw_farm | octant.openclaw.openclaw_config('main') | ansible.builtin.to_nice_json(indent=2) }}\n"
    record: /opt/homelab/data/openclaw/main/managed/config.json
    managed_by: octant.openclaw.gateway
    owner: hashi
    group: hashi
    mode: "0640"
    on_drift: warn
    label: "/opt/homelab/data/openclaw/main/config/openclaw.json on {{ inventory_hostname }}"
  register: config

- name: Say when the config on the node was kept because someone edited it
  ansible.builtin.debug:
    msg: "{{ config.msg }}"
  when: config.action == 'drift'
"""

RETURN = r"""
action:
  description: What the file needed (see the description); V(drift) only with O(on_drift=warn).
  returned: success
  type: str
  choices: [create, ok, update, force, drift]
  sample: update
path:
  description: O(path).
  returned: always
  type: str
current:
  description: sha256 of the file found on the node; empty when there was none.
  returned: success
  type: str
recorded:
  description: sha256 in the record; empty when there was no readable record.
  returned: success
  type: str
want:
  description: sha256 of O(content).
  returned: success
  type: str
backup_file:
  description: The backup of the replaced file (in check mode, the name it would get).
  returned: when a file was (or would be) replaced
  type: str
  sample: /opt/homelab/data/openclaw/main/config/openclaw.json.4242.2026-09-30@12:00:00~
msg:
  description: What happened, in one sentence; the warning itself for V(drift) and V(force).
  returned: always
  type: str
"""

from ansible_collections.octant.openclaw.plugins.module_utils import _rendered_file as rf  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402

OPTIONS = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "required": True},
    "record": {"type": "path", "required": True},
    "managed_by": {"type": "str", "default": "octant.openclaw"},
    "on_drift": {"type": "str", "default": "fail", "choices": ["fail", "warn"]},
    "force": {"type": "bool", "default": False},
    "record_mode": {"type": "raw", "default": "0600"},
    "label": {"type": "str"},
    "reason": {"type": "str", "default": ""},
    "force_option": {"type": "str", "default": "force"},
    "on_drift_option": {"type": "str", "default": "on_drift"},
}


def main():
    module = OpenClawModule(OPTIONS, add_file_common_args=True)
    module.run(rf.run_rendered_file, module.module)


if __name__ == "__main__":
    main()
