"""`ansible-galaxy collection build` gives a tarball without test or lab artefacts that installs
into a fresh path."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Development-only content that must never ship in the collection artifact.
FORBIDDEN_TOP = {"tests", "tools", "molecule", "scripts", "collections", "benchmarks", "build", "src",
                 ".ci", ".cache", ".lab", ".venv", ".git", ".pytest_cache", ".ruff_cache",
                 "pyproject.toml", "requirements-dev.txt", ".gitignore", ".ansible-lint"}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    subprocess.run([BIN / "ansible-galaxy", "collection", "build", "--output-path", out, str(ROOT)],
                   check=True, capture_output=True, text=True)
    found = list(out.glob("octant-openclaw-*.tar.gz"))
    assert len(found) == 1, found
    return found[0]


def test_tarball_has_no_test_or_lab_artefacts(tarball):
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    tops = {name.split("/", 1)[0] for name in names}
    assert not tops & FORBIDDEN_TOP, sorted(tops & FORBIDDEN_TOP)
    assert not [n for n in names if n.startswith("inventory/lab")]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for required in ("MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml",
                     "meta/execution-environment.yml", "requirements.txt", "bindep.txt", "LICENSE"):
        assert required in names, required


def test_manifest_metadata(tarball):
    with tarfile.open(tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"]) == ("octant", "openclaw")
    assert info["license"] == ["GPL-3.0-or-later"]
    assert info["dependencies"] == {}


def test_installs_into_a_fresh_path(tarball, tmp_path):
    # Outside the checkout, so its ansible.cfg (which links this checkout in) does not apply.
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(tmp_path)}
    env.pop("ANSIBLE_CONFIG", None)
    subprocess.run([BIN / "ansible-galaxy", "collection", "install", str(tarball), "-p", str(tmp_path)],
                   check=True, capture_output=True, text=True, cwd=tmp_path, env=env)
    installed = tmp_path / "ansible_collections" / "octant" / "openclaw"
    assert (installed / "MANIFEST.json").is_file()
    listing = subprocess.run([BIN / "ansible-galaxy", "collection", "list", "--format", "json"],
                             check=True, capture_output=True, text=True, cwd=tmp_path, env=env).stdout
    collections = json.loads(listing)
    assert collections[str(tmp_path / "ansible_collections")]["octant.openclaw"]["version"] == "0.1.0"
