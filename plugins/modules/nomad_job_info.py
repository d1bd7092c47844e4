#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_job_info
short_description: Read one Nomad job with its allocations and latest deployment, or list jobs
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - With O(name), reads that job, its allocations and its latest deployment (three requests; fewer when
    O(allocations) or O(deployment) are turned off). A missing job is not an error, RV(exists) is false then.
  - Without O(name), lists the jobs (stubs with status and summary), filtered by O(prefix) on the server
    (C(?prefix=)), so nothing is fetched only to be thrown away.
  - Jobs are read in O(nomad_namespace); V(*) lists the jobs of all namespaces the token may read.
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.attributes.info_module,
                                 octant.openclaw.nomad, octant.openclaw.nomad.actiongroup]
options:
  name:
    description:
      - The job ID to read. Mutually exclusive with O(prefix).
    type: str
    aliases: [id]
  prefix:
    description:
      - List only jobs whose ID starts with this (filtered by Nomad).
    type: str
  allocations:
    description:
      - With O(name), also read the job's allocations.
    type: bool
    default: true
  deployment:
    description:
      - With O(name), also read the job's latest deployment.
    type: bool
    default: true
seealso:
  - module: octant.openclaw.nomad_job
"""

EXAMPLES = r"""
- name: Read the gateway job on jerry
  octant.openclaw.nomad_job_info:
    name: openclaw-gateway-jerry
  register: gateway
  delegate_to: localhost

- name: Fail unless its latest deployment succeeded
  ansible.builtin.assert:
    that:
      - gateway.exists
      - gateway.deployment_summary.status == 'successful'

- name: List all OpenClaw jobs
  octant.openclaw.nomad_job_info:
    prefix: openclaw-
  register: openclaw_jobs
  delegate_to: localhost
"""

RETURN = r"""
exists:
  description: Whether the job (with O(name)) or any job (without it) was found.
  returned: always
  type: bool
job:
  description: The job as Nomad returns it (C(GET /v1/job/<id>)); null when it does not exist.
  returned: when O(name) is given
  type: dict
jobs:
  description:
    - The job stubs (C(GET /v1/jobs)); with O(name), a one-element list with the main fields of the job.
  returned: always
  type: list
  elements: dict
  sample: [{"ID": "openclaw-gateway-jerry", "Status": "running", "Type": "service"}]
allocations:
  description: The job's allocation stubs (ID, NodeName, ClientStatus, DesiredStatus, JobVersion, ...).
  returned: when O(name) is given, the job exists and O(allocations=true)
  type: list
  elements: dict
deployment:
  description: The job's latest deployment, or null when it has none.
  returned: when O(name) is given, the job exists and O(deployment=true)
  type: dict
deployment_summary:
  description: The latest deployment in short (id, status, status_description, job_version, per group
    desired/placed/healthy/unhealthy/auto_revert).
  returned: when O(name) is given, the job exists and O(deployment=true)
  type: dict
"""

from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import NOMAD, NomadApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._nomad_job import run_job_info  # noqa: E402

OPTIONS = {
    "name": {"type": "str", "aliases": ["id"]},
    "prefix": {"type": "str"},
    "allocations": {"type": "bool", "default": True},
    "deployment": {"type": "bool", "default": True},
}


def main():
    module = OpenClawModule(OPTIONS, services=(NOMAD,), mutually_exclusive=[("name", "prefix")])
    module.run(run_job_info, NomadApi(module.params))


if __name__ == "__main__":
    main()
