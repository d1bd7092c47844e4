"""playbooks/awx_setup.yml against a fake AWX API (tests/integration/fake_awx.py): the first run creates
every object, check mode writes nothing, a re-run changes nothing and makes no duplicate, a drifted
field is PATCHed alone, and no token reaches the output. Also collections/requirements.yml in the forms
AWX's project sync and Semaphore install it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.integration.conftest import fresh_env
from tests.integration.fake_awx import FakeAwx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AWX_TOKEN = "awx-oauth-Qm38Zt61"
SECRETS = {"OP_SERVICE_ACCOUNT_TOKEN": "ops_awx-setup-Hb72", "NOMAD_TOKEN": "nomad-secret-Jw41",
           "CONSUL_HTTP_TOKEN": "consul-secret-Lx93"}
TYPES = sorted((ROOT / "awx" / "credential_types").glob("*.yml"))
PLAYBOOKS_HERE = {p.name for p in (ROOT / "playbooks").glob("*.yml")}


def run_setup(awx, *args, extra=None):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PATH=f"{BIN}:{os.environ['PATH']}",
               CONTROLLER_HOST=awx.url, CONTROLLER_OAUTH_TOKEN=AWX_TOKEN, NOMAD_ADDR="https://nomad.example:4646",
               CONSUL_HTTP_ADDR="https://consul.example:8501", **SECRETS)
    command = [str(BIN / "ansible-playbook"), "playbooks/awx_setup.yml", "-vvv", *args]
    if extra:
        command += ["-e", json.dumps(extra)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for secret in (AWX_TOKEN, *SECRETS.values()):
        assert secret not in output
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", result.stdout)
    return int(recap.group(1)), output


@pytest.fixture(scope="module")
def awx():
    with FakeAwx(AWX_TOKEN) as fake:
        yield fake


def test_check_mode_on_an_empty_awx_writes_nothing(awx):
    changed, output = run_setup(awx, "--check")
    assert changed > 0
    assert awx.writes() == []
    assert "would create" in output


def test_first_run_creates_everything(awx):
    changed, _ = run_setup(awx)
    assert changed > 0
    types = {t["name"]: t for t in awx.objects["credential_types"].values()}
    # Posted exactly as the files say, injector templates unrendered.
    for path in TYPES:
        definition = yaml.safe_load(path.read_text())
        stored = types[definition["name"]]
        assert {k: stored[k] for k in definition} == definition
    creds = {c["name"]: c for c in awx.objects["credentials"].values()}
    assert creds["OpenClaw Nomad"]["inputs"] == {"host": "https://nomad.example:4646", "token": "nomad-secret-Jw41",
                                                 "ca": ""}
    assert creds["OpenClaw 1Password"]["inputs"]["token"] == SECRETS["OP_SERVICE_ACCOUNT_TOKEN"]
    [project] = awx.objects["projects"].values()
    [inventory] = awx.objects["inventories"].values()
    [source] = awx.objects["inventory_sources"].values()
    assert (source["inventory"], source["source_project"], source["source"]) == (inventory["id"], project["id"], "scm")
    templates = {t["playbook"]: t for t in awx.objects["job_templates"].values()}
    listed = yaml.safe_load((ROOT / "awx" / "setup.yml").read_text())["awx_job_templates"]
    expected = {t["playbook"] for t in listed if t["playbook"].split("/")[-1] in PLAYBOOKS_HERE}
    assert set(templates) == expected
    assert "playbooks/phase2.yml" in templates
    for template in templates.values():
        assert sorted(awx.attached[template["id"]]) == sorted(creds[n]["id"] for n in creds)
    # Schedules only for the scheduled playbooks that exist; phase playbooks stay manual.
    scheduled = {awx.objects["job_templates"][s["unified_job_template"]]["playbook"]
                 for s in awx.objects["schedules"].values()}
    assert scheduled == expected & {"playbooks/health.yml", "playbooks/drift.yml", "playbooks/backup.yml"}


def test_rerun_changes_nothing_and_duplicates_nothing(awx):
    before = len(awx.writes())
    counts = {kind: len(objects) for kind, objects in awx.objects.items()}
    changed, _ = run_setup(awx)
    assert changed == 0
    assert awx.writes()[before:] == []
    assert {kind: len(objects) for kind, objects in awx.objects.items()} == counts
    for kind, objects in awx.objects.items():
        keys = [(o["name"], o.get("inventory") if kind == "inventory_sources" else None) for o in objects.values()]
        assert len(keys) == len(set(keys)), kind


def test_drift_is_patched_alone(awx):
    [template] = [t for t in awx.objects["job_templates"].values() if t["playbook"] == "playbooks/phase2.yml"]
    template["job_type"] = "check"
    nomad_type = next(t for t in awx.objects["credential_types"].values() if t["name"] == "OpenClaw Nomad")
    nomad_type["injectors"] = {"env": {"NOMAD_ADDR": "{{ host }}"}}
    before = len(awx.log)
    changed, _ = run_setup(awx)
    assert changed == 2
    patches = [(path, body) for method, path, body in awx.log[before:] if method != "GET"]
    injectors = yaml.safe_load((ROOT / "awx/credential_types/nomad.yml").read_text())["injectors"]
    assert patches == [(f"/api/v2/credential_types/{nomad_type['id']}/", {"injectors": injectors}),
                       (f"/api/v2/job_templates/{template['id']}/", {"job_type": "run"})]


def test_a_new_secret_value_is_not_detected(awx):
    before = len(awx.log)
    changed, _ = run_setup(awx, extra={"awx_nomad_token": "nomad-rotated-Pp02"})
    # AWX shows $encrypted$: a new value cannot be told from the old one (README: rotate it in AWX)
    assert changed == 0
    assert [m for m, _, _ in awx.log[before:] if m != "GET"] == []


def test_missing_token_fails_before_any_request(awx):
    before = len(awx.log)
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", CONTROLLER_HOST=awx.url, CONTROLLER_OAUTH_TOKEN="")
    result = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/awx_setup.yml"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert "CONTROLLER_OAUTH_TOKEN" in result.stdout
    assert awx.log[before:] == []


# collections/requirements.yml ------------------------------------------------------------------------

def served(directory):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def requirements_served_from(tarball, tmp_path):
    """collections/requirements.yml with its release URL's origin replaced by a local server holding the
    built tarball under the same path (Galaxy and GitHub are unreachable here)."""
    requirements = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())
    [entry] = requirements["collections"]
    url = urlsplit(entry["name"]).path
    release = tmp_path / "release" / url.lstrip("/")
    release.parent.mkdir(parents=True)
    shutil.copy(tarball, release)
    server = served(tmp_path / "release")
    entry["name"] = f"http://127.0.0.1:{server.server_address[1]}{url}"
    return server, requirements


def test_requirements_name_the_release_of_this_version():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    [entry] = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]
    assert entry["type"] == "url"
    assert entry["name"].endswith(f"/{galaxy['version']}/octant-openclaw-{galaxy['version']}.tar.gz")
    assert entry["name"].startswith(galaxy["repository"] + "/releases/download/")


def test_project_sync_installs_the_release(collection_tarball, tmp_path):
    """AWX's project update: ansible-galaxy collection install -r collections/requirements.yml -p <stage>."""
    server, requirements = requirements_served_from(collection_tarball, tmp_path)
    try:
        (tmp_path / "requirements.yml").write_text(yaml.safe_dump(requirements))
        stage = tmp_path / "requirements_collections"
        subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "-r", str(tmp_path / "requirements.yml"),
                        "-p", str(stage)], check=True, capture_output=True, text=True, cwd=tmp_path,
                       env=fresh_env(stage))
    finally:
        server.shutdown()
    manifest = json.loads((stage / "ansible_collections/octant/openclaw/MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]


def test_semaphore_install_with_collections_path_leaves_the_checkout_alone(collection_tarball, tmp_path):
    """Semaphore runs `ansible-galaxy collection install -r collections/requirements.yml --force` in the
    repository (ansible.cfg applies). With ANSIBLE_COLLECTIONS_PATH in its environment (README) the
    release goes there, not over the checkout's own collections/ symlink."""
    checkout = tmp_path / "repo"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True).stdout
    checkout.mkdir()
    subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive, check=True)
    server, requirements = requirements_served_from(collection_tarball, tmp_path)
    (checkout / "collections" / "requirements.yml").write_text(yaml.safe_dump(requirements))
    target = tmp_path / "semaphore-collections"
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", ANSIBLE_COLLECTIONS_PATH=str(target))
    try:
        result = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "-r",
                                 "collections/requirements.yml", "--force"], cwd=checkout, env=env,
                                capture_output=True, text=True, check=False)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "ansible_collections/octant/openclaw/MANIFEST.json").is_file()
    assert (checkout / "collections/ansible_collections/octant/openclaw").is_symlink()
    assert (checkout / "galaxy.yml").is_file()
