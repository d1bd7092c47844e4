# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by every unit test of the collection's plugins, under `ansible-test units` and under
plain pytest from the checkout.

- The Ansible collection loader: ansible-test installs it; plain pytest gets it here, pointed at
  the checkout's collections/ self-link, so lookup_loader.get("octant.openclaw.<name>") works.
- `run_module`: runs a module's main() the way Ansible does (arguments in, JSON out) and raises
  AnsibleExitJson / AnsibleFailJson with the result exactly as the controller would receive it:
  after AnsibleModule's own formatting (invocation, no_log masking)."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
from pathlib import Path

import pytest
from ansible.utils.collection_loader import AnsibleCollectionConfig

if AnsibleCollectionConfig.collection_finder is None:
    from ansible.plugins.loader import init_plugin_loader

    _CHECKOUT_COLLECTIONS = Path(__file__).resolve().parents[3] / "collections"
    init_plugin_loader([str(_CHECKOUT_COLLECTIONS)] if _CHECKOUT_COLLECTIONS.is_dir() else [])
    # Tests collected earlier in this session may have imported ansible_collections.* as plain
    # namespace packages (pytest's pythonpath). The loader refuses to extend packages it did not
    # create, so forget those empty package objects; the loader re-creates them on next import.
    # Modules (files) stay as they are, so their classes keep one identity.
    for _name in [name for name in sys.modules if name.split(".")[0] == "ansible_collections"]:
        if getattr(sys.modules[_name], "__file__", None) is None:
            del sys.modules[_name]


class AnsibleExitJson(Exception):
    """The module called exit_json; `result` is what it printed."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


class AnsibleFailJson(Exception):
    """The module called fail_json; `result` is what it printed."""

    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


def _run_module(module, args, check_mode=False, no_log=False, diff=False):
    """Run `module` (a module object or its dotted name) with `args`; always raises
    AnsibleExitJson or AnsibleFailJson."""
    from ansible.module_utils.testing import patch_module_args

    if isinstance(module, str):
        module = importlib.import_module(module)
    args = dict(args, _ansible_check_mode=check_mode, _ansible_no_log=no_log, _ansible_diff=diff)
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        with pytest.raises(SystemExit):
            module.main()
    text = out.getvalue()
    result = json.loads(text[text.index("{"):])
    if result.get("failed"):
        raise AnsibleFailJson(result)
    raise AnsibleExitJson(result)


class ModuleRunner:
    """What the run_module fixture gives: call it like _run_module; catch its ExitJson and
    FailJson attributes (a test importing this conftest by another module name would get
    other classes)."""

    ExitJson = AnsibleExitJson
    FailJson = AnsibleFailJson

    def __call__(self, module, args, check_mode=False, no_log=False, diff=False):
        return _run_module(module, args, check_mode=check_mode, no_log=no_log, diff=diff)


@pytest.fixture
def run_module():
    """`run_module(module, args, check_mode=False, no_log=False)` raises run_module.ExitJson or
    run_module.FailJson; their `result` is the module's printed result."""
    return ModuleRunner()
