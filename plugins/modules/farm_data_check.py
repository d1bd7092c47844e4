#!/usr/bin/python
# Copyright: octant.openclaw contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License v3.0
# under which Ansible itself is distributed.

from __future__ import annotations

DOCUMENTATION = r"""
module: farm_data_check
short_description: Check that the farm variables are plain data before they are passed to a module
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Reads C(openclaw_version) and the C(farm_*) variables of the play on the controller and reports every value that
    is not plain data (strings, numbers, booleans, null, lists and mappings), each with its path, what is wrong and
    how to fix it; a YAML alias inside its own anchor (a cycle), C(!!binary) values, unquoted dates and timestamps,
    C(!!set) values and nesting deeper than 32 levels.
  - Such values would otherwise stop the play while Ansible prepares the arguments of
    M(octant.openclaw.farm_validate), with no path to the value. The C(octant.openclaw.preflight) role runs this
    first; it never changes anything.
extends_documentation_fragment: [octant.openclaw.attributes]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on
      the controller.
    support: full
options: {}
notes:
  - An action plugin only; it runs on the controller.
seealso:
  - module: octant.openclaw.farm_validate
"""

EXAMPLES = r"""
- name: Check that the farm variables are plain data
  octant.openclaw.farm_data_check:
  run_once: true
"""

RETURN = r"""
problems:
  description: Every value that is not plain data; empty when there is none.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "farm_gateways[0].image", "msg": "is binary data (a !!binary value), not text",
            "fix": "write text instead; a secret belongs in 1Password, written here as its op:// reference"}]
"""

from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402


def main():
    module = OpenClawModule({})
    module.fail("octant.openclaw.farm_data_check runs as an action plugin on the controller")


if __name__ == "__main__":
    main()
