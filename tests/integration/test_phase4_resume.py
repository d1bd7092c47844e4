# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An interrupted phase 4 resumes: ansible-playbook is SIGKILLed (with its forks) at each stage of the roll-out,
run again, and the farm ends in the same state as after an uninterrupted run, byte for byte: every file under
the lab hosts' data roots, the registry and the rest of Consul KV, the Nomad jobs (with their versions: nothing
was deployed twice), the Nomad variables and the ACL policies and tokens (names and rules; token secrets are
random). Nothing is lost and nothing is moved twice: one folder of set-aside sources, each moved path in it once.

The kill comes from a test-only callback (callback_plugins/octant_kill_at.py) at a named task, loop item or play,
so each stage is hit at the same place every time. Every stage starts from the same phase 2 farm (the one
test_phase4.py builds), built once per session with the uninterrupted run (phase2_build, shared by the xdist
workers): its data root and the simulator's saved state (`--state`, the lab's Raft snapshot) are put back before
each run, at the module's own path and ports, so every run starts from identical bytes.
Slow: each stage runs phase 4 twice; the stages are split over two files (see EARLY)."""

from __future__ import annotations

import base64
import hashlib
import os
import pickle
import re
import shutil
import signal
from pathlib import Path

import pytest
from filelock import FileLock

from tests.integration.test_phase4 import Phase4Farm, running_farm, tree
from tests.integration.test_phase_playbooks import ACL, OP_TOKEN, SECRETS
from tools.testsupport.labclient import live_mode

pytestmark = [pytest.mark.skipif(live_mode(), reason="moves data on the lab's hosts only"), pytest.mark.slow]

CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"
STAMP = re.compile(rb"\d{8}T\d{6}Z")
BACKUP = re.compile(r"\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$")  # ansible's backup=true: <file>.<pid>.<time>~

# Where each run is killed, in the order the roll-out reaches them.
STAGES = {
    # main has been restarted with its smaller roster; nothing copied yet
    "after the source gateway restarts": "task:Controller folder for the archives",
    # archives made and on the controller, the destination folders made, the record not written
    "before the record": "task:Record the moves before unpacking (a re-run after an interruption unpacks them again)",
    # one move unpacked on its destination, the others not (or only in part)
    "mid-copy": "item:Unpack on the destination node:1",
    # everything unpacked, nothing verified or set aside
    "after unpack": "task:Verify that every path arrived",
    # relocate finished (sources set aside); the registry still has the old placement
    "before phase 2 runs": "play:Phase 2 - validate the farm model and the cluster before any change",
}
VOLATILE = re.compile(r"(Index|Time|CreateTime|ModifyTime|SubmitTime|Hash|AccessorID|SecretID|ID)$")


def scrub(value, farm):
    """A JSON value with what differs between two equal farms removed: Raft indexes, times, random ids, the
    test's own folder and the lab's ports."""
    if isinstance(value, dict):
        return {k: scrub(v, farm) for k, v in value.items() if not VOLATILE.search(k)}
    if isinstance(value, list):
        return [scrub(v, farm) for v in value]
    if isinstance(value, str):
        value = value.replace(str(farm.base), "<base>")
        for port in (farm.lab.consul_port, farm.lab.nomad_port):
            value = value.replace(f":{port}", ":<port>")
        return STAMP.sub(b"<time>", value.encode()).decode()
    return value


def state(farm):
    """Everything phase 4 leaves behind, comparable across farms."""
    files = {}
    for path in sorted(farm.data.rglob("*")):
        if path.is_file():
            content = path.read_bytes().replace(str(farm.base).encode(), b"<base>")
            name = BACKUP.sub(".<backup>~", STAMP.sub(b"<time>", str(path.relative_to(farm.data)).encode()).decode())
            while name in files:  # two backups of one file stay two entries
                name += "+"
            files[name] = (oct(path.stat().st_mode & 0o777), hashlib.sha256(STAMP.sub(b"<time>", content)).hexdigest())
    kv = {}
    for entry in farm.consul.get("/v1/kv/?recurse=true").json() or []:
        raw = base64.b64decode(entry["Value"] or "")
        kv[entry["Key"]] = scrub(raw.decode(errors="replace"), farm)
    jobs = {}
    for stub in farm.nomad.get("/v1/jobs").json():
        job = farm.nomad.get(f"/v1/job/{stub['ID']}").json()
        jobs[stub["ID"]] = scrub(job, farm) | {"Version": job["Version"], "Stop": job["Stop"]}
    variables = {}
    for stub in farm.nomad.get("/v1/vars").json():
        variable = farm.nomad.get(f"/v1/var/{stub['Path']}").json()
        variables[stub["Path"]] = sorted(variable["Items"])
    policies = {p["Name"]: farm.consul.get(f"/v1/acl/policy/{p['ID']}").json()["Rules"]
                for p in farm.consul.get("/v1/acl/policies").json()}
    tokens = sorted((t["Description"], tuple(sorted(p["Name"] for p in t.get("Policies") or [])))
                    for t in farm.consul.get("/v1/acl/tokens").json())
    return {"files": files, "kv": kv, "jobs": jobs, "variables": variables, "policies": policies, "tokens": tokens}


def diff(left, right, path=""):
    """The first differences between two states, readable in an assertion message."""
    if isinstance(left, dict) and isinstance(right, dict):
        out = []
        for key in sorted(set(left) | set(right), key=str):
            if key not in left or key not in right:
                out.append(f"{path}/{key}: only in {'the uninterrupted run' if key in left else 'the resumed run'}")
            else:
                out += diff(left[key], right[key], f"{path}/{key}")
        return out
    return [] if left == right else [f"{path}: {str(left)[:300]} != {str(right)[:300]}"]


def build(folder):
    """Phase 2 on a farm of its own, its data root and simulator state saved, then phase 4 uninterrupted on it:
    saved under folder for every module (of every xdist worker) to restore."""
    shutil.rmtree(folder, ignore_errors=True)
    base = folder / "farm"
    base.mkdir(parents=True)
    farm = Phase4Farm(base, ACL, OP_TOKEN, SECRETS)
    state_file = base / "lab-state.json"
    farm.lab.args += ["--state", str(state_file)]
    farm.start()
    try:
        before = running_farm(farm)
    finally:
        farm.lab.stop()  # saves the state file
    shutil.copytree(farm.data, folder / "phase2-data", symlinks=True)
    shutil.copy2(state_file, folder / "phase2-lab-state.json")
    farm.start()  # the same farm again, from the saved state
    try:
        farm.phase4()
        expected = state(farm)
    finally:
        farm.lab.stop()
        farm.print_runs("phase 4 uninterrupted")
    ports = [farm.lab.consul_port, farm.lab.nomad_port, farm.lab.admin_port]
    result = {"base": str(base), "ports": ports, "before": before, "expected": expected}
    (folder / "result.pickle.tmp").write_bytes(pickle.dumps(result))
    (folder / "result.pickle.tmp").replace(folder / BUILT)  # last: its presence means the build is complete


BUILT = "result.pickle"


@pytest.fixture(scope="session")
def phase2_build(tmp_path_factory):
    """The folder of the one build of the session: the first xdist worker to need it builds it, under a lock,
    in the folder the workers share (pytest-xdist's "session-scoped fixtures execute only once")."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "phase4-resume-build"
    with FileLock(root / "phase4-resume-build.lock"):
        if not (folder / BUILT).exists():
            build(folder)
    return folder


class Phase2Snapshot:
    """The shared build's phase 2 farm, put back before each run: the data root and the simulator's state file
    are restored and the simulator restarted on the same ports. Each module has its own copy, own ports and
    own simulator: the copy has the build's folder rewritten to its own (data root paths in facts, configs and
    job volumes); the simulator's state holds no address of the lab (checked)."""

    def __init__(self, tmp_path_factory, folder):
        built = pickle.loads((folder / BUILT).read_bytes())  # noqa: S301 (the session's own file)
        self.before, self.expected = built["before"], built["expected"]
        base = tmp_path_factory.mktemp("resume")
        self.farm = Phase4Farm(base, ACL, OP_TOKEN, SECRETS)
        self.state_file = base / "lab-state.json"
        self.farm.lab.args += ["--state", str(self.state_file)]
        self.saved_data, self.saved_state = base / "phase2-data", base / "phase2-lab-state.json"
        shutil.copytree(folder / "phase2-data", self.saved_data, symlinks=True)
        shutil.copy2(folder / "phase2-lab-state.json", self.saved_state)
        old, new = built["base"].encode(), str(base).encode()
        for path in [self.saved_state, *self.saved_data.rglob("*")]:
            if path.is_file() and not path.is_symlink():
                content = path.read_bytes()
                assert not re.search(rb":(%s)\b" % b"|".join(b"%d" % p for p in built["ports"]), content), \
                    f"{path} holds a port of the build's simulator: relocate it too"
                if old in content:
                    path.write_bytes(content.replace(old, new))

    def fresh(self):
        """The phase 2 farm again, running (the previous run's simulator stopped first: same ports)."""
        self.farm.lab.stop()
        shutil.rmtree(self.farm.data, ignore_errors=True)
        shutil.rmtree(self.farm.stash, ignore_errors=True)
        (self.farm.base / "killed-at").unlink(missing_ok=True)
        shutil.copytree(self.saved_data, self.farm.data, symlinks=True)
        shutil.copy2(self.saved_state, self.state_file)
        self.farm.start()
        return self.farm, self.before


@pytest.fixture(scope="module")
def phase2(tmp_path_factory, phase2_build):
    snapshot = Phase2Snapshot(tmp_path_factory, phase2_build)
    yield snapshot
    snapshot.farm.lab.stop()


@pytest.fixture(scope="module")
def uninterrupted(phase2):
    """The state phase 4 leaves when nothing interrupts it (the shared build's run), and the trees of what moves."""
    return phase2.expected, phase2.before


# The stages are split between this file and test_phase4_resume_late.py so that pytest-xdist (--dist loadfile)
# runs the two halves on two workers, each on its own farm restored from the one shared build.
EARLY = list(STAGES)[:3]


@pytest.mark.parametrize("stage", EARLY)
def test_an_interrupted_phase4_resumes_to_the_same_farm(phase2, uninterrupted, stage):
    resume_and_compare(phase2, uninterrupted, stage)


def resume_and_compare(phase2, uninterrupted, stage):
    expected, _ = uninterrupted
    farm, before = phase2.fresh()
    try:
        marker = farm.base / "killed-at"
        killed = farm.phase4(check=False, env={
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS), "ANSIBLE_CALLBACKS_ENABLED": "octant_kill_at",
            "OCTANT_KILL_AT": STAGES[stage], "OCTANT_KILL_MARKER": str(marker)})
        assert killed.result.returncode == -signal.SIGKILL, killed.output[-4000:]
        assert marker.read_text().strip().startswith(STAGES[stage]), marker.read_text()

        farm.phase4()
        main, bobby, billy = (farm.gateway_dir(gw) for gw in ("main", "bobby", "billy"))
        # nothing lost, nothing moved twice: the sources set aside once, in one folder; every byte arrived
        (aside,) = list((main / "relocated").iterdir())
        moved = {"workspaces/bobby": "bobby", "workspaces/billy": "billy", "state/agents/bobby": "bobby-state",
                 "state/agents/billy": "billy-state", "state/credentials/whatsapp/default": "whatsapp"}
        assert tree(aside) == {f"{path}/{name}": digest for path, key in moved.items()
                               for name, digest in before[key].items()}
        assert tree(bobby / "state" / "agents" / "bobby") == before["bobby-state"]
        assert tree(billy / "state" / "agents" / "billy") == before["billy-state"]
        assert tree(bobby / "state" / "credentials" / "whatsapp" / "default") == before["whatsapp"]
        assert not list(farm.data.rglob("relocate-*.tgz*")), "an archive was left on a node"
        assert not farm.stash.exists(), "the archives were left on the controller"
        # and the same farm as an uninterrupted run
        found = state(farm)
        assert found == expected, "\n".join(diff(expected, found)[:30])
    finally:
        farm.lab.stop()
        farm.print_runs(f"phase 4 killed {stage}, then run again")
