# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bus as an MCP server (official `mcp` SDK, streamable HTTP): send_message, check_inbox, ack,
list_agents, agent_status, list_dead_letters.

Each agent authenticates with its own bearer token (`Authorization: Bearer <token>`); a server-side
table maps the token's SHA-256 to one agent id, and every tool then acts with THAT agent's Consul
token (its own AgentBus). The registry is watched with the gateway's token (read-only on the
registry). OpenClaw configures MCP servers per gateway, so each agent gets its own
`mcp.servers.bus_<agent>` entry with its own header, and tools.allow limits an agent to its entry."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from typing import Annotated, Any, Literal

import anyio
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from .config import token_digest
from .consul import Consul, ConsulError
from .envelope import AGENT_ID, OPAQUE_ID, TTL_MAX, TTL_MIN, BusError, Envelope
from .mailbox import AgentBus, BusUnavailable
from .registry import RegistryWatcher

log = logging.getLogger(__name__)

# The envelope model the bus writes and reads (envelope.Envelope): what the tools return is what was
# validated at the read boundary.
BusMessage = Envelope


class SendResult(BaseModel):
    status: Literal["queued", "replied", "no_reply_yet"] = Field(
        description="queued: stored in the recipient's inbox; replied: the answer is in `reply`; no_reply_yet: "
                    "queued, but no answer within wait_for_reply_seconds (it will arrive in your inbox).")
    message_id: str
    context_id: str
    to: str
    recipient_online: bool = Field(description="False: the recipient's gateway is down; the message waits "
                                               "and is delivered when it is back (until its TTL).")
    reply: BusMessage | None = None


class InboxResult(BaseModel):
    messages: list[BusMessage]
    pending: int = Field(description="How many messages are waiting in total (this call returns at most max).")


class AckResult(BaseModel):
    acked: list[str] = Field(description="messageIds removed from your inbox now.")
    already_gone: list[str] = Field(description="messageIds not pending (acknowledged before, or unknown).")


class DeadLetter(BaseModel):
    sender: str = Field(description="The sender named in the message's key ('_' when the key itself was bad).")
    message_id: str | None = Field(description="Its messageId, when it had a readable one.")
    reason: str = Field(description="Why it was not delivered (expired, attempts, malformed: which field).")
    dead_at: str
    key: str = Field(description="Where it was in your inbox.")
    size: int = Field(description="Its size in bytes.")


class DeadLetterList(BaseModel):
    dead_letters: list[DeadLetter] = Field(description="Newest first.")
    total: int = Field(description="How many dead letters you have in all.")


class AgentEntry(BaseModel):
    id: str
    name: str
    gateway: str
    capabilities: list[str]
    description: str
    online: bool = Field(description="Its gateway's bus process is alive (registry session held).")
    you_may_message: bool


class AgentList(BaseModel):
    agents: list[AgentEntry]


class AgentStatus(AgentEntry):
    node: str = ""
    online_since: str = ""
    pending_from_you: int | None = Field(
        None, description="Your messages still waiting in its inbox (null when you may not message it).")


class BearerTable:
    """TokenVerifier: bearer token -> the agent it belongs to (compared by SHA-256, constant time)."""

    def __init__(self, digests):
        self.digests = dict(digests)  # agent id -> sha256 hex

    async def verify_token(self, token):
        digest = token_digest(token)
        for agent_id, expected in self.digests.items():
            if expected and hmac.compare_digest(digest, expected):
                return AccessToken(token=token, client_id=agent_id, scopes=["bus"])
        return None


class BusService:
    """What the tools do, per calling agent, with that agent's Consul token."""

    def __init__(self, config, buses=None, registry=None):
        self.config = config
        self.buses = buses or {
            agent_id: AgentBus(Consul(config.consul_address, spec.consul_token, config.consul_timeout,
                                      config.consul_verify),
                               agent_id, config.gateway, config.layout, config.txn_max_ops,
                               max_message_bytes=config.max_message_bytes)
            for agent_id, spec in config.agents.items()}
        self.registry = registry or RegistryWatcher(
            Consul(config.consul_address, config.gateway_consul_token, config.consul_timeout, config.consul_verify),
            config.layout)
        self.relayed = set(config.relayed_agents)
        self._views = {a: bus.inbox() for a, bus in self.buses.items()}       # check_inbox
        self._ackers = {a: bus.inbox() for a, bus in self.buses.items()}      # ack
        self._view_locks = {a: threading.Lock() for a in self.buses}
        self._ack_locks = {a: threading.Lock() for a in self.buses}

    def _bus(self, agent):
        bus = self.buses.get(agent)
        if bus is None:
            raise ToolError(f"agent {agent!r} is not served by this bus server")
        return bus

    def _select(self, agent):
        # The relay hands requests to relayed agents; their inbox tool shows answers to them only.
        return (lambda m: m.reply_to is not None) if agent in self.relayed else None

    def _registry(self):
        try:
            return self.registry.current()
        except ConsulError as exc:
            raise ToolError(f"the agent registry is unavailable (Consul: {exc}); retry later") from None

    # -- tools -------------------------------------------------------------------------------------------
    def send_message(self, agent, to, text=None, data=None, context_id=None, reply_to=None, ttl_seconds=None,
                     wait_for_reply_seconds=0.0, message_id=None):
        bus = self._bus(agent)
        if to == agent:
            raise ToolError("you cannot message yourself")
        view = self._registry()
        target = view.agent(to)
        if target is None:
            known = ", ".join(sorted(view.agents)) or "none"
            raise ToolError(f"unknown recipient {to!r}: no such agent in the registry (known agents: {known})")
        allowed = self.config.may_message(agent, to, reply=reply_to is not None)
        if allowed is False:
            spec = (self.config.model_agents or {}).get(agent) or {"may_message": []}
            raise ToolError(f"{agent} may not message {to}; allowed recipients: "
                            f"{', '.join(spec['may_message']) or 'none'} (and, with reply_to, agents that may "
                            f"message you)")
        if text is None and data is None:
            raise ToolError("give text, data (a JSON object) or both")
        if wait_for_reply_seconds > self.config.max_wait_seconds:
            raise ToolError(f"wait_for_reply_seconds must be at most {self.config.max_wait_seconds:g}")
        try:
            sent = bus.send(to, text=text, data=data, context_id=context_id, reply_to=reply_to,
                            ttl_seconds=ttl_seconds or self.config.ttl_default, message_id=message_id)
        except BusError as exc:
            raise ToolError(str(exc)) from None
        result = SendResult(status="queued", message_id=sent.message_id, context_id=sent.context_id, to=to,
                            recipient_online=target.online)
        if wait_for_reply_seconds > 0:
            try:
                reply = bus.wait_for_reply(sent, wait_for_reply_seconds)
            except BusError as exc:
                raise ToolError(f"the message {sent.message_id} was queued, but waiting for the reply failed: "
                                f"{exc}") from None
            if reply is None:
                result.status = "no_reply_yet"
            else:
                result.status, result.reply = "replied", BusMessage.model_validate(reply.envelope)
        return result

    def check_inbox(self, agent, max_messages=10, wait_seconds=0.0):
        self._bus(agent)
        if wait_seconds > self.config.max_wait_seconds:
            raise ToolError(f"wait_seconds must be at most {self.config.max_wait_seconds:g}")
        select = self._select(agent)
        inbox = self._views[agent]
        try:
            with self._view_locks[agent]:
                # Something already known to be pending: refresh without blocking; else wait for news.
                waiting = bool(inbox.peek(select).messages)
                deadline = time.monotonic() + (0 if waiting else wait_seconds)
                while True:  # a blocking read also returns on changes that bring nothing new (an ack)
                    batch = inbox.receive(max(deadline - time.monotonic(), 0), select=select)
                    if batch.messages or time.monotonic() >= deadline:
                        break
                if agent not in self.relayed:  # (the relay does this for relayed agents)
                    self._housekeep(agent, inbox, batch)
        except (ConsulError, BusError) as exc:
            raise ToolError(f"Consul is unavailable; could not read your inbox ({exc}). Retry later.") from None
        messages = batch.messages[:max_messages]
        return InboxResult(messages=[BusMessage.model_validate(m.envelope) for m in messages],
                           pending=len(batch.messages))

    @staticmethod
    def _housekeep(agent, inbox, batch):
        """Dead-letter what is malformed or expired and drop duplicates now, not at the agent's next ack:
        nothing the agent could see changes. Best effort: the next call or ack tries again."""
        done, dead = batch.housekeeping()
        if done or dead:
            try:
                inbox.ack(done, dead, refresh=False)
            except (ConsulError, BusError) as exc:
                log.warning("check_inbox of %s: housekeeping postponed: %s", agent, exc)

    def list_dead_letters(self, agent, max_items=20):
        bus = self._bus(agent)
        try:
            letters, total = bus.dead_letters(max_items)
        except BusError as exc:
            raise ToolError(f"{exc}. Retry later.") from None
        return DeadLetterList(dead_letters=[DeadLetter(**letter) for letter in letters], total=total)

    def ack(self, agent, message_ids):
        self._bus(agent)
        ids = list(dict.fromkeys(message_ids))
        acker = self._ackers[agent]
        try:
            with self._ack_locks[agent]:
                # Start from the fresher of what check_inbox and the last ack saw; read only if needed.
                view = self._views[agent]
                if view.index.value > acker.index.value:
                    acker.listing, acker.index.value = dict(view.listing), view.index.value
                found = acker.find(ids)
                done, dead = [], []
                if agent not in self.relayed:  # the relay does this housekeeping for relayed agents
                    batch = acker.peek()
                    done, dead = batch.housekeeping()
                result = acker.ack([*found.values(), *[d for d in done if d.id not in found]], dead)
        except BusUnavailable as exc:
            raise ToolError(f"{exc} Nothing was acknowledged; retry with the same ids (ack is idempotent).") from None
        except (ConsulError, BusError) as exc:
            raise ToolError(f"ack failed: {exc}") from None
        acked = [i for i in ids if i in found and i in result.acked]
        return AckResult(acked=acked, already_gone=[i for i in ids if i not in acked])

    def _entry(self, agent, info):
        allowed = self.config.may_message(agent, info.id)
        return dict(id=info.id, name=info.name, gateway=info.gateway, capabilities=info.capabilities,
                    description=info.description, online=info.online,
                    you_may_message=info.id != agent and allowed is not False)

    def list_agents(self, agent, capability=None, include_offline=True):
        self._bus(agent)
        view = self._registry()
        return AgentList(agents=[AgentEntry(**self._entry(agent, i))
                                 for i in view.list(capability, include_offline)])

    def agent_status(self, agent, agent_id):
        bus = self._bus(agent)
        view = self._registry()
        info = view.agent(agent_id)
        if info is None:
            raise ToolError(f"unknown agent {agent_id!r} (known agents: {', '.join(sorted(view.agents)) or 'none'})")
        entry = self._entry(agent, info)
        pending = None
        if entry["you_may_message"]:
            try:
                keys, _ = bus.consul.keys(bus.layout.inbox_from(agent_id, agent))
                pending = len(keys)
            except ConsulError:
                pending = None
        return AgentStatus(**entry, node=info.node, online_since=info.online_since, pending_from_you=pending)


INSTRUCTIONS = """Agent-to-agent message bus of the OpenClaw farm (store and forward over Consul).
Messages to an agent whose gateway is down wait and are delivered when it returns.
Requests you receive arrive in your session automatically; answers to your own messages come back
inline (send_message with wait_for_reply_seconds) or through check_inbox, and you ack them after use."""


def _caller():
    token = get_access_token()
    if token is None:
        raise ToolError("not authenticated: send your bus token as 'Authorization: Bearer <token>'")
    return token.client_id


def build_server(service, name="openclaw-bus", log_level="WARNING"):
    """The MCPServer with the six tools, authenticating callers with the service's bearer table."""
    digests = {a: spec.mcp_token_sha256 for a, spec in service.config.agents.items() if spec.mcp_token_sha256}
    server = MCPServer(
        name, instructions=INSTRUCTIONS, version=_version(), log_level=log_level,
        token_verifier=BearerTable(digests),
        auth=AuthSettings(issuer_url=service.config.mcp_public_url or "http://localhost/", resource_server_url=None,
                          required_scopes=["bus"]))

    async def run(fn, *args):
        return await anyio.to_thread.run_sync(fn, _caller(), *args)

    @server.tool(annotations=ToolAnnotations(title="Send a message to another agent", readOnlyHint=False,
                                             destructiveHint=False, idempotentHint=False, openWorldHint=False))
    async def send_message(
        to: Annotated[str, Field(pattern=AGENT_ID.pattern, description="Recipient agent id (see list_agents).")],
        text: Annotated[str | None, Field(description="The message text.")] = None,
        data: Annotated[dict[str, Any] | None, Field(description="Structured content (a JSON object), "
                                                                 "sent as an A2A data part.")] = None,
        context_id: Annotated[str | None, Field(pattern=OPAQUE_ID.pattern, description=(
            "Thread id. To answer a message, pass its contextId; omit to start a new thread."))] = None,
        reply_to: Annotated[str | None, Field(pattern=OPAQUE_ID.pattern, description=(
            "The messageId you are answering (also allows answering an agent that may message you)."))] = None,
        ttl_seconds: Annotated[int | None, Field(ge=TTL_MIN, le=TTL_MAX, description=(
            "How long the message may wait for delivery before it is dead-lettered (default 1 day)."))] = None,
        wait_for_reply_seconds: Annotated[float, Field(ge=0, le=600, description=(
            "Wait up to this long for the recipient's answer and return it (0: return once queued)."))] = 0,
        message_id: Annotated[str | None, Field(pattern=OPAQUE_ID.pattern, description=(
            "Idempotency key: re-sending with the same message_id is delivered once."))] = None,
    ) -> SendResult:
        """Send a message to another agent, on any gateway, through the bus.

        The message is stored in the recipient's inbox (store and forward) and handed to the agent by
        its gateway's relay; its answer comes back with the same contextId. Size limit: 64 KiB."""
        return await run(service.send_message, to, text, data, context_id, reply_to, ttl_seconds,
                         wait_for_reply_seconds, message_id)

    @server.tool(annotations=ToolAnnotations(title="Read your inbox", readOnlyHint=True, idempotentHint=True,
                                             openWorldHint=False))
    async def check_inbox(
        max_messages: Annotated[int, Field(ge=1, le=100, description="Return at most this many.")] = 10,
        wait_seconds: Annotated[float, Field(ge=0, le=600, description=(
            "When nothing is waiting, wait up to this long for a message (0: answer at once)."))] = 0,
    ) -> InboxResult:
        """List messages waiting in your inbox, oldest first (answers to messages you sent).

        Reading does not remove them: call ack with their messageIds once handled."""
        return await run(service.check_inbox, max_messages, wait_seconds)

    @server.tool(annotations=ToolAnnotations(title="Acknowledge messages", readOnlyHint=False,
                                             destructiveHint=True, idempotentHint=True, openWorldHint=False))
    async def ack(
        message_ids: Annotated[list[Annotated[str, Field(pattern=OPAQUE_ID.pattern)]], Field(
            min_length=1, max_length=100, description="messageIds from check_inbox to remove from your inbox.")],
    ) -> AckResult:
        """Remove handled messages from your inbox. Safe to repeat: ids already gone are reported as such."""
        return await run(service.ack, message_ids)

    @server.tool(annotations=ToolAnnotations(title="List agents", readOnlyHint=True, idempotentHint=True,
                                             openWorldHint=False))
    async def list_agents(
        capability: Annotated[str | None, Field(max_length=64, description=(
            "Only agents with this capability (e.g. monitoring, deploy)."))] = None,
        include_offline: Annotated[bool, Field(description=(
            "Also list agents whose gateway is down (messages to them wait)."))] = True,
    ) -> AgentList:
        """List the farm's agents with their capabilities, gateway and whether they are online."""
        return await run(service.list_agents, capability, include_offline)

    @server.tool(annotations=ToolAnnotations(title="Agent status", readOnlyHint=True, idempotentHint=True,
                                             openWorldHint=False))
    async def agent_status(
        agent_id: Annotated[str, Field(pattern=AGENT_ID.pattern, description="The agent to look up.")],
    ) -> AgentStatus:
        """One agent: gateway, capabilities, online state, and how many of your messages it has not taken yet."""
        return await run(service.agent_status, agent_id)

    @server.tool(annotations=ToolAnnotations(title="List your dead letters", readOnlyHint=True, idempotentHint=True,
                                             openWorldHint=False))
    async def list_dead_letters(
        max_items: Annotated[int, Field(ge=1, le=100, description="Return at most this many, newest first.")] = 20,
    ) -> DeadLetterList:
        """Messages addressed to you that the bus did not deliver, with the reason: expired, too many failed
        deliveries, or malformed (not a valid bus envelope, oversize, a sender that disagrees with its key,
        changed after it was sent). They are kept for the operators; nothing here needs an ack."""
        return await run(service.list_dead_letters, max_items)

    return server


def build_app(server, config):
    """The Starlette app serving streamable HTTP at config.mcp_path."""
    security = None
    if config.mcp_allowed_hosts:
        security = TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                             allowed_hosts=list(config.mcp_allowed_hosts),
                                             allowed_origins=[f"http://{h}" for h in config.mcp_allowed_hosts])
    return server.streamable_http_app(streamable_http_path=config.mcp_path, transport_security=security,
                                      host=config.mcp_host)


def _version():
    from . import __version__

    return __version__
