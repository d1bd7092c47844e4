# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/bus tasks/image.yml (bus_build_image) of the installed collection, with a recording `podman` on PATH
(podman is not on the build machines): the image is built from the openclaw-bus wheel the collection carries,
once, not again when nothing changed, again when the wheel changed or when the image is missing from the
podman user's store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.integration.conftest import fresh_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

PODMAN = textwrap.dedent("""\
    #!/bin/sh
    # records its argv; `image exists` answers from a marker file, `build` creates it
    echo "$*" >> "$PODMAN_LOG"
    case "$1 $2" in
      "image exists") [ -f "$PODMAN_STORE" ] && exit 0 || exit 1 ;;
      "build "*) touch "$PODMAN_STORE"; exit 0 ;;
    esac
    exit 0
    """)

PLAYBOOK = textwrap.dedent("""\
    - name: Build the bus image
      hosts: localhost
      gather_facts: false
      tasks:
        - name: Image tasks of the bus role
          ansible.builtin.include_role:
            name: octant.openclaw.bus
            tasks_from: image
          vars:
            bus_farm:
              farm_bus: {enabled: true, image: "localhost/openclaw-bus:test", version: "0.1.0"}
              farm_gateways: []
    """)


def test_the_image_is_built_once_and_again_only_when_needed(tmp_path, installed_collection):
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "podman").write_text(PODMAN)
    (shim / "podman").chmod(0o755)
    # A copy of the installed collection: this test changes its wheel.
    collections = tmp_path / "collections"
    shutil.copytree(installed_collection, collections)
    wheels = collections / "ansible_collections/octant/openclaw/roles/bus/files/wheels"
    wheel = wheels / "openclaw_bus-0.1.0-py3-none-any.whl"
    assert wheel.is_file()
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    log, store = tmp_path / "podman.log", tmp_path / "store"
    env = dict(fresh_env(collections), PATH=f"{shim}:{BIN}:{os.environ['PATH']}", PODMAN_LOG=str(log),
               PODMAN_STORE=str(store))
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()

    def run():
        log.write_text("")
        extra = {"bus_build_dir": str(tmp_path / "build"), "bus_podman_user": user,
                 "ansible_user": user, "ansible_python_interpreter": sys.executable}
        result = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                                 str(tmp_path / "play.yml"), "-e", json.dumps(extra)],
                                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        return [line for line in log.read_text().splitlines() if line.startswith("build")]

    assert run() == ["build --tag localhost/openclaw-bus:test --build-arg BUS_VERSION=0.1.0 --file Containerfile ."]
    assert (tmp_path / "build" / "wheels" / wheel.name).read_bytes() == wheel.read_bytes()
    assert run() == []                                   # nothing changed, the image is there
    wheel.write_bytes(wheel.read_bytes() + b"\0")        # another build of the package
    assert len(run()) == 1
    store.unlink()
    assert len(run()) == 1                               # missing from the user's store
    assert (tmp_path / "build" / "Containerfile").read_text() == (ROOT / "roles/bus/files/Containerfile").read_text()
