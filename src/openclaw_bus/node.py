# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`openclaw-bus serve`: the bus process of one node (one gateway): the MCP server, the relay of the
gateway's agents, the gateway's presence in the registry, /healthz (liveness) and /readyz (registered and reading the
registry) for Nomad's checks, /metrics for Prometheus."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from . import __version__
from .consul import Consul, ConsulError
from .mcp_server import BusService, build_app, build_server
from .metrics import BusMetrics
from .registry import GatewayPresence
from .relay import AgentRelay, ChatCompletionsTarget, Journal, Relay

log = logging.getLogger(__name__)


class Node:
    """Everything `serve` runs, startable and stoppable in-process (tests run it in a thread)."""

    def __init__(self, config, log_level="WARNING"):
        self.config = config
        self.service = BusService(config)
        self.gateway_consul = Consul(config.consul_address, config.gateway_consul_token, config.consul_timeout,
                                     config.consul_verify)
        agents = [{"id": a.id, "name": a.name, "capabilities": a.capabilities, "description": a.description}
                  for a in config.agents.values()]
        self.presence = GatewayPresence(self.gateway_consul, config.gateway, config.node, agents, config.layout,
                                        ttl=config.session_ttl,
                                        info={"mcp_url": config.mcp_public_url, "version": __version__},
                                        publish=config.publish_agents)
        relays = []
        for agent_id in config.relayed_agents:
            journal = None
            if config.relay_state_dir:
                os.makedirs(config.relay_state_dir, exist_ok=True)
                journal = Journal(os.path.join(config.relay_state_dir, f"{agent_id}.journal"))
            relays.append(AgentRelay(self.service.buses[agent_id],
                                     ChatCompletionsTarget(config.gateway_url, config.gateway_token,
                                                           config.relay_timeout),
                                     max_attempts=config.relay_max_attempts,
                                     backoff_initial=config.relay_backoff_initial,
                                     backoff_max=config.relay_backoff_max, journal=journal,
                                     poll_wait=config.relay_poll_wait))
        self.relay = Relay(relays)
        self.metrics = BusMetrics(self)
        for agent_relay in relays:
            agent_relay.on_handoff = self.metrics.observe_handoff
        self.server = build_server(self.service, log_level=log_level)
        self.server.custom_route("/healthz", methods=["GET"])(self._health)
        self.server.custom_route("/metrics", methods=["GET"])(self._metrics)
        self.server.custom_route("/readyz", methods=["GET"])(self._ready)
        self.app = build_app(self.server, config)
        self._stop = threading.Event()
        self._presence_thread = None
        self.uvicorn = None

    def _status(self):
        registry_error = self.service.registry.error
        return {"gateway": self.config.gateway, "version": __version__,
                "registered": self.presence.session is not None,
                "registry_error": str(registry_error) if registry_error else None,
                "relay": {r.agent: {"last_error": r.last_error, **r.stats} for r in self.relay.agent_relays}}

    async def _health(self, request):
        """Liveness (the process serves HTTP): always 200, with the details."""
        return JSONResponse({"ok": True, **self._status()})

    async def _metrics(self, request):
        """Prometheus text format (no auth, like /healthz: counts only, no message content or names of senders)."""
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def _ready(self, request):
        """Readiness: registered in the registry and reading it; 503 otherwise (e.g. Consul down)."""
        body = self._status()
        body["ok"] = body["registered"] and body["registry_error"] is None
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    def _register(self):
        """Join the registry, retrying while Consul is unreachable; then keep the session alive."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.presence.start(renew=False)
                break
            except ConsulError as exc:
                log.warning("registry: cannot register gateway %s yet: %s", self.config.gateway, exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 15.0)
        while not self._stop.wait(self.presence.ttl / 3):
            try:
                self.presence.renew_once()
            except ConsulError as exc:
                log.warning("registry: renewing gateway %s failed: %s", self.config.gateway, exc)

    def start_background(self):
        """Registry watcher, presence and relay threads (not the HTTP server)."""
        self.service.registry.start()
        self._presence_thread = threading.Thread(target=self._register, name="openclaw-bus-presence", daemon=True)
        self._presence_thread.start()
        self.relay.start()
        return self

    def stop_background(self):
        self._stop.set()
        self.relay.stop()
        self.presence.stop()
        self.service.registry.stop()

    def serve(self):
        """Run until SIGTERM/SIGINT (uvicorn handles the signals), then leave the registry cleanly."""
        import uvicorn

        self.start_background()
        config = uvicorn.Config(self.app, host=self.config.mcp_host, port=self.config.mcp_port, log_level="warning",
                                timeout_graceful_shutdown=5)
        self.uvicorn = uvicorn.Server(config)
        # uvicorn stops gracefully on SIGTERM/SIGINT and then re-raises the signal with the handler that
        # was there before; a no-op one lets this process go on to leave the registry and exit 0.
        previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.uvicorn.run()
        finally:
            self.stop_background()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def serve_in_thread(self, timeout=10.0):
        """Tests: start everything, the HTTP server in a thread; returns once it listens."""
        import uvicorn

        self.start_background()
        config = uvicorn.Config(self.app, host=self.config.mcp_host, port=self.config.mcp_port, log_level="warning")
        self.uvicorn = uvicorn.Server(config)
        thread = threading.Thread(target=self.uvicorn.run, name="openclaw-bus-http", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not self.uvicorn.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the MCP server did not start")
            time.sleep(0.02)
        self._http_thread = thread
        return self

    def shutdown(self):
        if self.uvicorn:
            self.uvicorn.should_exit = True
            thread = getattr(self, "_http_thread", None)
            if thread:
                thread.join(10)
        self.stop_background()
