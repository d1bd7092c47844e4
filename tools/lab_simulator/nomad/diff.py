"""Job diffs as nomad/structs/diff.go builds them (plan and /versions?diffs=true use contextual=True).

Conventions kept from diff.go: primitive fields of a struct (and string maps, as Meta[key]) are
flattened into Fields; blocks are Objects named after the Go struct field (Constraint, Update,
RestartPolicy, Resources, Config, Service, Template, ...); lists of blocks are matched by a key
(constraints by their text, tasks and groups by name, ports by label, templates by destination,
services by a name/port/position score); Type is None|Added|Deleted|Edited; unchanged fields of an
edited block are listed with Type None only in contextual diffs; Go's nil slices are JSON null."""

from __future__ import annotations

import json

from .schema import PRIMITIVES, TYPES

NONE, ADDED, DELETED, EDITED = "None", "Added", "Deleted", "Edited"
_RANK = {EDITED: 0, ADDED: 1, DELETED: 2, NONE: 3}
_JOB_FILTER = ("ID", "Status", "StatusDescription", "Version", "Stable", "CreateIndex", "ModifyIndex",
               "JobModifyIndex", "Update", "SubmitTime", "NomadTokenID", "VaultToken")


def go_value(value):
    """fmt's %v for the JSON scalars a struct or task config can hold."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return str(value)


def flatten(obj, type_name, skip=()):
    """flatmap.Flatten(obj, filter, primitiveOnly=true): scalars and string maps only."""
    out = {}
    if obj is None:
        return out
    for name, kind in TYPES[type_name]:
        if name in skip:
            continue
        if kind in PRIMITIVES:
            out[name] = go_value(obj[name])
        elif kind == "map":
            for key, value in (obj[name] or {}).items():
                out[f"{name}[{key}]"] = value
    return out


def flatten_any(value, prefix=""):
    """flatmap.Flatten(obj, nil, primitiveOnly=false) on free-form JSON: auth[user], ports[0]."""
    out = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(flatten_any(item, f"{prefix}[{key}]" if prefix else key))
    elif isinstance(value, list):
        for idx, item in enumerate(value):
            out.update(flatten_any(item, f"{prefix}[{idx}]"))
    else:
        out[prefix] = go_value(value)
    return out


def field(kind, name, old, new, annotations=None):
    return {"Type": kind, "Name": name, "Old": old, "New": new, "Annotations": annotations}


def _field_diff(old, new, name, contextual):
    if old == new:
        return field(NONE, name, old, new) if contextual else None
    if old == "":
        return field(ADDED, name, "", new)
    if new == "":
        return field(DELETED, name, old, "")
    return field(EDITED, name, old, new)


def field_diffs(old, new, contextual):
    diffs = []
    for key in set(old or {}) | set(new or {}):
        diff = _field_diff((old or {}).get(key, ""), (new or {}).get(key, ""), key, contextual)
        if diff:
            diffs.append(diff)
    return sorted(diffs, key=lambda f: (f["Name"], f["Old"], f["New"])) or None


def obj(kind, name, fields=None, objects=None):
    return {"Type": kind, "Name": name, "Fields": fields or None, "Objects": _sorted(objects)}


def _sorted(objects):
    objects = [o for o in objects or () if o is not None]
    return sorted(objects, key=lambda o: (o["Name"], _RANK[o["Type"]], len(o["Fields"] or ()),
                                          len(o["Objects"] or ()),
                                          [(f["Name"], f["Old"], f["New"]) for f in o["Fields"] or ()])) or None


def _changed(old, new):
    if old == new:
        return None
    return ADDED if old is None else DELETED if new is None else EDITED


def string_set_diff(old, new, name, contextual):
    old_set, new_set = set(old or ()), set(new or ())
    if old_set == new_set and not contextual:
        return None
    fields = [field(DELETED, name, k, "") for k in old_set - new_set]
    fields += [field(ADDED, name, "", k) for k in new_set - old_set]
    if contextual:
        fields += [field(NONE, name, k, k) for k in old_set & new_set]
    added, removed = bool(new_set - old_set), bool(old_set - new_set)
    if not fields:
        return None
    kind = EDITED if added and removed else ADDED if added else DELETED if removed else NONE
    return obj(kind, name, sorted(fields, key=lambda f: (f["Name"], f["Old"], f["New"])))


def primitive_object_diff(old, new, type_name, name, contextual, skip=()):
    """primitiveObjectDiff: the type comes from the changed fields; no change is no diff."""
    fields = field_diffs(flatten(old, type_name, skip), flatten(new, type_name, skip), contextual) or []
    kinds = {f["Type"] for f in fields}
    if EDITED in kinds or {ADDED, DELETED} <= kinds:
        kind = EDITED
    elif ADDED in kinds:
        kind = ADDED
    elif DELETED in kinds:
        kind = DELETED
    else:
        return None
    return obj(kind, name, fields)


def _keyed(items, key):
    return {key(item): item for item in items or ()}


def _struct_key(item):
    return json.dumps(item, sort_keys=True)


def primitive_object_set_diff(old, new, type_name, name, contextual, key=_struct_key):
    """primitiveObjectSetDiff: a set keyed by DiffID (or a hash of the whole object)."""
    old_map, new_map = _keyed(old, key), _keyed(new, key)
    diffs = [primitive_object_diff(item, new_map.get(k), type_name, name, contextual) for k, item in old_map.items()]
    diffs += [primitive_object_diff(None, item, type_name, name, contextual)
              for k, item in new_map.items() if k not in old_map]
    return [d for d in diffs if d]


def _constraint_key(item):
    return f"{item['LTarget']} {item['Operand']} {item['RTarget']}"


def _block(old, new, type_name, name, contextual, skip=()):
    """The common `reflect.DeepEqual -> nil, else Added/Deleted/Edited with all fields` shape."""
    kind = _changed(old, new)
    if kind is None:
        return None
    return obj(kind, name, field_diffs(flatten(old, type_name, skip), flatten(new, type_name, skip), contextual))


# -- job ----------------------------------------------------------------------------------------

def job_diff(old, new, contextual=True):
    """Job.Diff(old -> new). `old` is None for a job that does not exist yet."""
    kind = ADDED if old is None else NONE
    fields = field_diffs(flatten(old, "Job", _JOB_FILTER) if old else None, flatten(new, "Job", _JOB_FILTER),
                         False)
    old = old or {}
    objects = []
    datacenters = string_set_diff(old.get("Datacenters"), new["Datacenters"], "Datacenters", contextual)
    if datacenters and datacenters["Type"] != NONE:
        objects.append(datacenters)
    objects += _constraints(old.get("Constraints"), new["Constraints"], contextual)
    objects += primitive_object_set_diff(old.get("Affinities"), new["Affinities"], "Affinity", "Affinity",
                                         contextual, _constraint_key)
    periodic = _block(old.get("Periodic"), new["Periodic"], "PeriodicConfig", "Periodic", contextual)
    if periodic:
        specs = string_set_diff((old.get("Periodic") or {}).get("Specs"), (new["Periodic"] or {}).get("Specs"),
                                "Specs", contextual)
        if specs and specs["Type"] != NONE:
            periodic["Objects"] = [specs]
        objects.append(periodic)
    groups = _by_name(old.get("TaskGroups"), new["TaskGroups"], group_diff, contextual)
    if kind == NONE and (fields or any(o["Type"] != NONE for o in objects)
                         or any(g["Type"] != NONE for g in groups)):
        kind = EDITED
    return {"Type": kind, "ID": new["ID"], "Fields": fields, "Objects": objects or None, "TaskGroups": groups or None}


def _by_name(old_items, new_items, differ, contextual):
    old_map, new_map = _keyed(old_items, lambda i: i["Name"]), _keyed(new_items, lambda i: i["Name"])
    diffs = [differ(item, new_map.get(name), contextual) for name, item in old_map.items()]
    diffs += [differ(None, item, contextual) for name, item in new_map.items() if name not in old_map]
    return sorted(diffs, key=lambda d: d["Name"])


def _constraints(old, new, contextual):
    return primitive_object_set_diff(old, new, "Constraint", "Constraint", contextual, _constraint_key)


def group_diff(old, new, contextual=True):
    kind = ADDED if old is None else DELETED if new is None else (NONE if old == new else EDITED)
    old_flat, new_flat = flatten(old, "TaskGroup", ("Name",)), flatten(new, "TaskGroup", ("Name",))
    if old is not None and new is not None:
        old_flat["ShutdownDelay"] = go_value(old["ShutdownDelay"]) if old["ShutdownDelay"] is not None else ""
        new_flat["ShutdownDelay"] = go_value(new["ShutdownDelay"]) if new["ShutdownDelay"] is not None else ""
    name = (new or old)["Name"]
    old, new = old or {}, new or {}
    objects = _constraints(old.get("Constraints"), new.get("Constraints"), contextual)
    objects += primitive_object_set_diff(old.get("Affinities"), new.get("Affinities"), "Affinity", "Affinity",
                                         contextual, _constraint_key)
    for key, type_name in (("RestartPolicy", "RestartPolicy"), ("Migrate", "MigrateStrategy"),
                           ("ReschedulePolicy", "ReschedulePolicy"), ("EphemeralDisk", "EphemeralDisk"),
                           ("Consul", "Consul")):
        objects.append(primitive_object_diff(old.get(key), new.get(key), type_name, key, contextual))
    objects.append(primitive_object_diff(old.get("Update"), new.get("Update"), "UpdateStrategy", "Update",
                                         contextual, skip=("Stagger",)))
    objects.append(_disconnect(old.get("Disconnect"), new.get("Disconnect"), contextual))
    objects += _networks(old.get("Networks"), new.get("Networks"), contextual)
    objects.append(_scaling(old.get("Scaling"), new.get("Scaling"), contextual))
    objects += _services(old.get("Services"), new.get("Services"), contextual)
    objects += _volumes(old.get("Volumes"), new.get("Volumes"), contextual)
    tasks = _by_name(old.get("Tasks"), new.get("Tasks"), task_diff, contextual)
    return {"Type": kind, "Name": name, "Fields": field_diffs(old_flat, new_flat, False),
            "Objects": _sorted(objects), "Tasks": tasks or None, "Updates": None}


def task_diff(old, new, contextual=True):
    kind = ADDED if old is None else DELETED if new is None else (NONE if old == new else EDITED)
    name = (new or old)["Name"]
    fields = field_diffs(flatten(old, "Task", ("Name", "Config")), flatten(new, "Task", ("Name", "Config")), False)
    old, new = old or {}, new or {}
    objects = _constraints(old.get("Constraints"), new.get("Constraints"), contextual)
    objects += primitive_object_set_diff(old.get("Affinities"), new.get("Affinities"), "Affinity", "Affinity",
                                         contextual, _constraint_key)
    objects.append(_config(old.get("Config"), new.get("Config"), contextual))
    objects.append(_resources(old.get("Resources"), new.get("Resources"), contextual))
    objects.append(primitive_object_diff(old.get("LogConfig"), new.get("LogConfig"), "LogConfig", "LogConfig",
                                         contextual))
    objects.append(primitive_object_diff(old.get("DispatchPayload"), new.get("DispatchPayload"),
                                         "DispatchPayloadConfig", "DispatchPayload", contextual))
    objects += primitive_object_set_diff(old.get("Artifacts"), new.get("Artifacts"), "TaskArtifact", "Artifact",
                                         contextual, lambda a: a["RelativeDest"])
    objects += _services(old.get("Services"), new.get("Services"), contextual)
    objects.append(_block(old.get("Vault"), new.get("Vault"), "Vault", "Vault", contextual))
    objects.append(primitive_object_diff(old.get("Consul"), new.get("Consul"), "Consul", "Consul", contextual))
    objects += _templates(old.get("Templates"), new.get("Templates"), contextual)
    objects.append(_identity(old.get("Identity"), new.get("Identity"), contextual))
    old_ids = _keyed(old.get("Identities"), lambda i: i["Name"])
    new_ids = _keyed(new.get("Identities"), lambda i: i["Name"])
    objects += [_identity(old_ids.get(k), new_ids.get(k), contextual) for k in set(old_ids) | set(new_ids)]
    objects += _positional(old.get("VolumeMounts"), new.get("VolumeMounts"), "VolumeMount", "VolumeMount",
                           contextual)
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": _sorted(objects), "Annotations": None}


# -- blocks with their own rules ------------------------------------------------------------------

def _config(old, new, contextual):
    if old == new:
        return None
    kind = ADDED if not old else DELETED if not new else EDITED
    return obj(kind, "Config", field_diffs(flatten_any(old or {}), flatten_any(new or {}), contextual))


def _resources(old, new, contextual):
    diff = _block(old, new, "Resources", "Resources", contextual)
    if diff:
        diff["Objects"] = _sorted(_networks((old or {}).get("Networks"), (new or {}).get("Networks"), contextual))
    return diff


def _networks(old, new, contextual):
    """Networks have no identity: an edit shows as a Deleted and an Added network."""
    old_map, new_map = _keyed(old, _struct_key), _keyed(new, _struct_key)
    diffs = [_network(item, None, contextual) for k, item in old_map.items() if k not in new_map]
    return diffs + [_network(None, item, contextual) for k, item in new_map.items() if k not in old_map]


def _network(old, new, contextual):
    skip = ("Device", "CIDR", "IP", "MBits")
    diff = _block(old, new, "NetworkResource", "Network", contextual, skip)
    objects = _ports((old or {}).get("ReservedPorts"), (new or {}).get("ReservedPorts"), "Static Port",
                     (), contextual)
    objects += _ports((old or {}).get("DynamicPorts"), (new or {}).get("DynamicPorts"), "Dynamic Port",
                      ("Value", "IgnoreCollision"), contextual)
    dns = _changed((old or {}).get("DNS"), (new or {}).get("DNS"))
    if dns:
        flat = [{k: ",".join(v) for k, v in (d or {}).items() if v} for d in ((old or {}).get("DNS"),
                                                                              (new or {}).get("DNS"))]
        objects.append(obj(dns, "DNS", field_diffs(flat[0], flat[1], contextual)))
    diff["Objects"] = _sorted(objects)
    return diff


def _ports(old, new, name, skip, contextual):
    old_map, new_map = _keyed(old, lambda p: p["Label"]), _keyed(new, lambda p: p["Label"])
    diffs = [primitive_object_diff(p, new_map.get(k), "Port", name, contextual, skip) for k, p in old_map.items()]
    diffs += [primitive_object_diff(None, p, "Port", name, contextual, skip)
              for k, p in new_map.items() if k not in old_map]
    return [d for d in diffs if d]


def _disconnect(old, new, contextual):
    kind = _changed(old, new)
    if kind is None:
        return None
    flat = [flatten_any(d) if d else {} for d in (old, new)]
    return obj(kind, "Disconnect", field_diffs(flat[0], flat[1], contextual))


def _scaling(old, new, contextual):
    kind = _changed(old, new)
    if kind is None:
        return None
    skip = ("CreateIndex", "ModifyIndex", "ID", "Type")
    flat = []
    for item in (old, new):
        values = flatten(item, "ScalingPolicy", skip)
        flat.append({k: v for k, v in values.items() if not k.startswith("Target[")})
    diff = obj(kind, "Scaling", field_diffs(flat[0], flat[1], False))
    policies = [(item or {}).get("Policy") for item in (old, new)]
    if policies[0] != policies[1]:
        policy_kind = ADDED if not policies[0] else DELETED if not policies[1] else EDITED
        diff["Objects"] = [obj(policy_kind, "Policy", field_diffs(flatten_any(policies[0] or {}),
                                                                 flatten_any(policies[1] or {}), False))]
    return diff


def _volumes(old, new, contextual):
    if old == new:
        return []
    old, new = old or {}, new or {}
    diffs = [_volume(old[k], new.get(k), contextual) for k in old]
    return diffs + [_volume(None, new[k], contextual) for k in new if k not in old]


def _volume(old, new, contextual):
    diff = _block(old, new, "VolumeRequest", "Volume", contextual)
    if diff:
        options = _block((old or {}).get("MountOptions"), (new or {}).get("MountOptions"), "CSIMountOptions",
                         "MountOptions", contextual)
        diff["Objects"] = _sorted([options])
    return diff


def _positional(old, new, type_name, name, contextual):
    old, new = old or [], new or []
    diffs = [_block(old[i] if i < len(old) else None, new[i] if i < len(new) else None, type_name, name,
                    contextual) for i in range(max(len(old), len(new)))]
    return [d for d in diffs if d]


def _identity(old, new, contextual):
    diff = _block(old, new, "WorkloadIdentity", "Identity", contextual)
    if diff:
        diff["Objects"] = _sorted([string_set_diff((old or {}).get("Audience"), (new or {}).get("Audience"),
                                                   "Audience", contextual)])
    return diff


def _templates(old, new, contextual):
    old, new = old or [], new or []
    if len(old) == 1 and len(new) == 1:
        return [d for d in (_template(old[0], new[0], contextual),) if d]
    matched, diffs = set(), []
    for template in old:
        match = next((i for i, t in enumerate(new) if i not in matched and t["DestPath"] == template["DestPath"]),
                     None)
        if match is not None:
            matched.add(match)
        diffs.append(_template(template, new[match] if match is not None else None, contextual))
    diffs += [_template(None, t, contextual) for i, t in enumerate(new) if i not in matched]
    return [d for d in diffs if d]


def _template(old, new, contextual):
    diff = _block(old, new, "Template", "Template", contextual)
    if diff:
        flats = []
        for item in (old, new):
            values = flatten(item, "Template")
            for key in ("Uid", "Gid"):
                if item and item[key] is not None:
                    values[key] = go_value(item[key])
            flats.append(values)
        diff["Fields"] = field_diffs(flats[0], flats[1], contextual)
        waits = [(item or {}).get("Wait") for item in (old, new)]
        wait_kind = _changed(waits[0], waits[1])
        # waitConfigDiff names its object "Template" and flattens the pointer fields too.
        objects = [obj(wait_kind, "Template", field_diffs(flatten_any(waits[0] or {}), flatten_any(waits[1] or {}),
                                                         contextual)) if wait_kind else None]
        scripts = [(item or {}).get("ChangeScript") for item in (old, new)]
        script = _block(scripts[0], scripts[1], "ChangeScript", "ChangeScript", contextual)
        if script:
            script["Objects"] = _sorted([string_set_diff((scripts[0] or {}).get("Args"),
                                                         (scripts[1] or {}).get("Args"), "Args", contextual)])
        diff["Objects"] = _sorted(objects + [script])
    return diff


def _services(old, new, contextual):
    old, new = old or [], new or []
    if len(old) == 1 and len(new) == 1:
        return [d for d in (_service(old[0], new[0], contextual),) if d]
    new_matches = [-1] * len(new)
    diffs = []
    for index, service in enumerate(old):
        match = _service_match(service, index, new, new_matches)
        if match < 0:
            diffs.append(_service(service, None, contextual))
            continue
        new_matches[match] = index
        diffs.append(_service(service, new[match], contextual))
    diffs += [_service(None, new[i], contextual) for i, m in enumerate(new_matches) if m == -1]
    return [d for d in diffs if d]


def _service_match(service, index, candidates, matches):
    """findServiceMatch: name counts 3, port label 2, position 1; more than 2 is a match."""
    best, best_score = -1, 0
    for i, other in enumerate(candidates):
        if matches[i] >= 0:
            continue
        score = (i == index) + 2 * (service["PortLabel"] == other["PortLabel"]) + 3 * (service["Name"] == other["Name"])
        if score > 2 and score > best_score:
            best, best_score = i, score
    return best


def _service(old, new, contextual):
    diff = _block(old, new, "Service", "Service", contextual)
    if not diff:
        return None
    old, new = old or {}, new or {}
    objects = [string_set_diff(old.get("CanaryTags"), new.get("CanaryTags"), "CanaryTags", contextual),
               string_set_diff(old.get("Tags"), new.get("Tags"), "Tags", contextual)]
    old_checks = _keyed(old.get("Checks"), lambda c: c["Name"])
    new_checks = _keyed(new.get("Checks"), lambda c: c["Name"])
    for key in set(old_checks) | set(new_checks):
        check = _block(old_checks.get(key), new_checks.get(key), "ServiceCheck", "Check", contextual)
        if check:
            restart = _block((old_checks.get(key) or {}).get("CheckRestart"),
                             (new_checks.get(key) or {}).get("CheckRestart"), "CheckRestart", "CheckRestart",
                             contextual)
            check["Objects"] = _sorted([restart])
        objects.append(check)
    connect = _changed(old.get("Connect"), new.get("Connect"))
    if connect:
        objects.append(obj(connect, "ConsulConnect", field_diffs(flatten_any(old.get("Connect") or {}),
                                                                 flatten_any(new.get("Connect") or {}), contextual)))
    objects.append(_identity(old.get("Identity"), new.get("Identity"), contextual))
    objects.append(_block(old.get("Weights"), new.get("Weights"), "ServiceWeights", "Weights", contextual))
    diff["Objects"] = _sorted(objects)
    return diff
