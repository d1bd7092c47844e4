#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_acl
short_description: Manage a set of Consul ACL policies and tokens in one task
version_added: 0.1.0
description:
  - Applies every entry of O(policies), then every entry of O(tokens), in one module run instead of
    one task (or loop item) per policy and per token. Each entry means exactly what the same options
    mean to M(octant.openclaw.consul_acl_policy) and M(octant.openclaw.consul_acl_token), and is
    applied by the same code.
  - Reads two entries would repeat are done once. The token list (C(GET /v1/acl/tokens)) is read at
    most once, and only when a token's AccessorID is unknown. A Nomad Variable is read once per path,
    however many tokens store their SecretID in it.
  - A SecretID is never returned. A token to create needs O(tokens[].store_secret_in); without it the
    entry fails before the token is created.
  - Entries are applied in order. When one fails, the task fails with the entry, the entries done
    before it (and what was done to each, also in RV(policies) and RV(tokens)) and how many were not
    tried. A re-run continues where it stopped, because every entry is idempotent.
  - The Nomad connection options are used only by tokens with O(tokens[].store_secret_in).
author:
  - octant.openclaw contributors (@octant)
extends_documentation_fragment:
  - octant.openclaw.attributes
  - octant.openclaw.consul
  - octant.openclaw.consul.actiongroup
  - octant.openclaw.nomad
attributes:
  check_mode:
    support: full
    details: Reads only (policies, tokens or the token list, and the Nomad Variables of O(tokens[].store_secret_in)).
  diff_mode:
    support: full
    details: One diff per changed entry, its header naming the policy or token; never a secret.
options:
  policies:
    description:
      - The ACL policies, applied before the tokens. Each takes the options of
        M(octant.openclaw.consul_acl_policy).
      - Two entries with the same O(policies[].name) fail the task before any call.
    type: list
    elements: dict
    default: []
    suboptions:
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
          - The policy's rules in Consul's HCL rule syntax or as JSON, compared by meaning.
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
  tokens:
    description:
      - The ACL tokens, applied after the policies. Each takes the options of
        M(octant.openclaw.consul_acl_token); the description identifies the token.
      - Two entries with the same O(tokens[].description) fail the task before any call.
    type: list
    elements: dict
    default: []
    suboptions:
      description:
        description:
          - The token's description; what makes it unique.
        type: str
        required: true
      policies:
        description:
          - Names of the policies linked to the token. When omitted, an existing token keeps its policies.
        type: list
        elements: str
      roles:
        description:
          - Names of the roles linked to the token. When omitted, an existing token keeps its roles.
        type: list
        elements: str
      local:
        description:
          - Whether the token is local to its datacenter. Consul cannot change this on an existing token;
            a difference fails the entry.
        type: bool
      accessor_id:
        description:
          - The AccessorID of the token, when known, so it is read directly instead of listing every token.
        type: str
      expiration_ttl:
        description:
          - Time to live of a new token, for example V(720h). Only used when the token is created.
        type: str
      store_secret_in:
        description:
          - Write the SecretID of the token into an item of a Nomad Variable (with check-and-set, keeping the
            variable's other items). Needed to create a token.
        type: dict
        suboptions:
          path:
            description:
              - Path of the variable, for example V(nomad/jobs/openclaw-bus-jerry).
            type: str
            required: true
          item:
            description:
              - Item of the variable that holds the SecretID.
            type: str
            default: CONSUL_HTTP_TOKEN
          accessor_item:
            description:
              - Item of the variable that holds the token's AccessorID, so the next run reads the token directly.
              - Defaults to O(tokens[].store_secret_in.item) followed by V(_ACCESSOR); V("") turns it off.
            type: str
          namespace:
            description:
              - Nomad namespace of the variable; defaults to O(nomad_namespace).
            type: str
      state:
        description:
          - Whether the token should exist. V(absent) does not touch a Nomad Variable the SecretID was stored in.
        type: str
        choices: [present, absent]
        default: present
notes:
  - The Consul token needs C(acl = "write") (C(acl = "read") in check mode or when nothing changes) and, for
    O(tokens[].store_secret_in), to read an existing token's SecretID; the Nomad token needs write on the
    variables' paths.
seealso:
  - module: octant.openclaw.consul_acl_policy
  - module: octant.openclaw.consul_acl_token
"""

EXAMPLES = r"""
- name: Two agents' bus policies and tokens, the SecretIDs straight into the bus job's Nomad Variable
  octant.openclaw.consul_acl:
    policies:
      - name: openclaw-bus-agent-bobby
        description: bus access of agent bobby
        rules: |
          key_prefix "openclaw/bus/bobby/in/" {
            policy = "read"
          }
      - name: openclaw-bus-agent-billy
        rules: 'key_prefix "openclaw/bus/billy/in/" { policy = "read" }'
    tokens:
      - description: openclaw-bus agent bobby
        policies: [openclaw-bus-agent-bobby]
        store_secret_in:
          path: nomad/jobs/openclaw-bus-jerry
          item: BUS_CONSUL_TOKEN_BOBBY
      - description: openclaw-bus agent billy
        policies: [openclaw-bus-agent-billy]
        store_secret_in:
          path: nomad/jobs/openclaw-bus-jerry
          item: BUS_CONSUL_TOKEN_BILLY
  delegate_to: localhost
  run_once: true

- name: Retire an agent (Consul unlinks a deleted policy from the tokens that name it)
  octant.openclaw.consul_acl:
    tokens:
      - description: openclaw-bus agent billy
        state: absent
    policies:
      - name: openclaw-bus-agent-billy
        state: absent
"""

RETURN = r"""
policies:
  description: One entry per O(policies) entry, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The policy's name.
      type: str
      sample: openclaw-bus-agent-bobby
    operation:
      description: What was (or in check mode would be) done.
      type: str
      choices: [none, create, update, delete]
      sample: create
    changes:
      description: Which parts of an existing policy differ (V(policy) when it is created).
      type: list
      elements: str
      sample: [rules]
tokens:
  description: One entry per O(tokens) entry, in order. Never a SecretID.
  returned: always
  type: list
  elements: dict
  contains:
    description:
      description: The token's description.
      type: str
      sample: openclaw-bus agent bobby
    operation:
      description: What was (or in check mode would be) done; V(store) when only the Nomad Variable was written.
      type: str
      choices: [none, create, update, delete, store]
      sample: create
    changes:
      description:
        - What differs on an existing token (V(token) when created); V(stored_secret) and
          V(stored_accessor) when the Nomad Variable's items were written.
      type: list
      elements: str
      sample: [policies]
    secret_stored:
      description: Whether the Nomad Variable holds the token's SecretID after the task.
      type: bool
      sample: true
    token:
      description: The token after the task, its public fields only (C(null) when absent).
      type: dict
      sample:
        AccessorID: 6a1253d2-1785-24fd-91c2-f8e78c745511
        Description: openclaw-bus agent bobby
        Policies: [{ID: 5e52a099-4c90-c067-5478-980f06be9af5, Name: openclaw-bus-agent-bobby}]
        Roles: []
        Local: false
failed_entry:
  description:
    - When an entry failed, its name or description, V(policy) or V(token) in C(kind), and what was
      already done to it (a token created whose SecretID could not be stored). The entries before it
      are in RV(policies) and RV(tokens).
  returned: on failure of an entry
  type: dict
  sample: {kind: token, description: openclaw-bus agent billy}
"""

from ansible_collections.octant.openclaw.plugins.module_utils._consul import CONSUL, ConsulApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._consul_acl import (  # noqa: E402
    POLICY_OPTIONS,
    TOKEN_OPTIONS,
)
from ansible_collections.octant.openclaw.plugins.module_utils._consul_acl_set import run_acl_set  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import NOMAD, NomadApi  # noqa: E402

OPTIONS = dict(
    policies=dict(type="list", elements="dict", default=[], options=POLICY_OPTIONS),
    tokens=dict(type="list", elements="dict", default=[], options=TOKEN_OPTIONS, no_log=False),
)


def main():
    # Nomad only for store_secret_in (the SecretIDs go into Nomad Variables).
    module = OpenClawModule(OPTIONS, services=(CONSUL, NOMAD), requires=(CONSUL,))
    module.require(NOMAD, when=any(t["store_secret_in"] for t in module.params["tokens"]))
    module.run(run_acl_set, ConsulApi(module.params), nomad_factory=lambda: NomadApi(module.params))


if __name__ == "__main__":
    main()
