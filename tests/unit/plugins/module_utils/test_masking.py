# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one masking rule: values that may be secrets are registered from 8 characters (Ansible masks by
substring, so "1" would blank every index); a value known to be a secret (a plaintext secret in the farm
model) is registered at any length; Consul's placeholders never are."""

from __future__ import annotations

from ansible_collections.octant.openclaw.plugins.module_utils._module import MIN_SECRET_LENGTH, Context, is_maskable


def test_short_values_are_registered_only_when_known_to_be_secrets():
    registered = set()
    context = Context(secrets=registered)
    context.hide("hunter2")
    context.hide("1")
    context.hide("hunter2-hunter2")
    context.hide("pw", known=True)
    assert registered == {"hunter2-hunter2", "pw"}


def test_placeholders_and_non_strings_are_never_registered():
    assert not is_maskable("anonymous", known=True)
    assert not is_maskable("<hidden>")
    assert not is_maskable("", known=True)
    assert not is_maskable(12345678)
    assert is_maskable("x" * MIN_SECRET_LENGTH)
    assert not is_maskable("x" * (MIN_SECRET_LENGTH - 1))
