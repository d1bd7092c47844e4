# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.consul_session against the lab simulator (ACLs on), in-process so the request
log counts its calls."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.conftest import run_module


@pytest.fixture
def name(cluster):
    """A random session name; its sessions, keys and ACL objects are removed after the test."""
    name = f"octant-test-{uuid.uuid4().hex[:8]}"
    yield name
    api = cluster["consul"]
    for session in api.get("/v1/session/list").json():
        if session["Name"].startswith(name):
            api.put(f"/v1/session/destroy/{session['ID']}")
    api.delete(f"/v1/kv/octant-test/{name}", params={"recurse": ""})
    for token in api.get("/v1/acl/tokens").json():
        if (token.get("Description") or "").startswith(name):
            api.delete(f"/v1/acl/token/{token['AccessorID']}")
    for policy in api.get("/v1/acl/policies").json():
        if policy["Name"].startswith(name):
            api.delete(f"/v1/acl/policy/{policy['ID']}")


def conn(cluster, **extra):
    return dict({"consul_address": cluster["consul_address"], "consul_token": cluster["consul_token"]}, **extra)


def counts(lab, since):
    rows = lab.requests(service="consul", since=since)
    return (sum(r["method"] == "GET" for r in rows), sum(r["method"] in ("PUT", "POST", "DELETE") for r in rows))


def sessions(cluster, node, name):
    return [s for s in cluster["consul"].get(f"/v1/session/node/{node}").json() if s["Name"] == name]


def test_lifecycle(cluster, lab, name):
    args = conn(cluster, name=name, node="bobby", ttl="30s", behavior="delete", node_checks=[])
    seq = lab.last_seq()
    check = run_module("consul_session", args, check=True, diff=True)
    assert check["changed"] and check["operation"] == "create" and check["id"] is None
    assert check["diff"]["after"]["ttl"] == "30s"
    assert counts(lab, seq) == (1, 0) and sessions(cluster, "bobby", name) == []

    created = run_module("consul_session", args)
    (stored,) = sessions(cluster, "bobby", name)
    assert created["id"] == stored["ID"] and stored["Behavior"] == "delete" and stored["NodeChecks"] == []
    assert stored["TTL"] == "30s"

    seq = lab.last_seq()
    again = run_module("consul_session", args)
    assert again["changed"] is False and again["id"] == created["id"]
    assert counts(lab, seq) == (1, 0)

    seq = lab.last_seq()
    renewed = run_module("consul_session", dict(args, state="renewed"))
    assert renewed["operation"] == "renew" and renewed["id"] == created["id"]
    assert counts(lab, seq) == (1, 1)
    assert renewed["session"]["TTL"] == "30s"

    differ = run_module("consul_session", dict(args, ttl="60s"))
    assert differ["failed"] is True
    assert differ["msg"] == (f"Consul session {name!r} on node 'bobby': the session exists with other settings "
                             "(ttl); Consul sessions cannot be changed. Hint: set recreate=true to destroy and "
                             "create it again (its locks are released or deleted per its behavior), or match the "
                             "existing settings")
    recreated = run_module("consul_session", dict(args, ttl="60s", recreate=True))
    assert recreated["operation"] == "recreate" and recreated["id"] != created["id"]
    assert [s["ID"] for s in sessions(cluster, "bobby", name)] == [recreated["id"]]

    gone = run_module("consul_session", dict(args, state="absent"))
    assert gone["destroyed"] == [recreated["id"]] and sessions(cluster, "bobby", name) == []
    seq = lab.last_seq()
    assert run_module("consul_session", dict(args, state="absent"))["changed"] is False
    assert counts(lab, seq) == (1, 0)


def test_node_defaults_to_the_agents(cluster, name):
    created = run_module("consul_session", conn(cluster, name=name))
    node = cluster["consul"].get("/v1/agent/self").json()["Config"]["NodeName"]
    assert [s["ID"] for s in sessions(cluster, node, name)] == [created["id"]]


def test_expired_ttl_session_is_created_again(cluster, lab, name):
    args = conn(cluster, name=name, node="jerry", ttl="10s", node_checks=[])
    first = run_module("consul_session", args)
    lab.advance_clock(25)  # past 2 x TTL
    assert sessions(cluster, "jerry", name) == []
    second = run_module("consul_session", dict(args, state="renewed"))
    assert second["operation"] == "create" and second["id"] != first["id"]


def test_session_releases_lock_with_the_kv_module(cluster, name):
    session = run_module("consul_session", conn(cluster, name=name, node="jerry", lock_delay="0s"))["id"]
    key = f"octant-test/{name}/lock"
    assert run_module("consul_kv", conn(cluster, key=key, value="leader", session=session,
                                        state="acquire"))["changed"]
    run_module("consul_session", conn(cluster, name=name, node="jerry", state="absent"))
    entry = cluster["consul"].get(f"/v1/kv/{key}").json()[0]
    assert "Session" not in entry  # behavior release


def test_invalid_ttl_makes_no_call(cluster, lab, name):
    seq = lab.last_seq()
    result = run_module("consul_session", conn(cluster, name=name, node="jerry", ttl="5s"))
    assert result["msg"] == f"Consul session {name!r}: ttl must be between 10s and 24h, got '5s'"
    assert counts(lab, seq) == (0, 0)


@pytest.mark.acl
def test_403_names_the_session_capability(cluster, name):
    policy = cluster["consul"].put("/v1/acl/policy", json={"Name": f"{name}-ro",
                                                          "Rules": 'session_prefix "" { policy = "read" }'}).json()
    token = cluster["consul"].put("/v1/acl/token", json={"Description": f"{name} ro",
                                                        "Policies": [{"ID": policy["ID"]}]}).json()
    result = run_module("consul_session", conn(cluster, consul_token=token["SecretID"], name=name, node="jerry"))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Consul session create of {name!r} failed (HTTP 403): Permission denied")
    assert "lacks 'session:write'" in result["msg"]
    assert token["SecretID"] not in str(result)
