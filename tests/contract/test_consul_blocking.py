"""Contract: Consul blocking queries (?index=&wait=) on KV, health and catalog endpoints."""

import threading
import time
import uuid

import pytest


def later(seconds, call):
    """Run `call` on another thread after `seconds`; join the returned thread when done."""
    thread = threading.Timer(seconds, call)
    thread.start()
    return thread


def index_of(response):
    return int(response.headers["X-Consul-Index"])


def test_index_zero_returns_at_once(consul, prefix):
    consul.put(f"/v1/kv/{prefix}k", data="v")
    started = time.monotonic()
    response = consul.get(f"/v1/kv/{prefix}k", params={"index": 0, "wait": "5s"})
    assert response.status_code == 200
    assert time.monotonic() - started < 1


def test_a_blocking_get_returns_when_the_key_changes(consul, prefix):
    consul.put(f"/v1/kv/{prefix}k", data="old")
    index = index_of(consul.get(f"/v1/kv/{prefix}k"))
    writer = later(0.3, lambda: consul.with_token(consul.token).put(f"/v1/kv/{prefix}k", data="new"))
    started = time.monotonic()
    response = consul.get(f"/v1/kv/{prefix}k", params={"index": index, "wait": "10s"})
    writer.join()
    assert time.monotonic() - started < 5
    assert index_of(response) > index
    assert response.json()[0]["Value"] == "bmV3"


def test_a_blocking_get_times_out_with_the_same_index(consul, prefix):
    consul.put(f"/v1/kv/{prefix}k", data="v")
    index = index_of(consul.get(f"/v1/kv/{prefix}k"))
    started = time.monotonic()
    response = consul.get(f"/v1/kv/{prefix}k", params={"index": index, "wait": "1s"})
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.0 + 1 / 16 + 0.5  # the wait plus at most wait/16 jitter
    assert (response.status_code, index_of(response)) == (200, index)


def test_a_blocking_list_wakes_when_a_key_under_the_prefix_is_deleted(consul, prefix):
    consul.put(f"/v1/kv/{prefix}q/a", data="1")
    consul.put(f"/v1/kv/{prefix}q/b", data="2")
    index = index_of(consul.get(f"/v1/kv/{prefix}q/", params={"recurse": ""}))
    deleter = later(0.3, lambda: consul.with_token(consul.token).delete(f"/v1/kv/{prefix}q/b"))
    response = consul.get(f"/v1/kv/{prefix}q/", params={"recurse": "", "index": index, "wait": "10s"})
    deleter.join()
    assert [e["Key"] for e in response.json()] == [f"{prefix}q/a"]
    assert index_of(response) > index


def test_a_blocking_get_on_a_missing_key_waits_for_that_key(consul, prefix):
    index = index_of(consul.get(f"/v1/kv/{prefix}later"))
    other = consul.with_token(consul.token)
    unrelated = later(0.2, lambda: other.put(f"/v1/kv/{prefix}unrelated", data="x"))
    creator = later(0.8, lambda: other.put(f"/v1/kv/{prefix}later", data="here"))
    started = time.monotonic()
    response = consul.get(f"/v1/kv/{prefix}later", params={"index": index, "wait": "10s"})
    unrelated.join()
    creator.join()
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.7


@pytest.mark.parametrize(("params", "text"), [({"index": "1", "wait": "10"}, "Invalid wait time"),
                                               ({"index": "x"}, "Invalid index")])
def test_bad_wait_or_index_is_400(consul, prefix, params, text):
    response = consul.get(f"/v1/kv/{prefix}k", params=params)
    assert (response.status_code, response.text) == (400, text)


@pytest.fixture
def service(consul):
    name = f"octant-contract-{uuid.uuid4().hex[:8]}"
    yield name
    consul.put(f"/v1/agent/service/deregister/{name}")


def test_health_service_blocks_until_a_check_changes(consul, service):
    consul.put("/v1/agent/service/register", json={"Name": service, "Check": {"TTL": "30s"}})
    response = consul.get(f"/v1/health/service/{service}")
    index = index_of(response)
    assert response.json()[0]["Checks"][-1]["Status"] == "critical"
    passer = later(0.3, lambda: consul.with_token(consul.token).put(f"/v1/agent/check/pass/service:{service}"))
    woken = consul.get(f"/v1/health/service/{service}", params={"index": index, "wait": "10s"})
    passer.join()
    assert index_of(woken) > index
    assert woken.json()[0]["Checks"][-1]["Status"] == "passing"


def test_catalog_services_blocks_until_a_service_is_registered(consul, service):
    index = index_of(consul.get("/v1/catalog/services"))
    register = later(0.3, lambda: consul.with_token(consul.token).put(
        "/v1/agent/service/register", json={"Name": service, "Tags": ["t1"]}))
    response = consul.get("/v1/catalog/services", params={"index": index, "wait": "10s"})
    register.join()
    assert index_of(response) > index
    assert response.json()[service] == ["t1"]


@pytest.mark.simulator_only
def test_a_wait_above_the_maximum_is_clamped_not_rejected(consul, lab, prefix):
    consul.put(f"/v1/kv/{prefix}k", data="v")
    index = index_of(consul.get(f"/v1/kv/{prefix}k"))
    lab.config(consul_max_wait=1.0, consul_wait_jitter=False)
    try:
        started = time.monotonic()
        response = consul.get(f"/v1/kv/{prefix}k", params={"index": index, "wait": "10m"})
        assert response.status_code == 200
        assert time.monotonic() - started < 2
    finally:
        lab.config(consul_max_wait=600.0, consul_wait_jitter=True)


@pytest.mark.simulator_only
def test_a_prefix_index_slides_back_once_tombstones_are_reaped(consul, lab, prefix):
    consul.put(f"/v1/kv/{prefix}r/a", data="1")
    consul.put(f"/v1/kv/{prefix}r/b", data="2")
    consul.delete(f"/v1/kv/{prefix}r/b")
    with_tombstone = index_of(consul.get(f"/v1/kv/{prefix}r/", params={"recurse": ""}))
    lab.advance_clock(16 * 60)  # past Consul's 15 minute tombstone TTL
    reaped = consul.get(f"/v1/kv/{prefix}r/", params={"recurse": ""})
    assert index_of(reaped) == reaped.json()[0]["ModifyIndex"] < with_tombstone


@pytest.mark.simulator_only
def test_more_than_200_concurrent_requests_are_429(consul, lab, prefix):
    consul.put(f"/v1/kv/{prefix}k", data="v")
    index = index_of(consul.get(f"/v1/kv/{prefix}k"))
    clients = [consul.with_token(consul.token) for _ in range(200)]
    waiters = [threading.Thread(target=c.get, args=(f"/v1/kv/{prefix}k",),
                                kwargs={"params": {"index": index, "wait": "3s"}}) for c in clients]
    for waiter in waiters:
        waiter.start()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        refused = consul.get(f"/v1/kv/{prefix}k")
        if refused.status_code == 429:
            break
        time.sleep(0.05)
    for waiter in waiters:
        waiter.join()
    assert (refused.status_code, refused.text) == (
        429, "Your IP is issuing too many concurrent connections, please rate limit your calls\n")
    assert consul.get(f"/v1/kv/{prefix}k").status_code == 200  # the slots are free again
