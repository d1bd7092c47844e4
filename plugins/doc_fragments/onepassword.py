# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Options shared by the onepassword lookup and the onepassword_info module
    # (module_utils/_connection.py ONEPASSWORD_OPTIONS).
    DOCUMENTATION = r"""
options:
  service_account_token:
    description:
      - 1Password service account token (V(ops_...)). Falls back to E(OP_SERVICE_ACCOUNT_TOKEN).
      - A token given here always wins over the environment.
      - The token never appears in output or error messages; clients are cached under its hash.
    type: str
  integration_name:
    description:
      - Name this integration reports to 1Password (shown in the service account's activity log).
    type: str
    default: octant.openclaw
  integration_version:
    description:
      - Version this integration reports to 1Password.
    type: str
    default: 0.1.0
requirements:
  - onepassword-sdk (the official 1Password Python SDK) on the controller
"""

    # Plugin-only part: where lookups read the options from.
    PLUGINS = r"""
options:
  service_account_token:
    env:
      - name: OP_SERVICE_ACCOUNT_TOKEN
"""
