"""Session-wide setup for every pytest suite of the checkout.

Ansible's collection loader is installed once, first, pointed at the checkout's collections/
self-link: then `ansible_collections.octant.openclaw...` imports in tests (modules run
in-process) and the loader that ansible itself starts (inventory, templating) agree on one
package tree, whatever order the tests run in."""

from pathlib import Path

from ansible.utils.collection_loader import AnsibleCollectionConfig

if AnsibleCollectionConfig.collection_finder is None:
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([str(Path(__file__).resolve().parents[1] / "collections")])

# pytest-xdist's `--dist loadfile --no-loadscope-reorder` (scripts/test) hands whole files to whichever worker runs
# low, in collection order (without --no-loadscope-reorder it would sort them by number of tests, most first, and
# the long files with few tests would end the run on one worker). So the files go longest first, as measured with
# `--durations` (a tail of short files then evens the two workers out). test_phase4_resume.py goes first: it builds
# the phase 2 farm and uninterrupted run that both resume files restore (phase2_build). Its other half comes a few
# long files later, so the other worker reaches it after the build is saved rather than waiting on it.
FIRST = "tests/integration/test_phase4_resume.py"
MIDDLE = "tests/integration/test_phase4_resume_late.py"
LONGEST = tuple(f"tests/integration/test_{name}.py" for name in (
    "phase4", "macos_gateway", "upgrade_playbook", "lab_readme", "backup_playbooks", "bus_role", "phase_playbooks",
    "galaxy_build", "awx_setup", "drift_playbook", "client_check_jobs", "health_playbook")) + (
    "tests/e2e/test_bus_relay.py",)
MIDDLE_AFTER = 3  # long files before the resume file's other half


def pytest_collection_modifyitems(config, items):
    files = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    longest = [name for name in LONGEST if name in files]
    rest = sorted((name for name in files if name not in (FIRST, MIDDLE, *longest)), key=lambda name: -len(files[name]))
    order = [FIRST, *longest[:MIDDLE_AFTER], MIDDLE, *longest[MIDDLE_AFTER:], *rest]
    items[:] = [item for name in order for item in files.get(name, [])]
