"""The collection as users consume it: scripts/build-collection gives a tarball without test or lab
artefacts, carrying the openclaw-bus wheel; it installs into a fresh path; ansible-doc documents every
plugin and role from there; every playbook parses as `octant.openclaw.<name>` with an inventory outside
the collection; phase 3 (which imports phase 2) runs on the lab from there, then phase 2 again, and
nothing is written inside the installed collection."""

import json
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.integration.conftest import fresh_env
from tests.integration.test_bus_role import BusFarm
from tools.testsupport.labclient import live_mode

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Development-only content that must never ship in the collection artifact.
FORBIDDEN_TOP = {"tests", "tools", "molecule", "scripts", "collections", "benchmarks", "build", "src",
                 ".ci", ".cache", ".lab", ".venv", ".git", ".pytest_cache", ".ruff_cache",
                 "pyproject.toml", "requirements-dev.txt", "constraints.txt", "execution-environment.yml",
                 ".gitignore", ".ansible-lint"}
# ansible-doc plugin types that a collection can hold, plus roles.
DOC_TYPES = ("become", "cache", "callback", "cliconf", "connection", "filter", "httpapi", "inventory", "lookup",
             "netconf", "shell", "vars", "module", "strategy", "test", "role")


def bus_version():
    from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as farm_model

    return farm_model.BUS["version"].default


def collection_dir(root):
    return root / "ansible_collections" / "octant" / "openclaw"


def snapshot(folder):
    """Every file (and folder) below `folder` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_tarball_has_no_test_or_lab_artefacts(collection_tarball):
    with tarfile.open(collection_tarball) as tar:
        names = tar.getnames()
    tops = {name.split("/", 1)[0] for name in names}
    assert not tops & FORBIDDEN_TOP, sorted(tops & FORBIDDEN_TOP)
    assert not [n for n in names if n.startswith("inventory/lab")]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for required in ("MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml",
                     "meta/execution-environment.yml", "requirements.txt", "bindep.txt", "LICENSE", "CHANGELOG.rst"):
        assert required in names, required


def test_tarball_carries_the_bus_wheel_of_the_model_version(collection_tarball):
    version = bus_version()
    assert version == tomllib.loads((ROOT / "src" / "pyproject.toml").read_text())["project"]["version"]
    wheel = f"roles/bus/files/wheels/openclaw_bus-{version}-py3-none-any.whl"
    with tarfile.open(collection_tarball) as tar:
        assert [n for n in tar.getnames() if n.endswith(".whl")] == [wheel]
        with zipfile.ZipFile(tar.extractfile(wheel)) as whl:
            names = whl.namelist()
            metadata = whl.read(f"openclaw_bus-{version}.dist-info/METADATA").decode()
    assert "openclaw_bus/cli.py" in names and "openclaw_bus/bench.py" in names
    assert f"Version: {version}\n" in metadata


def test_manifest_metadata(collection_tarball):
    with tarfile.open(collection_tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"]) == ("octant", "openclaw")
    assert info["license"] == ["GPL-3.0-or-later"]
    assert info["dependencies"] == {}


def test_installs_into_a_fresh_path(installed_collection):
    assert (collection_dir(installed_collection) / "MANIFEST.json").is_file()
    listing = subprocess.run([BIN / "ansible-galaxy", "collection", "list", "--format", "json"], check=True,
                             capture_output=True, text=True, cwd=installed_collection,
                             env=fresh_env(installed_collection)).stdout
    collections = json.loads(listing)
    assert collections[str(installed_collection / "ansible_collections")]["octant.openclaw"]["version"] == "0.1.0"


def test_ansible_doc_documents_every_plugin_and_role(installed_collection):
    env = fresh_env(installed_collection)
    seen = {}
    for kind in DOC_TYPES:
        listed = subprocess.run([BIN / "ansible-doc", "-t", kind, "-l", "octant.openclaw", "--json"],
                                cwd=installed_collection, env=env, capture_output=True, text=True, check=True)
        names = sorted(json.loads(listed.stdout))
        if not names:
            continue
        seen[kind] = names
        shown = subprocess.run([BIN / "ansible-doc", "-t", kind, "--json", *names], cwd=installed_collection, env=env,
                               capture_output=True, text=True, check=False)
        assert shown.returncode == 0, f"ansible-doc -t {kind}: {shown.stderr[-3000:]}"
        docs = json.loads(shown.stdout)
        for name in names:
            assert name in docs, f"ansible-doc -t {kind} {name} gave nothing"
            if kind == "role":
                assert docs[name]["entry_points"]["main"]["short_description"], name
            else:
                assert docs[name]["doc"]["short_description"], name
                assert docs[name]["examples"], f"{kind} {name} has no EXAMPLES"
    # What the collection holds today: a type that loses its docs, or a plugin the listing misses, fails here.
    assert {"module", "filter", "lookup", "role"} <= set(seen), seen
    assert "octant.openclaw.openclaw_relocation_plan" in seen["filter"]
    assert "octant.openclaw.bus" in seen["role"]
    print("\nansible-doc: " + ", ".join(f"{kind} {len(names)}" for kind, names in seen.items()))


def test_every_playbook_parses_from_the_installed_collection(installed_collection, tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventory" / "lab", inventory)
    playbooks = sorted(p.stem for p in (collection_dir(installed_collection) / "playbooks").glob("*.yml"))
    assert {"phase1", "phase2", "phase3", "phase4"} <= set(playbooks)
    for name in playbooks:
        result = subprocess.run([BIN / "ansible-playbook", "-i", str(inventory), f"octant.openclaw.{name}",
                                 "--syntax-check"], cwd=tmp_path, env=fresh_env(installed_collection),
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{name}: {result.stdout[-2000:]}{result.stderr[-2000:]}"


class InstalledFarm(BusFarm):
    """phase3 as `ansible-playbook octant.openclaw.phase3` from a folder outside the checkout, with only the
    installed collection and an inventory of its own; reports to openclaw_output_dir."""

    playbook = "octant.openclaw.phase3"

    def __init__(self, base, collections):
        super().__init__(base)
        self.cwd = base / "project"
        shutil.copytree(ROOT / "inventory" / "lab", self.cwd / "inventory")
        self.env_overrides = {"ANSIBLE_COLLECTIONS_PATH": str(collections), "HOME": str(base / "home")}
        self.output = base / "output"
        self.report = self.output / "phase3-bus-bench.json"

    def variables(self):
        variables = super().variables()
        variables.pop("bus_bench_report")
        variables.pop("bus_package_target")
        return dict(variables, openclaw_output_dir=str(self.output))

    def run(self, *args, **kwargs):
        kwargs.setdefault("inventory", "inventory")
        return super().run(*args, **kwargs)


@pytest.mark.slow
@pytest.mark.skipif(live_mode(), reason="runs the farm against the lab simulator only")
def test_phase3_and_phase2_run_on_the_lab_from_the_installed_collection(installed_collection, tmp_path):
    before = snapshot(collection_dir(installed_collection))
    farm = InstalledFarm(tmp_path, installed_collection)
    (tmp_path / "home").mkdir()
    farm.start()
    try:
        phase3 = farm.run()
        assert phase3.recap["failed"] == 0 and phase3.recap["changed"] > 0
        assert "bus measurement: GO" in phase3.result.stdout
        assert json.loads(farm.report.read_text())["go"] is True
        # The bench's package came from the collection's wheel, into the user's cache (HOME here).
        cache = tmp_path / "home" / ".cache" / "octant-openclaw" / f"openclaw-bus-{bus_version()}"
        assert (cache / f"openclaw_bus-{bus_version()}.dist-info").is_dir()
        assert farm.nomad.get("/v1/job/openclaw-bus-jerry").status_code == 200
        phase2 = farm.run(playbook="octant.openclaw.phase2")
        assert phase2.recap["failed"] == 0 and phase2.recap["changed"] == 0, phase2.output[-4000:]
    finally:
        farm.lab.stop()
    assert snapshot(collection_dir(installed_collection)) == before, "a run wrote inside the installed collection"
    assert not (farm.cwd / "reports").exists()
