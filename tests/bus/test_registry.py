# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry: agents with capabilities on their gateway, and liveness that expires by itself."""

from __future__ import annotations

import pytest

from openclaw_bus.consul import ConsulError
from openclaw_bus.registry import GatewayPresence, RegistryWatcher, read_registry

MODEL = {
    "agents": [
        {"id": "jerry", "gateway": "main", "capabilities": ["general", "routing"], "may_message": ["bobby"]},
        {"id": "bobby", "gateway": "ops", "capabilities": ["monitoring"], "may_message": ["jerry"]},
    ],
    "gateways": [{"name": "main", "node": "jerry"}, {"name": "ops", "node": "bobby"}],
}
AGENTS = {"main": [{"id": "jerry", "name": "Jerry", "capabilities": ["general", "routing"]}],
          "ops": [{"id": "bobby", "name": "Bobby", "capabilities": ["monitoring"], "description": "monitor"}]}


@pytest.fixture
def farm(clock_farm):
    return clock_farm  # these tests move the lab clock: their own simulator


@pytest.fixture
def lab(clock_lab):
    return clock_lab


@pytest.fixture
def presences(farm):
    farm.setup(MODEL)
    started = []

    def start(gateway, node, ttl=10):
        presence = GatewayPresence(farm.consul(gateway=gateway), gateway, node, AGENTS[gateway], farm.layout, ttl=ttl,
                                   info={"mcp_url": f"http://{node}:8765/mcp"})
        started.append(presence.start(renew=False))
        return presence

    yield start
    for presence in started:
        presence.stop()


def test_agents_and_gateways_are_listed_with_liveness(presences, farm):
    presences("main", "jerry")
    view = read_registry(farm.consul("bobby"), farm.layout)  # any agent may read the registry
    jerry = view.agent("jerry")
    assert (jerry.gateway, jerry.capabilities, jerry.online, jerry.node) == ("main", ["general", "routing"], True,
                                                                             "jerry")
    assert view.agent("bobby") is None  # ops has not started yet
    presences("ops", "bobby")
    view = read_registry(farm.consul("jerry"), farm.layout)
    assert [a.id for a in view.list()] == ["bobby", "jerry"]
    assert [a.id for a in view.list(capability="monitoring")] == ["bobby"]
    assert view.gateways["ops"]["mcp_url"] == "http://bobby:8765/mcp"


def test_a_dead_gateway_disappears_when_its_session_expires(presences, farm, lab):
    main = presences("main", "jerry", ttl=10)
    presences("ops", "bobby", ttl=10)
    main.abandon()  # the bus process dies: nobody renews its session
    lab.advance_clock(15)  # renewals of ops would have happened; main's TTL x 2 not yet over
    view = read_registry(farm.consul("jerry"), farm.layout)
    assert view.agent("jerry").online
    lab.advance_clock(10)  # 25 s > 2 x TTL: Consul invalidates the session and deletes the key
    view = read_registry(farm.consul("jerry"), farm.layout)
    jerry = view.agent("jerry")
    assert jerry is not None and not jerry.online  # still known (messages to it queue) but not healthy
    assert "main" not in view.gateways
    assert [a.id for a in view.list(include_offline=False)] == []  # ops expired too: nobody renewed it


def test_renewal_keeps_it_alive_and_recreates_an_expired_session(presences, farm, lab):
    main = presences("main", "jerry", ttl=10)
    lab.advance_clock(15)
    assert main.renew_once() is True
    lab.advance_clock(15)
    assert read_registry(farm.consul("jerry"), farm.layout).agent("jerry").online
    lab.advance_clock(25)  # expired while the process was paused
    assert not read_registry(farm.consul("jerry"), farm.layout).agent("jerry").online
    assert main.renew_once() is False and main.recreations == 1  # re-created and re-acquired
    assert read_registry(farm.consul("jerry"), farm.layout).agent("jerry").online


def test_a_second_process_for_the_same_gateway_is_refused(presences, farm):
    presences("main", "jerry")
    other = GatewayPresence(farm.consul(gateway="main"), "main", "jerry", AGENTS["main"], farm.layout)
    with pytest.raises(ConsulError, match="already registered by another live bus process"):
        other.start(renew=False)


def test_clean_stop_removes_the_gateway_at_once(presences, farm):
    main = presences("main", "jerry")
    main.stop()
    assert not read_registry(farm.consul("jerry"), farm.layout).agent("jerry").online


def test_the_watcher_follows_changes_with_blocking_queries(presences, farm):
    watcher = RegistryWatcher(farm.consul("jerry"), farm.layout, wait=10).start()
    try:
        assert watcher.current().agent("bobby") is None
        presences("ops", "bobby")
        assert watcher.wait_for(lambda v: v.agent("bobby") is not None and v.agent("bobby").online, 5)
    finally:
        watcher.stop()
