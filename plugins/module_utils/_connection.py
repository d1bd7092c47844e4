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


def http_api_options(prefix, env_prefix, address, address_env, token_env, scope=()):
    """The options of an HTTP API with TLS (Nomad, Consul), in the same order for both: <prefix>_address,
    _token, the scope options (namespace, region, datacenter), the TLS files (<ENV>_CACERT, _CLIENT_CERT,
    _CLIENT_KEY, as their CLIs read them), _validate_certs and _timeout."""
    return (
        Option(f"{prefix}_address", env=(address_env,), default=address),
        Option(f"{prefix}_token", env=(token_env,), no_log=True),
        *(Option(f"{prefix}_{name}", env=(f"{env_prefix}_{name.upper()}",)) for name in scope),
        Option(f"{prefix}_ca_file", env=(f"{env_prefix}_CACERT",), type="path"),
        Option(f"{prefix}_client_cert", env=(f"{env_prefix}_CLIENT_CERT",), type="path"),
        Option(f"{prefix}_client_key", env=(f"{env_prefix}_CLIENT_KEY",), type="path"),
        Option(f"{prefix}_validate_certs", type="bool", default=True),
        Option(f"{prefix}_timeout", type="int", default=30),
    )


NOMAD_OPTIONS = http_api_options("nomad", "NOMAD", "http://127.0.0.1:4646", "NOMAD_ADDR", "NOMAD_TOKEN",
                                 scope=("namespace", "region"))
CONSUL_OPTIONS = http_api_options("consul", "CONSUL", "http://127.0.0.1:8500", "CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN",
                                  scope=("datacenter",))

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
