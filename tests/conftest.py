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

# pytest-xdist's `--dist loadfile` (scripts/test) hands whole files to its workers in collection order. The
# longest files go first, so the two workers run them while the rest of the suite fills in around them.
LONGEST_FIRST = ("tests/integration/test_phase4_resume.py", "tests/integration/test_phase4_resume_late.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in LONGEST_FIRST)  # stable: files stay whole
