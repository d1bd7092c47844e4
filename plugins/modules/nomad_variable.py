#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_variable
short_description: Manage a Nomad Variable (secret items) with check-and-set, never showing a value
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Makes the Nomad Variable at O(path) hold O(items), or deletes it.
  - Reads the variable once and writes only when something differs, with check-and-set (C(?cas=<ModifyIndex>),
    or C(?cas=0) when creating). If the variable changed between the read and the write (HTTP 409), the task
    fails naming the path and says it changed since it was read; it never overwrites that change.
  - Item values are secrets. They are marked no_log, every value read from or written to Nomad is registered
    so Ansible masks it anywhere in the output, and neither the results nor the diff nor an error message ever
    contain a value. Results and diff name the item KEYS only, with whether they are added, changed or removed.
  - "Jobs read their own variables at C(nomad/jobs/<job>) in a template, for example
    C({{ with nomadVar \"nomad/jobs/gateway\" }}{{ .ANTHROPIC_API_KEY }}{{ end }})."
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.nomad, octant.openclaw.nomad.actiongroup]
attributes:
  check_mode:
    support: full
    details: Reads the variable once and reports the item keys that would change.
  diff_mode:
    support: full
    details: The item keys added, changed and removed; never a value.
options:
  path:
    description:
      - The variable path, for example V(nomad/jobs/openclaw-gateway-jerry). 1 to 128 characters of letters,
        digits, C(-), C(_), C(~) and C(/); V(nomad) alone is reserved.
    type: str
    required: true
  items:
    description:
      - The items (key to string value). Numbers become their text, booleans V(true)/V(false); lists, dicts
        and null are refused.
      - With O(purge_items=true) (the default) this is the complete content of the variable; keys not listed
        are removed. With O(purge_items=false) the items are merged into the current ones.
      - Required with O(state=present); ignored with O(state=absent).
    type: dict
  state:
    description:
      - V(present) makes the variable hold O(items); V(absent) deletes the whole variable (a missing one is
        left alone and reported unchanged).
    type: str
    choices: [present, absent]
    default: present
  purge_items:
    description:
      - V(true) (the default) means O(items) is the complete set of items. V(false) sets and updates only
        the listed keys and keeps the others.
    type: bool
    default: true
  nomad_namespace:
    description:
      - Nomad namespace of the variable. Falls back to E(NOMAD_NAMESPACE); Nomad's default is V(default).
      - Passed on every call (python-nomad's own variable calls would ignore a client-wide namespace).
    type: str
    aliases: [namespace]
notes:
  - An unchanged re-run makes one request (the read) and no write.
  - A write carries the complete items of the variable (Nomad has no per-item update), always with CAS.
seealso:
  - module: octant.openclaw.nomad_job
  - name: Nomad Variables API
    description: The API this module uses.
    link: https://developer.hashicorp.com/nomad/api-docs/variables/variables
"""

EXAMPLES = r"""
- name: Store the gateway's secrets for its template (complete set)
  octant.openclaw.nomad_variable:
    path: nomad/jobs/openclaw-gateway-jerry
    items:
      OPENCLAW_GATEWAY_TOKEN: "{{ lookup('octant.openclaw.onepassword', 'op://homelab/openclaw/gateway-token') }}"
      ANTHROPIC_API_KEY: "{{ lookup('octant.openclaw.onepassword', 'op://homelab/anthropic/credential') }}"
  delegate_to: localhost
  run_once: true

- name: Add one key, keep the others
  octant.openclaw.nomad_variable:
    path: nomad/jobs/openclaw-gateway-jerry
    items:
      DISCORD_BOT_TOKEN: "{{ discord_token }}"
    purge_items: false
  delegate_to: localhost

- name: Delete the variable of a removed gateway
  octant.openclaw.nomad_variable:
    path: nomad/jobs/openclaw-gateway-old
    state: absent
    namespace: default
  delegate_to: localhost
"""

RETURN = r"""
path:
  description: The variable path.
  returned: always
  type: str
  sample: nomad/jobs/openclaw-gateway-jerry
namespace:
  description: The namespace of the variable.
  returned: always
  type: str
  sample: default
modify_index:
  description: The variable's ModifyIndex after the task; null when it does not exist (after a delete).
  returned: always
  type: int
  sample: 2201
keys:
  description: The item keys the variable holds after the task (never the values).
  returned: always
  type: list
  elements: str
  sample: [ANTHROPIC_API_KEY, OPENCLAW_GATEWAY_TOKEN]
added_keys:
  description: Keys added (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
changed_keys:
  description: Keys whose value changes.
  returned: always
  type: list
  elements: str
removed_keys:
  description: Keys removed.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import NOMAD, NomadApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._nomad_variable import run_variable  # noqa: E402

OPTIONS = {
    # A variable's namespace is usually given as `namespace`.
    "nomad_namespace": dict(NOMAD.argument_spec()["nomad_namespace"], aliases=["namespace"]),
    "path": {"type": "str", "required": True},
    "items": {"type": "dict", "no_log": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "purge_items": {"type": "bool", "default": True},
}


def main():
    module = OpenClawModule(OPTIONS, services=(NOMAD,))
    module.run(run_variable, NomadApi(module.params))


if __name__ == "__main__":
    main()
