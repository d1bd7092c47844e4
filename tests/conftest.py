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

# pytest-xdist's `--dist loadfile --no-loadscope-reorder` (scripts/test) hands whole files to its workers in
# collection order (without --no-loadscope-reorder it would sort them by number of tests, most first). The
# longest file goes first: it builds the phase 2 farm and uninterrupted run both resume files restore
# (phase2_build). Its other half goes mid-queue, so the other worker reaches it after the build is saved rather
# than waiting on it, and not last, where it would run alone. The other files keep xdist's order.
FIRST = "tests/integration/test_phase4_resume.py"
MIDDLE = "tests/integration/test_phase4_resume_late.py"


def pytest_collection_modifyitems(config, items):
    files = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    rest = sorted((name for name in files if name not in (FIRST, MIDDLE)), key=lambda name: -len(files[name]))
    order = [FIRST, *rest[: len(rest) // 2], MIDDLE, *rest[len(rest) // 2 :]]
    items[:] = [item for name in order for item in files.get(name, [])]
