"""execution-environment.yml (ansible-builder v3): `ansible-builder create` turns it into a build context
(no container runtime needed) that installs the collection from its tarball, ansible-core and
ansible-runner; ansible-builder's own introspection of the installed tarball gives the Python and system
requirements that context installs: the collection's ranges, without ansible-core or mcp."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.integration.conftest import fresh_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_ansible_builder_create_makes_a_context_that_installs_the_collection(collection_tarball, tmp_path):
    definition = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    # The definition names the tarball scripts/build-collection writes to build/; here it is a copy.
    project = tmp_path / "project"
    (project / "build").mkdir(parents=True)
    shutil.copy(ROOT / "execution-environment.yml", project)
    shutil.copy(collection_tarball, project / "build")
    context = tmp_path / "context"
    result = subprocess.run([BIN / "ansible-builder", "create", "-f", "execution-environment.yml", "-c", str(context)],
                            cwd=project, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    containerfile = next(p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()).read_text()
    assert (context / "_build" / "collections" / collection_tarball.name).is_file()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert galaxy["collections"] == [{"name": f"/opt/octant-collections/octant-openclaw-{version}.tar.gz",
                                      "type": "file"}]
    assert "ansible-galaxy collection install" in containerfile
    assert "COPY _build/collections/ /opt/octant-collections/" in containerfile
    assert re.search(r'ANSIBLE_INSTALL_REFS="ansible-core>=2\.19\.0,<2\.20 ansible-runner>=', containerfile)
    # The introspection step that reads the installed collection's meta/execution-environment.yml.
    assert "introspect.py introspect" in containerfile


def test_the_context_installs_the_collection_requirements(installed_collection):
    result = subprocess.run([BIN / "ansible-builder", "introspect", "--sanitize", str(installed_collection)],
                            capture_output=True, text=True, check=True, env=fresh_env(installed_collection))
    data = yaml.safe_load(result.stdout)
    python = sorted(line.split("  #")[0] for line in data["python"])
    assert python == ["onepassword-sdk>=0.4.2", "python-consul2>=0.1.5", "python-nomad>=2.1.0", "requests>=2.34.2"]
    system = [line.split("  #")[0] for line in data["system"]]
    assert "openssh-client [platform:dpkg]" in system and "git [platform:dpkg platform:rpm]" in system
