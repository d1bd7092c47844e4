# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: onepassword
author:
  - octant.openclaw contributors (@octant)
short_description: Read secrets from 1Password by op:// reference, all terms in one SDK call
version_added: 0.1.0
description:
  - Returns the values of 1Password secret references, in the order of the terms.
  - Uses the official 1Password SDK with a service account, not the C(op) CLI; nothing is spawned per secret,
    and it works wherever the SDK is installed (AWX and Semaphore execution environments included).
  - All the terms of one call are sent in one request (C(secrets.resolve_all)). The client is authenticated
    once per process and token, and values are cached for the life of the process.
  - Every reference is checked before anything is sent; an invalid one fails the lookup with the reference
    and the reason. Errors name references, never a value or the token.
options:
  _terms:
    description:
      - Secret references, V(op://<vault>/<item>/<field>) or V(op://<vault>/<item>/<section>/<field>),
        optionally with a query such as V(?attribute=totp). Lists are flattened.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - octant.openclaw.onepassword
  - octant.openclaw.onepassword.plugins
notes:
  - Lookups run in the worker process of each task, so the per-process cache and client last for one task.
    Resolve what a play needs once (one lookup with many terms in a C(no_log) C(set_fact), or
    M(octant.openclaw.onepassword_info) with C(run_once)) instead of one lookup per task.
  - A lookup in C(vars) is evaluated every time the variable is used; the cache spares repeated calls
    within a task, not across tasks.
  - Returned values are marked unsafe, so a value that looks like a template (V({{ ... }})) is never rendered.
  - Values are never displayed by this plugin; a task that shows its arguments or results (for example
    M(ansible.builtin.debug) or M(ansible.builtin.set_fact) at C(-v)) still needs C(no_log=true).
  - One-time passwords (V(?attribute=totp)) are never cached.
seealso:
  - module: octant.openclaw.onepassword_info
  - name: 1Password secret reference syntax
    description: How op:// references name a vault, an item, a section and a field.
    link: https://developer.1password.com/docs/cli/secret-reference-syntax/
"""

EXAMPLES = r"""
- name: Two secrets, one request to 1Password (token from OP_SERVICE_ACCOUNT_TOKEN)
  ansible.builtin.set_fact:
    discord_token: "{{ secrets[0] }}"
    anthropic_key: "{{ secrets[1] }}"
  vars:
    secrets: "{{ query('octant.openclaw.onepassword', 'op://homelab/discord/token',
                       'op://homelab/anthropic/api/key') }}"
  no_log: true

- name: A field inside a section, with an explicit token, straight into a Nomad Variable
  octant.openclaw.nomad_variable:
    path: nomad/jobs/litellm
    purge_items: false
    items:
      LITELLM_MASTER_KEY: "{{ lookup('octant.openclaw.onepassword', 'op://homelab/litellm/proxy/master key',
                                     service_account_token=op_token) }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description:
    - The values of the references, in the order of the terms (use C(query) or C(wantlist=true) for a list).
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError  # noqa: E402
from ansible.module_utils.common.collections import is_sequence  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402
from ansible.utils.display import Display  # noqa: E402
from ansible.utils.unsafe_proxy import wrap_var  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._connection import ONEPASSWORD_OPTIONS  # noqa: E402
from ansible_collections.octant.openclaw.plugins.module_utils._onepassword import (  # noqa: E402
    OnePasswordError,
    resolve_references,
)

display = Display()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        options = {option.name: self.get_option(option.name) for option in ONEPASSWORD_OPTIONS}
        references = _flatten(terms)
        try:
            values = resolve_references(references, log=display.vvv, **options)
        except OnePasswordError as exc:
            # `from None`: the SDK's exception must not ride along as the displayed cause.
            raise AnsibleLookupError(str(exc)) from None
        # Unsafe: a value that looks like a template is data, never rendered (ansible-core < 2.19;
        # 2.19 and later already treat lookup results as untrusted).
        return [wrap_var(value) for value in values]


def _flatten(terms):
    flat = []
    for term in terms:
        if is_sequence(term):
            flat.extend(_flatten(term))
        else:
            flat.append(term)
    return flat
