# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of gateway runtimes (nomad, launchd) and of local model providers (local_to): the MacBook's
own gateway of roles/macos_gateway/examples/homelab-macbook.yml merged into the homelab model is valid,
and each broken variant yields exactly the expected problems (path, message, fix). The rendering of
such a gateway (filters) is tested in tests/unit/plugins/filter/test_openclaw_filter_launchd.py."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

ROOT = Path(__file__).resolve().parents[4]
HOSTS = {"homelab": ["jerry", "bobby", "billy"], "workstations": ["macbook"]}
EXAMPLE = ROOT / "roles" / "macos_gateway" / "examples" / "homelab-macbook.yml"


def homelab_with_mac():
    """inventory/homelab's model with the example's entries appended (as its header says to)."""
    text = (ROOT / "inventory" / "homelab" / "group_vars" / "all" / "farm.yml").read_text(encoding="utf-8")
    model = {k: v for k, v in yaml.safe_load(text).items() if k in fm.TOP_LEVEL}
    extra = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    model["farm_gateways"] += extra["farm_gateways"]
    model["farm_agents"] += extra["farm_agents"]
    model["farm_model_providers"].update(extra["farm_model_providers"])
    return model


BASE = homelab_with_mac()
MAC_GW = len(BASE["farm_gateways"]) - 1          # index of the mac gateway
MAC_AGENT = len(BASE["farm_agents"]) - 1         # index of the mac agent


@pytest.fixture
def model():
    return copy.deepcopy(BASE)


def pairs(problems):
    return [(p["path"], p["msg"]) for p in problems]


def by_path(problems):
    return {p["path"]: p for p in problems}


def test_example_merged_into_the_homelab_model_is_valid(model):
    assert fm.validate(model, HOSTS, list(model)) == []


def test_normalize_fills_runtime_and_bind_and_drops_nomad_only_settings(model):
    normalized = fm.normalize(model)
    main, mac = normalized["farm_gateways"][0], normalized["farm_gateways"][MAC_GW]
    assert (main["runtime"], main["bind"], main["bridge_port"]) == ("nomad", "lan", 18790)
    assert main["resources"] == {"cpu": 2000, "memory": 2048}
    assert (mac["runtime"], mac["bind"], mac["port"]) == ("launchd", "loopback", 18789)
    for key in fm.NOMAD_ONLY:
        assert key not in mac, key
    assert "runtime" not in model["farm_gateways"][0], "normalize must not change its input"


def test_launchd_gateway_rejects_nomad_only_settings(model):
    model["farm_gateways"][MAC_GW].update({"image": "ghcr.io/openclaw/openclaw:2026.9.5", "resources": {"cpu": 500},
                                           "hostname": "mac.octant.lan", "bridge_port": 18790})
    problems = fm.validate(model, HOSTS)
    where = f"farm_gateways[{MAC_GW}]"
    assert pairs(problems) == [
        (f"{where}.image", "image is the container image of a Nomad gateway, but 'mac' runs under launchd "
                           "(runtime: launchd), which installs openclaw@2026.9.6 with npm"),
        (f"{where}.resources", "resources are the Nomad task's CPU and memory, but 'mac' runs under launchd (runtime: "
                               "launchd), which runs as a process of the logged-in user, without limits"),
        (f"{where}.hostname", "hostname is the Traefik route of a Nomad gateway's Consul service, but 'mac' runs "
                              "under launchd (runtime: launchd), which is not behind Traefik"),
        (f"{where}.bridge_port", "bridge_port is the container port of a Nomad gateway's bridge, but 'mac' runs "
                                 "under launchd (runtime: launchd), which listens on its port only"),
    ]
    assert {p["fix"] for p in problems} == {f"remove {key}, or set runtime: nomad to run the gateway as a Nomad job"
                                            for key in fm.NOMAD_ONLY}


def test_nomad_gateway_needs_an_image(model):
    del model["farm_gateways"][0]["image"]
    (problem,) = fm.validate(model, HOSTS)
    assert (problem["path"], problem["msg"]) == ("farm_gateways[0].image", "is required")
    assert problem["fix"] == ('add image: "ghcr.io/openclaw/openclaw:<openclaw_version>" (or set runtime: launchd for '
                              'a gateway that runs outside Nomad, on a workstation)')


def test_nomad_gateway_must_bind_lan(model):
    model["farm_gateways"][0]["bind"] = "loopback"
    (problem,) = fm.validate(model, HOSTS)
    assert problem["path"] == "farm_gateways[0].bind"
    assert problem["msg"].startswith('a Nomad gateway runs in a container and must bind "lan"')
    model["farm_gateways"][0]["bind"] = "lan"
    assert fm.validate(model, HOSTS) == []


def test_unknown_runtime_and_bind(model):
    model["farm_gateways"][MAC_GW]["runtime"] = "systemd"
    model["farm_gateways"][MAC_GW]["bind"] = "0.0.0.0"  # noqa: S104 (a value OpenClaw rejects)
    assert pairs(fm.validate(model, HOSTS)) == [
        (f"farm_gateways[{MAC_GW}].runtime", "'systemd' is not one of: launchd, nomad"),
        (f"farm_gateways[{MAC_GW}].bind", "'0.0.0.0' is not one of: auto, lan, loopback, tailnet"),
    ]


def test_a_homelab_agent_may_not_use_the_macbooks_lm_studio(model):
    model["farm_agents"][0]["model"]["primary"] = "lmstudio/qwen3-8b"
    model["farm_agents"][2]["model"]["fallbacks"].append("lmstudio/qwen3-8b")
    problems = fm.validate(model, HOSTS)
    assert pairs(problems) == [
        ("farm_agents[0].model.primary", "'lmstudio/qwen3-8b' is local to macbook (farm_model_providers.lmstudio."
                                         "local_to), but agent 'jerry' runs on gateway 'main' on node 'jerry'"),
        ("farm_agents[2].model.fallbacks[2]", "'lmstudio/qwen3-8b' is local to macbook (farm_model_providers."
                                              "lmstudio.local_to), but agent 'billy' runs on gateway 'main' on node "
                                              "'jerry'"),
    ]
    assert problems[0]["fix"] == ("add jerry to farm_model_providers.lmstudio.local_to if the gateway on jerry can "
                                  "reach http://127.0.0.1:1234/v1, or pick another model")
    message = fm.format_problems(problems)
    assert "farm_model_providers.lmstudio.local_to" in message and "nothing was changed" in message


def test_the_model_may_allow_lm_studio_elsewhere(model):
    model["farm_agents"][0]["model"]["fallbacks"].append("lmstudio/qwen3-8b")
    model["farm_model_providers"]["lmstudio"]["base_url"] = "http://macbook.octant.lan:1234/v1"
    model["farm_model_providers"]["lmstudio"]["local_to"].append("jerry")
    assert fm.validate(model, HOSTS) == []
    # without local_to every gateway may use the provider
    del model["farm_model_providers"]["lmstudio"]["local_to"]
    model["farm_agents"][1]["model"]["primary"] = "lmstudio/qwen3-8b"
    assert fm.validate(model, HOSTS) == []


def test_local_to_names_inventory_nodes(model):
    model["farm_model_providers"]["lmstudio"]["local_to"] = ["macbok"]
    problems = by_path(fm.validate(model, HOSTS))
    problem = problems.pop("farm_model_providers.lmstudio.local_to[0]")
    assert problem["msg"] == ("node 'macbok' is not in the inventory (groups homelab, workstations: billy, bobby, "
                              "jerry, macbook)")
    assert problem["fix"].startswith('did you mean "macbook"?')
    # and the mac agent's own gateway is then not among the allowed nodes either
    assert list(problems) == [f"farm_agents[{MAC_AGENT}].model.primary"]
    assert fm.validate(dict(model, farm_model_providers=dict(
        model["farm_model_providers"], lmstudio=dict(model["farm_model_providers"]["lmstudio"],
                                                     local_to=["macbook"])))) == []


def test_empty_local_to_is_reported(model):
    model["farm_model_providers"]["lmstudio"]["local_to"] = []
    problems = by_path(fm.validate(model, HOSTS))
    assert problems["farm_model_providers.lmstudio.local_to"]["msg"] == "is empty: no gateway may use this provider"
    assert f"farm_agents[{MAC_AGENT}].model.primary" in problems


def test_local_to_must_be_a_list_of_strings(model):
    model["farm_model_providers"]["lmstudio"]["local_to"] = "macbook"
    assert pairs(fm.validate(model, HOSTS)) == [
        ("farm_model_providers.lmstudio.local_to", "must be a list, got a string")]


def test_ports_of_a_launchd_gateway_still_may_not_clash_on_its_node(model):
    model["farm_gateways"].append({"name": "mac2", "node": "macbook", "runtime": "launchd", "port": 18850})
    model["farm_agents"].append({"id": "mac2", "name": "Mac 2", "gateway": "mac2",
                                 "model": {"primary": "lmstudio/qwen3-8b"}})
    (problem,) = fm.validate(model, HOSTS)
    assert problem["path"] == f"farm_gateways[{MAC_GW + 1}].port"
    assert problem["msg"] == ("ports of gateway 'mac2' (18850..18960) overlap those of gateway 'mac' "
                              "(farm_gateways[1]: 18789..18899) on node 'macbook'")
    model["farm_gateways"][-1]["port"] = 18789 + 120
    assert fm.validate(model, HOSTS) == []


# -- the bus: a launchd gateway is independent -------------------------------------------------

def phase4_with_mac(model):
    """The homelab with the mac, the bus on and one gateway per node (the mac gateway on its own)."""
    model["farm_bus"] = {"enabled": True}
    image = model["farm_gateways"][0]["image"]
    extra = [{"name": f"gw-{node}", "node": node, "image": image} for node in ("bobby", "billy")]
    model["farm_gateways"][1:1] = extra
    for agent in model["farm_agents"]:
        agent["gateway"] = {"bobby": "gw-bobby", "billy": "gw-billy"}.get(agent["id"], agent["gateway"])
        agent["may_spawn"] = []  # spawning stays inside one gateway
    for channel in model["farm_channels"]:
        channel["bindings"] = [{"agent": "jerry"}]  # channels bind agents of their own gateway
    return model


def test_with_the_bus_on_the_mac_gateway_is_left_out_of_the_bus(model):
    model = phase4_with_mac(model)
    assert fm.validate(model, inventory_hosts=HOSTS) == []
    members = fm.bus_members(fm.normalize(model))
    assert "macbook" not in [gw["node"] for gw in members["farm_gateways"]]
    assert "mac" not in [a["id"] for a in members["farm_agents"]]
    assert len(members["farm_agents"]) == len(model["farm_agents"]) - 1


def test_may_message_across_the_launchd_boundary_is_refused_with_the_bus_on(model):
    model = phase4_with_mac(model)
    model["farm_agents"][0]["may_message"] = ["bobby", "mac"]
    problem = by_path(fm.validate(model, inventory_hosts=HOSTS))["farm_agents[0].may_message[1]"]
    assert "runs under launchd, outside it" in problem["msg"]
    assert problem["fix"].startswith("remove the peer")
    model["farm_bus"]["enabled"] = False  # without the bus there is no boundary to cross
    assert "farm_agents[0].may_message[1]" not in by_path(fm.validate(model, inventory_hosts=HOSTS))
