# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names derived from the model's own names: environment variables, MCP servers, model references."""

from __future__ import annotations

import re

from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.schema import (
    BUS,
    BUS_CONSUL_TOKEN_ENV,
    BUS_MCP_TOKEN_ENV,
    CHANNEL_SECRET_ENV,
    DEFAULT_ACCOUNT,
    DEFAULT_RUNTIME,
    RUNTIMES,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.structure import (
    _get,
)


def gateway_runtime(gateway):
    """"nomad" or "launchd" (an unset or unusable runtime counts as the default, nomad)."""
    runtime = _get(gateway, "runtime", "str", DEFAULT_RUNTIME)
    return runtime if runtime in RUNTIMES else DEFAULT_RUNTIME


def env_part(text):
    return re.sub(r"[^A-Z0-9]+", "_", str(text).upper()).strip("_")


def provider_key_env(provider):
    """The env var holding a provider's API key: litellm -> LITELLM_API_KEY."""
    return f"{env_part(provider)}_API_KEY"


def channel_secret_env(kind, account, secret):
    """The env var of one channel secret: slack/default/bot_token -> SLACK_BOT_TOKEN,
    slack/ops/bot_token -> SLACK_OPS_BOT_TOKEN (OpenClaw's own fallback names for the default account)."""
    suffix = CHANNEL_SECRET_ENV.get((kind, secret), env_part(secret))
    if account == DEFAULT_ACCOUNT:
        return f"{env_part(kind)}_{suffix}"
    return f"{env_part(kind)}_{env_part(account)}_{suffix}"


def split_model_ref(ref):
    """'litellm/glm-4.6' -> ('litellm', 'glm-4.6'); None when it has no provider part."""
    if not isinstance(ref, str) or "/" not in ref:
        return None
    provider, model = ref.split("/", 1)
    if not provider or not model:
        return None
    return provider, model


def image_tag(image):
    """The tag of an image reference (without digest), or None."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.rsplit(":", 1)[1]


def with_tag(image, tag):
    """An image reference with `tag` when it has none (before a digest): a gateway's image names its repository
    and takes the openclaw_version tag, so the version is written once."""
    if image_tag(image) is not None:
        return image
    name, at, digest = image.partition("@")
    return f"{name}:{tag}{at}{digest}"


def bus_server_name(model, agent_id):
    """The mcp.servers entry of one agent: <server_prefix>_<agent id with '-' as '_'>."""
    prefix = _get(_get(model, "farm_bus", "dict", {}), "server_prefix", "str", BUS["server_prefix"].default)
    return f"{prefix}_{re.sub(r'[^a-z0-9_]', '_', str(agent_id).lower())}"


def bus_mcp_token_env(agent_id):
    return f"{BUS_MCP_TOKEN_ENV}{env_part(agent_id)}"


def bus_consul_token_env(agent_id):
    return f"{BUS_CONSUL_TOKEN_ENV}{env_part(agent_id)}"
