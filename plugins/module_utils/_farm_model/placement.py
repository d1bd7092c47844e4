# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the collection's Nomad jobs are placed, and what a node must offer for that."""

from __future__ import annotations

# What every Nomad job of the collection (gateway, bus) is placed by, as API constraints: the named node, and a
# rootless podman as the driver itself fingerprints it (nomad-driver-podman's buildFingerprint publishes
# driver.podman.rootless = "true"/"false"; client meta such as ${meta.rootless} exists only where an operator
# set it, so it is not relied on). The job templates (filter openclaw_placement_constraints) and preflight's
# node check (farm_validate) both read this one definition; each entry's fix says what to change on the node.
PLACEMENT = (
    ("${node.unique.name}", "=", None,
     "start the Nomad client on {node} with name = {node!r} (Nomad's node name), or move the gateway"),
    ("${attr.driver.podman.rootless}", "=", "true",
     "run the podman driver of {node} against the rootless podman socket of the Nomad user (hashi): "
     "plugin \"nomad-driver-podman\" {{ config {{ socket {{ socket_path = \"unix:///run/user/<uid of hashi>/"
     "podman/podman.sock\" }} }} }}, then check that `podman info` as that user says rootless: true"),
)


def placement_constraints(node):
    """The Constraints of a job pinned to `node` (Nomad API JSON)."""
    return [{"LTarget": target, "Operand": operand, "RTarget": node if value is None else value}
            for target, operand, value, _fix in PLACEMENT]


def _node_target(target, node):
    """scheduler/feasible.go resolveTarget against a GET /v1/node/<id> record: (value, found)."""
    if not target.startswith("${"):
        return target, True
    fixed = {"${node.unique.id}": "ID", "${node.datacenter}": "Datacenter", "${node.unique.name}": "Name",
             "${node.class}": "NodeClass", "${node.pool}": "NodePool"}
    if target in fixed:
        return node.get(fixed[target]) or "", True
    for prefix, table in (("${attr.", "Attributes"), ("${meta.", "Meta")):
        if target.startswith(prefix):
            values = node.get(table) or {}
            name = target[len(prefix):].rstrip("}")
            return values.get(name, ""), name in values
    return "", False


def unmet_placement(node_name, node):
    """The placement constraints a Nomad node record does not meet: [(constraint text, what it has, fix)]."""
    unmet = []
    for target, operand, value, fix in PLACEMENT:
        want = node_name if value is None else value
        have, found = _node_target(target, node)
        if operand == "=" and found and have == want:
            continue
        unmet.append((f"{target} {operand} {want}", repr(have) if found else "not set", fix.format(node=node_name)))
    return unmet
