#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: farm_health
short_description: Check the health of the whole farm with read-only requests and report every finding
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - "Per gateway run by Nomad: the job, its newest allocation, its latest deployment, both Consul checks of its
    service (C(healthz) and C(healthz-body)) and the C(/healthz) body (C({\"ok\": true})) fetched at the address
    Consul publishes."
  - "Per agent: its registry record (on the gateway the model says) and, with C(farm_bus.enabled), its liveness
    (the gateway's bus process holds its registry session) and the presence of its relay; per inbox the backlog,
    the age of the oldest unacknowledged message and the dead letters, against the thresholds of the model's
    C(farm_health) section (per-inbox overrides in C(farm_health.inboxes))."
  - "The Nomad Variables each job's templates read exist with every key (the values are dropped at once and never
    returned), a linked WhatsApp session exists for every WhatsApp account (O(whatsapp_sessions)), and, with
    O(probe_agents), each agent gives one real answer through its gateway's chat completions endpoint."
  - "Requests to Consul and Nomad per run, with G gateways run by Nomad and A of their agents: C(5 G + 1), or
    C(7 G + 2 A + 1) with the bus; plus G C(/healthz) requests and, with O(probe_agents), A chat completions."
  - "Never fails because the farm is unhealthy: it returns RV(status), the rows and the critical findings, and
    the caller decides (C(playbooks/health.yml) writes a report and then fails). It fails only on bad arguments."
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.attributes.info_module,
                                 octant.openclaw.nomad, octant.openclaw.consul]
options:
  model:
    description: The validated farm model (C(openclaw_farm), published by the C(octant.openclaw.preflight) role).
    type: dict
    required: true
  whatsapp_sessions:
    description:
      - What was found on the nodes, one entry per WhatsApp account of the model. An account not listed is
        reported as not looked at (a warning).
    type: list
    elements: dict
    default: []
    suboptions:
      gateway:
        description: The gateway that owns the account.
        type: str
        required: true
      account:
        description: The account id.
        type: str
        required: true
      linked:
        description: Whether C(state/credentials/whatsapp/<account>/creds.json) exists on the gateway's node.
        type: bool
        required: true
  probe_agents:
    description: Ask every agent one tiny prompt (C(farm_health.probe_prompt)) through its gateway and expect an answer.
    type: bool
    default: false
  gateway_token:
    description: The gateways' bearer token, needed with O(probe_agents).
    type: str
  registry_root:
    description: The Consul KV prefix of the registry.
    type: str
    default: openclaw/registry
  bus_root:
    description: The Consul KV prefix of the bus's mailboxes.
    type: str
    default: openclaw/bus
notes:
  - "The tokens need read access only: Nomad C(read-job) and C(variables) read on C(nomad/jobs/*); Consul
    C(service_prefix \"openclaw-\" read), C(node_prefix \"\" read), C(key_prefix \"openclaw/\" read)."
"""

EXAMPLES = r"""
- name: Check the farm
  octant.openclaw.farm_health:
    model: "{{ openclaw_farm }}"
  delegate_to: localhost
  run_once: true
  register: health

- name: Show it
  ansible.builtin.debug:
    msg: "{{ health.table }}"
"""

RETURN = r"""
status:
  description: The worst status of all checks.
  returned: always
  type: str
  choices: [ok, warning, critical]
checks:
  description: Every check, in run order.
  returned: always
  type: list
  elements: dict
  sample: [{"subject": "gateway main", "check": "allocation", "status": "ok", "detail": "3f2a9c1e on jerry running",
            "threshold": "client status running"}]
critical:
  description: One line per critical check, naming the subject, the finding and its threshold.
  returned: always
  type: list
  elements: str
table:
  description: The checks as fixed-width lines (STATUS SUBJECT CHECK DETAIL), the worst first, and a count line.
  returned: always
  type: list
  elements: str
requests:
  description: The stated cost of the run (formula, G, A and the expected count of Consul and Nomad requests).
  returned: always
  type: dict
"""

from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as farm_model  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._consul import CONSUL, ConsulApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._farm_health import run_health  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import NOMAD, NomadApi  # noqa: E402

OPTIONS = dict(
    model=dict(type="dict", required=True),
    whatsapp_sessions=dict(type="list", elements="dict", default=[], options=dict(
        gateway=dict(type="str", required=True), account=dict(type="str", required=True),
        linked=dict(type="bool", required=True))),
    probe_agents=dict(type="bool", default=False),
    gateway_token=dict(type="str", no_log=True),
    registry_root=dict(type="str", default=farm_model.BUS_REGISTRY_ROOT),
    bus_root=dict(type="str", default=farm_model.BUS_ROOT),
)


def main():
    module = OpenClawModule(OPTIONS, services=(NOMAD, CONSUL), required_if=[("probe_agents", True, ("gateway_token",))])
    # A secret written into the model instead of its op:// reference must never be echoed.
    module.hide(farm_model.plaintext_secrets(module.params["model"]), known=True)
    module.run(run_health, NomadApi(module.params), ConsulApi(module.params))


if __name__ == "__main__":
    main()
