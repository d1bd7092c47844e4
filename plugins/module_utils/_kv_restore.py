# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which keys of a backed-up openclaw/ KV tree go back into Consul (playbooks/restore.yml).

Nothing that exists now is overwritten. A key that is gone is created again (check-and-set 0), except:
- a bus message (bus/<recipient>/in/<sender>/<seq>) its recipient already processed: at or below the
  recipient's current high-water mark for that sender, or with a messageId the mark remembers (the mark now, or
  the backed-up one when there is none now, which is then restored too);
- the registry's gateway keys (registry/gateways/), held by the live bus processes' sessions;
- this collection's own bookkeeping (backup/)."""

from __future__ import annotations

import json
import re

from ansible_collections.octant.openclaw.plugins.module_utils._consul_kv import display
from ansible_collections.octant.openclaw.plugins.module_utils._errors import InputError

MESSAGE_RE = re.compile(r"bus/([^/]+)/in/([^/]+)/(\d+)")
SKIP_PREFIXES = ("registry/gateways/", "backup/")


def _mark(text):
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    seq = data.get("seq") if isinstance(data.get("seq"), int) else 0
    ids = {i for i in data.get("ids") or [] if isinstance(i, str)} if isinstance(data.get("ids"), list) else set()
    return seq, ids


def _message_id(text):
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    return data.get("messageId") if isinstance(data, dict) else None


def plan(export, current):
    """(writes {relative key: value}, delivered [relative keys], skipped [relative keys]) for trees of
    relative key -> text value (export: the backup; current: Consul now)."""
    writes, delivered, skipped = {}, [], []
    for key in sorted(export):
        if key in current:
            continue
        if key.startswith(SKIP_PREFIXES):
            skipped.append(key)
            continue
        match = MESSAGE_RE.fullmatch(key)
        if match:
            recipient, sender, seq = match.group(1), match.group(2), int(match.group(3))
            hwm = f"bus/{recipient}/hwm/{sender}"
            mark_seq, mark_ids = _mark(current.get(hwm, export.get(hwm)))
            if seq <= mark_seq or _message_id(export[key]) in mark_ids:
                delivered.append(key)
                continue
        writes[key] = export[key]
    return writes, delivered, skipped


def run_restore(api, params, ctx):
    """consul_kv_restore: create again (check-and-set 0) the keys plan() selects."""
    export = params["export"]
    prefix = export.get("prefix")
    tree = export.get("tree")
    if prefix != "openclaw/" or not isinstance(tree, dict):
        raise InputError("export: not an export of playbooks/backup.yml (expected {prefix: openclaw/, tree: {...}})")
    current = {entry["Key"][len(prefix):]: display(entry["Value"]) for entry in api.kv_get_tree(prefix)}
    writes, delivered, skipped = plan({str(k): str(v) for k, v in tree.items()}, current)
    restored = []
    for key, value in writes.items():
        if ctx.check_mode or api.kv_put(prefix + key, value.encode("utf-8"), cas=0):
            restored.append(key)
    return {"changed": bool(restored), "restored": restored, "delivered": delivered, "skipped": skipped}
