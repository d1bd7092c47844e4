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
