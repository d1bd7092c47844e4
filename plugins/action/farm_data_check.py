# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of octant.openclaw.farm_data_check (documented in plugins/modules/farm_data_check.py).

Ansible resolves a module's arguments before the module runs: a YAML cycle (an alias inside its own
anchor) fails there with a recursion error, and binary values fail when the arguments are sent, both
without the path of the value. This plugin runs on the controller, reads the farm variables as the
inventory holds them and reports such values with their path and a fix, before farm_validate."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as farm_model


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset()

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        problems = farm_model.Problems()
        for name in farm_model.TOP_LEVEL:
            if name not in task_vars:
                continue
            for problem in self._problems(name, task_vars[name]):
                problems.add(problem["path"], problem["msg"], problem["fix"])
        result["changed"] = False
        result["problems"] = problems.items
        if problems.items:
            result["failed"] = True
            result["msg"] = farm_model.format_problems(problems.items)
        return result

    def _problems(self, name, raw):
        # The value as written first (exact paths of cycles), then as templates resolve it.
        found = farm_model.data_problems(raw, name)
        if found:
            return found
        try:
            value = self._templar.template(raw)
        except RecursionError:
            return [{"path": name, "msg": "refers to itself through templates (a cycle)",
                     "fix": "make the templates of this variable refer to other variables only"}]
        except Exception as exc:  # an undefined variable, a filter error: farm_validate cannot run either
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "ecursi" in first:
                return [{"path": name, "msg": "refers to itself (a YAML alias inside its own anchor, or a template "
                         "that uses this variable)", "fix": "replace the alias or template with a copy of the value"}]
            return [{"path": name, "msg": f"cannot be resolved: {first[:200]}",
                     "fix": "correct the template in this variable (or the variable it uses)"}]
        return farm_model.data_problems(value, name)
