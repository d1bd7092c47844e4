# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `openclaw-bus` command: policies, send, inbox, bench, and serve as a real subprocess
(config file with env: secrets, MCP over streamable HTTP, clean exit on SIGTERM)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import httpx2
import pytest
import requests
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from openclaw_bus.cli import main
from openclaw_bus.registry import read_registry
from tools.testsupport import ROOT
from tools.testsupport.busfarm import MANAGEMENT_TOKEN
from tools.testsupport.labclient import free_port

from .conftest import simple_model


def run_cli(capsys, *argv, env=None):
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        code = main(list(argv))
    finally:
        os.environ.clear()
        os.environ.update(old)
    out, err = capsys.readouterr()
    return code, out, err


def test_policies_prints_hcl_and_json(tmp_path, capsys):
    model = tmp_path / "model.json"
    model.write_text(json.dumps(simple_model("jerry", "bobby")))
    code, out, _ = run_cli(capsys, "policies", "--model", str(model), "--format", "hcl")
    assert code == 0
    assert "# ---- policy openclaw-bus-agent-jerry" in out and 'key_prefix "openclaw/bus/bobby/in/jerry/"' in out
    assert "# ---- policy openclaw-bus-gateway-main" in out and 'session "jerry"' in out
    code, out, _ = run_cli(capsys, "policies", "--model", str(model))
    assert json.loads(out)["agents"]["bobby"]["may_write_to"] == ["jerry"]


def test_policies_reads_the_yaml_farm_model(capsys):
    code, out, _ = run_cli(capsys, "policies", "--model", str(ROOT / "inventory/lab/group_vars/all/farm.yml"))
    if code == 2 and "PyYAML" in out:
        pytest.skip("PyYAML not installed")
    generated = json.loads(out)
    assert set(generated["agents"]) >= {"jerry", "bobby", "billy"}


def test_bad_model_is_a_clear_error(tmp_path, capsys):
    model = tmp_path / "model.json"
    model.write_text(json.dumps({"agents": [{"id": "a", "may_message": ["ghost"]}]}))
    code, _, err = run_cli(capsys, "policies", "--model", str(model))
    assert code == 2 and "unknown agents ['ghost']" in err


@pytest.mark.parametrize(("content", "expected"), [
    ("agents: [\n  - id: a\n", "not valid YAML at line 2, column 3: expected the node content, but found '-'"),
    ("agents: {id: a}\n", "the model needs a non-empty 'agents' list"),
    ("- just\n- a list\n", "the model must be a mapping"),
    ("agents:\n  - id: a\n    capabilities: 5\n", "agents[0].capabilities must be a list of strings"),
    ('agents:\n  - id: "a\\n"\n', "invalid agents[0].id 'a\\n'"),
    ("[" * 3000 + "]" * 3000, "nested too deeply"),
    (b"\xff\xfe", "not UTF-8 text"),
])
def test_an_unreadable_model_is_one_line_naming_the_file(tmp_path, capsys, content, expected):
    """Before: invalid YAML, a deep nesting or a wrong type printed a Python traceback."""
    model = tmp_path / "farm.yml"
    model.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = run_cli(capsys, "policies", "--model", str(model))
    assert code == 2 and out == ""
    assert err.startswith(f"openclaw-bus policies: {model}: ") and expected in err and err.count("\n") == 1


@pytest.mark.parametrize(("config", "expected"), [
    ({"consul": {"address": "http://c"}, "gateway": {"name": "g"}, "agents": [{"id": "a", "capabilities": 5}]},
     "agents[0].capabilities must be a list of strings"),
    ({"consul": {"address": "http://c"}, "gateway": {"name": "g", "url": 5}, "agents": [{"id": "a"}]},
     "gateway.url must be a string"),
    ({"consul": {"address": "http://c"}, "gateway": {"name": "g"}, "agents": [{"id": "a"}],
      "mcp": {"allowed_hosts": "x"}}, "mcp.allowed_hosts must be a list of strings"),
])
def test_serve_refuses_a_config_of_the_wrong_shape_in_one_line(tmp_path, capsys, config, expected):
    path = tmp_path / "bus.json"
    path.write_text(json.dumps(config))
    code, _, err = run_cli(capsys, "serve", "--config", str(path))
    assert code == 2 and expected in err and err.count("\n") == 1


def test_send_and_inbox(farm, capsys):
    farm.setup(simple_model("cli-a", "cli-b", "cli-c"))
    roots = ["--consul", farm.address, "--bus-root", farm.layout.bus_root, "--registry-root", farm.layout.registry_root]
    code, out, err = run_cli(capsys, "send", *roots, "--from", "cli-a", "--to", "cli-b", "--text", "hello",
                             "--data", '{"k": 1}', env={"CONSUL_HTTP_TOKEN": farm.tokens["cli-a"]})
    assert code == 0, err
    sent = json.loads(out)
    code, out, err = run_cli(capsys, "inbox", *roots, "--agent", "cli-b", "--ack",
                             env={"CONSUL_HTTP_TOKEN": farm.tokens["cli-b"]})
    assert code == 0, err
    inbox = json.loads(out)
    assert [m["messageId"] for m in inbox["messages"]] == [sent["message_id"]]
    assert inbox["acked"] == [sent["message_id"]]
    # claiming to be another agent with cli-a's token: a clear refusal, exit 2
    code, _, err = run_cli(capsys, "send", *roots, "--from", "cli-c", "--to", "cli-b", "--text", "x",
                           env={"CONSUL_HTTP_TOKEN": farm.tokens["cli-a"]})
    assert code == 2 and "may not message" in err


def test_bench_small_run_is_go(lab_process, tmp_path, capsys):
    report_file = tmp_path / "report.json"
    code, out, err = run_cli(capsys, "bench", "--consul", lab_process.consul_addr, "--messages", "60", "--rate", "300",
                             "--batches", "1,10", "--baseline-messages", "0", "--lab-admin", lab_process.admin_addr,
                             "--report", str(report_file), env={"CONSUL_HTTP_TOKEN": MANAGEMENT_TOKEN})
    assert code == 0, err
    report = json.loads(report_file.read_text())
    assert report["go"] and report["latency"]["delivered"] == 60 and report["throughput"]["delivered"] == 60
    assert [(r["write"], r["read"], r["txn"]) for r in report["economy"]] == [(1, 1, 1), (10, 1, 1)]
    lab_counts = [(r["lab"]["write"], r["lab"]["read"], r["lab"]["txn"]) for r in report["economy"]]
    assert lab_counts == [(1, 1, 1), (10, 1, 1)]
    code, _, err = run_cli(capsys, "bench", "--consul", lab_process.consul_addr, "--messages", "20", "--batches", "1",
                           "--baseline-messages", "0", "--max-p99-ms", "0.001",
                           env={"CONSUL_HTTP_TOKEN": MANAGEMENT_TOKEN})
    assert code == 1 and "NO-GO" in err


def test_serve_subprocess_end_to_end(farm, tmp_path):
    farm.setup(simple_model("srv-a", "srv-b", gateway="gwx", node="jerry"))
    port = free_port()
    config = {
        "consul": {"address": farm.address},
        "layout": {"bus_root": farm.layout.bus_root, "registry_root": farm.layout.registry_root},
        "gateway": {"name": "gwx", "node": "jerry", "consul_token": "env:TEST_GW_TOKEN",
                    "url": "http://127.0.0.1:9", "token": "env:TEST_GATEWAY_TOKEN"},
        "agents": [{"id": "srv-a", "consul_token": "env:TEST_TOKEN_A", "mcp_token": "env:TEST_MCP_A", "relay": False},
                   {"id": "srv-b", "consul_token": "env:TEST_TOKEN_B", "relay": True,
                    "mcp_token_sha256": "0" * 64}],
        "model": simple_model("srv-a", "srv-b", gateway="gwx"),
        "mcp": {"host": "127.0.0.1", "port": port},
        "relay": {"state_dir": str(tmp_path / "state"), "poll_wait": 1},
        "registry": {"session_ttl": 10},
    }
    path = tmp_path / "bus.json"
    path.write_text(json.dumps(config))
    env = dict(os.environ, TEST_GW_TOKEN=farm.gateway_tokens["gwx"], TEST_TOKEN_A=farm.tokens["srv-a"],
               TEST_TOKEN_B=farm.tokens["srv-b"], TEST_MCP_A="mcp-secret-a", TEST_GATEWAY_TOKEN="gw",
               PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "openclaw_bus", "serve", "--config", str(path), "--log-level",
                             "WARNING"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if health.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else "slow"
            time.sleep(0.1)
        assert read_registry(farm.consul("srv-a"), farm.layout).agent("srv-b").online

        async def send():
            headers = {"Authorization": "Bearer mcp-secret-a"}
            async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
                async with Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as client:
                    return await client.call_tool("send_message", {"to": "srv-b", "text": "via a subprocess"})

        result = asyncio.run(send())
        assert not result.is_error, result.content[0].text
        assert result.structured_content["status"] == "queued"
        # srv-b's relay cannot reach its gateway (port 9): the message waits with its attempt counted
        time.sleep(1.5)
        entries, _ = farm.consul("srv-b").list(farm.layout.inbox("srv-b"))
        assert len(entries) == 1 and entries[0].modify_index == entries[0].create_index  # messages are write-once
        mark = json.loads(farm.consul("srv-b").get(farm.layout.hwm_key("srv-b", "srv-a"))[0].value)
        assert mark["attempts"][str(int(entries[0].key.rsplit("/", 1)[1]))][1] >= 1  # counted in srv-b's hwm
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, output
    assert not read_registry(farm.consul("srv-a"), farm.layout).agent("srv-b").online  # left the registry cleanly
