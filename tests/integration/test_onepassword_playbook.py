# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real ansible-playbook at -vvvv, from the repository root (so ansible.cfg and the collection
self-link apply), using the onepassword lookup and the onepassword_info module.

1Password is replaced at Client.authenticate only, inside every Python process of the run (the
controller, its forked workers and the module's own interpreter), by a sitecustomize on
PYTHONPATH that loads tests/unit/plugins/onepassword_fake.py. The fake logs each call (process
id, call, references; never a value), so the test counts authentications and resolve_all calls.

Proves: the values reach the tasks that need them (files written under tmp_path, a hash
compared in an assert), a value that looks like a template stays data, and no value or token
appears anywhere in stdout or stderr."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FAKE = ROOT / "tests" / "unit" / "plugins" / "onepassword_fake.py"

TOKEN = "ops_playbook-test-token-6e1f0b2a"
DISCORD = "op://homelab/discord/token"
ANTHROPIC = "op://homelab/anthropic/api/key"
ZAI = "op://homelab/zai/key"
TRICKY = "op://homelab/tricky/value"
MISSING = "op://homelab/missing/token"
SECRETS = {
    DISCORD: "discord-8fK2pQ9xZt",
    ANTHROPIC: "sk-ant-Vb3nM7wLq4",
    ZAI: "zai-Rt6yU1iOp0",
    TRICKY: "{{ 7 * 6 }}-Jh5gF4dS",
}

SITECUSTOMIZE = """\
import importlib.util
import os
import sys

if os.environ.get("OCTANT_FAKE_OP_SPEC"):
    spec = importlib.util.spec_from_file_location("octant_fake_onepassword", os.environ["OCTANT_FAKE_OP_MODULE"])
    fake = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = fake
    spec.loader.exec_module(fake)
    fake.install_from_env()
"""

PLAYBOOK = """\
- name: 1Password lookup and module, the SDK faked at Client.authenticate
  hosts: localhost
  gather_facts: false
  vars:
    discord_ref: {discord}
    anthropic_ref: {anthropic}
    zai_ref: {zai}
    tricky_ref: {tricky}
    missing_ref: {missing}
  tasks:
    - name: Two secrets from one lookup call
      ansible.builtin.copy:
        content: "{{{{ query('octant.openclaw.onepassword', discord_ref, anthropic_ref) | join(',') }}}}"
        dest: "{{{{ out_dir }}}}/lookup.txt"
        mode: "0600"

    - name: A secret compared through its hash only
      ansible.builtin.assert:
        that:
          - (lookup('octant.openclaw.onepassword', zai_ref) | hash('sha256')) == zai_sha256
        quiet: true

    - name: A secret that looks like a template stays data
      ansible.builtin.copy:
        content: "{{{{ lookup('octant.openclaw.onepassword', tricky_ref) }}}}"
        dest: "{{{{ out_dir }}}}/tricky.txt"
        mode: "0600"

    - name: The task form
      octant.openclaw.onepassword_info:
        references:
          discord: "{{{{ discord_ref }}}}"
          anthropic: "{{{{ anthropic_ref }}}}"
      no_log: true
      register: op

    - name: Values registered by the module
      ansible.builtin.copy:
        content: "{{{{ op.secrets.discord }}}},{{{{ op.secrets.anthropic }}}}"
        dest: "{{{{ out_dir }}}}/module.txt"
        mode: "0600"

    - name: The module refuses a task without no_log (token given explicitly)
      octant.openclaw.onepassword_info:
        references: ["{{{{ discord_ref }}}}"]
        service_account_token: "{{{{ lookup('ansible.builtin.env', 'OP_SERVICE_ACCOUNT_TOKEN') }}}}"
      register: refused
      ignore_errors: true

    - name: It failed for that reason
      ansible.builtin.assert:
        that:
          - refused is failed
          - "'no_log' in refused.msg"

    - name: A missing reference fails its lookup, which names it
      block:
        - name: One good and one missing reference in one call
          ansible.builtin.copy:
            content: "{{{{ query('octant.openclaw.onepassword', discord_ref, missing_ref) | join(',') }}}}"
            dest: "{{{{ out_dir }}}}/never.txt"
            mode: "0600"
      rescue:
        - name: Keep the error text for the test
          ansible.builtin.copy:
            content: "{{{{ ansible_failed_result.msg }}}}"
            dest: "{{{{ out_dir }}}}/error.txt"
            mode: "0600"
"""


def run_playbook(tmp_path):
    """Run the playbook once; return the completed process, the output folder and the calls."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
    calls = tmp_path / "calls.jsonl"
    spec = tmp_path / "vault.json"
    spec.write_text(json.dumps({"token": TOKEN, "secrets": SECRETS, "log": str(calls)}))
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK.format(discord=DISCORD, anthropic=ANTHROPIC, zai=ZAI, tricky=TRICKY,
                                        missing=MISSING))
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    env = dict(
        os.environ,
        PATH=f"{BIN}:{os.environ['PATH']}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")])),
        OCTANT_FAKE_OP_SPEC=str(spec),
        OCTANT_FAKE_OP_MODULE=str(FAKE),
        OP_SERVICE_ACCOUNT_TOKEN=TOKEN,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    extra = {"out_dir": str(out_dir), "zai_sha256": hashlib.sha256(SECRETS[ZAI].encode()).hexdigest()}
    command = [str(BIN / "ansible-playbook"), "-vvvv", "-i", str(inventory), str(playbook),
               "-e", json.dumps(extra)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    logged = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    return result, out_dir, logged


@pytest.fixture(scope="module")
def playbook_run(tmp_path_factory):
    return run_playbook(tmp_path_factory.mktemp("onepassword"))


def test_values_arrive_and_never_show(playbook_run):
    result, out, _calls = playbook_run
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]

    # The values arrived where they were needed.
    assert (out / "lookup.txt").read_text() == f"{SECRETS[DISCORD]},{SECRETS[ANTHROPIC]}"
    assert (out / "module.txt").read_text() == f"{SECRETS[DISCORD]},{SECRETS[ANTHROPIC]}"
    assert (out / "tricky.txt").read_text() == SECRETS[TRICKY]  # not rendered to "42-..."
    assert not (out / "never.txt").exists()
    error = (out / "error.txt").read_text()
    assert f"{MISSING!r}: no such item" in error
    assert SECRETS[DISCORD] not in error  # resolved in the same call, never in the error

    # -vvvv really was verbose, and our progress lines (counts only) were shown...
    assert "ESTABLISH LOCAL CONNECTION" in output
    assert "1Password: 2 reference(s), 0 cached in this process, 2 fetched in one resolve_all call" in output
    assert "no_log: true" in output  # the refusal's message
    # ...yet no value and no token appear anywhere.
    for ref, value in SECRETS.items():
        assert value not in output, f"the value of {ref} leaked"
    assert "42-Jh5gF4dS" not in output
    assert TOKEN not in output


def test_calls_counted(playbook_run):
    result, _out, calls = playbook_run
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    per_process = Counter(call["pid"] for call in calls if call["call"] == "authenticate")
    resolves = [call["detail"] for call in calls if call["call"] == "resolve_all"]
    # Every call that needed 1Password made exactly one resolve_all with all of its references.
    assert resolves == [[DISCORD, ANTHROPIC], [ZAI], [TRICKY], [DISCORD, ANTHROPIC], [DISCORD, MISSING]]
    # One authentication per process: each task runs in its own worker (or module) process.
    assert set(per_process.values()) == {1}
    assert len(per_process) == len(resolves)
