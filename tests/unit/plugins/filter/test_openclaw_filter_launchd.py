# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters for a launchd gateway (the MacBook's, roles/macos_gateway/examples/homelab-macbook.yml
merged into the homelab model): its bind, LM Studio without an API key, its secrets; a broken launchd
gateway is never rendered. The model rules themselves: tests/unit/plugins/module_utils/test_farm_model_runtime.py."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.octant.openclaw.plugins.filter.openclaw import openclaw_config, openclaw_secret_env
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

ROOT = Path(__file__).resolve().parents[4]
HOSTS = {"homelab": ["jerry", "bobby", "billy"], "workstations": ["macbook"]}
EXAMPLE = ROOT / "roles" / "macos_gateway" / "examples" / "homelab-macbook.yml"


def homelab_with_mac():
    text = (ROOT / "inventory" / "homelab" / "group_vars" / "all" / "farm.yml").read_text(encoding="utf-8")
    model = {k: v for k, v in yaml.safe_load(text).items() if k in fm.TOP_LEVEL}
    extra = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    model["farm_gateways"] += extra["farm_gateways"]
    model["farm_agents"] += extra["farm_agents"]
    model["farm_model_providers"].update(extra["farm_model_providers"])
    return model


BASE = homelab_with_mac()
MAC_GW = len(BASE["farm_gateways"]) - 1


@pytest.fixture
def model():
    return copy.deepcopy(BASE)


@pytest.mark.parametrize("bind", fm.GATEWAY_BINDS)
def test_launchd_gateway_binds_as_told(model, bind):
    model["farm_gateways"][MAC_GW]["bind"] = bind
    assert fm.validate(model, HOSTS) == []
    assert openclaw_config(model, "mac", "/Users/me/.octant-openclaw/openclaw/mac/state")["gateway"]["bind"] == bind


def test_mac_gateway_secrets_and_config(model):
    assert openclaw_secret_env(model, "mac") == {
        "ANTHROPIC_API_KEY": "op://Homelab/anthropic/api-key",
        "OPENCLAW_GATEWAY_TOKEN": "op://Homelab/openclaw-mac/token",
    }
    state = "/Users/me/.octant-openclaw/openclaw/mac/state"
    config = openclaw_config(model, "mac", state)
    assert config["gateway"]["bind"] == "loopback" and config["gateway"]["port"] == 18789
    token_ref = {"source": "env", "provider": "default", "id": "OPENCLAW_GATEWAY_TOKEN"}
    assert config["gateway"]["auth"]["token"] == token_ref
    lmstudio = config["models"]["providers"]["lmstudio"]
    assert lmstudio == {"baseUrl": "http://127.0.0.1:1234/v1", "api": "openai-completions",
                        "models": [{"id": "qwen3-8b", "name": "Qwen3 8B (LM Studio on the MacBook)",
                                    "contextWindow": 32768, "maxTokens": 8192}]}
    assert sorted(config["models"]["providers"]) == ["anthropic", "lmstudio"]
    assert config["agents"]["entries"]["mac"]["workspace"] == f"{state}/workspaces/mac"
    assert config["logging"]["file"] == f"{state}/logs/openclaw.log"
    # the homelab gateway's config does not change: still bind lan, no lmstudio
    main = openclaw_config(model, "main")
    assert main["gateway"]["bind"] == "lan" and "lmstudio" not in main["models"]["providers"]


def test_lm_studio_with_authentication_gets_a_secret_ref(model):
    model["farm_model_providers"]["lmstudio"]["api_key"] = "op://Homelab/lmstudio/api-token"
    assert openclaw_secret_env(model, "mac")["LMSTUDIO_API_KEY"] == "op://Homelab/lmstudio/api-token"
    provider = openclaw_config(model, "mac")["models"]["providers"]["lmstudio"]
    assert provider["apiKey"] == {"source": "env", "provider": "default", "id": "LMSTUDIO_API_KEY"}


def test_a_broken_launchd_gateway_is_never_rendered(model):
    model["farm_gateways"][MAC_GW]["image"] = "ghcr.io/openclaw/openclaw:2026.9.6"
    with pytest.raises(AnsibleFilterError, match=r"farm_gateways\[1\]\.image: image is the container image"):
        openclaw_config(model, "mac")
