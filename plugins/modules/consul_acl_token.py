#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_acl_token
short_description: Manage a Consul ACL token, found by its description, without ever leaking its SecretID
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Creates, updates or deletes the Consul ACL token whose description is O(description). The
    description is the token's identity for this module, so a re-run never creates a second
    token; when several tokens share the description the module fails and lists their
    AccessorIDs.
  - Policies and roles are given by name and compared as sets.
  - "The SecretID of a token is never returned for an existing token. For a token the task
    creates it goes to exactly one place: with O(store_secret_in), straight into an item of a Nomad
    Variable (written with check-and-set, keeping the variable's other items), and the result
    holds no SecretID at all; without it, only to a task that has C(no_log: true), in
    RV(secret_id). A task that would print or lose the SecretID (neither) fails before creating
    anything."
  - With O(store_secret_in), a re-run also makes sure the variable holds the token's current
    SecretID (read from Consul, compared in memory), so a run that created the token but could not
    store it is repaired by the next one.
  - A token whose AccessorID is known is read directly with C(GET /v1/acl/token/<accessor>). The
    AccessorID comes from O(accessor_id) or, with O(store_secret_in), from the accessor item the
    module writes beside the SecretID. The token list (C(GET /v1/acl/tokens)), which grows with the
    cluster, is read only when the AccessorID is unknown, names no token, or names a token with
    another description; so a re-run of a stored token reads one token and one variable. A token
    read directly is not checked for duplicates of its description (that needs the list).
  - The Nomad connection options (and the Nomad library) are used only with O(store_secret_in).
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.consul,
                                 octant.openclaw.consul.actiongroup, octant.openclaw.nomad]
attributes:
  check_mode:
    support: full
    details: Reads only (the token or the token list and, with O(store_secret_in), the variable).
  diff_mode:
    support: full
    details: Shows description, policies, roles and local; never a secret.
options:
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
        a difference fails the task.
    type: bool
  accessor_id:
    description:
      - The AccessorID of the token, when known, so it is read directly instead of listing every token.
      - It only finds the token; the token must still have O(description). When Consul does not know it,
        or it belongs to a token with another description, the module falls back to the token list.
      - Not a secret (Consul shows AccessorIDs in listings and audit logs).
    type: str
  expiration_ttl:
    description:
      - Time to live of a new token, for example V(720h). Only used when the token is created.
    type: str
  store_secret_in:
    description:
      - Write the SecretID of the token into an item of a Nomad Variable instead of returning it.
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
          - Item of the variable that holds the token's AccessorID, written in the same check-and-set write
            as the SecretID, so the next run reads the token directly.
          - Defaults to O(store_secret_in.item) followed by V(_ACCESSOR), for example V(CONSUL_HTTP_TOKEN_ACCESSOR).
          - V("") turns it off (every run then lists the tokens). A job template that renders the whole
            variable into the environment gets this item as one more variable; templates that name their
            keys do not.
        type: str
      namespace:
        description:
          - Nomad namespace of the variable; defaults to O(nomad_namespace).
        type: str
  state:
    description:
      - Whether the token should exist. V(absent) deletes it (it fails when several tokens share the
        description rather than guessing). V(absent) does not touch a Nomad Variable the SecretID was
        stored in.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The Consul token needs C(acl = "write") to change tokens and to read an existing token's
    SecretID for O(store_secret_in); the Nomad token needs write on the variable's path.
seealso:
  - module: octant.openclaw.consul_acl_policy
  - module: octant.openclaw.nomad_variable
"""

EXAMPLES = r"""
- name: The bus token of agent bobby, its SecretID straight into the job's Nomad Variable
  octant.openclaw.consul_acl_token:
    description: openclaw bus agent bobby
    policies: [openclaw-agent-bobby]
    store_secret_in:
      path: nomad/jobs/openclaw-gateway-bobby
      item: OPENCLAW_BUS_CONSUL_TOKEN
  delegate_to: localhost
  run_once: true

- name: A token whose SecretID the play needs (the task must be no_log)
  octant.openclaw.consul_acl_token:
    description: openclaw ci reader
    policies: [openclaw-readonly]
    expiration_ttl: 24h
  no_log: true
  register: ci_token

- name: Remove a token
  octant.openclaw.consul_acl_token:
    description: openclaw bus agent old
    state: absent
"""

RETURN = r"""
operation:
  description: What was (or in check mode would be) done; V(store) when only the Nomad Variable was written.
  returned: always
  type: str
  choices: [none, create, update, delete, store]
  sample: create
changes:
  description:
    - What differs on an existing token (V(token) when created).
    - V(stored_secret) and V(stored_accessor) when the Nomad Variable's SecretID or AccessorID item was written.
  returned: when O(state=present)
  type: list
  elements: str
  sample: [policies]
token:
  description: The token after the task, without its SecretID (C(null) when absent).
  returned: always
  type: dict
  sample:
    AccessorID: 6a1253d2-1785-24fd-91c2-f8e78c745511
    Description: openclaw bus agent bobby
    Policies: [{ID: 5e52a099-4c90-c067-5478-980f06be9af5, Name: openclaw-agent-bobby}]
    Roles: []
    Local: false
secret_id:
  description: The SecretID of the token, only when this task created it, without O(store_secret_in), in a no_log task.
  returned: when created by a no_log task without store_secret_in
  type: str
secret_stored:
  description: Whether the Nomad Variable holds the token's SecretID after the task.
  returned: with O(store_secret_in)
  type: bool
  sample: true
"""

from ansible_collections.octant.openclaw.plugins.module_utils._consul import CONSUL, ConsulApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._consul_acl import TOKEN_OPTIONS, run_token  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import NOMAD, NomadApi  # noqa: E402

OPTIONS = TOKEN_OPTIONS


def main():
    # Nomad only for store_secret_in (the SecretID goes into a Nomad Variable).
    module = OpenClawModule(OPTIONS, services=(CONSUL, NOMAD), requires=(CONSUL,))
    module.require(NOMAD, when=module.params["store_secret_in"])
    module.run(run_token, ConsulApi(module.params), nomad_factory=lambda: NomadApi(module.params))


if __name__ == "__main__":
    main()
