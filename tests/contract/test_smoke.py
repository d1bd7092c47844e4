import pytest


@pytest.mark.simulator_only
def test_request_log_records_every_call(consul, lab):
    since = lab.last_seq()
    consul.get("/v1/kv/octant-contract/nothing-here")
    rows = lab.requests(since=since)
    assert [(r["method"], r["path"], r["status"]) for r in rows] == [
        ("GET", "/v1/kv/octant-contract/nothing-here", 404)]


@pytest.mark.simulator_only
def test_service_down_resets_open_blocking_queries(cluster, lab):
    """A dying agent resets the connections it serves: a blocking query in flight must fail at
    once, not hang until its wait ends."""
    import threading
    import time

    import requests

    session = requests.Session()
    outcome = {}

    def block():
        started = time.monotonic()
        try:
            session.get(cluster["consul"] + "/v1/kv/octant-contract/held?index=100000&wait=30s", timeout=40)
            outcome["result"] = "answered"
        except requests.ConnectionError:
            outcome["result"] = "reset"
        outcome["seconds"] = time.monotonic() - started

    waiter = threading.Thread(target=block)
    waiter.start()
    time.sleep(0.5)
    lab.service("consul", False)
    waiter.join(10)
    assert outcome["result"] == "reset"
    assert outcome["seconds"] < 5
