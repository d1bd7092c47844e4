"""Contract: agent service registration, TTL checks, /v1/health/service, /v1/catalog and /v1/status."""

import uuid

import pytest


@pytest.fixture
def service(consul):
    """A unique service name; the service is deregistered afterwards."""
    name = f"octant-contract-{uuid.uuid4().hex[:8]}"
    yield name
    consul.put(f"/v1/agent/service/deregister/{name}")


def register(consul, name, **body):
    response = consul.put("/v1/agent/service/register", json={"Name": name, **body})
    assert response.status_code == 200, response.text
    return response


def health(consul, name, **params):
    return consul.get(f"/v1/health/service/{name}", params=params).json()


def test_a_registered_service_shows_in_the_agent_with_its_ttl_check_critical(consul, service):
    register(consul, service, Tags=["a"], Port=18789, Meta={"role": "gateway"}, Check={"TTL": "30s"})
    listed = consul.get("/v1/agent/services").json()[service]
    assert {k: listed[k] for k in ("ID", "Service", "Tags", "Port", "Meta")} == {
        "ID": service, "Service": service, "Tags": ["a"], "Port": 18789, "Meta": {"role": "gateway"}}
    check = consul.get("/v1/agent/checks").json()[f"service:{service}"]
    assert (check["Status"], check["ServiceID"], check["Name"]) == (
        "critical", service, f"Service '{service}' check")


def test_passing_a_ttl_check_makes_the_service_pass_health(consul, service):
    register(consul, service, Check={"TTL": "30s"})
    assert health(consul, service, passing="") == []
    response = consul.put(f"/v1/agent/check/pass/service:{service}", params={"note": "all good"})
    assert response.status_code == 200
    [entry] = health(consul, service, passing="")
    assert entry["Checks"][-1]["Output"] == "all good"


def test_health_entries_carry_node_service_and_every_check(consul, service):
    register(consul, service, Port=80, Check={"TTL": "30s", "Status": "passing"})
    [entry] = health(consul, service)
    assert set(entry) == {"Node", "Service", "Checks"}
    node = consul.get("/v1/agent/self").json()["Config"]["NodeName"]
    assert entry["Node"]["Node"] == node
    assert (entry["Service"]["ID"], entry["Service"]["Service"], entry["Service"]["Port"]) == (service, service, 80)
    checks = {c["CheckID"]: c for c in entry["Checks"]}
    assert checks["serfHealth"]["Status"] == "passing"
    assert checks["serfHealth"]["ServiceID"] == ""
    assert checks[f"service:{service}"]["ServiceName"] == service


def test_several_checks_get_numbered_ids(consul, service):
    register(consul, service, Checks=[{"TTL": "30s"}, {"TTL": "60s", "Name": "second"}])
    checks = consul.get("/v1/agent/checks").json()
    assert checks[f"service:{service}:1"]["Name"] == f"Service '{service}' check"
    assert checks[f"service:{service}:2"]["Name"] == "second"
    assert f"service:{service}" not in checks


def test_warn_and_fail_set_the_status(consul, service):
    register(consul, service, Check={"TTL": "30s"})
    for action, status in (("warn", "warning"), ("fail", "critical"), ("pass", "passing")):
        assert consul.put(f"/v1/agent/check/{action}/service:{service}").status_code == 200
        assert consul.get("/v1/agent/checks").json()[f"service:{service}"]["Status"] == status


def test_updating_an_unknown_check_is_404(consul):
    response = consul.put("/v1/agent/check/pass/service:octant-contract-none")
    assert response.status_code == 404
    assert response.text.startswith('Unknown check ID "service:octant-contract-none"')


def test_catalog_services_maps_names_to_tags(consul, service):
    register(consul, service, Tags=["traefik.enable=true", "b"])
    services = consul.get("/v1/catalog/services").json()
    assert sorted(services[service]) == ["b", "traefik.enable=true"]
    assert services["consul"] == []


def test_catalog_service_lists_instances(consul, service):
    register(consul, service, Port=4242)
    [instance] = consul.get(f"/v1/catalog/service/{service}").json()
    assert (instance["ServiceID"], instance["ServicePort"]) == (service, 4242)


def test_deregister_removes_the_service_and_an_unknown_id_is_404(consul, service):
    register(consul, service, Check={"TTL": "30s"})
    assert consul.put(f"/v1/agent/service/deregister/{service}").status_code == 200
    assert service not in consul.get("/v1/agent/services").json()
    assert f"service:{service}" not in consul.get("/v1/agent/checks").json()
    assert health(consul, service) == []
    again = consul.put(f"/v1/agent/service/deregister/{service}")
    assert again.status_code == 404
    assert again.text.startswith(f'Unknown service ID "{service}"')


def test_reregistering_keeps_the_check_status(consul, service):
    register(consul, service, Check={"TTL": "30s"})
    consul.put(f"/v1/agent/check/pass/service:{service}")
    register(consul, service, Tags=["v2"], Check={"TTL": "30s"})
    assert consul.get("/v1/agent/checks").json()[f"service:{service}"]["Status"] == "passing"
    assert consul.get("/v1/agent/services").json()[service]["Tags"] == ["v2"]


def test_a_missing_service_name_is_400(consul):
    response = consul.put("/v1/agent/service/register", json={"Port": 1})
    assert (response.status_code, response.text) == (400, "Missing service name")


def test_an_http_check_needs_an_interval(consul, service):
    response = consul.put("/v1/agent/service/register", json={"Name": service, "Check": {"HTTP": "http://x/"}})
    assert response.status_code == 400
    assert response.text.startswith("Invalid check: Interval must be > 0")


def test_status_leader_and_agent_self(consul):
    leader = consul.get("/v1/status/leader")
    assert leader.status_code == 200
    assert isinstance(leader.json(), str) and leader.json().endswith(":8300")
    config = consul.get("/v1/agent/self").json()["Config"]
    assert config["Datacenter"] and config["NodeName"]


@pytest.mark.simulator_only
def test_a_ttl_check_goes_critical_when_its_ttl_passes(consul, lab, service):
    register(consul, service, Check={"TTL": "30s", "Status": "passing"})
    lab.advance_clock(31)
    check = consul.get("/v1/agent/checks").json()[f"service:{service}"]
    assert (check["Status"], check["Output"]) == ("critical", "TTL expired")


@pytest.mark.simulator_only
def test_a_service_critical_past_deregister_after_is_reaped(consul, lab, service):
    register(consul, service, Check={"TTL": "30s", "DeregisterCriticalServiceAfter": "1m"})
    lab.advance_clock(30)
    assert service in consul.get("/v1/agent/services").json()
    lab.advance_clock(31)
    assert service not in consul.get("/v1/agent/services").json()


@pytest.mark.simulator_only
def test_a_node_down_turns_serf_health_critical(consul, lab, service):
    register(consul, service, Check={"TTL": "30s", "Status": "passing"})
    node = consul.get("/v1/agent/self").json()["Config"]["NodeName"]
    lab.node(node, False)
    try:
        serf = [c for c in health(consul, service)[0]["Checks"] if c["CheckID"] == "serfHealth"][0]
        assert (serf["Status"], serf["Output"]) == ("critical", "Agent not live or unreachable")
        assert health(consul, service, passing="") == []
    finally:
        lab.node(node, True)
    assert len(health(consul, service, passing="")) == 1
