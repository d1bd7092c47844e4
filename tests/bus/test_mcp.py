# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MCP server through the official SDK's client over streamable HTTP: tool schemas and hints,
per-agent bearer auth, input validation with clear isError results, the agent's own Consul token,
send with wait-for-reply across gateways, check_inbox/ack, list_agents and agent_status."""

from __future__ import annotations

import asyncio
import uuid

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from openclaw_bus import config as bus_config
from openclaw_bus.node import Node
from openclaw_bus.relay import AgentRelay, ChatCompletionsTarget, Relay
from tools.testsupport.labclient import free_port
from tools.testsupport.standins import FakeGateway

MODEL = {
    "agents": [
        {"id": "jerry", "gateway": "main", "capabilities": ["general", "routing"], "may_message": ["bobby", "billy"]},
        {"id": "billy", "gateway": "main", "capabilities": ["deploy"], "may_message": ["jerry"]},
        {"id": "bobby", "gateway": "ops", "capabilities": ["monitoring"], "may_message": ["jerry"]},
        {"id": "carol", "gateway": "ops", "capabilities": ["monitoring"], "may_message": []},
    ],
    "gateways": [{"name": "main", "node": "jerry"}, {"name": "ops", "node": "bobby"}],
}
TOKENS = {"jerry": "mcp-token-jerry", "billy": "mcp-token-billy"}


@pytest.fixture(scope="module")
def farm(lab_process):
    from tools.testsupport.busfarm import Farm

    value = Farm(lab_process, f"t{uuid.uuid4().hex[:10]}")
    yield value
    value.close()


@pytest.fixture(scope="module")
def node(farm, lab_process):
    farm.setup(MODEL)
    # The server believes jerry may also message carol; the ACL policy does not: the write is refused
    # because the server acts with jerry's own Consul token.
    server_model = {"agents": [dict(a, may_message=a["may_message"] + (["carol"] if a["id"] == "jerry" else []))
                               for a in MODEL["agents"]]}
    cfg = bus_config.parse({
        "consul": {"address": lab_process.consul_addr},
        "layout": {"bus_root": farm.layout.bus_root, "registry_root": farm.layout.registry_root},
        "gateway": {"name": "main", "node": "jerry", "consul_token": farm.gateway_tokens["main"]},
        "agents": [{"id": "jerry", "consul_token": farm.tokens["jerry"], "mcp_token": TOKENS["jerry"], "relay": False,
                    "capabilities": ["general", "routing"]},
                   {"id": "billy", "consul_token": farm.tokens["billy"], "mcp_token": TOKENS["billy"], "relay": False,
                    "capabilities": ["deploy"]}],
        "model": server_model,
        "mcp": {"host": "127.0.0.1", "port": free_port()},
        "relay": {"enabled": False},
        "limits": {"max_wait_seconds": 30},
    })
    node = Node(cfg).serve_in_thread()
    assert node.service.registry.wait_for(lambda v: v.gateway_online("main"), 5)
    # The ops gateway: bobby's relay on a fake OpenClaw gateway that answers every message.
    from openclaw_bus.registry import GatewayPresence

    ops_agents = [{"id": "bobby", "capabilities": ["monitoring"]}, {"id": "carol", "capabilities": ["monitoring"]}]
    ops = GatewayPresence(farm.consul(gateway="ops"), "ops", "bobby", ops_agents, farm.layout).start(renew=False)
    gateway = FakeGateway(token="gw", answer=lambda agent, content, body: f"{agent}: all green").start()
    relay = Relay([AgentRelay(farm.bus("bobby", gateway="ops"), ChatCompletionsTarget(gateway.url, "gw", 5),
                              poll_wait=2)]).start()
    assert node.service.registry.wait_for(lambda v: v.gateway_online("ops"), 5)
    node.url = f"http://127.0.0.1:{cfg.mcp_port}/mcp"
    node.ops, node.gateway = ops, gateway
    yield node
    relay.stop(timeout=0)
    gateway.stop()
    ops.stop()
    node.shutdown()


async def _session(url, token, calls):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            out = []
            for name, args in calls:
                out.append(await client.list_tools() if name is None else await client.call_tool(name, args))
            return out


def call(node, agent, *calls):
    return asyncio.run(_session(node.url, TOKENS.get(agent, agent), list(calls)))


def ok(result):
    assert not result.is_error, result.content[0].text
    return result.structured_content


def error_text(result):
    assert result.is_error
    return result.content[0].text


def test_tools_have_schemas_descriptions_and_hints(node):
    (listing,) = call(node, "jerry", (None, None))
    tools = {t.name: t for t in listing.tools}
    assert set(tools) == {"send_message", "check_inbox", "ack", "list_agents", "agent_status", "list_dead_letters"}
    send = tools["send_message"]
    props = send.input_schema["properties"]
    assert send.input_schema["required"] == ["to"]
    assert {"to", "text", "data", "context_id", "reply_to", "ttl_seconds", "wait_for_reply_seconds",
            "message_id"} <= set(props)
    assert props["ttl_seconds"]["anyOf"][0]["minimum"] == 10 and "description" in props["to"]
    assert send.output_schema and "status" in send.output_schema["properties"]
    hints = {name: (t.annotations.read_only_hint, t.annotations.idempotent_hint, t.annotations.destructive_hint)
             for name, t in tools.items()}
    assert hints == {"send_message": (False, False, False), "check_inbox": (True, True, None),
                     "ack": (False, True, True), "list_agents": (True, True, None), "agent_status": (True, True, None),
                     "list_dead_letters": (True, True, None)}
    assert all(t.description for t in tools.values())


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_requests_without_a_known_bearer_token_are_refused(node, headers):
    import requests

    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = requests.post(node.url, json=body, headers={**headers, "Accept": "application/json, text/event-stream"},
                             timeout=10)
    assert response.status_code == 401
    with pytest.raises(BaseException):  # noqa: B017 - the SDK client surfaces it as an ExceptionGroup
        call(node, "not-a-token", (None, None))


def test_health_route_for_the_nomad_check(node):
    import requests

    response = requests.get(node.url.replace("/mcp", "/healthz"), timeout=10)
    assert response.status_code == 200 and response.json()["ok"] is True
    response = requests.get(node.url.replace("/mcp", "/readyz"), timeout=10)
    assert response.status_code == 200 and response.json()["registered"] is True


def test_send_and_wait_for_the_reply_across_gateways(node, farm):
    (result,) = call(node, "jerry", ("send_message", {"to": "bobby", "text": "how is the cluster?",
                                                      "context_id": "ctx-42", "wait_for_reply_seconds": 10}))
    data = ok(result)
    assert data["status"] == "replied" and data["recipient_online"] is True and data["context_id"] == "ctx-42"
    reply = data["reply"]
    assert reply["parts"] == [{"kind": "text", "text": "bobby: all green"}] and reply["contextId"] == "ctx-42"
    assert reply["metadata"]["reply_to"] == data["message_id"] and reply["metadata"]["from_agent"] == "bobby"
    handoff = node.gateway.handoffs[-1]
    assert handoff["agent"] == "bobby" and "how is the cluster?" in handoff["content"]
    # The reply was consumed: jerry's inbox is empty again.
    (inbox,) = call(node, "jerry", ("check_inbox", {}))
    assert ok(inbox)["messages"] == []


def test_identity_comes_from_the_token(node, farm):
    (result,) = call(node, "billy", ("send_message", {"to": "jerry", "text": "hi from billy"}))
    sent = ok(result)
    entries, _ = farm.consul("jerry").list(farm.layout.inbox_from("jerry", "billy"))
    assert len(entries) == 1 and sent["message_id"] in entries[0].value.decode()


def test_check_inbox_then_ack(node):
    (sent,) = call(node, "jerry", ("send_message", {"to": "billy", "text": "deploy v2", "data": {"version": 2}}))
    message_id = ok(sent)["message_id"]
    inbox, acked, again, empty = call(node, "billy", ("check_inbox", {"max_messages": 5}),
                                      ("ack", {"message_ids": [message_id]}),
                                      ("ack", {"message_ids": [message_id]}),
                                      ("check_inbox", {}))
    messages = ok(inbox)["messages"]
    assert [m["messageId"] for m in messages] == [message_id] and ok(inbox)["pending"] == 1
    assert messages[0]["parts"][1] == {"kind": "data", "data": {"version": 2}}
    assert messages[0]["metadata"]["from_agent"] == "jerry"
    assert ok(acked) == {"acked": [message_id], "already_gone": []}
    assert ok(again) == {"acked": [], "already_gone": [message_id]}  # idempotent
    assert ok(empty)["messages"] == []


def test_a_malformed_envelope_neither_breaks_check_inbox_nor_hides_the_next_message(node, farm):
    """Written with jerry's own Consul token past the MCP server: before the read boundary validated
    envelopes, a contextId of the wrong type made every check_inbox of billy fail."""
    import json

    (first,) = call(node, "jerry", ("send_message", {"to": "billy", "text": "first"}))
    writer = farm.consul("jerry")
    keys, _ = writer.keys(farm.layout.inbox_from("billy", "jerry"))
    seq = max(int(k.rsplit("/", 1)[1]) for k in keys) + 1
    bad = {"kind": "message", "messageId": "bad-1", "contextId": 5, "taskId": None, "role": "user",
           "parts": [{"kind": "text", "text": "x"}], "metadata": {}}
    assert writer.put(farm.layout.message_key("billy", "jerry", seq), json.dumps(bad), cas=0)
    (second,) = call(node, "jerry", ("send_message", {"to": "billy", "text": "second"}))
    ids = [ok(first)["message_id"], ok(second)["message_id"]]
    inbox, acked, letters = call(node, "billy", ("check_inbox", {}), ("ack", {"message_ids": ids}),
                                 ("list_dead_letters", {}))
    assert [m["messageId"] for m in ok(inbox)["messages"]] == ids
    assert ok(acked)["acked"] == ids
    (letter,) = [d for d in ok(letters)["dead_letters"] if d["key"].endswith(f"/{seq:012d}")]
    assert letter["sender"] == "jerry" and letter["reason"].startswith("malformed: invalid envelope: contextId")
    assert ok(letters)["total"] >= 1


def test_check_inbox_waits_for_a_message(node):
    import threading

    timer = threading.Timer(0.5, lambda: call(node, "jerry", ("send_message", {"to": "billy", "text": "late"})))
    timer.start()
    (inbox,) = call(node, "billy", ("check_inbox", {"wait_seconds": 10}))
    timer.join()
    assert [m["parts"][0]["text"] for m in ok(inbox)["messages"]] == ["late"]


@pytest.mark.parametrize(("args", "expected"), [
    ({"to": "nobody", "text": "x"}, "unknown recipient 'nobody'"),
    ({"to": "jerry", "text": "x"}, "cannot message yourself"),
    ({"to": "bobby"}, "give text, data"),
    ({"to": "bobby", "text": "x" * 70000}, "at most 65536 bytes"),
    ({"to": "bobby", "text": "x", "ttl_seconds": 5}, "greater than or equal to 10"),
    ({"to": "bobby", "text": "x", "wait_for_reply_seconds": 100}, "at most 30"),
    ({"to": "bad id!", "text": "x"}, "String should match pattern"),
    ({"to": "carol", "text": "x"}, "'jerry' may not message 'carol': Consul refused"),  # the server allows it, ACL not
])
def test_invalid_sends_are_clear_errors(node, args, expected):
    (result,) = call(node, "jerry", ("send_message", args))
    assert expected in error_text(result)


def test_billy_may_not_message_bobby(node):
    (result,) = call(node, "billy", ("send_message", {"to": "bobby", "text": "x"}))
    assert "billy may not message bobby; allowed recipients: jerry" in error_text(result)


def test_list_agents_and_status(node):
    listing, filtered, status_before, sent, status_after, unknown = call(
        node, "jerry", ("list_agents", {}), ("list_agents", {"capability": "monitoring"}),
        ("agent_status", {"agent_id": "billy"}), ("send_message", {"to": "billy", "text": "queued"}),
        ("agent_status", {"agent_id": "billy"}), ("agent_status", {"agent_id": "nobody"}))
    agents = {a["id"]: a for a in ok(listing)["agents"]}
    assert set(agents) == {"jerry", "billy", "bobby", "carol"}
    assert agents["bobby"]["online"] and agents["bobby"]["gateway"] == "ops"
    assert agents["jerry"]["you_may_message"] is False and agents["billy"]["you_may_message"] is True
    assert [a["id"] for a in ok(filtered)["agents"]] == ["bobby", "carol"]
    assert ok(status_before)["node"] == "jerry" and ok(status_before)["online"] is True
    assert ok(status_after)["pending_from_you"] == ok(status_before)["pending_from_you"] + 1
    assert "unknown agent 'nobody'" in error_text(unknown)


def test_offline_gateway_is_shown_and_messages_still_queue(node, farm):
    node.ops.stop()
    assert node.service.registry.wait_for(lambda v: not v.gateway_online("ops"), 5)
    listing, online_only, sent = call(node, "jerry", ("list_agents", {}),
                                      ("list_agents", {"include_offline": False}),
                                      ("send_message", {"to": "bobby", "text": "wait for me"}))
    assert {a["id"]: a["online"] for a in ok(listing)["agents"]}["bobby"] is False
    assert {a["id"] for a in ok(online_only)["agents"]} == {"jerry", "billy"}
    assert ok(sent)["status"] == "queued" and ok(sent)["recipient_online"] is False
    node.ops.start(renew=False)  # back for the tests after this one
