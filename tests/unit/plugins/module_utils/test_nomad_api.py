# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NomadApi's calls on the wire (both faces share one requests.Session, replaced here by a
transport adapter): paths, namespaces, blocking parameters, statuses and error texts."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from ansible_collections.octant.openclaw.plugins.module_utils._errors import ServiceError, UnexpectedAnswerError
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import (
    HclNotSupportedError,
    JobChangedError,
    NomadApi,
    VariableConflictError,
    render_hcl_variables,
    wait_param,
)
from requests.adapters import BaseAdapter

TOKEN = "nomad-unit-token-8c1f"
SECRET = "variable-secret-value-Qx7"


class Wire(BaseAdapter):
    """Answers from `routes` {(METHOD, path): (status, body, headers)} and records requests."""

    def __init__(self, routes=None):
        super().__init__()
        self.routes = routes or {}
        self.sent = []

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body = json.loads(request.body) if request.body else None
        self.sent.append({"method": request.method, "path": parts.path, "query": query, "body": body,
                          "headers": dict(request.headers), "timeout": kwargs.get("timeout")})
        status, payload, headers = self.routes.get((request.method, parts.path), (404, "not found", {}))
        response = requests.Response()
        response.status_code = status
        response._content = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        response.headers.update(headers or {})
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def api_with(routes, **settings):
    api = NomadApi(dict({"nomad_address": "http://nomad.test:4646", "nomad_token": TOKEN}, **settings))
    wire = Wire(routes)
    api.http.session.mount("http://", wire)
    return api, wire


def api_only(routes, **settings):
    return api_with(routes, **settings)[0]


def test_both_faces_share_the_session_and_send_the_token():
    api, wire = api_with({("GET", "/v1/job/web"): (200, {"ID": "web"}, {}),
                          ("POST", "/v1/job/web/plan"): (200, {"JobModifyIndex": 1, "Diff": None}, {})})
    assert api.get_job("web") == {"ID": "web"}
    api.plan_job({"ID": "web"})
    assert [s["headers"]["X-Nomad-Token"] for s in wire.sent] == [TOKEN, TOKEN]


def test_missing_job_is_none_not_an_error():
    api = api_only({("GET", "/v1/job/gone"): (404, "job not found", {})})
    assert api.get_job("gone") is None


def test_403_names_the_token_problem():
    api = api_only({("GET", "/v1/job/web"): (403, "Permission denied", {})})
    with pytest.raises(ServiceError) as caught:
        api.get_job("web")
    assert caught.value.message.startswith("Nomad GET /v1/job/web failed (HTTP 403): Permission denied. Hint:")


def test_job_namespace_goes_on_every_call():
    api, wire = api_with({("POST", "/v1/job/web/plan"): (200, {"JobModifyIndex": 0, "Diff": None}, {}),
                          ("POST", "/v1/jobs"): (200, {"EvalID": "e", "JobModifyIndex": 1}, {}),
                          ("GET", "/v1/job/web"): (200, {"ID": "web"}, {})}, nomad_namespace="farm")
    api.plan_job({"ID": "web"}, "other")
    api.register_job({"ID": "web"}, 7, "other")
    api.get_job("web")
    assert [s["query"].get("namespace") for s in wire.sent] == ["other", "other", "farm"]


def test_plan_and_register_bodies():
    api, wire = api_with({("POST", "/v1/job/web/plan"): (200, {"JobModifyIndex": 7, "Diff": None}, {}),
                          ("POST", "/v1/jobs"): (200, {"EvalID": "e", "JobModifyIndex": 8}, {})})
    api.plan_job({"ID": "web"})
    api.register_job({"ID": "web"}, 7, submission={"Source": "job {}", "Format": "hcl2"})
    assert wire.sent[0]["body"] == {"Job": {"ID": "web"}, "Diff": True}
    assert wire.sent[1]["body"] == {"Job": {"ID": "web"}, "EnforceIndex": True, "JobModifyIndex": 7,
                                    "Submission": {"Source": "job {}", "Format": "hcl2"}}


def test_enforce_index_conflict_is_a_clear_message():
    text = "Enforcing job modify index 7: job exists with conflicting job modify index: 9"
    api = api_only({("POST", "/v1/jobs"): (500, text, {})})
    with pytest.raises(JobChangedError) as caught:
        api.register_job({"ID": "web"}, 7)
    assert caught.value.message == (
        "Nomad job 'web' was changed by someone else between this task's plan and its register (" + text
        + "); nothing was registered. Re-run the task to plan against the current job.")


def test_other_register_errors_keep_the_server_text():
    api = api_only({("POST", "/v1/jobs"): (400, "Task group web validation failed", {})})
    with pytest.raises(ServiceError) as caught:
        api.register_job({"ID": "web"}, 0)
    assert not isinstance(caught.value, JobChangedError)
    assert "register of job 'web' failed (HTTP 400): Task group web validation failed" in caught.value.message


def test_blocking_query_parameters_and_socket_timeout():
    dep = {"ID": "d1", "Status": "running"}
    api, wire = api_with({("GET", "/v1/deployment/d1"): (200, dep, {"X-Nomad-Index": "42"})})
    assert api.deployment("d1", index=41, wait=120) == (dep, 42)
    sent = wire.sent[0]
    assert sent["query"]["index"] == "41" and sent["query"]["wait"] == "120s"
    assert sent["timeout"] == pytest.approx(120 + 120 / 16 + 30)


def test_non_blocking_read_sends_no_index():
    api, wire = api_with({("GET", "/v1/job/web/deployment"): (200, "null", {"X-Nomad-Index": "5"})})
    assert api.job_deployment("web") == (None, 5)
    assert "index" not in wire.sent[0]["query"]


def test_wait_param_clamps_to_nomad_maximum():
    assert wait_param(900) == "300s"
    assert wait_param(0.25) == "250ms"
    assert wait_param(0) == "1ms"


def test_hcl_parse_body_carries_variables_as_var_file_text():
    api, wire = api_with({("POST", "/v1/jobs/parse"): (200, {"ID": "web"}, {})})
    assert api.parse_hcl('job "web" {}', {"image": "nginx:1.27", "count": 2}) == {"ID": "web"}
    assert wire.sent[0]["body"] == {"JobHCL": 'job "web" {}', "Canonicalize": True,
                                    "Variables": 'count = 2\nimage = "nginx:1.27"\n'}


def test_hcl_parse_on_the_simulator_says_it_needs_real_nomad():
    api = api_only({("POST", "/v1/jobs/parse"): (501, "HCL parsing is live-only in the lab simulator", {})})
    with pytest.raises(HclNotSupportedError) as caught:
        api.parse_hcl('job "web" {}')
    assert caught.value.message.startswith("Parsing HCL needs a real Nomad: http://nomad.test:4646 answered "
                                           "POST /v1/jobs/parse with HTTP 501")
    assert "Pass the job as API JSON with the `job` option" in caught.value.message


def test_render_hcl_variables_escapes_interpolation():
    text = render_hcl_variables({"a": 'x"${y}%{z}\n', "b": True, "c": [1, "two"], "d": {"k": None}})
    assert text == 'a = "x\\"$${y}%%{z}\\n"\nb = true\nc = [1, "two"]\nd = {"k" = null}\n'


def test_render_hcl_variables_rejects_bad_names():
    with pytest.raises(ValueError, match="not a valid identifier"):
        render_hcl_variables({"1bad": "x"})


def test_variable_cas_write_and_namespace():
    reply = {"Path": "nomad/jobs/web", "ModifyIndex": 9, "Items": {"k": SECRET}}
    api, wire = api_with({("PUT", "/v1/var/nomad/jobs/web"): (200, reply, {})},
                         nomad_namespace="farm")
    assert api.put_variable("nomad/jobs/web", {"k": SECRET}, 0)["ModifyIndex"] == 9
    sent = wire.sent[0]
    assert sent["query"] == {"namespace": "farm", "cas": "0"}
    assert sent["body"] == {"Path": "nomad/jobs/web", "Items": {"k": SECRET}, "Namespace": "farm"}


def test_variable_conflict_names_the_path_and_never_the_values():
    body = {"Path": "nomad/jobs/web", "ModifyIndex": 12, "Items": {"k": SECRET}}
    api = api_only({("PUT", "/v1/var/nomad/jobs/web"): (409, body, {}),
                    ("DELETE", "/v1/var/nomad/jobs/web"): (409, body, {})})
    with pytest.raises(VariableConflictError) as caught:
        api.put_variable("nomad/jobs/web", {"k": "new"}, 10)
    assert caught.value.message == (
        "Nomad variable 'nomad/jobs/web' (namespace default) changed since this task read it (it had "
        "ModifyIndex 10, now ModifyIndex 12); nothing was written. Re-run the task to apply it against the "
        "current content.")
    with pytest.raises(VariableConflictError) as caught:
        api.delete_variable("nomad/jobs/web", 10)
    assert "nothing was deleted" in caught.value.message
    assert SECRET not in caught.value.message


def test_missing_variable_is_none():
    api = api_only({("GET", "/v1/var/nomad/jobs/web"): (404, "variable not found", {})})
    assert api.get_variable("nomad/jobs/web") is None


def test_connection_refused_names_address_and_env():
    api = NomadApi({"nomad_address": "http://127.0.0.1:9", "nomad_timeout": 2})
    with pytest.raises(ServiceError) as caught:
        api.get_job("web")
    assert "(no response)" in caught.value.message
    assert "cannot reach nomad at http://127.0.0.1:9; check nomad_address or NOMAD_ADDR" in caught.value.message


def test_a_job_read_that_is_not_json_names_the_call_through_python_nomad_too():
    page = "<!doctype html><html><title>Traefik</title></html>"
    api = api_only({("GET", "/v1/job/web"): (200, page, {})})
    with pytest.raises(UnexpectedAnswerError) as failure:
        api.get_job("web")
    assert str(failure.value) == (
        "Nomad GET /v1/job/web returned an unexpected answer: HTTP 200 with an HTML page titled 'Traefik' "
        f"({len(page)} characters). Hint: is http://nomad.test:4646 really Nomad? A proxy, a login page or another "
        "service may answer there; check nomad_address or NOMAD_ADDR (scheme, host and port)")


def test_a_variable_read_of_another_shape_never_quotes_it():
    api = api_only({("GET", "/v1/var/nomad/jobs/web"): (200, f"token={SECRET}", {})})
    with pytest.raises(UnexpectedAnswerError) as failure:
        api.get_variable("nomad/jobs/web")
    assert "GET /v1/var/nomad/jobs/web returned an unexpected answer: HTTP 200 with " in str(failure.value)
    assert SECRET not in str(failure.value)
