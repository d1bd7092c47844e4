"""Every Consul and Nomad module, when one of its calls is answered 200 with something that is
not the service's JSON shape (a proxy's login page, plain text, truncated JSON, JSON null, a
list of wrong types, an object without the expected keys), fails with the one message
"<Service> <call> returned an unexpected answer: HTTP 200 with <shape>. Hint: is <address>
really <Service>? ..." and never with a Python exception, in check mode too.

The odd answers are the lab simulator's own fault injection (/_lab/faults with status 200 and a
body), so every other call of the module meets the simulator's real API."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.integration.conftest import run_module

pytestmark = pytest.mark.usefixtures("lab")

SECRET = "s3cret-item-value-7Hq2"
BODIES = {
    "login page": "<!DOCTYPE html><html><head><title>Sign in - Authentik</title></head>"
                  "<body><form action='/login'></form></body></html>",
    "plain text": "upstream connect error or disconnect/reset before headers",
    "truncated JSON": '[{"Key": "x", "ID": "abc", "Items": {"token": "' + SECRET,
    "JSON null": "null",
    "wrong types in a list": '[1, "' + SECRET + '", null, {"ID": 7}]',
    "object of another shape": '{"message": "' + SECRET + '", "ok": 1}',
}
PYTHON_ERRORS = re.compile(r"KeyError|AttributeError|TypeError|IndexError|ValueError|Traceback|"
                           r"object is not|not subscriptable|has no attribute")


def consul(cluster, **args):
    return dict({"consul_address": cluster["consul_address"], "consul_token": cluster["consul_token"]}, **args)


def nomad(cluster, **args):
    return dict({"nomad_address": cluster["nomad_address"], "nomad_token": cluster["nomad_token"]}, **args)


def job_spec(name, update=True):
    task = {"Name": "app", "Driver": "podman", "Config": {"image": "docker.io/library/busybox:1.36",
                                                          "command": "sleep", "args": ["3600"]},
            "Resources": {"CPU": 100, "MemoryMB": 64}}
    group = {"Name": "web", "Count": 1, "Tasks": [task]}
    if update:
        group["Update"] = {"MaxParallel": 1, "HealthCheck": "task_states"}
    return {"ID": name, "Name": name, "Type": "service", "Datacenters": ["*"], "TaskGroups": [group]}


# (id, module, args(cluster, uid), fault (service, method, path(uid)), call named in the message,
#  writes: the faulted call is a write (check mode never makes it), setup(cluster, uid) or None,
#  bodies that are a valid answer for this call)
CASES = [
    ("kv key read", "consul_kv", lambda c, u: consul(c, key=f"odd/{u}", value="v"),
     ("consul", "GET", lambda u: f"/v1/kv/odd/{u}"), lambda u: f"KV read of 'odd/{u}'", False, None, ()),
    ("kv key write", "consul_kv", lambda c, u: consul(c, key=f"odd/{u}", value="v"),
     ("consul", "PUT", lambda u: f"/v1/kv/odd/{u}"), lambda u: f"KV write of 'odd/{u}'", True, None, ()),
    ("kv tree read", "consul_kv", lambda c, u: consul(c, prefix=f"odd/{u}", tree={"a": "1", "b": "2"}),
     ("consul", "GET", lambda u: f"/v1/kv/odd/{u}/"), lambda u: f"KV read of prefix 'odd/{u}/'", False, None, ()),
    ("kv tree txn", "consul_kv", lambda c, u: consul(c, prefix=f"odd/{u}", tree={"a": "1", "b": "2"}),
     ("consul", "PUT", lambda u: "/v1/txn"), lambda u: f"transaction 1 of 1 under 'odd/{u}/'", True, None, ()),
    ("kv info read", "consul_kv_info", lambda c, u: consul(c, key=f"odd/{u}"),
     ("consul", "GET", lambda u: f"/v1/kv/odd/{u}"), lambda u: f"KV read of 'odd/{u}'", False, None, ()),
    ("acl policy read", "consul_acl_policy",
     lambda c, u: consul(c, name=f"odd-{u}", rules='key "x" { policy = "read" }'),
     ("consul", "GET", lambda u: f"/v1/acl/policy/name/odd-{u}"), lambda u: f"ACL policy read of 'odd-{u}'",
     False, None, ()),
    ("acl policy create", "consul_acl_policy",
     lambda c, u: consul(c, name=f"odd-{u}", rules='key "x" { policy = "read" }'),
     ("consul", "PUT", lambda u: "/v1/acl/policy"), lambda u: f"ACL policy create of 'odd-{u}'", True, None, ()),
    ("acl token list", "consul_acl_token", lambda c, u: consul(c, description=f"odd {u}", _ansible_no_log=True),
     ("consul", "GET", lambda u: "/v1/acl/tokens"), lambda u: "ACL token list", False, None, ()),
    ("acl token create", "consul_acl_token", lambda c, u: consul(c, description=f"odd {u}", _ansible_no_log=True),
     ("consul", "PUT", lambda u: "/v1/acl/token"), lambda u: f"ACL token create of 'odd {u}'", True, None, ()),
    ("agent self", "consul_session", lambda c, u: consul(c, name=f"odd-{u}"),
     ("consul", "GET", lambda u: "/v1/agent/self"), lambda u: "agent self read", False, None, ()),
    ("session list", "consul_session", lambda c, u: consul(c, name=f"odd-{u}", node="jerry"),
     ("consul", "GET", lambda u: "/v1/session/node/jerry"), lambda u: "session list of node 'jerry'", False, None, ()),
    ("session create", "consul_session", lambda c, u: consul(c, name=f"odd-{u}", node="jerry"),
     ("consul", "PUT", lambda u: "/v1/session/create"), lambda u: f"session create of 'odd-{u}'", True, None, ()),
    ("job plan", "nomad_job", lambda c, u: nomad(c, job=job_spec(f"odd-{u}")),
     ("nomad", "POST", lambda u: f"/v1/job/odd-{u}/plan"), lambda u: f"plan of job 'odd-{u}'", False, None, ()),
    ("job register", "nomad_job", lambda c, u: nomad(c, job=job_spec(f"odd-{u}")),
     ("nomad", "POST", lambda u: "/v1/jobs"), lambda u: f"register of job 'odd-{u}'", True, None, ()),
    ("job read (absent)", "nomad_job", lambda c, u: nomad(c, name=f"odd-{u}", state="absent"),
     ("nomad", "GET", lambda u: f"/v1/job/odd-{u}"), lambda u: f"GET /v1/job/odd-{u}", False, None, ()),
    ("deployment wait", "nomad_job", lambda c, u: nomad(c, job=job_spec(f"odd-{u}"), wait=True, wait_timeout=20),
     ("nomad", "GET", lambda u: f"/v1/job/odd-{u}/deployment"), lambda u: f"GET /v1/job/odd-{u}/deployment", True,
     None, ("JSON null",)),
    ("allocations wait", "nomad_job",
     lambda c, u: nomad(c, job=job_spec(f"odd-{u}", update=False), wait=True, wait_timeout=20),
     ("nomad", "GET", lambda u: f"/v1/job/odd-{u}/allocations"), lambda u: f"GET /v1/job/odd-{u}/allocations", True,
     None, ()),
    ("job info list", "nomad_job_info", lambda c, u: nomad(c, prefix=f"odd-{u}"),
     ("nomad", "GET", lambda u: "/v1/jobs"), lambda u: "GET /v1/jobs", False, None, ()),
    ("job info allocations", "nomad_job_info", lambda c, u: nomad(c, name=f"odd-{u}"),
     ("nomad", "GET", lambda u: f"/v1/job/odd-{u}/allocations"), lambda u: f"GET /v1/job/odd-{u}/allocations", False,
     lambda c, u: run_module("nomad_job", nomad(c, job=job_spec(f"odd-{u}"))), ()),
    ("variable read", "nomad_variable", lambda c, u: nomad(c, path=f"odd/{u}", items={"token": SECRET}),
     ("nomad", "GET", lambda u: f"/v1/var/odd/{u}"), lambda u: f"GET /v1/var/odd/{u}", False, None, ()),
    ("variable write", "nomad_variable", lambda c, u: nomad(c, path=f"odd/{u}", items={"token": SECRET}),
     ("nomad", "PUT", lambda u: f"/v1/var/odd/{u}"), lambda u: f"PUT /v1/var/odd/{u}", True, None, ()),
]
SERVICE_NAME = {"consul": "Consul", "nomad": "Nomad"}


@pytest.fixture
def uid(cluster):
    value = uuid.uuid4().hex[:8]
    yield value
    cluster["nomad"].delete(f"/v1/job/odd-{value}", params={"purge": "true"})


def assert_unexpected_answer(result, service, address, call):
    message = result.get("msg", "")
    assert result.get("failed"), result
    name = SERVICE_NAME[service]
    assert re.match(rf"{name} .*{re.escape(call)}.* returned an unexpected answer: HTTP 200 with ", message), message
    assert f"Hint: is {address} really {name}?" in message, message
    assert not PYTHON_ERRORS.search(message), message
    assert "exception" not in result, result
    assert SECRET not in message, message


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_module_names_the_odd_answer(cluster, lab, uid, case, body, check):
    _id, module, args, (service, method, path), call, writes, setup, valid = case
    if body in valid:
        pytest.skip(f"{body} is a valid answer to this call")
    if setup:
        setup(cluster, uid)
    lab.fault(path(uid), status=200, count=10, service=service, method=method, body=BODIES[body])
    result = run_module(module, args(cluster, uid), check=check)
    lab.clear_faults()
    if check and writes:
        # Check mode never makes the write, so it never sees the odd answer.
        assert not result.get("failed"), result
        return
    assert_unexpected_answer(result, service, cluster[f"{service}_address"], call(uid))
