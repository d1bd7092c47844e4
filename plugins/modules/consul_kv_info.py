#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_kv_info
short_description: Read one Consul KV key or every key under a prefix
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Reads one key (O(key)) or a whole tree (O(prefix), B(one) recursive GET) and returns the values
    as text, keys relative to the prefix, with the Consul index of the read.
  - With O(parse_json), values that are JSON documents (objects, lists, numbers, booleans, strings in
    quotes) are returned parsed, which is how M(octant.openclaw.consul_kv) stores dictionaries and
    lists; other values stay text.
  - A missing key or an empty prefix is not an error (RV(exists) is false, RV(tree) is empty).
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.attributes.info_module,
                                 octant.openclaw.consul, octant.openclaw.consul.actiongroup]
options:
  key:
    description: One key to read.
    type: str
  prefix:
    description: A prefix whose keys are all read with one recursive GET.
    type: str
  parse_json:
    description: Return values that parse as JSON parsed (dictionaries, lists, numbers, booleans).
    type: bool
    default: true
notes:
  - Needs C(key_prefix "<prefix>" { policy = "read" }) (or C(key) read) in the token's policy.
"""

EXAMPLES = r"""
- name: Read the agent registry
  octant.openclaw.consul_kv_info:
    prefix: openclaw/agents
  register: registry

- name: Where does agent bobby live?
  ansible.builtin.debug:
    msg: "{{ registry.tree['bobby/gateway'] | default('not registered') }}"

- name: Read one key
  octant.openclaw.consul_kv_info:
    key: openclaw/registry/schema_version
  register: schema
"""

RETURN = r"""
exists:
  description: Whether the key exists (key mode), or whether any key is under the prefix (prefix mode).
  returned: always
  type: bool
value:
  description: The key's value (text, or parsed JSON with O(parse_json)); null when the key does not exist.
  returned: key mode
  type: raw
tree:
  description: Every key under the prefix, relative to it, mapped to its value.
  returned: prefix mode
  type: dict
  sample: {"bobby/gateway": "bobby", "bobby/capabilities": ["monitoring"]}
index:
  description: The largest ModifyIndex of what was read (0 when nothing exists).
  returned: always
  type: int
"""

from ansible_collections.octant.openclaw.plugins.module_utils._consul import CONSUL, ConsulApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._consul_kv import run_kv_info  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402

OPTIONS = dict(
    key=dict(type="str", no_log=False),
    prefix=dict(type="str"),
    parse_json=dict(type="bool", default=True),
)


def main():
    module = OpenClawModule(OPTIONS, services=(CONSUL,), mutually_exclusive=[("key", "prefix")],
                            required_one_of=[("key", "prefix")])
    module.run(run_kv_info, ConsulApi(module.params))


if __name__ == "__main__":
    main()
