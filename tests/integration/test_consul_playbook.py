# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Consul modules through a real ansible-playbook against the lab simulator (ACLs on):
--check --diff changes nothing anywhere, the real run applies, the second run (at -vvv --diff)
changes nothing and writes nothing. Connection settings come from the environment
(CONSUL_HTTP_ADDR/TOKEN, NOMAD_ADDR/TOKEN), as in AWX; no SecretID and no token appears in any
output."""

from __future__ import annotations

import re
import sys
import uuid

import pytest

from tests.integration.conftest import ACL_TOKEN, run_playbook

pytestmark = [pytest.mark.simulator_only, pytest.mark.acl]

PLAYBOOK = """\
- name: Consul modules of octant.openclaw
  hosts: localhost
  gather_facts: false
  vars:
    name: "{name}"
  module_defaults:
    group/octant.openclaw.consul:
      consul_datacenter: dc1
  tasks:
    - name: Bus policy of agent bobby
      octant.openclaw.consul_acl_policy:
        name: "{{{{ name }}}}-bobby"
        description: bus access of agent bobby
        rules: |
          key_prefix "{{{{ name }}}}/bus/bobby/in/" {{
            policy = "read"
          }}
          key_prefix "{{{{ name }}}}/bus/jerry/in/bobby/" {{
            policy = "write"
          }}

    - name: Bus token of agent bobby, its SecretID straight into the job's variable
      octant.openclaw.consul_acl_token:
        description: "{{{{ name }}}} bus agent bobby"
        policies: ["{{{{ name }}}}-bobby"]
        store_secret_in:
          path: "nomad/jobs/{{{{ name }}}}-gateway-bobby"
          item: OPENCLAW_BUS_CONSUL_TOKEN

    - name: Agent registry
      octant.openclaw.consul_kv:
        prefix: "{{{{ name }}}}/registry/agents"
        tree: "{{{{ registry }}}}"
        delete_unlisted: true
      vars:
        registry: >-
          {{{{ dict(range(20) | map('string') | map('regex_replace', '^', 'agent-')
          | zip(range(20) | map('string'))) }}}}

    - name: Leader session
      octant.openclaw.consul_session:
        name: "{{{{ name }}}}-leader"
        node: jerry
        ttl: 30s
        node_checks: []
      register: leader

    - name: Leader lock
      octant.openclaw.consul_kv:
        key: "{{{{ name }}}}/leader"
        session: "{{{{ leader.id }}}}"
        state: acquire
      when: leader.id is not none
"""

RECAP = re.compile(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)")


@pytest.fixture
def playbook(tmp_path):
    name = f"octant-pb-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "consul.yml"
    path.write_text(PLAYBOOK.format(name=name))
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    return name, path, inventory


def recap(result):
    match = RECAP.search(result.stdout)
    assert match, result.stdout
    return tuple(int(x) for x in match.groups())


def writes(lab, since):
    return [r for r in lab.requests(since=since) if r["method"] in ("PUT", "POST", "DELETE")]


def test_check_diff_then_apply_then_idempotent(cluster, lab, playbook):
    name, path, inventory = playbook
    env = {"CONSUL_HTTP_ADDR": cluster["consul_address"], "CONSUL_HTTP_TOKEN": cluster["consul_token"],
           "NOMAD_ADDR": cluster["nomad_address"], "NOMAD_TOKEN": cluster["nomad_token"]}
    outputs = []

    seq = lab.last_seq()
    check = run_playbook(path, "--check", "--diff", inventory=str(inventory), env=env)
    outputs.append(check.stdout + check.stderr)
    assert recap(check) == (4, 4, 0)  # the lock task is skipped: no session ID in check mode
    assert writes(lab, seq) == []
    assert f'+        key_prefix "{name}/bus/jerry/in/bobby/" {{' in check.stdout
    assert f"+++ after: consul acl token '{name} bus agent bobby' (after)" in check.stdout
    assert "+    agent-7: '7'" in check.stdout

    apply = run_playbook(path, "--diff", inventory=str(inventory), env=env)
    outputs.append(apply.stdout + apply.stderr)
    assert recap(apply) == (5, 5, 0)

    seq = lab.last_seq()
    again = run_playbook(path, "--diff", "-vvv", inventory=str(inventory), env=env)
    outputs.append(again.stdout + again.stderr)
    assert recap(again) == (5, 0, 0)
    assert writes(lab, seq) == []
    consul_calls = lab.requests(service="consul", since=seq)
    assert consul_calls and all("dc=dc1" in r["query"] for r in consul_calls)  # module_defaults group applied
    assert not [r for r in consul_calls if r["path"] == "/v1/acl/tokens"]  # the token read by its stored accessor

    token = [t for t in cluster["consul"].get("/v1/acl/tokens").json()
             if t["Description"] == f"{name} bus agent bobby"]
    assert len(token) == 1
    secret = token[0]["SecretID"]
    stored = cluster["nomad"].get(f"/v1/var/nomad/jobs/{name}-gateway-bobby").json()["Items"]
    assert stored == {"OPENCLAW_BUS_CONSUL_TOKEN": secret, "OPENCLAW_BUS_CONSUL_TOKEN_ACCESSOR": token[0]["AccessorID"]}
    for text in outputs:
        assert secret not in text
        assert ACL_TOKEN not in text
