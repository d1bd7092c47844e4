#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_kv_restore
short_description: Put a backed-up openclaw/ KV tree back without overwriting or redelivering anything
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Takes the export C(playbooks/backup.yml) writes (C(consul-kv.json)) and creates every key of it that is gone
    now, each with check-and-set 0, so nothing written since is overwritten.
  - Bus messages the recipient already processed (at or below its high-water mark for the sender, or with a
    messageId the mark remembers) are not put back, so a restore never delivers a message twice. The registry's
    gateway keys (held by the bus processes' sessions) and C(openclaw/backup/) are never restored.
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.consul,
                                 octant.openclaw.consul.actiongroup]
attributes:
  check_mode:
    support: full
    details: Reads only and reports the keys it would create.
  diff_mode:
    support: full
    details: None.
options:
  export:
    description: "The export, C({prefix: openclaw/, tree: {relative key: text value}})."
    type: dict
    required: true
notes:
  - Needs C(key_prefix "openclaw/" { policy = "write" }).
"""

EXAMPLES = r"""
- name: Restore the registry and the undelivered bus messages
  octant.openclaw.consul_kv_restore:
    export: "{{ lookup('ansible.builtin.file', 'consul-kv.json') | from_json }}"
"""

RETURN = r"""
restored:
  description: Keys created (or in check mode to be created), relative to the prefix.
  returned: always
  type: list
  elements: str
delivered:
  description: Bus messages of the export left out because their recipient had processed them.
  returned: always
  type: list
  elements: str
skipped:
  description: Keys left out by rule (live registry gateway keys, the backup's bookkeeping).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.octant.openclaw.plugins.module_utils._consul import CONSUL, ConsulApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._kv_restore import run_restore  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402

OPTIONS = dict(export=dict(type="dict", required=True))


def main():
    module = OpenClawModule(OPTIONS, services=(CONSUL,))
    module.run(run_restore, ConsulApi(module.params))


if __name__ == "__main__":
    main()
