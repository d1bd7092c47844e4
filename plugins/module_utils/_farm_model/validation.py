# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate(): every problem of the model at once, in model order; the checks of the gateways."""

from __future__ import annotations

import re

from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.check_agents import (
    _check_agent_links,
    _check_agent_models,
    _check_agents,
    _check_provider_locality,
    _check_providers,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.check_bus import (
    _check_alerts,
    _check_bus,
    _check_health,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.check_channels import (
    _check_channels,
    _check_gateway_roster,
    _check_secrets,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.derived import (
    DERIVED_KEY,
    derive,
    fingerprint,
    normalize,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.naming import (
    image_tag,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.paths import (
    job_name,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.schema import (
    DEFAULT_RUNTIME,
    DERIVED_PORT_SPAN,
    GATEWAY,
    GATEWAY_NAME_RE,
    HOSTNAME_RE,
    MODEL_SPEC,
    NODE_RE,
    NOMAD_ONLY,
    RESOURCES,
    RUNTIMES,
    TOP_LEVEL,
    VAR_PREFIX,
    VERSION_RE,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.structure import (
    Problems,
    _check_fields,
    _describe,
    _did_you_mean,
    _get,
    _named_entries,
    _number_problem,
    _opt,
    _show,
    _suggest,
    data_problems,
    format_problems,
)


def validate(model, inventory_hosts=None, var_names=None):
    """Every problem of the model, in model order. `inventory_hosts`: the hosts a gateway may run on
    (a list, or a mapping group -> hosts); None skips that check. `var_names`: the names of the
    variables the play defines, so a misspelt farm_* variable is reported."""
    problems = Problems()
    if not isinstance(model, dict):
        # farm_bus, farm_health, farm_alerts and farm_backup are optional and left out of this sentence (it
        # names what every model has).
        problems.add("", f"the model must be a mapping of {', '.join(TOP_LEVEL[:-4])}, got {_describe(model)}",
                     "pass the farm variables as one mapping")
        return problems.items
    # A model published by preflight carries its derived facts: not part of the schema, derived again from the rest.
    model = {key: value for key, value in model.items() if key != DERIVED_KEY}
    data = data_problems(model)
    if data:
        return data  # nothing else can be checked in a structure that is not plain data
    _check_var_names(var_names, problems)
    _check_fields(model, MODEL_SPEC, "", problems)
    hosts, where = _host_list(inventory_hosts)
    version = _get(model, "openclaw_version", "str")
    if version is not None and not VERSION_RE.fullmatch(version):
        problems.add("openclaw_version", f"{version!r} is not an OpenClaw release version (YYYY.M.D)",
                     'write the release, for example "2026.9.6", quoted')
        version = None
    gateways = _check_gateways(model, hosts, where, version, problems)
    if not isinstance(model.get("farm_gateways"), (list, tuple)):
        gateways = None  # reported above; references to gateways cannot be checked
    agents = _check_agents(model, gateways, problems)
    if not isinstance(model.get("farm_agents"), (list, tuple)):
        agents = None
    _check_providers(model, hosts, where, problems)
    _check_agent_models(model, problems)
    _check_provider_locality(model, gateways, hosts, problems)
    _check_agent_links(model, gateways, agents, problems)
    _check_channels(model, gateways, agents, problems)
    _check_secrets(model, gateways, problems)
    _check_gateway_roster(model, gateways, agents, problems)
    _check_bus(model, gateways, agents, problems)
    _check_health(model, agents, problems)
    _check_alerts(model, problems)
    return sorted(problems.items, key=lambda problem: _path_key(problem["path"]))


class InvalidModel(ValueError):
    """The model has problems; the message lists every one (format_problems)."""

    def __init__(self, problems):
        super().__init__(format_problems(problems))
        self.problems = problems


def prepared(model):
    """(normalised model, derived facts) of a model, checked once: a model published by preflight (it carries
    derived facts whose fingerprint matches the rest) is used as it is, any other is validated, normalised and
    derived here. Raises InvalidModel."""
    derived = model.get(DERIVED_KEY) if isinstance(model, dict) else None
    if isinstance(derived, dict):
        model = {key: value for key, value in model.items() if key != DERIVED_KEY}
        if derived.get("fingerprint") == fingerprint(model):
            return model, derived
    problems = validate(model)
    if problems:
        raise InvalidModel(problems)
    model = normalize(model)
    return model, derive(model)


def _path_key(path):
    """Model order: misspelt farm_* variables first (often the cause of what follows), then the
    top-level keys in schema order and list entries by index; a stable sort keeps the order of the
    checks within one entry."""
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    if head in TOP_LEVEL:
        rank = TOP_LEVEL.index(head)
    else:
        rank = -1 if head.startswith(VAR_PREFIX) else len(TOP_LEVEL)
    index = re.match(r"^[^.\[]*\[(\d+)\]", path)
    return (rank, int(index.group(1)) if index else -1)


def _host_list(inventory_hosts):
    """(sorted host names, how to name where they come from); (None, None) skips the check."""
    if inventory_hosts is None:
        return None, None
    if isinstance(inventory_hosts, dict):
        hosts = []
        for group in sorted(inventory_hosts, key=str):
            hosts.extend(str(host) for host in inventory_hosts[group] or [])
        return sorted(set(hosts)), f"groups {', '.join(sorted(map(str, inventory_hosts)))}"
    if isinstance(inventory_hosts, str):
        inventory_hosts = [inventory_hosts]
    return sorted({str(host) for host in inventory_hosts}), "hosts"


def _check_var_names(var_names, problems):
    for name in sorted(set(var_names or ())):
        if name.startswith(VAR_PREFIX) and name not in TOP_LEVEL:
            close = _suggest(name, TOP_LEVEL)
            known = ", ".join(TOP_LEVEL)
            fix = f'did you mean "{close}"? The farm variables are {known}' if close else \
                f"rename or remove it; the farm variables are {known}"
            problems.add(name, "unknown farm variable (the farm_ prefix is reserved for the farm model)", fix)


def _check_gateways(model, hosts, where, version, problems):
    """Returns {name: gateway} of the gateways with a usable name."""
    gateways = {}
    by_node = {}
    for index, path, gw, name in _named_entries(
            model, "farm_gateways", "name", gateways, problems, valid=GATEWAY_NAME_RE,
            invalid=lambda name: (f"{_show(name)} cannot name a Nomad job and Consul service "
                                  f"({_show(job_name(name))} must be a DNS label)",
                                  "use lowercase letters, digits and '-', starting with a letter and ending with a "
                                  "letter or digit, at most 54 characters"),
            unique="give every gateway its own name"):
        node = _get(gw, "node", "str")
        node = node if node is not None and NODE_RE.fullmatch(node) else None
        if node is not None and hosts is not None and node not in hosts:
            hint = _did_you_mean(node, hosts)
            problems.add(f"{path}.node", f"node {node!r} is not in the inventory ({where}: "
                         f"{', '.join(hosts) or 'none'})",
                         f"{hint}use one of the inventory hosts, or add the host to the inventory")
        runtime = _get(gw, "runtime", "str")
        runtime = runtime if runtime in RUNTIMES else None if runtime is not None else DEFAULT_RUNTIME
        _check_runtime(gw, path, name, runtime, version, problems)
        # Out of range: reported by the structural check (the spec's bounds), left out of the clash check.
        port = _bounded(_opt(gw, "port", "int", GATEWAY["port"].default), GATEWAY["port"])
        bridge = _bounded(_opt(gw, "bridge_port", "int", GATEWAY["bridge_port"].default),
                          GATEWAY["bridge_port"]) if runtime != "launchd" else None
        if port is not None and bridge is not None and port == bridge:
            problems.add(f"{path}.bridge_port", f"bridge_port equals port ({port})",
                         "use a different port for the bridge, by convention port + 1")
        if node is not None and port is not None:
            by_node.setdefault(node, []).append((index, name, port, bridge))
        if runtime == "launchd":
            continue  # its Nomad-only settings are reported by _check_runtime
        _check_image(gw, path, version, problems)
        _check_resources(gw, path, problems)
        hostname = _get(gw, "hostname", "str")
        if hostname is not None and not HOSTNAME_RE.fullmatch(hostname):
            problems.add(f"{path}.hostname", f"{hostname!r} is not a valid DNS host name",
                         "use lowercase letters, digits, '-' and dots, for example openclaw.octant.lan")
    _check_port_clashes(by_node, problems)
    return {name: entry[1] for name, entry in gateways.items()}


def _check_runtime(gw, path, name, runtime, version, problems):
    """What a gateway needs, or must not have, for its runtime (an invalid runtime is reported already)."""
    bind = _get(gw, "bind", "str")
    if runtime == "nomad":
        if gw.get("image") is None:
            problems.add(f"{path}.image", "is required", f"add image: {GATEWAY['image'].example} (or set runtime: "
                         f"launchd for a gateway that runs outside Nomad, on a workstation)")
        if bind is not None and bind != "lan":
            problems.add(f"{path}.bind", f'a Nomad gateway runs in a container and must bind "lan" (with {bind!r} '
                         f"it could not be reached through its port mapping)",
                         "remove bind (Nomad gateways bind lan), or set runtime: launchd")
    elif runtime == "launchd":
        label = repr(name) if name is not None else "this gateway"
        for key, (what, instead) in NOMAD_ONLY.items():
            if gw.get(key) is not None:
                problems.add(f"{path}.{key}", f"{key} {what}, but {label} runs under launchd (runtime: launchd), "
                             f"which {instead.replace('<openclaw_version>', version or '<openclaw_version>')}",
                             f"remove {key}, or set runtime: nomad to run the gateway as a Nomad job")


def _check_image(gw, path, version, problems):
    image = _get(gw, "image", "str")
    if image is None:
        return
    tag = image_tag(image)  # None: the tag is openclaw_version; a tag of its own must name that same release
    if tag is not None and version is not None and tag != version:
        problems.add(f"{path}.image", f"image tag {tag!r} does not match openclaw_version {version!r} (the config, "
                     f"meta.lastTouchedVersion and the channel plugins are rendered for {version})",
                     f"use the tag {version} or change openclaw_version to {tag!r} (a registry digest may follow "
                     f"the tag: :{version}@sha256:...)")


def _bounded(value, spec):
    """value when it is within its spec's range, else None (the structural check reports it)."""
    return value if value is not None and _number_problem(value, spec) is None else None


def _check_resources(gw, path, problems):
    resources = _get(gw, "resources", "dict", {})
    memory = _bounded(_opt(resources, "memory", "int", RESOURCES["memory"].default), RESOURCES["memory"])
    memory_max = _bounded(_get(resources, "memory_max", "int"), RESOURCES["memory_max"])
    if memory_max is not None and memory is not None and memory_max < memory:
        problems.add(f"{path}.resources.memory_max", f"memory_max {memory_max} is below memory {memory}",
                     "raise memory_max to at least memory, or remove it")


def _port_ranges(port, bridge):
    ranges = [(port, port + DERIVED_PORT_SPAN)]
    if bridge is not None and not port <= bridge <= port + DERIVED_PORT_SPAN:
        ranges.append((bridge, bridge))
    return ranges


def _check_port_clashes(by_node, problems):
    for node in sorted(by_node):
        entries = by_node[node]
        for later in range(len(entries)):
            index, name, port, bridge = entries[later]
            for earlier in range(later):
                other_index, other_name, other_port, other_bridge = entries[earlier]
                clash = any(a <= d and c <= b for a, b in _port_ranges(port, bridge)
                            for c, d in _port_ranges(other_port, other_bridge))
                if clash:
                    own = f"{port}..{port + DERIVED_PORT_SPAN}" + (f", bridge {bridge}" if bridge is not None else "")
                    other = f"{other_port}..{other_port + DERIVED_PORT_SPAN}" + (
                        f", bridge {other_bridge}" if other_bridge is not None else "")
                    problems.add(
                        f"farm_gateways[{index}].port",
                        f"ports of gateway {name!r} ({own}) overlap those of gateway {other_name!r} "
                        f"(farm_gateways[{other_index}]: {other}) on node {node!r}",
                        f"space the base ports of gateways on one node at least 120 apart, for example "
                        f"{other_port + 120}")
                    break
