"""Field tables of the Nomad job types, shared by input checking, canonicalization and diffs.

Each type lists the fields of Nomad's server-side struct (nomad/structs), in Go order, with a
kind; GET /v1/job returns exactly these fields. API_EXTRAS adds fields that only the api
package (api/jobs.go, api/tasks.go) accepts on input. Kinds:
  s i b d u i8 u8 i64   string, int, bool, time.Duration (ns), uint64, int8, uint8, int64
  *d *i *b              pointers to primitives (diff.go's flatten skips them)
  map                   map[string]string (diff.go flattens it as Name[key])
  hdr                   map[string][]string
  any                   free-form JSON (task Config, Connect, ...): kept as given
  [s]                   []string
  [T] T =T {T}          list of T, pointer to T, T by value, map of name to T
"""

from __future__ import annotations

from .common import fail

TYPES = {
    "Job": (
        ("Stop", "b"), ("Region", "s"), ("Namespace", "s"), ("ID", "s"), ("ParentID", "s"),
        ("Name", "s"), ("Type", "s"), ("Priority", "i"), ("AllAtOnce", "b"), ("Datacenters", "[s]"),
        ("NodePool", "s"), ("Constraints", "[Constraint]"), ("Affinities", "[Affinity]"),
        ("Spreads", "[Spread]"), ("TaskGroups", "[TaskGroup]"), ("Update", "=UpdateStrategy"),
        ("Multiregion", "any"), ("Periodic", "PeriodicConfig"),
        ("ParameterizedJob", "ParameterizedJobConfig"), ("Dispatched", "b"),
        ("DispatchIdempotencyToken", "s"), ("Payload", "any"), ("Meta", "map"),
        ("ConsulNamespace", "s"), ("VaultNamespace", "s"), ("NomadTokenID", "s"), ("Status", "s"),
        ("StatusDescription", "s"), ("Stable", "b"), ("Version", "u"), ("SubmitTime", "i64"),
        ("CreateIndex", "u"), ("ModifyIndex", "u"), ("JobModifyIndex", "u"), ("UI", "JobUIConfig"),
        ("VersionTag", "any"),
    ),
    "TaskGroup": (
        ("Name", "s"), ("Count", "i"), ("Update", "UpdateStrategy"), ("Migrate", "MigrateStrategy"),
        ("Constraints", "[Constraint]"), ("Scaling", "ScalingPolicy"), ("RestartPolicy", "RestartPolicy"),
        ("Disconnect", "DisconnectStrategy"), ("Tasks", "[Task]"), ("EphemeralDisk", "EphemeralDisk"),
        ("Meta", "map"), ("ReschedulePolicy", "ReschedulePolicy"), ("Affinities", "[Affinity]"),
        ("Spreads", "[Spread]"), ("Networks", "[NetworkResource]"), ("Consul", "Consul"),
        ("Services", "[Service]"), ("Volumes", "{VolumeRequest}"), ("ShutdownDelay", "*d"),
        ("MaxRunDuration", "*d"), ("StopAfterClientDisconnect", "*d"), ("MaxClientDisconnect", "*d"),
        ("PreventRescheduleOnLost", "b"),
    ),
    "Task": (
        ("Name", "s"), ("Driver", "s"), ("User", "s"), ("Config", "any"), ("Env", "map"),
        ("Services", "[Service]"), ("Vault", "Vault"), ("Secrets", "any"), ("Consul", "Consul"),
        ("Templates", "[Template]"), ("Constraints", "[Constraint]"), ("Affinities", "[Affinity]"),
        ("Resources", "Resources"), ("RestartPolicy", "RestartPolicy"),
        ("DispatchPayload", "DispatchPayloadConfig"), ("Lifecycle", "TaskLifecycleConfig"),
        ("Meta", "map"), ("KillTimeout", "d"), ("LogConfig", "LogConfig"), ("Artifacts", "[TaskArtifact]"),
        ("Leader", "b"), ("ShutdownDelay", "d"), ("VolumeMounts", "[VolumeMount]"),
        ("ScalingPolicies", "[ScalingPolicy]"), ("KillSignal", "s"), ("Kind", "s"),
        ("CSIPluginConfig", "any"), ("Identity", "WorkloadIdentity"), ("Identities", "[WorkloadIdentity]"),
        ("Actions", "any"), ("Schedule", "any"),
    ),
    "Resources": (
        ("CPU", "i"), ("Cores", "i"), ("MemoryMB", "i"), ("MemoryMaxMB", "i"), ("DiskMB", "i"), ("IOPS", "i"),
        ("Networks", "[NetworkResource]"), ("Devices", "[RequestedDevice]"), ("NUMA", "NUMA"),
        ("SecretsMB", "i"),
    ),
    "NUMA": (("Affinity", "s"), ("Devices", "[s]")),
    "RequestedDevice": (
        ("Name", "s"), ("Count", "u"), ("Constraints", "[Constraint]"), ("Affinities", "[Affinity]"),
    ),
    "NetworkResource": (
        ("Mode", "s"), ("Device", "s"), ("CIDR", "s"), ("IP", "s"), ("Hostname", "s"), ("MBits", "i"),
        ("DNS", "DNSConfig"), ("ReservedPorts", "[Port]"), ("DynamicPorts", "[Port]"), ("CNI", "any"),
    ),
    "Port": (("Label", "s"), ("Value", "i"), ("To", "i"), ("HostNetwork", "s"), ("IgnoreCollision", "b")),
    "DNSConfig": (("Servers", "[s]"), ("Searches", "[s]"), ("Options", "[s]")),
    "Service": (
        ("Name", "s"), ("TaskName", "s"), ("PortLabel", "s"), ("AddressMode", "s"), ("Address", "s"),
        ("EnableTagOverride", "b"), ("Tags", "[s]"), ("CanaryTags", "[s]"), ("Checks", "[ServiceCheck]"),
        ("Connect", "any"), ("Meta", "map"), ("CanaryMeta", "map"), ("Weights", "ServiceWeights"),
        ("TaggedAddresses", "map"), ("Namespace", "s"), ("OnUpdate", "s"), ("Provider", "s"),
        ("Cluster", "s"), ("Identity", "WorkloadIdentity"), ("Kind", "s"),
    ),
    "ServiceCheck": (
        ("Name", "s"), ("Type", "s"), ("Command", "s"), ("Args", "[s]"), ("Path", "s"), ("Protocol", "s"),
        ("PortLabel", "s"), ("Expose", "b"), ("AddressMode", "s"), ("Interval", "d"), ("Timeout", "d"),
        ("InitialStatus", "s"), ("Notes", "s"), ("TLSServerName", "s"), ("TLSSkipVerify", "b"),
        ("Method", "s"), ("Header", "hdr"), ("CheckRestart", "CheckRestart"), ("GRPCService", "s"),
        ("GRPCUseTLS", "b"), ("TaskName", "s"), ("SuccessBeforePassing", "i"),
        ("FailuresBeforeCritical", "i"), ("FailuresBeforeWarning", "i"), ("Body", "s"), ("OnUpdate", "s"),
    ),
    "CheckRestart": (("Limit", "i"), ("Grace", "d"), ("IgnoreWarnings", "b")),
    "ServiceWeights": (("Passing", "i"), ("Warning", "i")),
    "Template": (
        ("SourcePath", "s"), ("DestPath", "s"), ("EmbeddedTmpl", "s"), ("ChangeMode", "s"),
        ("ChangeSignal", "s"), ("ChangeScript", "ChangeScript"), ("Once", "b"), ("Splay", "d"),
        ("Perms", "s"), ("Uid", "*i"), ("Gid", "*i"), ("LeftDelim", "s"), ("RightDelim", "s"),
        ("Envvars", "b"), ("VaultGrace", "d"), ("Wait", "WaitConfig"), ("ErrMissingKey", "b"),
    ),
    "WaitConfig": (("Min", "*d"), ("Max", "*d")),
    "ChangeScript": (
        ("Command", "s"), ("Args", "[s]"), ("Timeout", "d"), ("FailOnError", "b"), ("RunOnFirstRender", "b"),
    ),
    "UpdateStrategy": (
        ("Stagger", "d"), ("MaxParallel", "i"), ("HealthCheck", "s"), ("MinHealthyTime", "d"),
        ("HealthyDeadline", "d"), ("ProgressDeadline", "d"), ("AutoRevert", "b"), ("AutoPromote", "b"),
        ("Canary", "i"),
    ),
    "MigrateStrategy": (("MaxParallel", "i"), ("HealthCheck", "s"), ("MinHealthyTime", "d"),
                        ("HealthyDeadline", "d")),
    "RestartPolicy": (("Attempts", "i"), ("Interval", "d"), ("Delay", "d"), ("Mode", "s"),
                      ("RenderTemplates", "b")),
    "ReschedulePolicy": (("Attempts", "i"), ("Interval", "d"), ("Delay", "d"), ("DelayFunction", "s"),
                         ("MaxDelay", "d"), ("Unlimited", "b")),
    "EphemeralDisk": (("Sticky", "b"), ("SizeMB", "i"), ("Migrate", "b")),
    "Constraint": (("LTarget", "s"), ("RTarget", "s"), ("Operand", "s")),
    "Affinity": (("LTarget", "s"), ("RTarget", "s"), ("Operand", "s"), ("Weight", "i8")),
    "Spread": (("Attribute", "s"), ("Weight", "i8"), ("SpreadTarget", "[SpreadTarget]")),
    "SpreadTarget": (("Value", "s"), ("Percent", "u8")),
    "LogConfig": (("MaxFiles", "i"), ("MaxFileSizeMB", "i"), ("Disabled", "b")),
    "VolumeRequest": (
        ("Name", "s"), ("Type", "s"), ("Source", "s"), ("ReadOnly", "b"), ("Sticky", "b"),
        ("AccessMode", "s"), ("AttachmentMode", "s"), ("MountOptions", "CSIMountOptions"), ("PerAlloc", "b"),
    ),
    "CSIMountOptions": (("FSType", "s"), ("MountFlags", "[s]")),
    "VolumeMount": (("Volume", "s"), ("Destination", "s"), ("ReadOnly", "b"), ("PropagationMode", "s"),
                    ("SELinuxLabel", "s")),
    "TaskLifecycleConfig": (("Hook", "s"), ("Sidecar", "b")),
    "DisconnectStrategy": (("LostAfter", "d"), ("StopOnClientAfter", "*d"), ("Replace", "*b"),
                           ("Reconcile", "s")),
    "Consul": (("Namespace", "s"), ("Cluster", "s"), ("Partition", "s")),
    "TaskArtifact": (
        ("GetterSource", "s"), ("GetterOptions", "map"), ("GetterHeaders", "map"), ("GetterMode", "s"),
        ("GetterInsecure", "b"), ("RelativeDest", "s"), ("Chown", "b"),
    ),
    "Vault": (
        ("Role", "s"), ("Namespace", "s"), ("Cluster", "s"), ("Env", "b"), ("DisableFile", "b"),
        ("ChangeMode", "s"), ("ChangeSignal", "s"), ("AllowTokenExpiration", "b"),
    ),
    "WorkloadIdentity": (
        ("Name", "s"), ("Audience", "[s]"), ("ChangeMode", "s"), ("ChangeSignal", "s"), ("Env", "b"),
        ("File", "b"), ("Filepath", "s"), ("ServiceName", "s"), ("TTL", "d"), ("ExtraClaims", "[s]"),
    ),
    "DispatchPayloadConfig": (("File", "s"),),
    "ScalingPolicy": (
        ("ID", "s"), ("Type", "s"), ("Target", "map"), ("Policy", "any"), ("Min", "i64"), ("Max", "i64"),
        ("Enabled", "b"), ("CreateIndex", "u"), ("ModifyIndex", "u"),
    ),
    "PeriodicConfig": (("Enabled", "b"), ("Spec", "s"), ("Specs", "[s]"), ("SpecType", "s"),
                       ("ProhibitOverlap", "b"), ("TimeZone", "s")),
    "ParameterizedJobConfig": (("Payload", "s"), ("MetaRequired", "[s]"), ("MetaOptional", "[s]")),
    "JobUIConfig": (("Description", "s"), ("Links", "[JobUILink]")),
    "JobUILink": (("Label", "s"), ("Url", "s")),
}

# Fields only the api package knows; canonicalization folds them into struct fields.
API_EXTRAS = {
    "Job": (("Reschedule", "ReschedulePolicy"), ("Migrate", "MigrateStrategy")),
    "Service": (("CheckRestart", "CheckRestart"),),
    "ServiceCheck": (("Advertise", "s"),),
    "LogConfig": (("Enabled", "*b"),),
    "Vault": (("Policies", "[s]"),),
    "ScalingPolicy": (("Namespace", "s"),),
}

# The request envelopes around a job (api.JobRegisterRequest, api.JobPlanRequest + WriteRequest).
_WRITE_REQUEST = (("Region", "s"), ("Namespace", "s"), ("SecretID", "s"), ("IdempotencyToken", "s"))
TYPES["JobRegisterRequest"] = (
    ("Submission", "any"), ("Job", "Job"), ("EnforceIndex", "b"), ("JobModifyIndex", "u"),
    ("PolicyOverride", "b"), ("PreserveCounts", "b"), ("PreserveResources", "b"), ("EvalPriority", "i"),
) + _WRITE_REQUEST
TYPES["JobPlanRequest"] = (("Job", "Job"), ("Diff", "b"), ("PolicyOverride", "b")) + _WRITE_REQUEST

PRIMITIVES = {"s", "i", "b", "d", "u", "i8", "u8", "i64"}
_GO_TYPES = {"s": "string", "i": "int", "b": "bool", "d": "time.Duration", "u": "uint64", "i8": "int8",
             "u8": "uint8", "i64": "int64", "map": "map[string]string", "hdr": "map[string][]string",
             "[s]": "[]string"}
_INT_RANGES = {"i8": (-128, 127), "u8": (0, 255), "u": (0, 2**64 - 1)}


def fields(type_name, api=False):
    """The (name, kind) pairs of a type; with api=True also the input-only fields."""
    result = TYPES[type_name]
    if api:
        result = result + API_EXTRAS.get(type_name, ())
    return result


def zero(kind):
    """Go's zero value of a kind, as JSON: structs by value are expanded, pointers are null."""
    if kind in ("s",):
        return ""
    if kind in ("i", "d", "u", "i8", "u8", "i64"):
        return 0
    if kind == "b":
        return False
    if kind.startswith("="):
        return {name: zero(sub) for name, sub in TYPES[kind[1:]]}
    return None


def struct_kind(kind):
    """The type name inside a struct-ish kind ("[Task]" -> "Task"), or None for primitives/maps."""
    inner = kind.strip("[]{}=")
    return inner if inner in TYPES else None


class Normalizer:
    """Checks a decoded JSON value against the api types the way Go's encoding/json would
    (field names match case-insensitively; a wrong JSON type is a 400 with Go's message), and in
    strict mode answers 400 for unknown fields with their path from the Job, for example
    `unknown field "TaskGroups[0].Tasks[0].Drvier"`."""

    def __init__(self, strict):
        self.strict = strict

    def struct(self, value, type_name, path="", go_path=""):
        """`path` names the value for humans (TaskGroups[0]); `go_path` as Go's decoder does
        (Job.TaskGroups)."""
        if value is None:
            return None
        table = {name.lower(): (name, kind) for name, kind in fields(type_name, api=True)}
        out = {}
        for key, item in value.items():
            match = table.get(key.lower())
            if match is None:
                if self.strict:
                    fail(400, f'unknown field "{_join(path, key)}"')
                continue
            name, kind = match
            field = _join(go_path, name)
            out[name] = self.value(item, kind, _join(path, name), field, f"{type_name}.{field}")
        return out

    def value(self, item, kind, path, go_path, where):
        """`where` is Go's "Struct.Field.Path" used in type errors."""
        if item is None or kind == "any":
            return item
        plain = kind.lstrip("*")
        if plain in PRIMITIVES:
            return _primitive(item, plain, where)
        if kind in ("map", "hdr", "[s]"):
            _check_container(item, kind, where)
            return dict(item) if isinstance(item, dict) else list(item)
        inner = struct_kind(kind)
        if kind.startswith("["):
            _expect(isinstance(item, list), item, where, f"[]*api.{inner}")
            return [self._element(v, inner, f"{path}[{i}]", go_path, where) for i, v in enumerate(item)]
        if kind.startswith("{"):
            _expect(isinstance(item, dict), item, where, f"map[string]*api.{inner}")
            return {k: self._element(v, inner, f"{path}[{k}]", go_path, where) for k, v in item.items()}
        return self._element(item, inner, path, go_path, where)

    def _element(self, item, inner, path, go_path, where):
        _expect(item is None or isinstance(item, dict), item, where, f"api.{inner}")
        return self.struct(item, inner, path, go_path)


def _primitive(item, kind, where):
    if kind == "s":
        _expect(isinstance(item, str), item, where, _GO_TYPES[kind])
    elif kind == "b":
        _expect(isinstance(item, bool), item, where, _GO_TYPES[kind])
    else:
        _expect(isinstance(item, (int, float)) and not isinstance(item, bool), item, where, _GO_TYPES[kind])
        if item != int(item) or not _in_range(int(item), kind):
            fail(400, f"json: cannot unmarshal number {_number(item)} into Go struct field {where} "
                      f"of type {_GO_TYPES[kind]}")
        item = int(item)
    return item


def _check_container(item, kind, where):
    _expect(isinstance(item, dict if kind != "[s]" else list), item, where, _GO_TYPES[kind])
    values = item.values() if isinstance(item, dict) else item
    for val in values:
        if kind == "hdr":
            _expect(val is None or isinstance(val, list), val, where, "[]string")
            for entry in val or ():
                _expect(isinstance(entry, str), entry, where, "string")
        else:
            _expect(isinstance(val, str), val, where, "string")


def _expect(ok, item, where, go_type):
    if not ok:
        fail(400, f"json: cannot unmarshal {_json_type(item)} into Go struct field {where} of type {go_type}")


def _in_range(number, kind):
    low, high = _INT_RANGES.get(kind, (-(2**63), 2**63 - 1))
    return low <= number <= high


def _number(item):
    return str(item) if isinstance(item, int) else repr(item)


def _json_type(item):
    if isinstance(item, bool):
        return "bool"
    if isinstance(item, (int, float)):
        return "number"
    if isinstance(item, str):
        return "string"
    if isinstance(item, list):
        return "array"
    return "object"


def _join(path, name):
    return f"{path}.{name}" if path else name
