# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Connection options shared by every Nomad module (module_utils/_connection.py) and the libraries they need.
    DOCUMENTATION = r"""
requirements:
  - python-nomad >= 2.0
  - requests
options:
  nomad_address:
    description:
      - Address of the Nomad HTTP API, for example V(https://nomad.service.consul:4646).
      - Falls back to E(NOMAD_ADDR), then V(http://127.0.0.1:4646).
    type: str
    default: http://127.0.0.1:4646
  nomad_token:
    description:
      - Nomad ACL token (secret ID). Falls back to E(NOMAD_TOKEN).
      - A token given here always wins over the environment.
    type: str
  nomad_namespace:
    description:
      - Nomad namespace. Falls back to E(NOMAD_NAMESPACE); Nomad's default is V(default).
    type: str
  nomad_region:
    description:
      - Nomad region. Falls back to E(NOMAD_REGION); Nomad's default is the agent's region.
    type: str
  nomad_ca_file:
    description:
      - CA certificate file to verify Nomad's TLS certificate. Falls back to E(NOMAD_CACERT).
    type: path
  nomad_client_cert:
    description:
      - Client certificate for mutual TLS. Falls back to E(NOMAD_CLIENT_CERT).
    type: path
  nomad_client_key:
    description:
      - Client key for mutual TLS. Falls back to E(NOMAD_CLIENT_KEY).
    type: path
  nomad_validate_certs:
    description:
      - Verify Nomad's TLS certificate. Turn off only for a lab.
    type: bool
    default: true
  nomad_timeout:
    description:
      - Seconds to wait for one HTTP response (blocking queries add their wait to this).
    type: int
    default: 30
"""

    # The module_defaults group of the Nomad modules (meta/runtime.yml).
    ACTIONGROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/octant.openclaw.nomad) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - octant.openclaw.nomad
"""
