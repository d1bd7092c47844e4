"""Fixtures for integration tests: a lab simulator per test module (or the live cluster with
OCTANT_LIVE=1), a module runner that runs a collection module in-process exactly as Ansible
would (so the simulator's request log counts its calls), and a playbook runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.testsupport.labclient import Api, LabAdmin, LabProcess, live_mode, run_module  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACL_TOKEN = "0c8a4f2e-5d1b-4e3a-9f6c-7b2a1d0e9c8b"


@pytest.fixture(scope="module")
def labsim():
    """A simulator for this test module (ACLs on, so tokens matter), or the live cluster."""
    if live_mode():
        yield None
        return
    # The jobs' own update durations 100 times faster (min_healthy_time 10 s -> 0.1 s).
    with LabProcess(acl_token=ACL_TOKEN, extra_args=["--time-scale", "0.01"]) as lab:
        yield lab


@pytest.fixture
def cluster(labsim):
    """Connection settings as module parameters, plus raw API clients."""
    if labsim is None:
        info = {"consul_address": os.environ["CONSUL_HTTP_ADDR"], "consul_token": os.environ.get("CONSUL_HTTP_TOKEN"),
                "nomad_address": os.environ["NOMAD_ADDR"], "nomad_token": os.environ.get("NOMAD_TOKEN")}
    else:
        info = {"consul_address": labsim.consul_addr, "consul_token": ACL_TOKEN,
                "nomad_address": labsim.nomad_addr, "nomad_token": ACL_TOKEN}
    info["consul"] = Api(info["consul_address"], info["consul_token"], "X-Consul-Token")
    info["nomad"] = Api(info["nomad_address"], info["nomad_token"], "X-Nomad-Token")
    return info


@pytest.fixture
def lab(labsim):
    """The simulator's admin API (request counting, faults); skipped against a live cluster."""
    if labsim is None:
        pytest.skip("needs the lab simulator's /_lab/ admin API")
    admin = LabAdmin(labsim.admin_addr)
    yield admin
    admin.clear_faults()
    admin.latency(0)


def own_lab(token):
    """Module-scoped fixtures `lab` (a simulator of the module's own, ACLs on with `token`) and `admin` (its
    admin API), for modules that talk to the simulator itself rather than through `labsim` and `cluster`:
    `lab, admin = own_lab(TOKEN)`."""

    @pytest.fixture(scope="module")
    def lab():
        with LabProcess(acl_token=token) as process:
            yield process

    @pytest.fixture(scope="module")
    def admin(lab):
        return LabAdmin(lab.admin_addr)

    return lab, admin


def run_playbook(playbook, *args, inventory="inventory/lab", env=None, check=True):
    """ansible-playbook from the repository root (so ansible.cfg applies); returns the completed
    process with stdout and stderr."""
    full_env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PATH=f"{BIN}:{os.environ['PATH']}")
    full_env.update(env or {})
    command = [str(BIN / "ansible-playbook"), "-i", inventory, str(playbook), *args]
    result = subprocess.run(command, cwd=ROOT, env=full_env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory):
    """The collection as it ships: scripts/build-collection (the openclaw-bus wheel into
    roles/bus/files/wheels/, then `ansible-galaxy collection build`)."""
    out = tmp_path_factory.mktemp("collection-build")
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", OCTANT_VENV=str(BIN.parent))
    result = subprocess.run([str(ROOT / "scripts" / "build-collection"), str(out)], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def fresh_env(collections):
    """An environment in which only the collections under `collections` exist (no checkout ansible.cfg)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), PATH=f"{BIN}:{os.environ['PATH']}",
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.pop("ANSIBLE_CONFIG", None)
    return env


@pytest.fixture(scope="session")
def installed_collection(collection_tarball, tmp_path_factory):
    """The tarball installed into a fresh path (outside the checkout): that path's collections root."""
    root = tmp_path_factory.mktemp("installed")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", str(collection_tarball), "-p", str(root)],
                   check=True, capture_output=True, text=True, cwd=root, env=fresh_env(root))
    return root
