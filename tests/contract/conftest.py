"""Fixtures for the Consul/Nomad contract tests.

By default every test runs against `tools/labsim` started on free loopback ports. With
OCTANT_LIVE=1 the same tests run against the real cluster named by CONSUL_HTTP_ADDR and
NOMAD_ADDR (tokens from CONSUL_HTTP_TOKEN / NOMAD_TOKEN); tests marked `simulator_only`
(they need the /_lab/ admin API) are skipped there, and `acl` tests need
OCTANT_LIVE_ACL=1 (the tokens above must then be management tokens).
Every test works under its own random key prefix / job name so a live cluster is left clean."""

from __future__ import annotations

import os
import uuid

import pytest

from tools.testsupport.labclient import Api, LabAdmin, LabProcess, live_mode

ACL_MANAGEMENT_TOKEN = "3f1e0c52-9b7a-4c1e-8d2f-6a5b4c3d2e1f"


def pytest_collection_modifyitems(config, items):
    if not live_mode():
        return
    skip_sim = pytest.mark.skip(reason="needs the lab simulator's /_lab/ admin API")
    skip_acl = pytest.mark.skip(reason="live ACL tests need OCTANT_LIVE_ACL=1 and management tokens")
    for item in items:
        if "simulator_only" in item.keywords:
            item.add_marker(skip_sim)
        if "acl" in item.keywords and os.environ.get("OCTANT_LIVE_ACL") != "1":
            item.add_marker(skip_acl)


@pytest.fixture(scope="session")
def cluster():
    """Addresses and tokens of the cluster under test (no ACL enforcement in the simulator)."""
    if live_mode():
        yield {
            "consul": os.environ["CONSUL_HTTP_ADDR"],
            "nomad": os.environ["NOMAD_ADDR"],
            "consul_token": os.environ.get("CONSUL_HTTP_TOKEN"),
            "nomad_token": os.environ.get("NOMAD_TOKEN"),
            "admin": None,
        }
        return
    with LabProcess() as lab:
        yield {"consul": lab.consul_addr, "nomad": lab.nomad_addr, "consul_token": None,
               "nomad_token": None, "admin": lab.admin_addr}


@pytest.fixture(scope="session")
def acl_cluster():
    """A cluster with ACLs enforced; the tokens are management tokens."""
    if live_mode():
        yield {
            "consul": os.environ["CONSUL_HTTP_ADDR"],
            "nomad": os.environ["NOMAD_ADDR"],
            "consul_token": os.environ.get("CONSUL_HTTP_TOKEN"),
            "nomad_token": os.environ.get("NOMAD_TOKEN"),
            "admin": None,
        }
        return
    with LabProcess(acl_token=ACL_MANAGEMENT_TOKEN) as lab:
        yield {"consul": lab.consul_addr, "nomad": lab.nomad_addr, "consul_token": ACL_MANAGEMENT_TOKEN,
               "nomad_token": ACL_MANAGEMENT_TOKEN, "admin": lab.admin_addr}


@pytest.fixture
def consul(cluster):
    return Api(cluster["consul"], cluster["consul_token"], "X-Consul-Token")


@pytest.fixture
def nomad(cluster):
    return Api(cluster["nomad"], cluster["nomad_token"], "X-Nomad-Token")


@pytest.fixture
def acl_consul(acl_cluster):
    return Api(acl_cluster["consul"], acl_cluster["consul_token"], "X-Consul-Token")


@pytest.fixture
def acl_nomad(acl_cluster):
    return Api(acl_cluster["nomad"], acl_cluster["nomad_token"], "X-Nomad-Token")


def _admin(cluster_info):
    if cluster_info["admin"] is None:
        pytest.skip("needs the lab simulator's /_lab/ admin API")
    admin = LabAdmin(cluster_info["admin"])
    yield admin
    # Leave the shared simulator as the next test expects it.
    admin.clear_faults()
    admin.latency(0)
    admin.service("consul", True)
    admin.service("nomad", True)
    admin.config(txn_max_ops=64, strict=True)


@pytest.fixture
def lab(cluster):
    yield from _admin(cluster)


@pytest.fixture
def acl_lab(acl_cluster):
    yield from _admin(acl_cluster)


@pytest.fixture
def prefix(consul):
    """A unique KV prefix for one test, deleted afterwards."""
    value = f"octant-contract/{uuid.uuid4().hex[:12]}/"
    yield value
    consul.delete(f"/v1/kv/{value}", params={"recurse": ""})


@pytest.fixture
def job_id(nomad):
    """A unique Nomad job ID for one test, purged afterwards."""
    value = f"contract-{uuid.uuid4().hex[:10]}"
    yield value
    nomad.delete(f"/v1/job/{value}", params={"purge": "true"})
