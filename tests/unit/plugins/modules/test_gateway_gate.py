# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""octant.openclaw.gateway_gate through AnsibleModule, Consul and the gateway replaced by the stand-ins of the
runner's tests: check mode runs the same reads, the token is never returned, bad timeouts fail before any call."""

from __future__ import annotations

import json

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._gateway_gate import CHECKS
from ansible_collections.octant.openclaw.plugins.modules import gateway_gate
from ansible_collections.octant.openclaw.tests.unit.plugins.module_utils.test_gateway_gate import (
    SERVICE,
    TOKEN,
    Consul,
    Gateway,
)

ARGS = {"consul_address": "http://consul.test:8500", "service": "openclaw-main", "version": "2026.9.6",
        "agent": "jerry", "gateway_token": TOKEN, "timeout": 1, "interval": 0.01}


class Api(Consul):
    def __init__(self, entries, http):
        super().__init__(entries)
        self.http = type("Session", (), {"session": http})()


@pytest.fixture
def gateway(monkeypatch):
    http = Gateway()
    monkeypatch.setattr(gateway_gate, "ConsulApi", lambda params: Api(SERVICE, http))
    return http


@pytest.mark.parametrize("check_mode", [False, True])
def test_the_gate_passes_in_both_modes_and_never_returns_the_token(run_module, gateway, check_mode):
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(gateway_gate, ARGS, check_mode=check_mode)
    result = caught.value.result
    assert result["passed"] is True and result["changed"] is False and result["failed_check"] is None
    assert [row["check"] for row in result["checks"]] == list(CHECKS)
    assert TOKEN not in json.dumps(result)


def test_a_failed_gate_is_a_result_not_a_failed_task(run_module, gateway):
    gateway.failing = ["slack"]
    with pytest.raises(run_module.ExitJson) as caught:
        run_module(gateway_gate, ARGS)
    result = caught.value.result
    assert result["passed"] is False and result["failed_check"] == "channels"
    assert "not connected: slack" in result["failure"]


@pytest.mark.parametrize("name, value", [("timeout", 0), ("answer_timeout", -5), ("interval", 0)])
def test_a_timeout_that_is_not_positive_is_refused_before_any_call(run_module, gateway, name, value):
    with pytest.raises(run_module.FailJson) as caught:
        run_module(gateway_gate, dict(ARGS, **{name: value}))
    assert f"{name} must be a number of seconds above 0, got {value}" in caught.value.result["msg"]
    assert gateway.seen == []
