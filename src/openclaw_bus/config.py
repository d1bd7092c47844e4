# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration of `openclaw-bus serve` (one JSON file per node), validated up front.

Secrets never need to be in the file: any string value "env:NAME" is read from the environment
(a Nomad template renders them from nomad/jobs/<job> into the task's environment), and the MCP
bearer tokens can be given as SHA-256 hex digests (`mcp_token_sha256`) instead.

    {
      "consul":  {"address": "http://consul.service.consul:8500", "txn_max_ops": 64, "timeout": 10,
                  "verify": true},
      "layout":  {"bus_root": "openclaw/bus", "registry_root": "openclaw/registry"},
      "gateway": {"name": "main", "node": "jerry", "url": "http://127.0.0.1:18789",
                  "token": "env:OPENCLAW_GATEWAY_TOKEN", "consul_token": "env:BUS_GATEWAY_CONSUL_TOKEN"},
      "agents":  [{"id": "jerry", "consul_token": "env:BUS_CONSUL_TOKEN_JERRY",
                   "mcp_token": "env:BUS_MCP_TOKEN_JERRY", "relay": true,
                   "name": "Jerry", "capabilities": ["general"], "description": "..."}],
      "model":   {"agents": [{"id": "jerry", "may_message": ["bobby"]}, ...]},
      "mcp":     {"host": "0.0.0.0", "port": 8765, "path": "/mcp", "public_url": "http://...:8765/mcp",
                  "allowed_hosts": ["bus.service.consul:*"]},
      "relay":   {"enabled": true, "max_attempts": 40, "backoff_initial": 1, "backoff_max": 60,
                  "timeout": 300, "poll_wait": 30, "state_dir": "/local/state"},
      "limits":  {"max_message_bytes": 65536, "ttl_default": 86400, "max_wait_seconds": 300},
      "registry": {"session_ttl": 15, "publish_agents": true}
    }
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from .envelope import MAX_MESSAGE_BYTES, TTL_DEFAULT, TTL_MAX, TTL_MIN, Layout, check_agent_id
from .policies import normalize_model


class ConfigError(ValueError):
    pass


def resolve(value, where):
    """"env:NAME" -> os.environ["NAME"] (a clear error when unset); other values unchanged."""
    if isinstance(value, str) and value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return os.environ[name]
    return value


def token_digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class AgentConfig:
    id: str
    consul_token: str | None
    mcp_token_sha256: str | None
    relay: bool = True
    name: str = ""
    capabilities: list = field(default_factory=list)
    description: str = ""


@dataclass
class Config:
    consul_address: str
    layout: Layout
    gateway: str
    node: str
    gateway_url: str | None
    gateway_token: str | None
    gateway_consul_token: str | None
    agents: dict
    model_agents: dict | None  # id -> {"may_message": [...], ...} for the whole farm, or None
    consul_timeout: float = 10.0
    consul_verify: bool | str = True
    txn_max_ops: int = 64
    mcp_host: str = "127.0.0.1"
    mcp_port: int = 8765
    mcp_path: str = "/mcp"
    mcp_public_url: str = ""
    mcp_allowed_hosts: list = field(default_factory=list)
    relay_enabled: bool = True
    relay_max_attempts: int = 40
    relay_backoff_initial: float = 1.0
    relay_backoff_max: float = 60.0
    relay_timeout: float = 300.0
    relay_poll_wait: float = 30.0
    relay_state_dir: str | None = None
    max_message_bytes: int = MAX_MESSAGE_BYTES
    ttl_default: int = TTL_DEFAULT
    max_wait_seconds: float = 300.0
    session_ttl: int = 15
    publish_agents: bool = True

    @property
    def relayed_agents(self):
        return [a for a, spec in self.agents.items() if spec.relay] if self.relay_enabled else []

    def may_message(self, sender, recipient, reply=False):
        """Is sender allowed to write to recipient? None when no model is configured (ACLs decide)."""
        if self.model_agents is None:
            return None
        spec = self.model_agents.get(sender)
        if spec is None:
            return False
        if recipient in spec["may_message"]:
            return True
        other = self.model_agents.get(recipient)
        return bool(reply and other and sender in other["may_message"])


def load(path):
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"the config file {path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"the config file {path} is nested too deeply") from None
    return parse(data)


def _section(data, name):
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"'{name}' must be a mapping")
    return value


def _number(section, key, default, where, low=None, high=None, kind=float):
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}.{key} must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{where}.{key} must be between {low} and {high}, got {value}")
    return kind(value)


def _string(section, key, default, where, required=False):
    """A string setting (after env: resolution); None/absent -> default."""
    value = resolve(section.get(key), f"{where}.{key}")
    if value is None or value == "":
        if required:
            raise ConfigError(f"{where}.{key} is required")
        return default
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key} must be a string, got {type(value).__name__}")
    return value


def _strings(section, key, where):
    value = section.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key} must be a list of strings")
    return list(value)


def parse(data):
    if not isinstance(data, dict):
        raise ConfigError("the config must be a JSON object")
    consul = _section(data, "consul")
    layout_cfg = _section(data, "layout")
    gateway = _section(data, "gateway")
    mcp = _section(data, "mcp")
    relay = _section(data, "relay")
    limits = _section(data, "limits")
    registry = _section(data, "registry")
    address = resolve(consul.get("address") or os.environ.get("CONSUL_HTTP_ADDR") or "", "consul.address")
    if not address:
        raise ConfigError("consul.address is required (or CONSUL_HTTP_ADDR in the environment)")
    try:
        gateway_name = check_agent_id(gateway.get("name"), "gateway.name")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    raw_agents = data.get("agents")
    if not isinstance(raw_agents, list) or not raw_agents:
        raise ConfigError("'agents' must be a non-empty list of the agents this node serves")
    agents = {}
    for i, raw in enumerate(raw_agents):
        where = f"agents[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a mapping")
        try:
            agent_id = check_agent_id(raw.get("id"), f"{where}.id")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if agent_id in agents:
            raise ConfigError(f"agent {agent_id!r} is listed twice")
        digest = raw.get("mcp_token_sha256")
        if raw.get("mcp_token"):
            digest = token_digest(resolve(raw["mcp_token"], f"{where}.mcp_token"))
        if digest is not None and (not isinstance(digest, str) or len(digest) != 64):
            raise ConfigError(f"{where}.mcp_token_sha256 must be a SHA-256 hex digest")
        agents[agent_id] = AgentConfig(
            id=agent_id, consul_token=_string(raw, "consul_token", None, where),
            mcp_token_sha256=digest.lower() if digest else None, relay=bool(raw.get("relay", True)),
            name=_string(raw, "name", agent_id, where), capabilities=_strings(raw, "capabilities", where),
            description=_string(raw, "description", "", where))
    model_agents = None
    if data.get("model") is not None:
        try:
            model_agents, _ = normalize_model(data["model"])
        except ValueError as exc:
            raise ConfigError(f"model: {exc}") from None
        missing = [a for a in agents if a not in model_agents]
        if missing:
            raise ConfigError(f"agents {missing} are served here but missing from the model")
        for agent_id, spec in agents.items():  # registry records: the model fills what the entry omits
            model_spec = model_agents[agent_id]
            spec.capabilities = spec.capabilities or list(model_spec["capabilities"])
            if spec.name == agent_id:
                spec.name = model_spec["name"]
            spec.description = spec.description or model_spec["description"]
    ttl_default = int(_number(limits, "ttl_default", TTL_DEFAULT, "limits", TTL_MIN, TTL_MAX))
    config = Config(
        consul_address=address,
        layout=Layout(_string(layout_cfg, "bus_root", "openclaw/bus", "layout"),
                      _string(layout_cfg, "registry_root", "openclaw/registry", "layout")),
        gateway=gateway_name, node=_string(gateway, "node", "", "gateway"),
        gateway_url=_string(gateway, "url", None, "gateway"),
        gateway_token=_string(gateway, "token", None, "gateway"),
        gateway_consul_token=_string(gateway, "consul_token", None, "gateway"),
        agents=agents, model_agents=model_agents,
        consul_timeout=_number(consul, "timeout", 10.0, "consul", 1, 300),
        consul_verify=_string(consul, "ca_file", None, "consul") or bool(consul.get("verify", True)),
        txn_max_ops=int(_number(consul, "txn_max_ops", 64, "consul", 8, 128)),
        mcp_host=_string(mcp, "host", "127.0.0.1", "mcp"), mcp_port=int(_number(mcp, "port", 8765, "mcp", 0, 65535)),
        mcp_path=_string(mcp, "path", "/mcp", "mcp"), mcp_public_url=_string(mcp, "public_url", "", "mcp"),
        mcp_allowed_hosts=_strings(mcp, "allowed_hosts", "mcp"),
        relay_enabled=bool(relay.get("enabled", True)),
        relay_max_attempts=int(_number(relay, "max_attempts", 40, "relay", 1, 10000)),
        relay_backoff_initial=_number(relay, "backoff_initial", 1.0, "relay", 0.01, 3600),
        relay_backoff_max=_number(relay, "backoff_max", 60.0, "relay", 0.01, 3600),
        relay_timeout=_number(relay, "timeout", 300.0, "relay", 1, 3600),
        relay_poll_wait=_number(relay, "poll_wait", 30.0, "relay", 0.1, 600),
        relay_state_dir=_string(relay, "state_dir", None, "relay"),
        max_message_bytes=int(_number(limits, "max_message_bytes", MAX_MESSAGE_BYTES, "limits", 1024,
                                      MAX_MESSAGE_BYTES * 4)),
        ttl_default=ttl_default,
        max_wait_seconds=_number(limits, "max_wait_seconds", 300.0, "limits", 0, 600),
        session_ttl=int(_number(registry, "session_ttl", 15, "registry", 10, 86400)),
        publish_agents=bool(registry.get("publish_agents", True)),
    )
    if config.relayed_agents and not (config.gateway_url and config.gateway_token):
        raise ConfigError("the relay needs gateway.url and gateway.token (or set relay.enabled false)")
    return config
