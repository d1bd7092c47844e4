import pytest


@pytest.mark.simulator_only
def test_request_log_records_every_call(consul, lab):
    since = lab.last_seq()
    consul.get("/v1/kv/octant-contract/nothing-here")
    rows = lab.requests(since=since)
    assert [(r["method"], r["path"], r["status"]) for r in rows] == [
        ("GET", "/v1/kv/octant-contract/nothing-here", 404)]
