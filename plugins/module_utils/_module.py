# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The skeleton every module of the collection is built on (as community.docker's
AnsibleDockerClient or kubernetes.core's AnsibleK8SModule):

- the argument spec is the connection options of the services the module talks to
  (_connection.Service: Nomad, Consul, 1Password) plus the module's own;
- the Python libraries those services need are checked before anything else;
- `run(runner, *clients)` calls `runner(*clients, params, context)`, the one runner signature of
  the collection, and turns any ModuleError (InputError, ServiceError and its subclasses) into
  one fail_json shape: `msg`, `changed` and the error's own result;
- every result has `changed`;
- a Context carries check and diff mode, whether the task is no_log, warnings, and the one
  secret-masking rule (Context.hide)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.octant.openclaw.plugins.module_utils._errors import ModuleError

# Ansible masks no_log values by substring anywhere in the output: a short value such as "1",
# "true" or a port would turn indexes, paths and messages into asterisks. Shorter values are not
# registered; neither are the placeholders Consul shows instead of a secret (the anonymous
# token's SecretID is the word `anonymous`).
MIN_SECRET_LENGTH = 8
NOT_SECRETS = frozenset(("anonymous", "<hidden>"))


def is_maskable(value, known=False):
    """The one masking rule: a string that is not a placeholder, of at least MIN_SECRET_LENGTH
    characters, or of any length when it is `known` to be a secret (a plaintext secret found at a
    secret position of the farm model must never be echoed, however short)."""
    return (isinstance(value, str) and value not in NOT_SECRETS
            and len(value) >= (1 if known else MIN_SECRET_LENGTH))


class Context:
    """What a runner needs from the module besides its parameters: check and diff mode, whether
    the task is no_log, where to register values that must never be printed, and warnings."""

    def __init__(self, check_mode=False, diff=False, no_log=False, secrets=None, warn=None):
        self.check_mode = check_mode
        self.diff = diff
        self.no_log = no_log
        self.secrets = secrets if secrets is not None else set()
        self.warnings = []
        self._warn = warn

    @classmethod
    def of(cls, module):
        return cls(module.check_mode, module._diff, module.no_log, module.no_log_values, module.warn)

    def hide(self, value, known=False):
        """Register a secret so Ansible masks it wherever it would appear (see is_maskable)."""
        if is_maskable(value, known):
            self.secrets.add(value)

    def warn(self, text):
        self.warnings.append(text)
        if self._warn:
            self._warn(text)


class OpenClawModule:
    """An AnsibleModule with the collection's conventions. `options`: the module's own argument
    spec; `services`: the _connection.Service objects whose connection options it takes;
    `requires`: the services whose libraries are checked now (default: all of `services`; a
    module that needs one only for some options calls require(..., when=...) itself). Check mode
    is always supported; other keyword arguments go to AnsibleModule."""

    def __init__(self, options, services=(), requires=None, **kwargs):
        spec = {}
        for service in services:
            spec.update(service.argument_spec())
        spec.update(options)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
        self.params = self.module.params
        self.context = Context.of(self.module)
        self.require(*(services if requires is None else requires))

    def require(self, *services, when=True):
        """fail_json naming the first missing Python library of `services` (when `when`)."""
        if not when:
            return
        for service in services:
            for name, error in service.missing_libraries():
                self.module.fail_json(msg=missing_required_lib(name), exception=error)

    def hide(self, values, known=False):
        for value in values:
            self.context.hide(value, known)

    def run(self, runner, *clients, **extra):
        """exit_json with `runner(*clients, params, context, **extra)`; fail_json on a ModuleError."""
        try:
            result = runner(*clients, self.params, self.context, **extra)
        except ModuleError as err:
            self.fail(err.message, **err.result)
        self.exit(**result)

    def fail(self, msg, **result):
        result.setdefault("changed", False)
        self.module.fail_json(msg=msg, **result)

    def exit(self, **result):
        result.setdefault("changed", False)
        self.module.exit_json(**result)
