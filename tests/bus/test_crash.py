# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`openclaw-bus serve` killed with SIGKILL twice while its relay hands a backlog over: after each
restart (same state dir) every message is handed over, and a message is handed over twice only when
the kill hit that very hand-off, and then the repeat says so ("possible duplicate")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

from openclaw_bus.fakegateway import FakeGateway
from tests.labclient import free_port

from .conftest import ROOT, simple_model

MESSAGES = 300


def start(config_path, env):
    return subprocess.Popen([sys.executable, "-m", "openclaw_bus", "serve", "--config", str(config_path),
                             "--log-level", "ERROR"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkill_twice_mid_batch_loses_nothing_and_never_repeats_silently(farm, tmp_path):
    farm.setup(simple_model("ck-s", "ck-r", gateway="gwk"))
    slow = threading.Event()

    def answer(agent, content, body):  # a few ms per hand-off, so the kills land mid-backlog
        time.sleep(0.004 if slow.is_set() else 0)
        return "NO_REPLY"

    with FakeGateway(token="gw", answer=answer) as gateway:
        config = {
            "consul": {"address": farm.address},
            "layout": {"bus_root": farm.layout.bus_root, "registry_root": farm.layout.registry_root},
            "gateway": {"name": "gwk", "node": "jerry", "consul_token": "env:T_GW", "url": gateway.url,
                        "token": "gw"},
            "agents": [{"id": "ck-r", "consul_token": "env:T_R", "mcp_token_sha256": "0" * 64}],
            "model": simple_model("ck-s", "ck-r", gateway="gwk"),
            "mcp": {"host": "127.0.0.1", "port": free_port()},
            "relay": {"state_dir": str(tmp_path / "state"), "poll_wait": 2, "backoff_initial": 0.1},
            "registry": {"session_ttl": 10},
        }
        path = tmp_path / "bus.json"
        path.write_text(json.dumps(config))
        env = dict(os.environ, T_GW=farm.gateway_tokens["gwk"], T_R=farm.tokens["ck-r"], PYTHONPATH=str(ROOT / "src"))
        sender = farm.bus("ck-s")
        sent = [sender.send("ck-r", text=f"job {i}").message_id for i in range(MESSAGES)]
        slow.set()
        kills = 0
        for target in (60, 160):
            proc = start(path, env)
            assert gateway.wait_for(target, 30), f"only {len(gateway.handoffs)} hand-offs"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1
        proc = start(path, env)
        try:
            deadline = time.monotonic() + 60
            while not set(sent) <= set(gateway.message_ids()) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # anything handed over twice would show up by now
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    ids = gateway.message_ids()
    print(f"hand-offs {len(ids)} for {len(set(ids))} messages after {kills} kills")
    assert kills == 2 and set(sent) <= set(ids)  # every message handed over
    repeats = [h for h in gateway.handoffs if ids.count(h["message_id"]) > 1]
    flagged = {h["message_id"] for h in repeats if "possible duplicate" in h["content"]}
    assert flagged == {h["message_id"] for h in repeats}, "a repeat without the possible-duplicate mark"
    assert len(ids) - len(set(ids)) <= kills  # at most the one hand-off each kill interrupted
    assert farm.consul("ck-r").list(farm.layout.inbox("ck-r"))[0] == []  # all acknowledged
