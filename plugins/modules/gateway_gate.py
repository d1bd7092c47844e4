#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_gate
short_description: Gate one deployed OpenClaw gateway (healthz, version, channels connected, an agent's answer)
version_added: 0.1.0
description:
  - The gate of C(playbooks/upgrade.yml) after a healthy Nomad deployment, in this order, the first failure ending
    it (RV(failed_check) names it); every check but the answer is retried until O(timeout).
  - "C(service): Consul publishes O(service) with every check passing (the address probed next)."
  - "C(healthz): C(GET /healthz) answers 200 with the body C({\"ok\": true}) (OpenClaw answers unknown paths with
    200 and its Control UI, so the body is what counts)."
  - "C(version): C(GET /startupz) with the gateway token reports O(version) as the running version."
  - "C(channels): C(GET /readyz) with the gateway token answers C({\"ready\": true, \"failing\": []}): every
    channel account of the gateway passes the gateway's own health evaluation; a failing one is named."
  - "C(answer): one chat completion as C(openclaw/<agent>) gives a non-empty answer (one real agent turn)."
  - Never fails because the gateway fails the gate (RV(passed) says so); fails on bad arguments and on a Consul
    token that may not read the service.
author:
  - octant.openclaw contributors (@octant)
extends_documentation_fragment:
  - octant.openclaw.attributes
  - octant.openclaw.attributes.info_module
  - octant.openclaw.consul
  - octant.openclaw.consul.actiongroup
options:
  service:
    description:
      - The Consul service of the gateway job (its Nomad job id, C(openclaw-<gateway>)); the derived fact
        C((openclaw_farm | octant.openclaw.openclaw_derived).gateways[<gateway>].job).
    type: str
    required: true
  version:
    description: The OpenClaw version the job deploys (its image tag).
    type: str
    required: true
  agent:
    description: The agent of this gateway that must answer.
    type: str
    required: true
  gateway_token:
    description: The gateway's token (C(gateway.auth.token)); sent only to the gateway, never returned.
    type: str
    required: true
  prompt:
    description: What the agent is asked.
    type: str
    default: Reply with the word ready.
  timeout:
    description: Seconds the retried checks may take together.
    type: int
    default: 120
  interval:
    description: Seconds between two tries of a check.
    type: float
    default: 2.0
  answer_timeout:
    description: Seconds the agent's answer may take.
    type: int
    default: 120
notes:
  - The Consul token needs C(service "<service>" read) and C(node_prefix "" read).
  - The gateway is reached at the address and port Consul publishes, over plain HTTP.
"""

EXAMPLES = r"""
- name: Gate gateway main on 2026.9.6
  octant.openclaw.gateway_gate:
    service: "{{ (openclaw_farm | octant.openclaw.openclaw_derived).gateways['main'].job }}"
    version: "2026.9.6"
    agent: jerry
    gateway_token: "{{ gateway_token }}"
  delegate_to: localhost
  register: gate

- name: Stop when it did not pass
  ansible.builtin.fail:
    msg: "gate of main: {{ gate.failure }}"
  when: not gate.passed
"""

RETURN = r"""
passed:
  description: Whether every check passed.
  returned: always
  type: bool
failure:
  description: The failed check and what was seen, or null (not C(failed), which would fail the task).
  returned: always
  type: str
  sample: "channels: not connected: slack (/readyz 503)"
failed_check:
  description: The name of the failed check, or null.
  returned: always
  type: str
  sample: channels
checks:
  description: The checks made, in order, each with C(check), C(passed) and C(detail).
  returned: always
  type: list
  elements: dict
  sample: [{"check": "service", "passed": true, "detail": "openclaw-main at http://10.0.0.5:24811"}]
address:
  description: The gateway's address as Consul publishes it (null when the service check failed).
  returned: always
  type: str
  sample: http://10.0.0.5:24811
"""

from ansible_collections.octant.openclaw.plugins.module_utils._consul import CONSUL, ConsulApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._gateway_gate import run_gateway_gate  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402

OPTIONS = dict(
    service=dict(type="str", required=True),
    version=dict(type="str", required=True),
    agent=dict(type="str", required=True),
    gateway_token=dict(type="str", required=True, no_log=True),
    prompt=dict(type="str", default="Reply with the word ready."),
    timeout=dict(type="int", default=120),
    interval=dict(type="float", default=2.0),
    answer_timeout=dict(type="int", default=120),
)


def main():
    module = OpenClawModule(OPTIONS, services=(CONSUL,))
    module.run(run_gateway_gate, ConsulApi(module.params))


if __name__ == "__main__":
    main()
