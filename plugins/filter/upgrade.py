# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter of playbooks/upgrade.yml: the plan of an upgrade, from the farm model and the jobs Nomad runs."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

GATEWAY_TASK = "gateway"


def _running_image(job):
    for group in job.get("TaskGroups") or ():
        for task in group.get("Tasks") or ():
            if task.get("Name") == GATEWAY_TASK:
                return (task.get("Config") or {}).get("image") or "?"
    return "?"


def openclaw_upgrade_plan(model, jobs):
    """One row per gateway run by Nomad, in the model's order (the upgrade's order): gateway, node, job, running
    (the image its job runs, or `not deployed`), running_version (that image's tag, or None), version (the job's
    Nomad version, or None), new (the model's image) and change (whether the image differs)."""
    if not isinstance(jobs, dict):
        raise AnsibleFilterError(f"jobs must map gateway names to their Nomad job (or null), got {type(jobs).__name__}")
    try:
        model, derived = fm.prepared(model)
    except fm.InvalidModel as exc:
        raise AnsibleFilterError(str(exc)) from None
    rows = []
    for gw in model["farm_gateways"]:
        facts = derived["gateways"][gw["name"]]
        if facts["runtime"] != "nomad":
            continue
        job = jobs.get(gw["name"])
        running = _running_image(job) if job else "not deployed"
        rows.append({"gateway": gw["name"], "node": gw["node"], "job": facts["job"], "running": running,
                     "running_version": fm.image_tag(running) if job else None,
                     "version": job.get("Version") if job else None, "new": gw["image"],
                     "change": running != gw["image"]})
    return rows


class FilterModule:
    def filters(self):
        return {"openclaw_upgrade_plan": openclaw_upgrade_plan}
