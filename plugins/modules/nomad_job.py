#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nomad_job
short_description: Submit, update or stop a Nomad job, deciding from the plan and waiting for its deployment
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Makes a Nomad job match a definition given as API JSON (O(job)) or as HCL2 text with input variables
    (O(hcl), O(variables)).
  - "Idempotent and race-free: one plan request (C(POST /v1/job/<id>/plan) with C(Diff)) decides. A plan diff of
    type C(None) means nothing to do: the task is unchanged and nothing is registered. Otherwise the job is
    registered with C(EnforceIndex) and the C(JobModifyIndex) the plan saw, so a change someone else made
    between the plan and the register is refused (the task fails and asks to re-run) instead of overwritten."
  - Check mode runs the plan only and returns it (the changes and the scheduler's C(DesiredTGUpdates));
    nothing is registered. Diff mode shows a before/after of only the fields that change, keyed by their path
    in the job, for example C(TaskGroups.web.Tasks.app.Config.image).
  - "Values that can be secret never appear in the diff or the returned plan: values under a task's C(Env) and
    fields whose name looks like a credential (password, secret, token, api key) are shown as C((hidden)); the
    key is shown so the change is visible. Secrets belong in Nomad Variables (M(octant.openclaw.nomad_variable)),
    rendered by a template, never in the job."
  - With O(wait=true) the task waits for what the registration started, using blocking queries (no polling),
    the deployment of the new version for service jobs with an C(update) strategy, otherwise the allocations.
  - O(state=absent) stops the job (and purges it with O(purge=true)); a job that does not exist, or that is
    already stopped when O(purge=false), is left alone and reported unchanged.
  - "Runs on the controller (C(delegate_to: localhost), C(run_once)); it talks to the Nomad HTTP API."
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.nomad, octant.openclaw.nomad.actiongroup]
attributes:
  check_mode:
    support: full
    details: Registers and stops nothing; with O(state=present) it runs the plan and returns it in RV(plan).
  diff_mode:
    support: full
    details: Only the fields that change, keyed by their path in the job; values that can be secret are hidden.
options:
  state:
    description:
      - V(present) makes the job match the definition; V(absent) stops it (deregisters it).
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - The job ID.
      - Required with O(state=absent) unless O(job) is given. With O(state=present) it fills a missing C(ID) of
        O(job) and must equal it when both are set.
    type: str
    aliases: [id]
  job:
    description:
      - "The job as Nomad API JSON (capitalized keys, as C(nomad job run -output) prints it), either
        C({Job: {...}}) or the bare job."
      - C(ID) defaults to C(Name) or O(name). C(Namespace) defaults to O(nomad_namespace) and must not differ
        from it.
      - Mutually exclusive with O(hcl).
    type: dict
  hcl:
    description:
      - The job as HCL2 text, turned into API JSON by the server (C(POST /v1/jobs/parse) with C(Canonicalize)).
      - Needs a real Nomad; the lab simulator answers 501 and the task fails saying so (use O(job) there).
      - When the HCL sets no namespace, O(nomad_namespace) applies.
      - The HCL source is stored with the job version (shown by C(nomad job inspect) and the UI); O(variables)
        are not.
    type: str
  variables:
    description:
      - HCL2 input variables for O(hcl) (the C(variable) blocks), as a dict; sent as the content of a
        variables file. Strings are taken literally (C(${) is not interpolated).
      - Only used with O(hcl).
    type: dict
    default: {}
  purge:
    description:
      - With O(state=absent), also purge the job (it is gone at once instead of kept as C(dead) until garbage
        collection). A stopped job is purged when this is set.
    type: bool
    default: false
  wait:
    description:
      - After a registration, wait until the new version runs.
      - "Service jobs with an C(update) strategy: wait for the deployment of the new version to be C(successful).
        A failed deployment fails the task with the counts per group (desired, placed, healthy, unhealthy) and
        says whether auto-revert rolled the job back and to which version. A deployment that waits for manual
        promotion of canaries fails the task too."
      - "Jobs without a deployment (batch, sysbatch, system, or service jobs without an C(update) block): wait
        until the allocations of the new version run (batch: run or complete); a failed or lost allocation
        fails the task."
      - Unchanged jobs and check mode do not wait.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait=true) before failing with the last state seen.
    type: int
    default: 300
notes:
  - A re-run with no change makes exactly one request (the plan).
  - Waiting uses Nomad blocking queries on C(/v1/job/<id>/deployment) and C(/v1/deployment/<id>) (or
    C(/v1/job/<id>/allocations)); each returns when the deployment changes, so a deployment that turns healthy
    after a few seconds costs a handful of requests, not one per second.
seealso:
  - module: octant.openclaw.nomad_job_info
  - module: octant.openclaw.nomad_variable
  - name: Nomad job plan API
    description: The plan endpoint whose diff decides whether anything changes.
    link: https://developer.hashicorp.com/nomad/api-docs/jobs#create-job-plan
"""

EXAMPLES = r"""
- name: Run the gateway job and wait for a healthy deployment
  octant.openclaw.nomad_job:
    job: "{{ lookup('ansible.builtin.file', 'gateway.json') | from_json }}"
    wait: true
    wait_timeout: 600
  delegate_to: localhost
  run_once: true

- name: Run a job defined inline (bare job, API JSON)
  octant.openclaw.nomad_job:
    nomad_address: https://nomad.service.consul:4646
    job:
      ID: openclaw-bus
      Type: service
      Datacenters: [home]
      TaskGroups:
        - Name: bus
          Count: 1
          Update:
            MaxParallel: 1
            AutoRevert: true
          Tasks:
            - Name: server
              Driver: podman
              Config:
                image: ghcr.io/openclaw/openclaw-bus:1.2.0
  delegate_to: localhost

- name: Run a job from HCL2 with input variables (real Nomad only)
  octant.openclaw.nomad_job:
    hcl: "{{ lookup('ansible.builtin.file', 'gateway.nomad.hcl') }}"
    variables:
      image: ghcr.io/openclaw/openclaw:2026.1.5
      node: jerry
  delegate_to: localhost

- name: Show what would change, without changing anything
  octant.openclaw.nomad_job:
    job: "{{ gateway_job }}"
  check_mode: true
  diff: true
  register: gateway_plan
  delegate_to: localhost

- name: Stop and purge a job (ok when it does not exist)
  octant.openclaw.nomad_job:
    name: old-gateway
    state: absent
    purge: true
  delegate_to: localhost
"""

RETURN = r"""
job_id:
  description: The job ID.
  returned: always
  type: str
  sample: openclaw-gateway-jerry
namespace:
  description: The namespace of the job.
  returned: always
  type: str
  sample: default
job_modify_index:
  description: The job's C(JobModifyIndex) after the task (the plan's when nothing was registered).
  returned: success
  type: int
  sample: 1843
eval_id:
  description: The evaluation the register or deregister created; null when nothing was written.
  returned: always
  type: str
  sample: 5d1e7c8e-4a5b-4d3e-9f0a-1b2c3d4e5f60
purged:
  description: With O(state=absent), whether the job was (or in check mode would be) purged.
  returned: when O(state=absent)
  type: bool
plan:
  description: Summary of the plan that decided (no raw diff, secret-looking values hidden).
  returned: when O(state=present)
  type: dict
  contains:
    diff_type:
      description: C(None) (no change), C(Added) (new job), C(Edited) or C(Deleted).
      type: str
      sample: Edited
    job_modify_index:
      description: The JobModifyIndex the plan saw (0 for a new job); the register enforces it.
      type: int
    changes:
      description: Before/after of the changed fields only, keyed by path.
      type: dict
      sample:
        before: {"TaskGroups.gateway.Tasks.openclaw.Config.image": "ghcr.io/openclaw/openclaw:2026.1.4"}
        after: {"TaskGroups.gateway.Tasks.openclaw.Config.image": "ghcr.io/openclaw/openclaw:2026.1.5"}
    desired_updates:
      description: The scheduler's C(DesiredTGUpdates) per group, zero counts left out.
      type: dict
      sample: {"gateway": {"DestructiveUpdate": 1}}
    annotations:
      description: Task annotations per C(group/task), such as C(forces create/destroy update).
      type: dict
    failed_allocations:
      description: Groups whose allocations the scheduler could not place, with the reason.
      type: dict
    warnings:
      description: Warnings of the plan.
      type: str
deployment:
  description: The deployment waited for (O(wait=true) and a job with an update strategy), else null.
  returned: when O(state=present)
  type: dict
  contains:
    id:
      description: Deployment ID.
      type: str
    status:
      description: Deployment status (C(successful) on success).
      type: str
    status_description:
      description: Nomad's description of the status.
      type: str
    job_version:
      description: The job version deployed.
      type: int
    task_groups:
      description: Per group C(desired), C(placed), C(healthy), C(unhealthy) counts and C(auto_revert).
      type: dict
allocations:
  description: With O(wait=true) for a job without deployments, the allocation counts by client status.
  returned: when waited for allocations
  type: dict
  sample: {"running": 3}
rolled_back:
  description: On a failed deployment, whether auto-revert rolled the job back.
  returned: failure of a waited-for deployment
  type: bool
reverted_to_version:
  description: On a failed deployment rolled back by auto-revert, the version it went back to.
  returned: failure of a waited-for deployment
  type: int
job_version:
  description: On a failed deployment, the job's version after the failure (a rollback creates a new version).
  returned: failure of a waited-for deployment
  type: int
"""

from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import NOMAD, NomadApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._nomad_job import run_job  # noqa: E402

OPTIONS = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "name": {"type": "str", "aliases": ["id"]},
    "job": {"type": "dict"},
    "hcl": {"type": "str"},
    "variables": {"type": "dict", "default": {}, "no_log": True},
    "purge": {"type": "bool", "default": False},
    "wait": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 300},
}


def main():
    module = OpenClawModule(OPTIONS, services=(NOMAD,), mutually_exclusive=[("job", "hcl")],
                            required_if=[("state", "present", ("job", "hcl"), True)])
    module.run(run_job, NomadApi(module.params))


if __name__ == "__main__":
    main()
