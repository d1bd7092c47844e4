"""Turn a submitted api.Job into the stored structs.Job, as Nomad does on register and plan:
api Canonicalize (api/jobs.go, api/tasks.go), ApiJobToStructJob (command/agent/job_endpoint.go),
structs Canonicalize and the admission mutators that add implied constraints and the node pool
(nomad/job_endpoint_hooks.go). The result is what GET /v1/job/<id> returns."""

from __future__ import annotations

import copy

from .common import stable_id
from .schema import TYPES, struct_kind, zero

SECOND = 1_000_000_000
MINUTE = 60 * SECOND

DEFAULT_UPDATE = {"Stagger": 30 * SECOND, "MaxParallel": 1, "HealthCheck": "checks",
                  "MinHealthyTime": 10 * SECOND, "HealthyDeadline": 5 * MINUTE,
                  "ProgressDeadline": 10 * MINUTE, "AutoRevert": False, "AutoPromote": False, "Canary": 0}
DEFAULT_MIGRATE = {"MaxParallel": 1, "HealthCheck": "checks", "MinHealthyTime": 10 * SECOND,
                   "HealthyDeadline": 5 * MINUTE}
_RESCHEDULE = {
    "service": {"Attempts": 0, "Interval": 0, "Delay": 30 * SECOND, "DelayFunction": "exponential",
                "MaxDelay": 60 * MINUTE, "Unlimited": True},
    "batch": {"Attempts": 1, "Interval": 24 * 60 * MINUTE, "Delay": 5 * SECOND, "DelayFunction": "constant",
              "MaxDelay": 0, "Unlimited": False},
}
_RESCHEDULE_OTHER = {"Attempts": 0, "Interval": 0, "Delay": 0, "DelayFunction": "", "MaxDelay": 0,
                     "Unlimited": False}
_RESTART = {
    "service": {"Attempts": 2, "Interval": 30 * MINUTE, "Delay": 15 * SECOND, "Mode": "fail",
                "RenderTemplates": False},
    "batch": {"Attempts": 3, "Interval": 24 * 60 * MINUTE, "Delay": 15 * SECOND, "Mode": "fail",
              "RenderTemplates": False},
}
_CONSUL_CONSTRAINT = {"LTarget": "${attr.consul.version}", "RTarget": ">= 1.8.0", "Operand": "semver"}
_NOMAD_SD_CONSTRAINT = {"LTarget": "${attr.nomad.service_discovery}", "RTarget": "true", "Operand": "="}
_NOMAD_CHECKS_CONSTRAINT = {"LTarget": "${attr.nomad.version}", "RTarget": ">= 1.4.0", "Operand": "semver"}
_CNI_CONSTRAINTS = [{"LTarget": f"${{attr.plugins.cni.version.{name}}}", "RTarget": ">= 0.4.0",
                     "Operand": "semver"} for name in ("bridge", "firewall", "host-local", "loopback", "portmap")]


# ApiJobToStructJob copies only these; server-owned fields (Status, indexes, ...) are dropped.
_JOB_FIELDS_KEPT = {"Stop", "Region", "Namespace", "ID", "Name", "Type", "Priority", "AllAtOnce", "Datacenters",
                    "NodePool", "Payload", "Meta", "VaultNamespace", "Version", "Constraints", "Affinities", "UI",
                    "VersionTag", "Spreads", "Periodic", "ParameterizedJob", "Multiregion"}


_SPEC_IGNORED = ("Status", "StatusDescription", "Stable", "Version", "CreateIndex", "ModifyIndex", "JobModifyIndex",
                 "SubmitTime")


def spec_changed(old, new):
    """Job.SpecChanged: everything but status, stability, version, indexes and submit time."""
    if old is None:
        return True
    strip = [{k: v for k, v in job.items() if k not in _SPEC_IGNORED} for job in (old, new)]
    return strip[0] != strip[1]


def build(type_name, given):
    """A full struct of `type_name`: Go zero values overlaid with the given (normalized) fields.
    Fields the struct does not have (api-only ones) are dropped."""
    if given is None:
        return None
    out = {}
    for name, kind in TYPES[type_name]:
        value = given.get(name)
        if value is None:
            out[name] = zero(kind)
            continue
        inner = struct_kind(kind)
        if inner and kind.startswith("["):
            value = [build(inner, v) for v in value]
        elif inner and kind.startswith("{"):
            value = {k: build(inner, v) for k, v in value.items()}
        elif inner:
            value = build(inner, value)
        out[name] = copy.deepcopy(value)
    return out


def _defaults(given, defaults):
    """api-style canonicalize: fields left null take the default."""
    merged = dict(defaults)
    merged.update({k: v for k, v in (given or {}).items() if v is not None})
    return merged


def _nil_if_empty(obj, *names):
    for name in names:
        if not obj.get(name):
            obj[name] = None


def canonicalize(api_job, namespace, region):
    """api.Job (normalized) -> structs.Job. `namespace`/`region` are the request's, which win."""
    job_type = api_job.get("Type") or "service"
    api_job = dict(api_job, Type=job_type)
    api_job.setdefault("Name", None)
    if api_job["Name"] is None:
        api_job["Name"] = api_job.get("ID") or ""
    job_update = None
    if api_job.get("Update") is not None:
        job_update = _defaults(api_job["Update"], DEFAULT_UPDATE)
    elif job_type in ("service", "system"):
        job_update = dict(DEFAULT_UPDATE)

    job = build("Job", {k: v for k, v in api_job.items() if k in _JOB_FIELDS_KEPT})
    job.update(Namespace=namespace, Region=region, Type=job_type)
    if api_job.get("Priority") is None:
        job["Priority"] = 50
    if job_update and job_update["MaxParallel"] > 0:
        job["Update"].update(Stagger=job_update["Stagger"], MaxParallel=job_update["MaxParallel"])
    job["Datacenters"] = job["Datacenters"] or ["*"]
    job["NodePool"] = job["NodePool"] or "default"
    _nil_if_empty(job, "Meta", "Constraints", "Affinities", "Spreads")
    for affinity in job["Affinities"] or ():
        affinity["Weight"] = affinity["Weight"] or 50
    if job["Periodic"] is not None:
        job["Periodic"] = build("PeriodicConfig", _defaults(
            api_job["Periodic"], {"Enabled": True, "SpecType": "cron", "ProhibitOverlap": False,
                                  "TimeZone": "UTC"}))
    groups = api_job.get("TaskGroups") or []
    job["TaskGroups"] = [_group(g, api_job, job, job_update) for g in groups] or None
    _implied_constraints(job)
    return job


def _group(api_group, api_job, job, job_update):
    job_type = job["Type"]
    group = build("TaskGroup", {k: v for k, v in api_group.items() if k != "Tasks"})
    name = group["Name"]
    scaling = api_group.get("Scaling")
    if api_group.get("Count") is None:
        group["Count"] = scaling["Min"] if scaling and scaling.get("Min") is not None else 1
    if scaling is not None:
        group["Scaling"].update(
            ID=stable_id(f"scaling:{job['Namespace']}/{job['ID']}/{name}"), Type=scaling.get("Type") or "horizontal",
            Target={"Namespace": job["Namespace"], "Job": job["ID"], "Group": name},
            Min=group["Count"] if scaling.get("Min") is None else scaling["Min"],
            Enabled=True if scaling.get("Enabled") is None else scaling["Enabled"])
    group["EphemeralDisk"] = build("EphemeralDisk", _defaults(api_group.get("EphemeralDisk"),
                                                              {"Sticky": False, "SizeMB": 300, "Migrate": False}))
    if job_update is not None or api_group.get("Update") is not None:
        merged = _defaults(api_group.get("Update"), job_update or DEFAULT_UPDATE)
        group["Update"] = build("UpdateStrategy", merged)
    reschedule = _merge_optional(api_job.get("Reschedule"), api_group.get("ReschedulePolicy"))
    if reschedule is None and job_type not in ("system", "sysbatch"):
        reschedule = {}
    if reschedule is not None:
        group["ReschedulePolicy"] = build("ReschedulePolicy",
                                          _defaults(reschedule, _RESCHEDULE.get(job_type, _RESCHEDULE_OTHER)))
    migrate = _merge_optional(api_job.get("Migrate"), api_group.get("Migrate"))
    if migrate is None and job_type == "service":
        migrate = {}
    if migrate is not None:
        group["Migrate"] = build("MigrateStrategy", _defaults(migrate, DEFAULT_MIGRATE))
    restart = _defaults(api_group.get("RestartPolicy"), _RESTART.get(job_type, _RESTART["batch"]))
    group["RestartPolicy"] = build("RestartPolicy", restart)
    if group["Disconnect"] is not None:
        given = api_group["Disconnect"]
        group["Disconnect"].update(Replace=True if given.get("Replace") is None else given["Replace"],
                                   Reconcile=given.get("Reconcile") or "best_score")
    if group["Consul"] is not None:
        group["Consul"]["Namespace"] = group["Consul"]["Namespace"] or job["ConsulNamespace"]
        group["Consul"]["Cluster"] = group["Consul"]["Cluster"] or "default"
    if group["Volumes"]:
        group["Volumes"] = {k: v for k, v in group["Volumes"].items() if v and v["Type"] in ("host", "csi")}
    _nil_if_empty(group, "Meta", "Constraints", "Affinities", "Spreads", "Volumes", "Networks")
    for item in (group["Affinities"] or []) + (group["Spreads"] or []):
        item["Weight"] = item["Weight"] or 50
    for network in group["Networks"] or ():
        network["Device"] = ""
    group["Services"] = _services(api_group.get("Services"), job, name, None)
    group["Tasks"] = [_task(t, job, group) for t in api_group.get("Tasks") or []] or None
    return group


def _merge_optional(job_level, group_level):
    if job_level is None and group_level is None:
        return None
    return _defaults(group_level, job_level or {})


def _task(api_task, job, group):
    task = build("Task", api_task)
    name = task["Name"]
    resources = dict(api_task.get("Resources") or {})
    if resources.get("Cores") is None and resources.get("CPU") is None:
        resources["CPU"] = 100
    resources.setdefault("MemoryMB", None)
    if resources["MemoryMB"] is None:
        resources["MemoryMB"] = 300
    task["Resources"] = build("Resources", dict(resources, DiskMB=None))
    if task["Resources"]["NUMA"] is not None:
        task["Resources"]["NUMA"]["Affinity"] = task["Resources"]["NUMA"]["Affinity"] or "none"
    _nil_if_empty(task["Resources"], "Networks", "Devices")
    if api_task.get("KillTimeout") is None:
        task["KillTimeout"] = 5 * SECOND
    log = api_task.get("LogConfig") or {}
    task["LogConfig"] = build("LogConfig", _defaults(log, {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False}))
    task["RestartPolicy"] = build("RestartPolicy", _defaults(api_task.get("RestartPolicy"), group["RestartPolicy"]))
    for artifact in task["Artifacts"] or ():
        artifact["GetterMode"] = artifact["GetterMode"] or "any"
        if not artifact["RelativeDest"]:
            base = artifact["GetterSource"].rstrip("/").rsplit("/", 1)[-1]
            artifact["RelativeDest"] = f"local/{base}" if artifact["GetterMode"] == "file" else "local/"
        _nil_if_empty(artifact, "GetterOptions", "GetterHeaders")
    if task["Vault"] is not None:
        given = api_task["Vault"]
        task["Vault"].update(Env=True if given.get("Env") is None else given["Env"],
                             ChangeMode=given.get("ChangeMode") or "restart",
                             Cluster=given.get("Cluster") or "default")
    if task["Consul"] is not None:  # api Consul.Canonicalize; the namespace stays as given (task level)
        task["Consul"]["Cluster"] = task["Consul"]["Cluster"] or "default"
    task["Templates"] = [_template(t) for t in api_task.get("Templates") or []] or None
    for mount in task["VolumeMounts"] or ():
        mount["PropagationMode"] = mount["PropagationMode"] or "private"
    for affinity in task["Affinities"] or ():
        affinity["Weight"] = affinity["Weight"] or 50
    task["Services"] = _services(api_task.get("Services"), job, group["Name"], name)
    _nil_if_empty(task, "Meta", "Config", "Env", "Constraints", "Affinities", "VolumeMounts", "Artifacts")
    _identities(task)
    return task


def _template(api_template):
    mode = api_template.get("ChangeMode") or "restart"
    signal = api_template.get("ChangeSignal")
    defaults = {"SourcePath": "", "DestPath": "", "EmbeddedTmpl": "", "ChangeMode": mode,
                "ChangeSignal": "SIGHUP" if mode == "signal" else "", "Once": False, "Splay": 5 * SECOND,
                "Perms": "0644", "LeftDelim": "{{", "RightDelim": "}}", "Envvars": False, "ErrMissingKey": False,
                "VaultGrace": 0}
    template = build("Template", _defaults(api_template, defaults))
    if signal:
        template["ChangeSignal"] = signal.upper()
    if template["ChangeScript"] is not None:
        template["ChangeScript"] = build("ChangeScript", _defaults(
            api_template["ChangeScript"], {"Command": "", "Args": [], "Timeout": 5 * SECOND, "FailOnError": False,
                                           "RunOnFirstRender": False}))
    return template


def _services(api_services, job, group_name, task_name):
    """api Service.Canonicalize + ApiServicesToStructs + structs Service.Canonicalize."""
    result = []
    for given in api_services or ():
        service = build("Service", given)
        base = f"{job['Name']}-{group_name}" + (f"-{task_name}" if task_name else "")
        name = service["Name"] or base
        for var, value in (("JOB", job["Name"]), ("TASKGROUP", group_name), ("TASK", task_name or "group"),
                           ("BASE", f"{job['Name']}-{group_name}-{task_name or 'group'}")):
            name = name.replace(f"${{{var}}}", value)
        service.update(Name=name, AddressMode=service["AddressMode"] or "auto",
                       OnUpdate=service["OnUpdate"] or "require_healthy",
                       Provider=service["Provider"] or "consul", Cluster=service["Cluster"] or "default")
        if task_name and not service["TaskName"]:
            service["TaskName"] = task_name
        if service["Provider"] == "consul":
            service["Namespace"] = service["Namespace"] or "default"
        elif service["Provider"] == "nomad":
            service["Namespace"] = job["Namespace"]
        _nil_if_empty(service, "Tags", "CanaryTags", "Checks", "Meta", "CanaryMeta", "TaggedAddresses")
        for api_check, check in zip(given.get("Checks") or [], service["Checks"] or [], strict=True):
            restart = _merge_optional(given.get("CheckRestart"), api_check.get("CheckRestart"))
            check["CheckRestart"] = None if restart is None else build(
                "CheckRestart", _defaults(restart, {"Limit": 0, "Grace": SECOND, "IgnoreWarnings": False}))
            check["OnUpdate"] = check["OnUpdate"] or service["OnUpdate"]
            check["Name"] = check["Name"] or f'service: "{name}" check'
            if task_name and not check["TaskName"]:
                check["TaskName"] = task_name
            _nil_if_empty(check, "Args", "Header")
        result.append(service)
    return result or None


def _identities(task):
    """Every task gets the default workload identity (structs Task.Canonicalize)."""
    default = None
    others = []
    for identity in task["Identities"] or ():
        identity["Name"] = identity["Name"] or "default"
        if identity["Name"] == "default":
            default = identity
        else:
            others.append(identity)
    default = default or task["Identity"] or build("WorkloadIdentity", {"Name": "default"})
    default["Name"] = default["Name"] or "default"
    if default["Name"] == "default":
        default["Audience"] = ["nomadproject.io"]
    task["Identity"] = default
    task["Identities"] = others or None


def _add_constraint(owner, constraint, match_left):
    existing = owner["Constraints"] or []
    for current in existing:
        if current["LTarget"] == constraint["LTarget"] and (match_left or current == constraint):
            return
    owner["Constraints"] = existing + [dict(constraint)]


def _implied_constraints(job):
    """jobImpliedConstraints: service discovery providers and bridge networking need node features."""
    for group in job["TaskGroups"] or ():
        group_services = group["Services"] or []
        task_services = [s for t in group["Tasks"] or () for s in t["Services"] or ()]
        nomad_services = [s for s in group_services + task_services if s["Provider"] == "nomad"]
        if nomad_services:
            _add_constraint(group, _NOMAD_SD_CONSTRAINT, match_left=False)
        if any(s["Checks"] for s in nomad_services):
            _add_constraint(group, _NOMAD_CHECKS_CONSTRAINT, match_left=False)
        if any(s["Provider"] == "consul" for s in group_services + task_services):
            for service in group_services:
                if service["Provider"] == "consul":
                    _add_constraint(group, _CONSUL_CONSTRAINT, match_left=True)
            for task in group["Tasks"] or ():
                if any(s["Provider"] == "consul" for s in task["Services"] or ()):
                    _add_constraint(task, _CONSUL_CONSTRAINT, match_left=True)
        if any(n["Mode"] == "bridge" for n in group["Networks"] or ()):
            for constraint in _CNI_CONSTRAINTS:
                _add_constraint(group, constraint, match_left=True)
