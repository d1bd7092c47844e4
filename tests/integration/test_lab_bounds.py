"""The lab simulator bounds what it allocates and never answers 500 to bad input: malformed JSON and
wrong types at every admin endpoint get 400, non-finite and negative admin values are refused, a body
above max_request_body is refused with Consul's 413 text before it is read (and still logged), and a
job whose groups' total Count exceeds job_max_count gets Nomad's own job_max_count error."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from tests.contract.test_nomad_helpers import make_job
from tests.integration.conftest import own_lab
from tools.testsupport.labclient import Api

TOKEN = "0d6a6e1c-7b7e-4c55-9a57-1f0b0e4c6a11"
# Every admin endpoint that takes a body, and a good body for it.
ENDPOINTS = {
    "/_lab/latency": {"seconds": 0},
    "/_lab/faults": {"path": "/v1/kv/x", "count": 1},
    "/_lab/config": {"strict": True},
    "/_lab/clock": {"advance": 0},
}
MALFORMED = [b"{", b"not json", b"\xff\xfe", b"[1, 2]", b"null", b"42", b'"text"', b"true", b"NaN"]
NAN, INF = float("nan"), float("inf")  # json.dumps writes them as NaN and Infinity, which json.loads reads
# Per endpoint: wrong types and values that must be refused with 400.
BAD_VALUES = {
    "/_lab/latency": [{"seconds": "1"}, {"seconds": None}, {"seconds": True}, {"seconds": -1},
                      {"seconds": 1e308 * 10}, {"ms": "5"}, {"ms": -5}, {"seconds": 10 ** 400},
                      {"seconds": NAN}, {"seconds": INF}, {"ms": NAN},
                      {"service": 5}, {"service": ["consul"]}, {"service": "vault"}, {"seconds": [1]}],
    "/_lab/faults": [{"path": 5}, {"path": None}, {"path": "/x", "status": "500"}, {"path": "/x", "status": 99},
                     {"path": "/x", "status": 1000}, {"path": "/x", "count": 0}, {"path": "/x", "count": "1"},
                     {"path": "/x", "count": 10 ** 30}, {"path": "/x", "method": 5}, {"path": "/x", "body": {}},
                     {"path": "/x", "service": 1}, {"path": "/x", "count": True}],
    "/_lab/config": [{"strict": "yes"}, {"txn_max_ops": "64"}, {"kv_max_value_size": -1},
                     {"kv_max_value_size": 1.5}, {"kv_max_value_size": 10 ** 12}, {"consul_max_wait": "x"},
                     {"time_scale": -1}, {"time_scale": 0}, {"consul_max_wait": NAN}, {"job_max_count": None},
                     {"max_request_body": True},
                     {"nope": 1}],
    "/_lab/clock": [{"advance": "1"}, {"advance": -1}, {"advance": None}, {"advance": True},
                    {"advance": 10 ** 30}, {"advance": [1]}, {"advance": NAN},
                    {"advance": INF}],
}


lab, admin = own_lab(TOKEN)


def raw_post(address, path, data):
    return Api(address).request("POST", path, data=data, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
@pytest.mark.parametrize("data", MALFORMED, ids=repr)
def test_malformed_json_is_400(lab, path, data):
    response = raw_post(lab.admin_addr, path, data)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(("path", "body"), [(p, b) for p, bodies in sorted(BAD_VALUES.items()) for b in bodies],
                         ids=repr)
def test_wrong_types_and_values_are_400(lab, admin, path, body):
    before = admin.config() if path == "/_lab/config" else None
    data = json.dumps(body).encode()
    response = raw_post(lab.admin_addr, path, data)
    assert response.status_code == 400, (response.status_code, response.text)
    if before is not None:
        assert admin.config() == before, "a refused config change changed nothing"


def test_good_bodies_still_work(lab):
    for path, body in ENDPOINTS.items():
        response = Api(lab.admin_addr).request("POST", path, json=body)
        assert response.status_code == 200, (path, response.text)
    assert Api(lab.admin_addr).request("DELETE", "/_lab/faults").status_code == 200


def test_admin_other_endpoints_never_answer_500(lab):
    api = Api(lab.admin_addr)
    for method, path in [("GET", "/_lab/requests?since=abc"), ("POST", "/_lab/services/vault/up"),
                         ("POST", "/_lab/nodes/nobody/down"), ("GET", "/_lab/requests?since=1e99"),
                         ("GET", "/_lab/requests?service=%00"),
                         ("POST", "/_lab/jobs/%0A/fail-next-deployment"), ("PATCH", "/_lab/latency")]:
        response = api.request(method, path)
        assert response.status_code < 500, (method, path, response.status_code, response.text)


def _send(port, head):
    """One raw HTTP request (head only: the body is never sent); the status line and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        return reply.status, reply.read().decode()


def test_body_above_the_limit_is_refused_before_it_is_read_and_logged(lab, admin):
    limit = admin.config()["max_request_body"]
    since = admin.last_seq()
    head = (f"PUT /v1/kv/big HTTP/1.1\r\nHost: x\r\nX-Consul-Token: {TOKEN}\r\n"
            f"Content-Length: {limit + 1}\r\n\r\n").encode()
    status, text = _send(lab.consul_port, head)
    assert (status, text) == (413, f"Request body({limit + 1} bytes) too large, max size: {limit} bytes")
    assert [(r["method"], r["path"], r["status"]) for r in admin.requests(since=since)] == [
        ("PUT", "/v1/kv/big", 413)]
    status, _ = _send(lab.nomad_port, (f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: {10 ** 15}"
                                       f"\r\n\r\n").encode())
    assert status == 413


@pytest.mark.parametrize("length", ["-1", "abc", "1e9", "١٢"])
def test_invalid_content_length_is_400(lab, length):
    status, _ = _send(lab.consul_port, f"PUT /v1/kv/x HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
                      .encode())
    assert status == 400


def test_group_count_above_job_max_count_is_refused_with_nomads_error(lab, admin):
    nomad = Api(lab.nomad_addr, TOKEN, "X-Nomad-Token")
    node = next(n for n in nomad.get("/v1/nodes").json() if n["Name"] == "jerry")
    limit = admin.config()["job_max_count"]
    job = make_job("too-many", node, count=limit + 1)
    response = nomad.post("/v1/jobs", json={"Job": job})
    # Nomad answers admission errors with 500 and the multierror text (nomad/job_endpoint_hooks.go).
    assert response.status_code == 500
    assert f"total count was greater than configured job_max_count: {limit + 1} > {limit}" in response.text
    assert nomad.get("/v1/job/too-many").status_code == 404
    job["TaskGroups"].append(dict(job["TaskGroups"][0], Name="second", Count=1))
    job["TaskGroups"][0]["Count"] = limit
    response = nomad.post("/v1/jobs", json={"Job": job})
    assert f"total count was greater than configured job_max_count: {limit + 1} > {limit}" in response.text
