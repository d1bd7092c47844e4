# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's lab instructions as a newcomer runs them: the block under "Try phases 3 and 4 on the lab",
line by line in one bash, on a fresh copy of the checkout (its tracked files; the project's virtualenv and
OpenClaw cache linked in, as scripts/lab would find them after a first run), on free ports. The lab it starts is
stopped with `scripts/lab stop`. Also: phase 4 on a lab without ACLs stops before any write and says how to
start the right lab; phase 2 and phase 4 print no warning the project can avoid; the shell scripts pass
shellcheck."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.testsupport.labclient import LabAdmin, LabProcess, free_port, live_mode

pytestmark = pytest.mark.skipif(live_mode(), reason="runs the lab simulator")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WRITES = ("PUT", "POST", "DELETE", "PATCH")
# What a run may print that is not the project's to avoid: none so far.
WARNING = re.compile(r"\[WARNING\]|\[DEPRECATION WARNING\]|DeprecationWarning|Warning: ")


def readme_block(title):
    """The first ```sh block after the line containing `title`."""
    text = (ROOT / "README.md").read_text()
    start = text.index(title)
    block = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert block, f"no sh block after {title!r} in README.md"
    return block.group(1)


def fresh_copy(dest):
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = ROOT / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)
    for name in (".venv", ".cache"):
        if (ROOT / name).exists():
            (dest / name).symlink_to((ROOT / name).resolve())
    return dest


def newcomer_env(**extra):
    """A login shell's environment: no tokens, no venv on PATH, no lab addresses."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONSUL_", "NOMAD_", "LAB_", "ANSIBLE_", "VIRTUAL_ENV", "OCTANT_", "PYTHON"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != BIN)
    env.update(ANSIBLE_NOCOLOR="1", **extra)
    return env


def test_the_readme_phase3_and_phase4_lines_work_as_written(tmp_path):
    block = readme_block("Try phases 3 and 4 on the lab")
    lines = [line for line in block.splitlines() if line.strip()]
    assert lines[0].startswith("scripts/lab --acl") and any("phase4.yml" in line for line in lines)
    repo = fresh_copy(tmp_path / "clone")
    script = "set -e\n" + "".join(f"echo '+ {line.split('#')[0].strip()}'\n{line}\n" for line in lines)
    env = newcomer_env(LAB_CONSUL_PORT=str(free_port()), LAB_NOMAD_PORT=str(free_port()))
    try:
        result = subprocess.run(["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True,
                                timeout=1800, check=False)
        status = subprocess.run(["scripts/lab", "status"], cwd=repo, env=env, capture_output=True, text=True)
    finally:
        stopped = subprocess.run(["scripts/lab", "stop"], cwd=repo, env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "bus measurement: GO" in output, output[-3000:]
    assert "agent bobby: gateway main -> gateway bobby on bobby" in output
    assert (repo / ".lab" / "nodes" / "bobby" / "openclaw" / "bobby" / "workspaces" / "bobby").is_dir()
    # the lab knows it runs with ACLs, keeps its token to itself, and stops
    lab = repo / ".lab"
    assert "ACLs on" in status.stdout and ".lab/acl-token" in status.stdout, status.stdout
    assert oct((lab / "acl-token").stat().st_mode & 0o777) == "0o600"
    assert "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    after = subprocess.run(["scripts/lab", "status"], cwd=repo, env=env, capture_output=True, text=True)
    assert after.stdout.strip() == "not running"
    assert not (lab / "env").exists() and (lab / "acl-token").exists()
    # no warning the project can avoid, in phase 2 (scripts/lab), phase 3 and phase 4
    warnings = [line for line in output.splitlines() if WARNING.search(line)]
    assert warnings == [], "\n".join(warnings)


def test_phase4_on_a_lab_without_acls_stops_before_any_write(tmp_path):
    with LabProcess(extra_args=["--time-scale", "0.02"]) as lab:
        admin = LabAdmin(lab.admin_addr)
        env = newcomer_env(PATH=f"{BIN}:{os.environ['PATH']}", LAB_CONSUL_PORT=str(lab.consul_port),
                           LAB_NOMAD_PORT=str(lab.nomad_port))
        data = tmp_path / "nodes"
        since = admin.last_seq()
        result = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", "inventory/lab", "playbooks/phase4.yml",
             "-e", "@inventory/examples/phase4-farm.yml",
             "-e", json.dumps({"openclaw_data_root": f"{data}/{{{{ inventory_hostname }}}}"})],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        writes = [r for r in admin.requests(since=since) if r["method"] in WRITES]
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-3000:]
    assert "does not enforce ACLs" in output and "scripts/lab --acl" in output, output[-3000:]
    assert writes == [], writes
    assert not data.exists() or not any(p.is_file() for p in data.rglob("*"))


def test_phase2_with_a_gateway_host_that_does_not_answer_stops_before_any_write(tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventory" / "lab", inventory)
    # jerry (main's node) behind SSH on a port nobody listens on
    (inventory / "host_vars").mkdir()
    (inventory / "host_vars" / "jerry.yml").write_text(
        f"ansible_connection: ssh\nansible_host: 127.0.0.1\nansible_port: {free_port()}\n")
    with LabProcess() as lab:
        admin = LabAdmin(lab.admin_addr)
        env = newcomer_env(PATH=f"{BIN}:{os.environ['PATH']}", LAB_CONSUL_PORT=str(lab.consul_port),
                           LAB_NOMAD_PORT=str(lab.nomad_port), ANSIBLE_HOST_KEY_CHECKING="false")
        since = admin.last_seq()
        result = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", str(inventory), "playbooks/phase2.yml",
             "-e", json.dumps({"openclaw_data_root": f"{tmp_path}/nodes/{{{{ inventory_hostname }}}}"})],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        writes = [r for r in admin.requests(since=since) if r["method"] in WRITES]
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-3000:]
    assert "jerry did not answer" in output and "Nothing was changed." in output, output[-3000:]
    assert writes == [], writes
    assert not (tmp_path / "nodes").exists()


def test_the_shell_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed (scripts/test installs it)"
    scripts = [p for p in [*(ROOT / "scripts").iterdir(), ROOT / "tools" / "labsim", *ROOT.glob("roles/*/files/*.sh")]
               if p.is_file() and (p.suffix == ".sh" or p.read_text().startswith("#!/usr/bin/env bash"))]
    assert len(scripts) >= 7, scripts
    # relative paths, so that `# shellcheck source=scripts/lib.sh` resolves
    result = subprocess.run([shellcheck, "-x", *(str(p.relative_to(ROOT)) for p in scripts)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
