#!/usr/bin/env python3
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""This collection side by side with community.general on the lab simulator (ACLs on): the same
Nomad job, a 200-key Consul KV tree, an ACL policy and a token, managed once by octant.openclaw
(nomad_job, consul_kv tree mode, consul_acl_policy, consul_acl_token with store_secret_in) and
once by community.general (nomad_job, consul_kv in a loop, consul_policy, consul_token), each
playbook run twice. Prints one table: requests, writes, wall time, tasks changed on the re-run,
duplicate tokens, SecretIDs in the -v output.

community.general comes from the `ansible` package in a venv of its own under .cache (with
py-consul and python-nomad, what its modules need); octant.openclaw runs from this checkout with
the project's venv. Usage: .venv/bin/python benchmarks/side_by_side.py [--keys 200]"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.testsupport.labclient import Api, LabAdmin, LabProcess  # noqa: E402

ANSIBLE_VERSION = "12.3.0"  # community.general 11.x, on ansible-core 2.19 like this collection's CI
PY_CONSUL_VERSION = "1.8.0"
CG_VENV = ROOT / ".cache" / "venv-community"
ACL = "5b0d7c1e-8a43-4f6e-9d2b-3c7e1a9f0b24"
RULES = 'key_prefix "bench/" {\n  policy = "read"\n}\n'

OURS = """
- name: octant.openclaw
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Nomad job
      octant.openclaw.nomad_job:
        job: "{{ bench_job | combine({'ID': 'bench-ours', 'Name': 'bench-ours'}) }}"
    - name: Consul KV tree
      octant.openclaw.consul_kv:
        prefix: bench/ours/
        tree: "{{ bench_tree }}"
    - name: ACL policy
      octant.openclaw.consul_acl_policy:
        name: bench-ours
        rules: "{{ bench_rules }}"
    - name: ACL token, SecretID into a Nomad Variable
      octant.openclaw.consul_acl_token:
        description: bench ours
        policies: [bench-ours]
        store_secret_in:
          path: nomad/jobs/bench-ours
"""

COMMUNITY = """
- name: community.general
  hosts: localhost
  gather_facts: false
  vars:
    consul: &consul {host: 127.0.0.1, port: "{{ consul_port }}", scheme: http, token: "{{ acl }}"}
  tasks:
    - name: Nomad job
      community.general.nomad_job:
        host: 127.0.0.1
        port: "{{ nomad_port }}"
        use_ssl: false
        token: "{{ acl }}"
        state: present
        content_format: json
        content: "{{ bench_job | combine({'ID': 'bench-cg', 'Name': 'bench-cg'}) | to_json }}"
    - name: Consul KV, one task per key
      community.general.consul_kv:
        key: "bench/cg/{{ item.key }}"
        value: "{{ item.value }}"
        host: 127.0.0.1
        port: "{{ consul_port }}"
        token: "{{ acl }}"
      loop: "{{ bench_tree | dict2items }}"
      loop_control:
        label: "{{ item.key }}"
    - name: ACL policy
      community.general.consul_policy:
        <<: *consul
        name: bench-cg
        rules: "{{ bench_rules }}"
    - name: ACL token (identified by accessor_id only, which a first run cannot know)
      community.general.consul_token:
        <<: *consul
        description: bench cg
        policies: [{name: bench-cg}]
"""


def job_spec():
    task = {"Name": "app", "Driver": "podman", "Config": {"image": "docker.io/library/busybox:1.36",
                                                          "command": "sleep", "args": ["3600"]},
            "Resources": {"CPU": 100, "MemoryMB": 64}}
    group = {"Name": "web", "Count": 1, "Tasks": [task],
             "Update": {"MaxParallel": 1, "HealthCheck": "task_states"}}
    return {"Type": "service", "Datacenters": ["*"], "TaskGroups": [group]}


def ensure_community_venv():
    python = CG_VENV / "bin" / "python"
    stamp = CG_VENV / ".octant-bench"
    want = f"ansible=={ANSIBLE_VERSION} py-consul=={PY_CONSUL_VERSION} python-nomad"
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CG_VENV)], check=True)
    print(f"installing {want} into {CG_VENV.relative_to(ROOT)} (once)", file=sys.stderr)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *want.split(),
                    "-c", str(ROOT / "constraints.txt")], check=True)
    stamp.write_text(want)
    return python


def run(side, python, playbook, extra, lab, env):
    """One ansible-playbook run: its requests and writes (from the simulator's log), wall time,
    changed tasks (from the recap) and its -v output."""
    seq = LabAdmin(lab.admin_addr).last_seq()
    started = time.monotonic()
    args = [str(python.parent / "ansible-playbook"), "-v", "-i", "localhost,", "-c", "local", str(playbook),
            "-e", f"@{extra}", "-e", f"ansible_python_interpreter={python}"]
    done = subprocess.run(args, cwd=ROOT if side == "ours" else playbook.parent, env=env, text=True,
                          capture_output=True, timeout=900)
    seconds = time.monotonic() - started
    if done.returncode:
        raise SystemExit(f"{side} playbook failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    rows = LabAdmin(lab.admin_addr).requests(since=seq)
    writes = [r for r in rows if r["method"] in ("PUT", "POST", "DELETE") and not r["path"].endswith("/plan")]
    recap = [line for line in done.stdout.splitlines() if line.startswith("localhost")][-1]
    changed = int(recap.split("changed=")[1].split()[0])
    return {"requests": len(rows), "writes": len(writes), "seconds": seconds, "changed": changed,
            "output": done.stdout + done.stderr}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200, help="keys in the Consul tree (default 200)")
    options = parser.parse_args()
    cg_python = ensure_community_venv()
    ours_python = Path(sys.executable)
    tree = {f"key-{i:03d}": f"value {i}" for i in range(options.keys)}
    with tempfile.TemporaryDirectory(prefix="octant-bench-") as tmp, \
            LabProcess(acl_token=ACL, extra_args=["--time-scale", "0.01"]) as lab:
        tmp = Path(tmp)
        extra = tmp / "vars.json"
        extra.write_text(json.dumps({"bench_job": job_spec(), "bench_tree": tree, "bench_rules": RULES,
                                     "acl": ACL, "consul_port": lab.consul_port, "nomad_port": lab.nomad_port}))
        (tmp / "ours.yml").write_text(OURS)
        (tmp / "cg.yml").write_text(COMMUNITY)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CONSUL_", "NOMAD_"))}
        ours_env = dict(base, CONSUL_HTTP_ADDR=lab.consul_addr, CONSUL_HTTP_TOKEN=ACL, NOMAD_ADDR=lab.nomad_addr,
                        NOMAD_TOKEN=ACL)
        cg_env = dict(base, ANSIBLE_CONFIG=str(tmp / "none.cfg"))  # no project config: the ansible package alone
        results = {}
        for side, python, playbook, env in (("ours", ours_python, tmp / "ours.yml", ours_env),
                                            ("cg", cg_python, tmp / "cg.yml", cg_env)):
            results[side] = [run(side, python, playbook, extra, lab, env) for _ in range(2)]
        consul = Api(lab.consul_addr, ACL, "X-Consul-Token")
        tokens = consul.get("/v1/acl/tokens").json()
        for side, description in (("ours", "bench ours"), ("cg", "bench cg")):
            mine = [t for t in tokens if t.get("Description") == description]
            secrets = [consul.get(f"/v1/acl/token/{t['AccessorID']}").json()["SecretID"] for t in mine]
            text = "".join(r["output"] for r in results[side])
            results[side + "_tokens"] = len(mine)
            results[side + "_leaks"] = sum(text.count(s) for s in secrets + [ACL])
    print_table(results, options.keys)


def print_table(results, keys):
    ours, cg = results["ours"], results["cg"]
    rows = [
        ("requests, first run", ours[0]["requests"], cg[0]["requests"]),
        ("writes, first run", ours[0]["writes"], cg[0]["writes"]),
        ("wall time, first run (s)", f"{ours[0]['seconds']:.1f}", f"{cg[0]['seconds']:.1f}"),
        ("requests, re-run", ours[1]["requests"], cg[1]["requests"]),
        ("writes, re-run", ours[1]["writes"], cg[1]["writes"]),
        ("wall time, re-run (s)", f"{ours[1]['seconds']:.1f}", f"{cg[1]['seconds']:.1f}"),
        ("tasks changed on re-run", ours[1]["changed"], cg[1]["changed"]),
        ("tokens with the description after 2 runs", results["ours_tokens"], results["cg_tokens"]),
        ("SecretIDs in the -v output", results["ours_leaks"], results["cg_leaks"]),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"Nomad job + {keys}-key Consul tree + ACL policy + token, each playbook run twice on the lab simulator")
    print(f"{'':<{width}}  {'octant.openclaw':>16}  {'community.general':>18}")
    for label, a, b in rows:
        print(f"{label:<{width}}  {a!s:>16}  {b!s:>18}")


if __name__ == "__main__":
    main()
