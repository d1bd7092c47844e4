# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: SIGKILL ansible-playbook (and its forks) at a named point of a run, so that a test
can interrupt a playbook at the same place every time.

OCTANT_KILL_AT says where, one of
  play:<play name>          when the play starts
  task:<task name>          when the task starts (before it runs on any host)
  item:<task name>:<n>      after the n-th loop item of the task has finished (on any host)
OCTANT_KILL_MARKER names a file written (and synced) just before the kill, so the test can tell a run killed
there from one that failed or died elsewhere. The whole process group is killed when ansible-playbook leads
it (start it with start_new_session=True), so no worker goes on writing after the kill."""

from __future__ import annotations

import os
import signal

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: octant_kill_at
type: aggregate
short_description: SIGKILL the run at a named play, task or loop item (tests only)
description:
  - Reads E(OCTANT_KILL_AT) and E(OCTANT_KILL_MARKER); see the module docstring.
requirements:
  - enabled in callbacks_enabled
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "octant_kill_at"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        kind, _sep, rest = os.environ.get("OCTANT_KILL_AT", "").partition(":")
        self.kind = kind
        self.count = 0
        if kind == "item":
            self.name, _sep, count = rest.rpartition(":")
            self.after = int(count)
        else:
            self.name = rest

    def _kill(self, where):
        marker = os.environ.get("OCTANT_KILL_MARKER")
        if marker:
            with open(marker, "w", encoding="utf-8") as handle:
                handle.write(where + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    def v2_playbook_on_play_start(self, play):
        if self.kind == "play" and play.get_name().strip() == self.name:
            self._kill(f"play:{self.name}")

    def _named(self, task):
        # role tasks are named "<role> : <task name>"
        name = task.get_name().strip()
        return name == self.name or name.endswith(f" : {self.name}")

    def v2_playbook_on_task_start(self, task, is_conditional):
        if self.kind == "task" and self._named(task):
            self._kill(f"task:{self.name}")

    def v2_runner_item_on_ok(self, result):
        self._item(result)

    def v2_runner_item_on_skipped(self, result):
        self._item(result)

    def _item(self, result):
        if self.kind != "item" or not self._named(result._task):
            return
        self.count += 1
        if self.count >= self.after:
            self._kill(f"item:{self.name}:{self.count}")
