#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_session
short_description: Create, renew or destroy a Consul session, idempotent by name and node
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Finds the session named O(name) among the sessions of O(node) (one read) and creates it when
    it is missing, renews it with O(state=renewed), or destroys it with O(state=absent).
  - Consul sessions cannot be changed. When the existing session's settings differ from the
    options the task fails and names them, unless O(recreate=true) (which destroys it, releasing
    or deleting its locks per its behavior, and creates it again).
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.consul,
                                 octant.openclaw.consul.actiongroup]
attributes:
  check_mode:
    support: full
    details: Reads only (the sessions of the node).
  diff_mode:
    support: full
    details: Shows the session's settings when it is created or recreated.
options:
  name:
    description:
      - Name of the session; with O(node), what makes it unique.
    type: str
    required: true
  node:
    description:
      - Node the session belongs to. Defaults to the node of the Consul agent the module talks to
        (one more read).
    type: str
  ttl:
    description:
      - Time to live (V(10s) to V(24h)), as a duration or a number of seconds. A TTL session must be
        renewed (O(state=renewed)) before it expires; Consul may take up to twice the TTL to
        invalidate it. Without it the session lives as long as its checks pass.
    type: str
  behavior:
    description:
      - What happens to the keys the session locks when it is invalidated.
    type: str
    choices: [release, delete]
    default: release
  lock_delay:
    description:
      - Time (at most V(60s)) during which a lock released by invalidation cannot be acquired again.
    type: str
    default: 15s
  node_checks:
    description:
      - Node health checks tied to the session (Consul's default is V(serfHealth)). An empty list gives
        a session that only depends on its TTL.
    type: list
    elements: str
  service_checks:
    description:
      - Service health checks tied to the session.
    type: list
    elements: dict
    suboptions:
      id:
        description: The check ID, for example V(service:openclaw-bus-jerry).
        type: str
        required: true
      namespace:
        description: Namespace of the service (Consul Enterprise).
        type: str
  checks:
    description:
      - Health checks tied to the session with the pre-1.7 C(Checks) field. Prefer O(node_checks).
    type: list
    elements: str
  recreate:
    description:
      - Destroy and create the session again when its settings differ, instead of failing.
    type: bool
    default: false
  state:
    description:
      - V(present) makes sure the session exists.
      - V(renewed) makes sure it exists and renews its TTL (changed when a TTL session was renewed or the
        session was created; a session without TTL needs no renewal).
      - V(absent) destroys every session with this name on the node.
    type: str
    choices: [present, renewed, absent]
    default: present
notes:
  - The Consul token needs C(session "<node>" { policy = "write" }) (read to only look).
seealso:
  - module: octant.openclaw.consul_kv
  - name: Consul sessions
    description: Sessions, locks and their invalidation.
    link: https://developer.hashicorp.com/consul/docs/dynamic-app-config/sessions
"""

EXAMPLES = r"""
# A renewal states the same settings as the creation (a session whose settings differ fails the task).
- name: The bus leader lock's TTL session on jerry
  module_defaults:
    octant.openclaw.consul_session:
      name: openclaw-bus-leader
      node: jerry
      ttl: 30s
      behavior: delete
      node_checks: []
  block:
    - name: Create it
      octant.openclaw.consul_session:
      register: leader_session

    - name: Keep it alive (in a scheduled job)
      octant.openclaw.consul_session:
        state: renewed

- name: Destroy it
  octant.openclaw.consul_session:
    name: openclaw-bus-leader
    node: jerry
    state: absent
"""

RETURN = r"""
id:
  description: ID of the session (C(null) when absent, or when it would be created in check mode).
  returned: always
  type: str
  sample: adf4238a-882b-9ddc-4a9d-5b6758e4159e
destroyed:
  description: IDs of the sessions destroyed.
  returned: when O(state=absent) destroyed something
  type: list
  elements: str
operation:
  description: What was (or in check mode would be) done.
  returned: always
  type: str
  choices: [none, create, recreate, renew, destroy]
  sample: create
changes:
  description: Settings in which the existing session differed (with O(recreate=true)).
  returned: when O(state) is not V(absent)
  type: list
  elements: str
  sample: []
session:
  description: The session as Consul describes it (after a renewal), or as it was created.
  returned: always
  type: dict
  sample:
    ID: adf4238a-882b-9ddc-4a9d-5b6758e4159e
    Name: openclaw-bus-leader
    Node: jerry
    TTL: 30s
    Behavior: delete
    LockDelay: 15s
    NodeChecks: []
"""

from ansible_collections.octant.openclaw.plugins.module_utils._consul import CONSUL, ConsulApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._consul_session import run_session  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402

OPTIONS = dict(
    name=dict(type="str", required=True),
    node=dict(type="str"),
    ttl=dict(type="str"),
    behavior=dict(type="str", default="release", choices=["release", "delete"]),
    lock_delay=dict(type="str", default="15s"),
    node_checks=dict(type="list", elements="str"),
    service_checks=dict(type="list", elements="dict", options=dict(
        id=dict(type="str", required=True),
        namespace=dict(type="str"),
    )),
    checks=dict(type="list", elements="str"),
    recreate=dict(type="bool", default=False),
    state=dict(type="str", default="present", choices=["present", "renewed", "absent"]),
)


def main():
    module = OpenClawModule(OPTIONS, services=(CONSUL,), mutually_exclusive=[("checks", "node_checks")])
    module.run(run_session, ConsulApi(module.params))


if __name__ == "__main__":
    main()
