# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Nomad client every module and lookup uses: python-nomad configured from the shared
connection options (token precedence and TLS verification fixed here), and an ApiSession on the
same requests.Session for what python-nomad lacks (blocking queries, parse with variables,
exact status handling).

Which face serves which call:
- python-nomad (`client`): reads and deletes it does right and that take a namespace argument:
  job read, job list with a server-side prefix, deregister.
- ApiSession (`http`): everything python-nomad cannot do as needed: plan and register with a
  per-call namespace and the whole register request (EnforceIndex), blocking queries on
  deployments and allocations (`?index=&wait=`), /v1/jobs/parse with HCL2 variables, and Nomad
  Variables (python-nomad ignores the client-wide namespace there, and a 409 body holds the
  current items, which must never reach an error message)."""

from __future__ import annotations

import traceback
from urllib.parse import quote

from ansible_collections.octant.openclaw.plugins.module_utils._connection import NOMAD_OPTIONS, Service, resolve
from ansible_collections.octant.openclaw.plugins.module_utils._errors import OperationError, ServiceError, hint_for
from ansible_collections.octant.openclaw.plugins.module_utils._service_api import (
    ANY,
    NONE,
    ApiSession,
    MapOf,
    NotJson,
    Nullable,
    Reply,
    describe,
    normalize_address,
)

try:
    import nomad
    import requests
except ImportError:
    nomad = None
    NOMAD_IMPORT_ERROR = traceback.format_exc()
else:
    NOMAD_IMPORT_ERROR = None

NOMAD = Service("nomad", NOMAD_OPTIONS, lambda: (("python-nomad", NOMAD_IMPORT_ERROR),))

# Nomad's default and maximum blocking-query wait (seconds); it adds up to wait/16 jitter.
MAX_BLOCKING_WAIT = 300
ENFORCE_INDEX_PREFIX = "Enforcing job modify index"

# The shapes of Nomad's answers, as far as this collection reads them (see service_api).
JOB = {"ID": str, "Namespace": (str, NONE), "Type": (str, NONE), "Status": (str, NONE), "Stop": (bool, NONE),
       "Version": (int, NONE), "JobModifyIndex": (int, NONE),
       "TaskGroups": ([{"Name": (str, NONE), "Count": (int, NONE)}], NONE)}
JOB_STUB = {"ID": str}
_DIFF_FIELDS = {"Type": (str, NONE), "Name": (str, NONE)}
_DIFF_OBJECT = dict(_DIFF_FIELDS, Fields=([_DIFF_FIELDS], NONE))
_DIFF_OBJECT["Objects"] = ([_DIFF_OBJECT], NONE)
_DIFF_TASK = dict(_DIFF_OBJECT, Annotations=([str], NONE))
_DIFF_GROUP = dict(_DIFF_OBJECT, Tasks=([_DIFF_TASK], NONE))
_PLACEMENT = {"NodesEvaluated": (int, NONE), "ConstraintFiltered": (MapOf(int), NONE),
              "ClassFiltered": (MapOf(int), NONE), "DimensionExhausted": (MapOf(int), NONE),
              "CoalescedFailures": (int, NONE)}
PLAN = {"JobModifyIndex": int, "Warnings": (str, NONE),
        "Diff": Nullable(dict(_DIFF_OBJECT, TaskGroups=([_DIFF_GROUP], NONE))),
        "Annotations": ({"DesiredTGUpdates": (MapOf((MapOf(int), NONE)), NONE)}, NONE),
        "FailedTGAllocs": (MapOf((_PLACEMENT, NONE)), NONE)}
REGISTERED = {"EvalID": str, "JobModifyIndex": int, "Warnings": (str, NONE)}
ALLOCATION = {"ID": str, "ClientStatus": (str, NONE), "DesiredStatus": (str, NONE), "JobVersion": (int, NONE),
              "NodeName": (str, NONE)}
_GROUP_STATE = {"DesiredTotal": (int, NONE), "PlacedAllocs": (int, NONE), "HealthyAllocs": (int, NONE),
                "UnhealthyAllocs": (int, NONE), "AutoRevert": (bool, NONE), "DesiredCanaries": (int, NONE),
                "Promoted": (bool, NONE)}
DEPLOYMENT = {"ID": str, "Status": (str, NONE), "StatusDescription": (str, NONE), "JobVersion": (int, NONE),
              "JobSpecModifyIndex": (int, NONE), "CreateIndex": (int, NONE),
              "TaskGroups": (MapOf((_GROUP_STATE, NONE)), NONE)}
VARIABLE_META = {"Path": str, "Namespace": (str, NONE), "ModifyIndex": int, "Items": (MapOf(str), NONE)}
VARIABLE = dict(VARIABLE_META, Items=MapOf(str))


class NomadMessageError(OperationError):
    """A failure whose whole text is written here (no server body is echoed): conflicts and
    live-only features."""

    def __init__(self, call, status, text):
        super().__init__("nomad", call, status=status, text=text)


class JobChangedError(NomadMessageError):
    """Register refused by EnforceIndex: the job changed between plan and register."""


class VariableConflictError(NomadMessageError):
    """A CAS write or delete of a variable refused (409): it changed since it was read."""


class HclNotSupportedError(NomadMessageError):
    """/v1/jobs/parse is not available (the lab simulator answers 501)."""


def path_segment(value):
    """A job ID or deployment ID as one URL path segment."""
    return quote(str(value), safe="")


def variable_path(path):
    """A variable path keeps its slashes (nomad/jobs/web) but nothing else is left raw."""
    return quote(str(path), safe="/-_~")


def wait_param(seconds):
    """A Go duration for ?wait=, clamped to Nomad's maximum; at least 1 ms."""
    seconds = max(0.001, min(float(seconds), MAX_BLOCKING_WAIT))
    if seconds >= 1:
        return f"{int(seconds)}s"
    return f"{max(1, int(seconds * 1000))}ms"


def render_hcl_variables(variables):
    """A dict of HCL2 input variables as the content of a variables file, which is what
    /v1/jobs/parse takes (api.JobsParseRequest.Variables is a string). Strings are written as
    HCL quoted strings with `${` and `%{` escaped so values are taken literally; numbers, bools,
    lists and maps use HCL's JSON-compatible literal forms."""
    lines = []
    for name in sorted(variables or {}):
        if not _is_identifier(name):
            raise ValueError(f"HCL variable name {name!r} is not a valid identifier")
        lines.append(f"{name} = {_hcl_value(variables[name])}")
    return "\n".join(lines) + ("\n" if lines else "")


def _is_identifier(name):
    if not isinstance(name, str) or not name or not (name[0].isalpha() or name[0] == "_"):
        return False
    return all(ch.isalnum() or ch in "_-" for ch in name)


def _hcl_value(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
                   .replace("\t", "\\t").replace("${", "$${").replace("%{", "%%{"))
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_hcl_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_hcl_value(str(key))} = {_hcl_value(item)}" for key, item in value.items())
        return "{" + items + "}"
    raise ValueError(f"cannot write a {type(value).__name__} as an HCL value")


class NomadApi:
    """Both faces of one Nomad connection: `client` (python-nomad) and `http` (ApiSession)."""

    def __init__(self, settings):
        settings = resolve(NOMAD_OPTIONS, settings)
        self.settings = settings
        self.address = normalize_address(settings["nomad_address"])
        session = requests.Session()
        self.http = ApiSession(
            "nomad", self.address, token=settings["nomad_token"], token_header="X-Nomad-Token",
            verify=settings["nomad_validate_certs"], ca_file=settings["nomad_ca_file"],
            client_cert=settings["nomad_client_cert"], client_key=settings["nomad_client_key"],
            timeout=settings["nomad_timeout"], session=session,
            default_params={"namespace": settings["nomad_namespace"], "region": settings["nomad_region"]})
        # python-nomad does not verify TLS unless told, and reads NOMAD_* itself when an argument
        # is empty: pass every resolved value explicitly.
        self.client = nomad.Nomad(
            address=self.address, token=self.http.token or None,
            namespace=settings["nomad_namespace"], region=settings["nomad_region"],
            verify=self.http.verify, cert=self.http.cert or (), timeout=settings["nomad_timeout"],
            session=session)

    @property
    def namespace(self):
        return self.settings["nomad_namespace"] or "default"

    def wrap(self, what, call, *args, expect=ANY, **kwargs):
        """Run a python-nomad call and turn its exceptions into one ServiceError; `expect` is
        the shape its answer must have (ApiSession.call)."""
        try:
            result = call(*args, **kwargs)
        except ValueError as exc:  # python-nomad's response.json(): the text is in exc.doc
            raise self.http.unexpected(what, f"HTTP 200 with {describe(NotJson(getattr(exc, 'doc', '') or ''))}") \
                from None
        except nomad.api.exceptions.BaseNomadException as exc:
            response = exc.nomad_resp
            if isinstance(response, requests.Response):
                status, text = response.status_code, response.text
            else:  # no response: the service could not be reached
                status, text = None, "connection refused" if "refused" in str(response) else str(response)
            raise ServiceError("nomad", what, status, text,
                               hint=hint_for("nomad", status, text, self.address)) from None
        if expect is not ANY:
            self.http.check(Reply(200, result, {}), expect, what)
        return result

    # -- helpers -------------------------------------------------------------------------
    def _ns(self, namespace):
        return namespace or self.settings["nomad_namespace"] or None

    def _blocking(self, path, what, namespace=None, index=0, wait=None, params=None, ok=(200,), expect=ANY):
        """One GET, blocking when index > 0. Returns (body, X-Nomad-Index)."""
        query = dict(params or {})
        query["namespace"] = self._ns(namespace)
        timeout = None
        if index and wait is not None:
            query["index"] = int(index)
            query["wait"] = wait_param(wait)
            # Nomad adds up to wait/16 jitter; the socket timeout must outlast the wait.
            seconds = min(float(wait), MAX_BLOCKING_WAIT)
            timeout = seconds + seconds / 16 + self.settings["nomad_timeout"]
        reply = self.http.call("GET", path, params=query, timeout=timeout, what=what, ok=ok, expect=expect)
        return reply, reply.index("X-Nomad-Index")

    # -- jobs ------------------------------------------------------------------------------
    def get_job(self, job_id, namespace=None):
        """The job, or None when it does not exist (404)."""
        try:
            return self.wrap(f"GET /v1/job/{job_id}", self.client.job.get_job, path_segment(job_id),
                             namespace=self._ns(namespace), expect=JOB)
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise

    def list_jobs(self, prefix=None, namespace=None):
        """Job stubs, filtered by ID prefix on the server (?prefix=)."""
        return self.wrap("GET /v1/jobs", self.client.jobs.get_jobs, prefix=prefix or None,
                         namespace=self._ns(namespace), expect=[JOB_STUB]) or []

    def plan_job(self, job, namespace=None):
        """POST /v1/job/<id>/plan with Diff: the scheduler's dry run."""
        job_id = job["ID"]
        reply = self.http.call("POST", f"/v1/job/{path_segment(job_id)}/plan",
                               params={"namespace": self._ns(namespace)},
                               body={"Job": job, "Diff": True}, what=f"plan of job {job_id!r}", expect=PLAN)
        return reply.body or {}

    def register_job(self, job, modify_index, namespace=None, submission=None):
        """Register enforcing the job modify index the plan saw (0 = must not exist yet)."""
        job_id = job["ID"]
        body = {"Job": job, "EnforceIndex": True, "JobModifyIndex": int(modify_index or 0)}
        if submission:
            body["Submission"] = submission
        try:
            reply = self.http.call("POST", "/v1/jobs", params={"namespace": self._ns(namespace)}, body=body,
                                   what=f"register of job {job_id!r}", expect=REGISTERED)
        except ServiceError as exc:
            if exc.status is not None and ENFORCE_INDEX_PREFIX in exc.body:
                raise JobChangedError(
                    f"register of job {job_id!r}", exc.status,
                    f"Nomad job {job_id!r} was changed by someone else between this task's plan and its "
                    f"register ({exc.body.strip()}); nothing was registered. Re-run the task to plan "
                    f"against the current job.") from None
            raise
        return reply.body or {}

    def deregister_job(self, job_id, purge=False, namespace=None):
        return self.wrap(f"DELETE /v1/job/{job_id}", self.client.job.deregister_job, path_segment(job_id),
                         purge=True if purge else None, namespace=self._ns(namespace),
                         expect=({"EvalID": (str, NONE)}, NONE)) or {}

    def job_allocations(self, job_id, namespace=None, index=0, wait=None):
        """(allocation stubs, index); blocking when index and wait are given."""
        reply, idx = self._blocking(f"/v1/job/{path_segment(job_id)}/allocations",
                                    f"GET /v1/job/{job_id}/allocations", namespace, index, wait,
                                    expect=[ALLOCATION])
        return reply.body or [], idx

    def job_deployment(self, job_id, namespace=None, index=0, wait=None):
        """(latest deployment of the job or None, index); blocking when index and wait are given."""
        reply, idx = self._blocking(f"/v1/job/{path_segment(job_id)}/deployment",
                                    f"GET /v1/job/{job_id}/deployment", namespace, index, wait,
                                    expect=(DEPLOYMENT, NONE))
        return reply.body or None, idx

    def deployment(self, deployment_id, namespace=None, index=0, wait=None):
        """(deployment, index); blocking when index and wait are given."""
        reply, idx = self._blocking(f"/v1/deployment/{path_segment(deployment_id)}",
                                    f"GET /v1/deployment/{deployment_id}", namespace, index, wait,
                                    expect=DEPLOYMENT)
        return reply.body, idx

    def parse_hcl(self, hcl, variables=None):
        """HCL2 text (+ input variables) to API JSON through the server, canonicalized."""
        body = {"JobHCL": hcl, "Canonicalize": True}
        if variables:
            body["Variables"] = render_hcl_variables(variables)
        try:
            reply = self.http.call("POST", "/v1/jobs/parse", body=body, what="POST /v1/jobs/parse", expect=JOB)
        except ServiceError as exc:
            if exc.status in (404, 501):
                raise HclNotSupportedError(
                    "POST /v1/jobs/parse", exc.status,
                    f"Parsing HCL needs a real Nomad: {self.address} answered POST /v1/jobs/parse with HTTP "
                    f"{exc.status} ({exc.body or 'no text'}). Pass the job as API JSON with the `job` option "
                    f"instead (for example the output of `nomad job run -output job.nomad.hcl`).") from None
            raise
        return reply.body

    # -- variables ---------------------------------------------------------------------------
    def get_variable(self, path, namespace=None):
        """The variable (with Items) or None when it does not exist."""
        try:
            reply = self.http.call("GET", f"/v1/var/{variable_path(path)}",
                                   params={"namespace": self._ns(namespace)}, what=f"GET /v1/var/{path}",
                                   expect=VARIABLE, secret=True)
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise
        return reply.body

    def put_variable(self, path, items, cas, namespace=None):
        """CAS write (cas=0: create only). Raises VariableConflictError on 409, never
        echoing the 409 body (it holds the current items)."""
        body = {"Path": path, "Items": items}
        if self._ns(namespace):
            body["Namespace"] = self._ns(namespace)
        reply = self.http.call("PUT", f"/v1/var/{variable_path(path)}",
                               params={"namespace": self._ns(namespace), "cas": int(cas)}, body=body,
                               ok=(200, 409), what=f"PUT /v1/var/{path}", expect=VARIABLE_META,
                               secret=True)
        if reply.status == 409:
            raise self._conflict(path, namespace, cas, reply.body, "written")
        return reply.body or {}

    def delete_variable(self, path, cas, namespace=None):
        reply = self.http.call("DELETE", f"/v1/var/{variable_path(path)}",
                               params={"namespace": self._ns(namespace), "cas": int(cas)},
                               ok=(200, 204, 409), what=f"DELETE /v1/var/{path}")
        if reply.status == 409:
            raise self._conflict(path, namespace, cas, reply.body, "deleted")
        return True

    def _conflict(self, path, namespace, cas, body, verb):
        now = body.get("ModifyIndex") if isinstance(body, dict) else None
        where = f"{self._ns(namespace) or 'default'}"
        state = f"now ModifyIndex {now}" if now else "now different"
        expected = "did not exist" if not cas else f"had ModifyIndex {cas}"
        return VariableConflictError(
            f"PUT /v1/var/{path}", 409,
            f"Nomad variable {path!r} (namespace {where}) changed since this task read it (it {expected}, "
            f"{state}); nothing was {verb}. Re-run the task to apply it against the current content.")
