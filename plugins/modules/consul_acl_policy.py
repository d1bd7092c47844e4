#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_acl_policy
short_description: Manage a Consul ACL policy, idempotent by name, rules compared by meaning
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Creates, updates or deletes the Consul ACL policy with the given O(name). The policy is read
    once by name; nothing is written when it already matches.
  - O(rules) are compared by meaning, not as text. HCL or JSON, whitespace, comments, the order of
    blocks and attributes, commas and quoting make no difference. A policy whose rules differ only
    that way is left alone. The diff shows the rules in a canonical HCL form, so it shows only
    what really changes.
  - Options that are not given keep the policy's current value (an update sends them back
    unchanged).
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.consul,
                                 octant.openclaw.consul.actiongroup]
attributes:
  check_mode:
    support: full
    details: Reads only (the policy, found by name).
  diff_mode:
    support: full
    details: Shows name, description, datacenters and the rules in canonical HCL, only when something changes.
options:
  name:
    description:
      - Name of the policy; what makes it unique.
    type: str
    required: true
  description:
    description:
      - Description of the policy.
    type: str
  rules:
    description:
      - The policy's rules in Consul's HCL rule syntax or as JSON.
      - The module parses them before calling Consul and fails with the line of a syntax error.
      - When creating a policy without rules, it gets empty rules.
    type: str
  datacenters:
    description:
      - Datacenters the policy is valid in; empty means all.
    type: list
    elements: str
  state:
    description:
      - Whether the policy should exist.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The Consul token needs C(acl = "write") (C(acl = "read") in check mode or when nothing changes).
seealso:
  - module: octant.openclaw.consul_acl_token
  - name: Consul ACL rules reference
    description: The rule syntax.
    link: https://developer.hashicorp.com/consul/docs/security/acl/acl-rules
"""

EXAMPLES = r"""
- name: An agent's bus policy (it may write only into the inboxes it may reach)
  octant.openclaw.consul_acl_policy:
    name: openclaw-agent-bobby
    description: bus access of agent bobby
    rules: |
      key_prefix "openclaw/bus/bobby/in/" {
        policy = "read"
      }
      key_prefix "openclaw/bus/jerry/in/bobby/" {
        policy = "write"
      }
      session_prefix "" {
        policy = "write"
      }
  delegate_to: localhost
  run_once: true

- name: The same policy in JSON is the same policy (no change)
  octant.openclaw.consul_acl_policy:
    name: openclaw-agent-bobby
    rules: >-
      {"session_prefix": {"": {"policy": "write"}},
       "key_prefix": {"openclaw/bus/jerry/in/bobby/": {"policy": "write"},
                      "openclaw/bus/bobby/in/": {"policy": "read"}}}

- name: Remove it
  octant.openclaw.consul_acl_policy:
    name: openclaw-agent-bobby
    state: absent
"""

RETURN = r"""
operation:
  description: What was (or in check mode would be) done.
  returned: always
  type: str
  choices: [none, create, update, delete]
  sample: update
changes:
  description: Which parts of an existing policy differ (V(policy) when it is created).
  returned: when O(state=present)
  type: list
  elements: str
  sample: [rules]
policy:
  description: The policy after the task (C(null) when absent). In check mode, the policy as it would be.
  returned: always
  type: dict
  sample:
    ID: 5e52a099-4c90-c067-5478-980f06be9af5
    Name: openclaw-agent-bobby
    Description: bus access of agent bobby
    Rules: 'key_prefix "openclaw/bus/bobby/in/" { policy = "read" }'
    Datacenters: []
"""

from ansible_collections.octant.openclaw.plugins.module_utils._consul import CONSUL, ConsulApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._consul_acl import POLICY_OPTIONS, run_policy  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402

OPTIONS = POLICY_OPTIONS


def main():
    module = OpenClawModule(OPTIONS, services=(CONSUL,))
    module.run(run_policy, ConsulApi(module.params))


if __name__ == "__main__":
    main()
