# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Connection options shared by every Consul module (module_utils/_connection.py).
    DOCUMENTATION = r"""
requirements:
  - requests
  - python-consul2 or py-consul (exactly one; both install the C(consul) package)
options:
  consul_address:
    description:
      - Address of the Consul HTTP API, for example V(https://consul.service.consul:8501).
      - Falls back to E(CONSUL_HTTP_ADDR) (V(host:port) means V(http://host:port)), then V(http://127.0.0.1:8500).
    type: str
    default: http://127.0.0.1:8500
  consul_token:
    description:
      - Consul ACL token (secret ID). Falls back to E(CONSUL_HTTP_TOKEN).
      - A token given here always wins over the environment.
    type: str
  consul_datacenter:
    description:
      - Consul datacenter. Falls back to E(CONSUL_DATACENTER); Consul's default is the agent's.
    type: str
  consul_ca_file:
    description:
      - CA certificate file to verify Consul's TLS certificate. Falls back to E(CONSUL_CACERT).
    type: path
  consul_client_cert:
    description:
      - Client certificate for mutual TLS. Falls back to E(CONSUL_CLIENT_CERT).
    type: path
  consul_client_key:
    description:
      - Client key for mutual TLS. Falls back to E(CONSUL_CLIENT_KEY).
    type: path
  consul_validate_certs:
    description:
      - Verify Consul's TLS certificate. Turn off only for a lab.
    type: bool
    default: true
  consul_timeout:
    description:
      - Seconds to wait for one HTTP response (blocking queries add their wait to this).
    type: int
    default: 30
"""

    # The module_defaults group of the Consul modules (meta/runtime.yml).
    ACTIONGROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/octant.openclaw.consul) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - octant.openclaw.consul
"""
