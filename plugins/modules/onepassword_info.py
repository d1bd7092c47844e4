#!/usr/bin/python
# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: onepassword_info
author:
  - octant.openclaw contributors (@octant)
short_description: Read secrets from 1Password by op:// reference (task form of the lookup)
version_added: 0.1.0
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
extends_documentation_fragment:
  - octant.openclaw.onepassword
  - ansible.builtin.action_common_attributes
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._connection import (  # noqa: E402
    ONEPASSWORD_OPTIONS,
    argument_spec,
)
from ansible_collections.octant.openclaw.plugins.module_utils._onepassword import (  # noqa: E402
    ONEPASSWORD_IMPORT_ERROR,
    OnePasswordError,
    resolve_references,
)

NEEDS_NO_LOG = ("onepassword_info returns secret values: set 'no_log: true' on this task so they never reach "
                "the output or AWX job events (use the registered result as usual)")


def named_references(references):
    """(name, reference) pairs from a dict of name -> reference or a list of references."""
    if isinstance(references, dict):
        pairs = list(references.items())
    elif isinstance(references, list):
        pairs = [(ref, ref) for ref in references]
    else:
        raise ValueError(f"references must be a dict of name -> op:// reference or a list, "
                         f"got {type(references).__name__}")
    for name, _ref in pairs:
        if not isinstance(name, str):
            raise ValueError(f"every name and reference must be a string, got {name!r}")
    return pairs


def main():
    module = AnsibleModule(
        argument_spec=dict(references=dict(type="raw", required=True), **argument_spec(ONEPASSWORD_OPTIONS)),
        supports_check_mode=True,
    )
    if ONEPASSWORD_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("onepassword-sdk"), exception=ONEPASSWORD_IMPORT_ERROR)
    try:
        pairs = named_references(module.params["references"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if not module.no_log:
        module.fail_json(msg=NEEDS_NO_LOG)

    options = {option.name: module.params[option.name] for option in ONEPASSWORD_OPTIONS}
    try:
        values = resolve_references([ref for _name, ref in pairs], **options)
    except OnePasswordError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, secrets={name: values[index] for index, (name, _ref) in enumerate(pairs)})


if __name__ == "__main__":
    main()
