#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: onepassword_info
short_description: Read secrets from 1Password by op:// reference (task form of the lookup)
version_added: 0.1.0
author:
  - octant.openclaw contributors (@octant)
description:
  - Resolves 1Password secret references with the official SDK and a service account, all of them in one
    request, and returns their values in RV(secrets).
  - The task form of the P(octant.openclaw.onepassword#lookup) lookup, for references that come from an AWX or
    Semaphore survey and for resolving the secrets of a whole play once (C(run_once), C(register)).
  - Every reference is checked before anything is sent; errors name references, never a value or the token.
  - The module returns secret values, so the task B(must) set C(no_log=true). Without it the module fails
    before contacting 1Password, because the result would otherwise be shown at C(-v) and stored by AWX in its
    job events.
  - Run it where the SDK is installed, normally the controller (C(delegate_to=localhost)).
options:
  references:
    description:
      - What to resolve. A dictionary maps names of your choice to references
        (V(op://<vault>/<item>/<field>) or V(op://<vault>/<item>/<section>/<field>)); RV(secrets) then has the
        same names.
      - A list of references is accepted too; RV(secrets) is then keyed by reference.
    type: raw
    required: true
extends_documentation_fragment: [octant.openclaw.onepassword, ansible.builtin.action_common_attributes]
attributes:
  check_mode:
    support: full
    details: Read only; resolves the references in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - plugin: octant.openclaw.onepassword
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Resolve the gateway's secrets once for the play
  octant.openclaw.onepassword_info:
    references:
      discord_token: op://homelab/discord/token
      anthropic_key: op://homelab/anthropic/api/key
  delegate_to: localhost
  run_once: true
  no_log: true
  register: op

- name: Use them (copy hides its content argument)
  ansible.builtin.copy:
    content: "{{ op.secrets.discord_token }}"
    dest: /opt/homelab/data/discord.token
    mode: "0600"

- name: References from an AWX survey (a list), token from the OP_SERVICE_ACCOUNT_TOKEN credential
  octant.openclaw.onepassword_info:
    references: "{{ survey_references | split(',') }}"
  delegate_to: localhost
  no_log: true
  register: op
"""

RETURN = r"""
secrets:
  description:
    - The value of each reference, under the name it was given (or under the reference when O(references) is a
      list).
  returned: success
  type: dict
  sample:
    discord_token: "<secret>"
"""

from ansible_collections.octant.openclaw.plugins.module_utils._module import OpenClawModule  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._onepassword import ONEPASSWORD, run_info  # noqa: E402

OPTIONS = dict(references=dict(type="raw", required=True))


def main():
    OpenClawModule(OPTIONS, services=(ONEPASSWORD,)).run(run_info)


if __name__ == "__main__":
    main()
