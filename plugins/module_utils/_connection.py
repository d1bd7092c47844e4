# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One definition of the connection options of each service (Nomad, Consul, 1Password),
shared by modules (argument_spec with environment fallbacks) and lookups (resolve())."""

from __future__ import annotations

import os

from ansible.module_utils.basic import env_fallback


class Option:
    """A connection option: its name, the environment variables it falls back to (first set
    wins), its type and default. A value given explicitly always wins over the environment."""

    def __init__(self, name, env=(), type="str", default=None, no_log=False, aliases=()):
        self.name = name
        self.env = tuple(env)
        self.type = type
        self.default = default
        self.no_log = no_log
        self.aliases = tuple(aliases)

    def spec(self):
        spec = {"type": self.type, "no_log": self.no_log}
        if self.env:
            spec["fallback"] = (env_fallback, list(self.env))
        if self.default is not None:
            spec["default"] = self.default
        if self.aliases:
            spec["aliases"] = list(self.aliases)
        return spec


NOMAD_OPTIONS = (
    Option("nomad_address", env=("NOMAD_ADDR",), default="http://127.0.0.1:4646"),
    Option("nomad_token", env=("NOMAD_TOKEN",), no_log=True),
    Option("nomad_namespace", env=("NOMAD_NAMESPACE",)),
    Option("nomad_region", env=("NOMAD_REGION",)),
    Option("nomad_ca_file", env=("NOMAD_CACERT",), type="path"),
    Option("nomad_client_cert", env=("NOMAD_CLIENT_CERT",), type="path"),
    Option("nomad_client_key", env=("NOMAD_CLIENT_KEY",), type="path"),
    Option("nomad_validate_certs", type="bool", default=True),
    Option("nomad_timeout", type="int", default=30),
)

CONSUL_OPTIONS = (
    Option("consul_address", env=("CONSUL_HTTP_ADDR",), default="http://127.0.0.1:8500"),
    Option("consul_token", env=("CONSUL_HTTP_TOKEN",), no_log=True),
    Option("consul_datacenter", env=("CONSUL_DATACENTER",)),
    Option("consul_ca_file", env=("CONSUL_CACERT",), type="path"),
    Option("consul_client_cert", env=("CONSUL_CLIENT_CERT",), type="path"),
    Option("consul_client_key", env=("CONSUL_CLIENT_KEY",), type="path"),
    Option("consul_validate_certs", type="bool", default=True),
    Option("consul_timeout", type="int", default=30),
)

ONEPASSWORD_OPTIONS = (
    Option("service_account_token", env=("OP_SERVICE_ACCOUNT_TOKEN",), no_log=True),
    Option("integration_name", default="octant.openclaw"),
    Option("integration_version", default="0.1.0"),
)


class Service:
    """A service a module talks to: its connection options and the Python libraries its client
    needs. `libraries()` returns (pip name, import traceback or None) pairs; it is called when
    checked, so it reads the import state of the moment."""

    def __init__(self, name, options, libraries=lambda: ()):
        self.name = name
        self.options = tuple(options)
        self._libraries = libraries

    def argument_spec(self):
        return argument_spec(self.options)

    def missing_libraries(self):
        return [(name, error) for name, error in self._libraries() if error]


def argument_spec(options):
    """The AnsibleModule argument_spec entries for a set of connection options."""
    return {option.name: option.spec() for option in options}


def resolve(options, values, environ=None):
    """Apply the same precedence outside AnsibleModule (lookups, tests): explicit value, then
    the first environment variable that is set, then the default."""
    environ = os.environ if environ is None else environ
    resolved = {}
    for option in options:
        value = values.get(option.name)
        if value is None:
            value = next((environ[name] for name in option.env if environ.get(name)), None)
        if value is None:
            value = option.default
        if option.type == "bool" and isinstance(value, str):
            value = value.strip().lower() in ("1", "true", "yes", "on")
        elif option.type == "int" and isinstance(value, str):
            value = int(value)
        resolved[option.name] = value
    return resolved
