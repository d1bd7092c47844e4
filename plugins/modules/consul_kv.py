#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_kv
short_description: Manage one Consul KV key or a whole tree of keys under a prefix
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - B(Key mode) (O(key)) sets, deletes, locks or unlocks one key. The key is read once; nothing is
    written when it already holds the value (and flags). Writes are guarded with check-and-set on
    the ModifyIndex that was read, so a concurrent change fails the task instead of being
    overwritten.
  - B(Tree mode) (O(prefix) with O(tree)) makes the keys under a prefix match a dictionary. The
    prefix is read with B(one) recursive GET; the keys to create, update and (with
    O(delete_unlisted)) delete are written with as few C(/v1/txn) transactions as the operation limit
    O(txn_max_ops) allows. A tree with no difference costs one read and no write.
  - Every transaction is all-or-nothing and guarded (create-only for new keys, check-and-set on the
    ModifyIndex read for changed keys, delete-cas for removed keys). When a later transaction
    fails, the task fails and says exactly which keys the earlier transactions applied
    (RV(applied)), which were not applied (RV(not_applied)) and which are uncertain (RV(uncertain),
    only when Consul gave no answer).
  - Consul KV holds configuration, never secrets, in this collection; values are shown in the diff
    and the return values. Set C(no_log) on the task to hide them.
extends_documentation_fragment: [octant.openclaw.attributes, octant.openclaw.consul,
                                 octant.openclaw.consul.actiongroup]
attributes:
  check_mode:
    support: full
    details: Reads only; reports what would change and the number of transactions it would take.
  diff_mode:
    support: full
    details: Shows the keys added, changed and removed with their values (only when something changes).
options:
  key:
    description:
      - The key to manage (key mode). Mutually exclusive with O(prefix).
    type: str
  value:
    description:
      - The value of O(key). Required with O(state=present) in key mode.
      - A string is stored as UTF-8; a dictionary or list is stored as compact JSON with sorted keys
        (and an existing value that is equal JSON counts as unchanged); V(true)/V(false) are stored
        as C(true)/C(false); numbers as their text.
      - With O(state=acquire) or O(state=release) the value is stored together with the lock change
        (Consul stores the request body on both); when omitted, the current value is kept.
    type: raw
  flags:
    description:
      - Opaque 64-bit flags stored with the key (key mode) or with every listed key (tree mode).
      - When omitted, existing flags are kept and new keys get V(0).
    type: int
  cas:
    description:
      - Key mode only. Write or delete only if the key's ModifyIndex equals this; V(0) writes only a
        missing key. A mismatch fails the task.
      - Without it the module still guards its write with the ModifyIndex it read.
    type: int
  session:
    description:
      - Session ID holding the lock for O(state=acquire) and O(state=release) (see M(octant.openclaw.consul_session)).
    type: str
  prefix:
    description:
      - The prefix of the tree to manage (tree mode), for example V(openclaw/agents). A trailing
        C(/) is added when missing. Keys and the prefix use the characters C([A-Za-z0-9_./-]), with
        no leading C(/), no C(//) and no C(..) segment.
    type: str
  tree:
    description:
      - The desired keys under O(prefix), as a dictionary of key (relative to the prefix, may contain
        C(/)) to value. Values are encoded as described for O(value).
      - Keys under the prefix that are not listed are left alone unless O(delete_unlisted=true).
    type: dict
  delete_unlisted:
    description:
      - Tree mode. Delete the keys under O(prefix) that O(tree) does not list (the prefix's own folder
        entry C(prefix/) is kept).
    type: bool
    default: false
  txn_max_ops:
    description:
      - Tree mode. Operations per transaction. Consul accepts at most 64 before version 1.14 and 128
        from 1.14; the default works on both.
      - Transactions are also kept under Consul's 512 KiB request limit, so very large values can
        take more transactions than the operation count alone needs.
    type: int
    default: 64
  state:
    description:
      - V(present) sets the key (or the listed keys of the tree).
      - V(absent) deletes the key; in tree mode, the listed keys of O(tree), or every key under
        O(prefix) when O(tree) is omitted.
      - V(acquire) takes the lock of the key for O(session) (creating the key when missing); it
        fails when another session holds it. Unchanged when O(session) already holds it with the
        same value.
      - V(release) releases the lock O(session) holds; unchanged when the key is not locked; fails
        when another session holds it.
    type: str
    choices: [present, absent, acquire, release]
    default: present
seealso:
  - module: octant.openclaw.consul_session
  - name: Consul KV store API
    description: The HTTP API this module calls.
    link: https://developer.hashicorp.com/consul/api-docs/kv
  - name: Consul transactions API
    description: How the tree is written.
    link: https://developer.hashicorp.com/consul/api-docs/txn
"""

EXAMPLES = r"""
- name: Connection settings once for every Consul module of a block (AWX passes the token as CONSUL_HTTP_TOKEN)
  module_defaults:
    group/octant.openclaw.consul:
      consul_address: "{{ openclaw_consul_address }}"
      consul_datacenter: "{{ openclaw_consul_datacenter }}"
  delegate_to: localhost
  run_once: true
  block:
    - name: Bus settings
      octant.openclaw.consul_kv:
        prefix: openclaw/bus/settings
        tree:
          ttl_seconds: 3600
          max_attempts: 5

- name: One key
  octant.openclaw.consul_kv:
    key: openclaw/bus/settings/ttl_seconds
    value: "3600"
  delegate_to: localhost
  run_once: true

- name: The registry tree of the farm; remove agents that are no longer in the model
  octant.openclaw.consul_kv:
    prefix: openclaw/registry/agents
    tree:
      jerry/gateway: jerry
      jerry/capabilities: [chat, slack, discord]   # stored as JSON
      bobby/gateway: bobby
      bobby/capabilities: [monitoring]
    delete_unlisted: true
    txn_max_ops: 128   # Consul >= 1.14
  delegate_to: localhost
  run_once: true

- name: Delete everything under a prefix (guarded, in transactions)
  octant.openclaw.consul_kv:
    prefix: openclaw/tmp
    state: absent

- name: Take a lock with a session
  octant.openclaw.consul_kv:
    key: openclaw/locks/deploy
    session: "{{ deploy_session.session.ID }}"
    state: acquire

- name: Release it
  octant.openclaw.consul_kv:
    key: openclaw/locks/deploy
    session: "{{ deploy_session.session.ID }}"
    state: release
"""

RETURN = r"""
key:
  description: The key (key mode).
  returned: key mode
  type: str
  sample: openclaw/bus/settings/ttl_seconds
operation:
  description: What was (or in check mode would be) done to the key.
  returned: key mode
  type: str
  sample: update
  choices: [none, create, update, delete, acquire, release]
value:
  description: The key's value after the task (C(null) when it does not exist).
  returned: key mode
  type: str
  sample: "3600"
flags:
  description: The key's flags after the task.
  returned: key mode
  type: int
  sample: 0
session:
  description: The session holding the key's lock after the task, or C(null).
  returned: key mode
  type: str
  sample: null
prefix:
  description: The normalised prefix (with a trailing C(/)).
  returned: tree mode
  type: str
  sample: openclaw/registry/agents/
created:
  description: Keys (relative to the prefix) that were (or would be) created.
  returned: tree mode
  type: list
  elements: str
  sample: [billy/gateway]
updated:
  description: Keys (relative to the prefix) whose value or flags were (or would be) changed.
  returned: tree mode
  type: list
  elements: str
  sample: [jerry/capabilities]
deleted:
  description: Keys (relative to the prefix) that were (or would be) deleted.
  returned: tree mode
  type: list
  elements: str
  sample: [old-agent/gateway]
counts:
  description: How many keys were created, updated, deleted and already right, and how many transactions it took.
  returned: tree mode
  type: dict
  sample: {created: 1, updated: 1, deleted: 1, unchanged: 198, transactions: 1}
  contains:
    created:
      description: Keys created.
      type: int
      returned: always
    updated:
      description: Keys updated.
      type: int
      returned: always
    deleted:
      description: Keys deleted.
      type: int
      returned: always
    unchanged:
      description: Listed keys that already had the desired value.
      type: int
      returned: always
    transactions:
      description: Transactions used (in check mode, that would be used).
      type: int
      returned: always
failed_transaction:
  description: The number (from 1) of the transaction that failed.
  returned: when a tree write failed part-way
  type: int
  sample: 2
transactions:
  description: The number of transactions the write was split into.
  returned: when a tree write failed part-way
  type: int
  sample: 4
applied:
  description: Keys applied by the transactions before the one that failed, by kind.
  returned: when a tree write failed part-way
  type: dict
  sample: {created: [a, b], updated: [], deleted: []}
not_applied:
  description: Keys whose change was not applied (the failed transaction was rolled back, later ones never ran).
  returned: when a tree write failed part-way
  type: list
  elements: str
uncertain:
  description: Keys of the failed transaction when Consul gave no usable answer, so it may or may not have committed.
  returned: when a tree write failed part-way
  type: list
  elements: str
"""

from ansible_collections.octant.openclaw.plugins.module_utils._consul import CONSUL, ConsulApi  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._consul_kv import run_kv  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402

OPTIONS = dict(
    key=dict(type="str", no_log=False),
    value=dict(type="raw"),
    flags=dict(type="int"),
    cas=dict(type="int"),
    session=dict(type="str"),
    prefix=dict(type="str"),
    tree=dict(type="dict"),
    delete_unlisted=dict(type="bool", default=False),
    txn_max_ops=dict(type="int", default=64),
    state=dict(type="str", default="present", choices=["present", "absent", "acquire", "release"]),
)


def main():
    module = OpenClawModule(
        OPTIONS, services=(CONSUL,), required_one_of=[("key", "prefix")],
        mutually_exclusive=[("key", "prefix"), ("key", "tree"), ("value", "tree"), ("prefix", "cas"),
                            ("prefix", "session")],
        required_if=[("state", "acquire", ("key", "session")), ("state", "release", ("key", "session"))])
    module.run(run_kv, ConsulApi(module.params))


if __name__ == "__main__":
    main()
