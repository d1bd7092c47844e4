"""The one task the lab really runs: the gateway job's prestart `validate` task (`node dist/index.js config
validate --json` in ghcr.io/openclaw/openclaw:<version>), with the real OpenClaw CLI of that version when the lab
config `openclaw_images` maps the version to a launcher (scripts/openclaw-toolchain installs one per version).
Every other task, and this one for an image without a launcher, is simulated as before (it just runs).

The validator reads the config through the task's volumes, which are host paths on the node; on the lab the
nodes are this machine, so the host path is read in place. State is mounted read-only in the job, so the CLI gets
a throwaway HOME and state folder here. It runs in a thread (about 3 s) while the allocation stays pending; the
tick loop then starts the allocation, or fails it as a Nomad client does when a prestart task exits non-zero with
restart attempts 0: the task dead and failed ("Terminated" with the exit code, "Not Restarting"), its siblings
never started, the allocation failed and unhealthy (so the deployment fails and auto-reverts). The CLI's output
goes into the task's Terminated event (a real client keeps it in the task's log: `nomad alloc logs`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading

IMAGE = re.compile(r"^ghcr\.io/openclaw/openclaw:([0-9][0-9A-Za-z.+-]*)(@sha256:[0-9a-f]{64})?$")
VALIDATE_ARGS = ["dist/index.js", "config", "validate"]
TIMEOUT = 120


def validate_tasks(job, group_name):
    """[(task, version)] of the group's prestart tasks that run the image's config validator."""
    group = next((g for g in (job or {}).get("TaskGroups") or () if g["Name"] == group_name), None)
    found = []
    for task in (group or {}).get("Tasks") or ():
        config = task.get("Config") or {}
        match = IMAGE.match(str(config.get("image") or ""))
        hook = (task.get("Lifecycle") or {}).get("Hook")
        if match and hook == "prestart" and list(config.get("args") or [])[:3] == VALIDATE_ARGS:
            found.append((task, match.group(1)))
    return found


def host_path(task, container_path):
    """The node's path behind a container path, through the task's `host:container[:ro]` volumes."""
    for volume in (task.get("Config") or {}).get("volumes") or ():
        parts = str(volume).split(":")
        host, ctr = parts[0], parts[1] if len(parts) > 1 else ""
        if ctr and (container_path == ctr or container_path.startswith(ctr.rstrip("/") + "/")):
            return host + container_path[len(ctr.rstrip("/")):]
    return None


class Prestart:
    """Runs of the validate tasks, by allocation id: None while running, else {task: (exit code, output)}."""

    def __init__(self, lab):
        self.lab = lab
        self.runs = {}
        self.lock = threading.Lock()

    def verdict(self, job, alloc):
        """None while the validators run (or just started); {} when none applies; else {task: (code, output)}."""
        launchers = self.lab.config.get("openclaw_images") or {}
        tasks = [(t, launchers[v]) for t, v in validate_tasks(job, alloc["TaskGroup"]) if v in launchers]
        if not tasks:
            return {}
        with self.lock:
            if alloc["ID"] in self.runs:
                return self.runs[alloc["ID"]]
            self.runs[alloc["ID"]] = None
        threading.Thread(target=self._run_all, args=(alloc["ID"], tasks), daemon=True).start()
        return None

    def _run_all(self, alloc_id, tasks):
        results = {task["Name"]: self._run(task, launcher) for task, launcher in tasks}
        with self.lock:
            self.runs[alloc_id] = results
        with self.lab.cond:
            self.lab.notify()

    @staticmethod
    def _run(task, launcher):
        env_task = task.get("Env") or {}
        config = host_path(task, env_task.get("OPENCLAW_CONFIG_PATH", ""))
        if config is None:
            return 1, "lab: OPENCLAW_CONFIG_PATH is not inside any volume of the task\n"
        scratch = tempfile.mkdtemp(prefix="lab-validate-")
        try:
            for folder in ("home", "state", "tmp"):
                os.makedirs(os.path.join(scratch, folder))
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                   "HOME": os.path.join(scratch, "home"), "OPENCLAW_STATE_DIR": os.path.join(scratch, "state"),
                   "OPENCLAW_CONFIG_PATH": config, "TMPDIR": os.path.join(scratch, "tmp"),
                   "OPENCLAW_NO_RESPAWN": "1"}
            try:
                result = subprocess.run([launcher, *task["Config"]["args"][1:]], env=env, capture_output=True,
                                        text=True, timeout=TIMEOUT, check=False, cwd=scratch)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return 1, f"lab: the validator did not run: {exc}\n"
            return result.returncode, result.stdout + result.stderr
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
