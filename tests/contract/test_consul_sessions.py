"""Contract: Consul sessions (/v1/session/*), locks (acquire/release) and session invalidation."""

import base64
import uuid

import pytest

UNKNOWN_SESSION = "00000000-0000-0000-0000-00000000dead"


@pytest.fixture
def sessions(consul):
    """Create sessions with `sessions(**body)`; every one is destroyed afterwards."""
    created = []

    def create(**body):
        response = consul.put("/v1/session/create", json=body)
        assert response.status_code == 200, response.text
        created.append(response.json()["ID"])
        return created[-1]

    yield create
    for session_id in created:
        consul.put(f"/v1/session/destroy/{session_id}")


def info(consul, session_id):
    return consul.get(f"/v1/session/info/{session_id}").json()


def kv_entry(consul, key):
    response = consul.get(f"/v1/kv/{key}")
    return response.json()[0] if response.status_code == 200 else None


def acquire(consul, key, session_id, data=""):
    return consul.put(f"/v1/kv/{key}", data=data, params={"acquire": session_id}).json()


def test_create_applies_consul_defaults(consul, sessions):
    session_id = sessions()
    assert str(uuid.UUID(session_id)) == session_id
    [session] = info(consul, session_id)
    node = consul.get("/v1/agent/self").json()["Config"]["NodeName"]
    assert {k: session[k] for k in ("ID", "Name", "Node", "LockDelay", "Behavior", "TTL", "NodeChecks")} == {
        "ID": session_id, "Name": "", "Node": node, "LockDelay": 15_000_000_000, "Behavior": "release",
        "TTL": "", "NodeChecks": ["serfHealth"]}
    assert session["CreateIndex"] == session["ModifyIndex"]


@pytest.mark.parametrize("ttl", ["5s", "25h"])
def test_a_ttl_outside_10s_to_24h_is_500(consul, ttl):
    response = consul.put("/v1/session/create", json={"TTL": ttl})
    assert response.status_code == 500
    assert response.text.startswith("Invalid Session TTL")


def test_an_invalid_behavior_is_500(consul):
    response = consul.put("/v1/session/create", json={"Behavior": "explode"})
    assert (response.status_code, response.text) == (500, "Invalid Behavior setting 'explode'")


def test_lock_delay_is_capped_at_60s(consul, sessions):
    session_id = sessions(LockDelay="120s")
    assert info(consul, session_id)[0]["LockDelay"] == 60_000_000_000


def test_renew_returns_the_session_array_and_404_for_an_unknown_id(consul, sessions):
    session_id = sessions(TTL="30s", Name="renewable")
    renewed = consul.put(f"/v1/session/renew/{session_id}")
    assert renewed.status_code == 200
    assert [(s["ID"], s["TTL"], s["Name"]) for s in renewed.json()] == [(session_id, "30s", "renewable")]
    missing = consul.put(f"/v1/session/renew/{UNKNOWN_SESSION}")
    assert (missing.status_code, missing.text) == (404, f"Session id '{UNKNOWN_SESSION}' not found")


def test_destroy_is_true_and_idempotent(consul, sessions):
    session_id = sessions()
    for _ in range(2):
        response = consul.put(f"/v1/session/destroy/{session_id}")
        assert (response.status_code, response.json()) == (200, True)
    assert info(consul, session_id) == []


def test_info_list_and_node_listing(consul, sessions):
    session_id = sessions(Name="listed")
    node = info(consul, session_id)[0]["Node"]
    unknown = consul.get(f"/v1/session/info/{UNKNOWN_SESSION}")
    assert (unknown.status_code, unknown.json()) == (200, [])
    assert int(unknown.headers["X-Consul-Index"]) >= 1
    assert session_id in [s["ID"] for s in consul.get("/v1/session/list").json()]
    assert session_id in [s["ID"] for s in consul.get(f"/v1/session/node/{node}").json()]


def test_acquire_and_release_follow_the_lock_index_rules(consul, sessions, prefix):
    key = f"{prefix}lock"
    session_id = sessions(LockDelay="0s")
    assert acquire(consul, key, session_id, "first") is True
    held = kv_entry(consul, key)
    assert (held["Session"], held["LockIndex"], base64.b64decode(held["Value"])) == (session_id, 1, b"first")
    assert acquire(consul, key, session_id, "again") is True  # same holder: no new acquisition
    again = kv_entry(consul, key)
    assert (again["LockIndex"], base64.b64decode(again["Value"])) == (1, b"again")
    assert consul.put(f"/v1/kv/{key}", params={"release": session_id}).json() is True
    released = kv_entry(consul, key)
    assert "Session" not in released
    assert (released["LockIndex"], released["Value"]) == (1, None)  # the empty release body wiped it
    assert released["ModifyIndex"] > again["ModifyIndex"]
    assert acquire(consul, key, session_id) is True
    assert kv_entry(consul, key)["LockIndex"] == 2


def test_a_lock_held_by_another_session_is_refused(consul, sessions, prefix):
    first, second = sessions(LockDelay="0s"), sessions(LockDelay="0s")
    assert acquire(consul, f"{prefix}l", first) is True
    assert acquire(consul, f"{prefix}l", second) is False
    assert consul.put(f"/v1/kv/{prefix}l", params={"release": second}).json() is False
    assert kv_entry(consul, f"{prefix}l")["Session"] == first


def test_acquire_with_an_unknown_session_is_500(consul, prefix):
    response = consul.put(f"/v1/kv/{prefix}l", params={"acquire": UNKNOWN_SESSION})
    assert (response.status_code, response.text) == (500, f'invalid session "{UNKNOWN_SESSION}"')


def test_a_plain_put_on_a_locked_key_succeeds_and_keeps_the_session(consul, sessions, prefix):
    session_id = sessions()
    acquire(consul, f"{prefix}l", session_id, "mine")
    assert consul.put(f"/v1/kv/{prefix}l", data="overwritten").json() is True
    after = kv_entry(consul, f"{prefix}l")
    assert (after["Session"], base64.b64decode(after["Value"])) == (session_id, b"overwritten")


def test_destroy_releases_keys_and_lock_delay_blocks_reacquiring(consul, sessions, prefix):
    owner, other = sessions(), sessions()  # default LockDelay 15s
    acquire(consul, f"{prefix}l", owner, "v")
    before = kv_entry(consul, f"{prefix}l")
    consul.put(f"/v1/session/destroy/{owner}")
    after = kv_entry(consul, f"{prefix}l")
    assert "Session" not in after
    assert after["LockIndex"] == before["LockIndex"]
    assert after["ModifyIndex"] > before["ModifyIndex"]
    assert acquire(consul, f"{prefix}l", other) is False  # lock-delay


def test_delete_behavior_deletes_held_keys(consul, sessions, prefix):
    session_id = sessions(Behavior="delete", LockDelay="0s")
    acquire(consul, f"{prefix}gone", session_id, "v")
    consul.put(f"/v1/session/destroy/{session_id}")
    assert kv_entry(consul, f"{prefix}gone") is None


def test_zero_lock_delay_allows_reacquiring_at_once(consul, sessions, prefix):
    owner, other = sessions(LockDelay="0s"), sessions()
    acquire(consul, f"{prefix}l", owner)
    consul.put(f"/v1/session/destroy/{owner}")
    assert acquire(consul, f"{prefix}l", other) is True


def test_a_failing_service_check_invalidates_sessions_bound_to_it(consul, sessions, prefix):
    service = f"octant-contract-{uuid.uuid4().hex[:8]}"
    consul.put("/v1/agent/service/register", json={"Name": service, "Check": {"TTL": "60s", "Status": "passing"}})
    try:
        session_id = sessions(NodeChecks=[], ServiceChecks=[{"ID": f"service:{service}"}], LockDelay="0s")
        acquire(consul, f"{prefix}l", session_id)
        consul.put(f"/v1/agent/check/fail/service:{service}")
        assert info(consul, session_id) == []
        assert "Session" not in kv_entry(consul, f"{prefix}l")
    finally:
        consul.put(f"/v1/agent/service/deregister/{service}")


@pytest.mark.simulator_only
def test_a_ttl_session_expires_after_twice_its_ttl(consul, lab, sessions, prefix):
    session_id = sessions(TTL="10s", LockDelay="0s")
    acquire(consul, f"{prefix}l", session_id)
    lab.advance_clock(15)
    assert info(consul, session_id) != []  # inside Consul's 2x grace
    consul.put(f"/v1/session/renew/{session_id}")
    lab.advance_clock(15)
    assert info(consul, session_id) != []  # renewing restarted the timer
    lab.advance_clock(6)
    assert info(consul, session_id) == []
    assert "Session" not in kv_entry(consul, f"{prefix}l")


@pytest.mark.simulator_only
def test_lock_delay_ends_with_the_lab_clock(consul, lab, sessions, prefix):
    owner, other = sessions(TTL="60s"), sessions(TTL="60s")
    acquire(consul, f"{prefix}l", owner)
    consul.put(f"/v1/session/destroy/{owner}")
    assert acquire(consul, f"{prefix}l", other) is False
    lab.advance_clock(16)
    assert acquire(consul, f"{prefix}l", other) is True


@pytest.mark.simulator_only
def test_a_node_going_down_invalidates_only_its_serf_bound_sessions(consul, lab, sessions, prefix):
    bound = sessions(Node="bobby", LockDelay="0s")
    ttl_only = sessions(Node="bobby", NodeChecks=[], TTL="60s")
    elsewhere = sessions(Node="billy")
    acquire(consul, f"{prefix}l", bound)
    lab.node("bobby", False)
    try:
        assert info(consul, bound) == []
        assert info(consul, ttl_only) != []
        assert info(consul, elsewhere) != []
        assert "Session" not in kv_entry(consul, f"{prefix}l")
        refused = consul.put("/v1/session/create", json={"Node": "bobby"})
        assert (refused.status_code, refused.text) == (500, "Check 'serfHealth' is in critical state")
    finally:
        lab.node("bobby", True)
    assert sessions(Node="bobby")
