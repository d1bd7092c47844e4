# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul ACL policies and tokens, declaratively: policies idempotent by name with rules compared
by meaning, tokens idempotent by description, and a token's SecretID delivered either to the
task that created it (only when that task is no_log) or straight into a Nomad Variable, never
through the play output."""

from __future__ import annotations

import re

from ansible_collections.octant.openclaw.plugins.module_utils._consul_rules import (
    RulesError,
    display_rules,
    normalize_rules,
    same_rules,
)
from ansible_collections.octant.openclaw.plugins.module_utils._errors import OperationError, ServiceError
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import VariableConflictError

# What a token result may show: an allow-list, so SecretID can never slip into a return value.
TOKEN_PUBLIC_FIELDS = ("AccessorID", "Description", "Policies", "Roles", "ServiceIdentities", "NodeIdentities",
                       "Local", "CreateTime", "ExpirationTime", "CreateIndex", "ModifyIndex")
# What is sent back on update besides the managed fields (PUT replaces the whole token).
TOKEN_KEPT_FIELDS = ("ServiceIdentities", "NodeIdentities", "TemplatedPolicies", "Namespace", "Partition")
HIDDEN_SECRET = ("", "<hidden>")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
STORE_ATTEMPTS = 3


def _diff(what, before, after):
    return {"before": before, "after": after, "before_header": f"{what} (before)", "after_header": f"{what} (after)"}


def _absent(ctx, key, what, existing, view, delete):
    """state=absent of a policy or token (`key` in the result): `delete()` it unless it is gone already."""
    if existing is None:
        return {"changed": False, "operation": "none", key: None}
    if not ctx.check_mode:
        delete()
    result = {"changed": True, "operation": "delete", key: None}
    if ctx.diff:
        result["diff"] = _diff(what, view(existing), {})
    return result


# The argument specs of one policy and one token: consul_acl_policy and consul_acl_token take them as their
# options, consul_acl as the entries of its lists.
POLICY_OPTIONS = dict(
    name=dict(type="str", required=True),
    description=dict(type="str"),
    rules=dict(type="str"),
    datacenters=dict(type="list", elements="str"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
)
TOKEN_OPTIONS = dict(
    description=dict(type="str", required=True),
    accessor_id=dict(type="str"),
    policies=dict(type="list", elements="str"),
    roles=dict(type="list", elements="str"),
    local=dict(type="bool"),
    expiration_ttl=dict(type="str"),
    store_secret_in=dict(type="dict", no_log=False, options=dict(
        path=dict(type="str", required=True),
        item=dict(type="str", default="CONSUL_HTTP_TOKEN"),
        accessor_item=dict(type="str"),
        namespace=dict(type="str"),
    )),
    state=dict(type="str", default="present", choices=["present", "absent"]),
)


# -- policies -----------------------------------------------------------------------------------

def policy_view(policy):
    if not policy:
        return {}
    return {"name": policy.get("Name"), "description": policy.get("Description") or "",
            "datacenters": sorted(policy.get("Datacenters") or []), "rules": display_rules(policy.get("Rules"))}


def run_policy(api, params, ctx):
    name = params["name"]
    title = f"consul acl policy {name}"  # the header of its diff
    state = params.get("state") or "present"
    rules = params.get("rules")
    if rules is not None:
        try:
            normalize_rules(rules)
        except RulesError as exc:
            raise OperationError("consul", f"ACL policy {name!r}", f"the rules do not parse: {exc}") from None
    existing = api.acl_policy_by_name(name)
    if state == "absent":
        return _absent(ctx, "policy", title, existing, policy_view,
                       lambda: api.acl_policy_delete(existing["ID"], name))

    desired = {
        "Name": name,
        "Description": params.get("description") if params.get("description") is not None
        else (existing or {}).get("Description", ""),
        "Rules": rules if rules is not None else (existing or {}).get("Rules", ""),
        "Datacenters": params.get("datacenters") if params.get("datacenters") is not None
        else (existing or {}).get("Datacenters") or [],
    }
    if existing is None:
        operation, changes = "create", ["policy"]
    else:
        changes = []
        if (existing.get("Description") or "") != (desired["Description"] or ""):
            changes.append("description")
        if not same_rules(existing.get("Rules"), desired["Rules"]):
            changes.append("rules")
        if sorted(existing.get("Datacenters") or []) != sorted(desired["Datacenters"] or []):
            changes.append("datacenters")
        operation = "update" if changes else "none"
    policy = existing
    if operation != "none":
        if ctx.check_mode:
            policy = dict(existing or {}, **desired)
        else:
            policy = api.acl_policy_write(desired, None if existing is None else existing["ID"])
    result = {"changed": operation != "none", "operation": operation, "changes": changes,
              "policy": _policy_public(policy)}
    if ctx.diff and operation != "none":
        result["diff"] = _diff(title, policy_view(existing), policy_view(desired))
    return result


def _policy_public(policy):
    if not policy:
        return None
    keep = ("ID", "Name", "Description", "Rules", "Datacenters", "CreateIndex", "ModifyIndex")
    return {k: policy.get(k) for k in keep if k in policy}


# -- tokens -------------------------------------------------------------------------------------

def token_public(token):
    """A token without its SecretID (nor anything not on the allow-list)."""
    if not token:
        return None
    return {k: token[k] for k in TOKEN_PUBLIC_FIELDS if k in token}


def _names(links):
    return sorted({link.get("Name") or link.get("ID") for link in links or [] if link})


def find_token(tokens, description):
    """The one token whose Description is exactly `description`, or None. Several is an error:
    the description is this module's identity of a token."""
    matches = [t for t in tokens if (t.get("Description") or "") == description]
    if len(matches) > 1:
        ids = ", ".join(sorted(t.get("AccessorID", "?") for t in matches))
        raise OperationError("consul", f"ACL token {description!r}",
                             f"{len(matches)} tokens have this description (AccessorIDs: {ids})",
                             hint="the description identifies the token for this module; give the tokens distinct "
                             "descriptions or delete the extra ones")
    return matches[0] if matches else None


def token_view(token):
    if not token:
        return {}
    return {"description": token.get("Description") or "", "policies": _names(token.get("Policies")),
            "roles": _names(token.get("Roles")), "local": bool(token.get("Local"))}


def accessor_item(store):
    """The variable item that holds the token's AccessorID beside its SecretID; None when turned off."""
    item = store.get("accessor_item")
    if item is None:
        return f"{store['item']}_ACCESSOR"
    return item or None


def run_token(api, params, ctx, nomad_factory=None):
    """`nomad_factory()` returns the NomadApi used by store_secret_in (only called when needed).
    A known AccessorID (the `accessor_id` option, else the accessor item stored beside the
    SecretID) is read directly; the token list, which grows with the cluster, is read only when
    the accessor is unknown, gone or names a token with another description."""
    description = params["description"]
    title = f"consul acl token {description!r}"  # the header of its diff
    state = params.get("state") or "present"
    store = params.get("store_secret_in") if state == "present" else None
    accessor = params.get("accessor_id")
    if accessor is not None and not UUID.match(accessor):
        raise OperationError("consul", f"ACL token {description!r}",
                             f"accessor_id {accessor!r} is not an AccessorID (a UUID)",
                             hint="give the token's AccessorID as Consul shows it, or leave accessor_id out")
    nomad = variable = None
    if store:
        nomad = nomad_factory()
        variable = nomad.get_variable(store["path"].strip("/"), namespace=store.get("namespace"))
        item = accessor_item(store)
        stored = ((variable or {}).get("Items") or {}).get(item) if item else None
        if accessor is None and isinstance(stored, str) and UUID.match(stored):
            accessor = stored
    existing = full = None
    if accessor:
        token = api.acl_token_get(accessor)
        if token:
            ctx.hide(token.get("SecretID"))
            if (token.get("Description") or "") == description:
                existing = full = token
    if existing is None:
        tokens = api.acl_token_list()
        for token in tokens:  # list answers may carry every token's SecretID: never let one be printed
            ctx.hide(token.get("SecretID"))
        existing = find_token(tokens, description)

    if state == "absent":
        return _absent(ctx, "token", title, existing, token_view,
                       lambda: api.acl_token_delete(existing["AccessorID"], description))

    want = {"Description": description}
    policies = params.get("policies")
    roles = params.get("roles")
    want_policies = sorted(set(policies)) if policies is not None else _names((existing or {}).get("Policies"))
    want_roles = sorted(set(roles)) if roles is not None else _names((existing or {}).get("Roles"))
    want["Policies"] = [{"Name": n} for n in want_policies]
    want["Roles"] = [{"Name": n} for n in want_roles]
    local = params.get("local")

    if existing is None:
        if not store and not ctx.no_log:
            raise OperationError("consul", f"ACL token create of {description!r}",
                                 "refusing to create a token whose SecretID would be printed or lost",
                                 hint="use store_secret_in to write the SecretID into a Nomad Variable, or set "
                                 "no_log: true on the task to get it in the secret_id return value")
        want["Local"] = bool(local)
        if params.get("expiration_ttl"):
            want["ExpirationTTL"] = params["expiration_ttl"]
        result = {"changed": True, "operation": "create", "changes": ["token"]}
        if ctx.check_mode:
            result["token"] = token_public(want)
            if store:
                result["secret_stored"] = True
        else:
            created = _write_token(api, want)
            secret = created.get("SecretID")
            if store:  # otherwise it is returned to this no_log task: masking would erase it
                ctx.hide(secret)
            result["token"] = token_public(created)
            if store:
                try:
                    store_secret(nomad, store, secret, ctx.check_mode, accessor=created.get("AccessorID"),
                                 variable=variable)
                except ServiceError as err:
                    raise OperationError(
                        "consul", f"ACL token create of {description!r}",
                        f"the token was created (AccessorID {created.get('AccessorID')}) but storing its "
                        f"SecretID in Nomad Variable {store['path']!r} failed: {err.message}",
                        hint="re-run the task: it finds the token by description and stores its SecretID",
                        result={"changed": True, "token": token_public(created)}) from None
                result["secret_stored"] = True
            else:
                result["secret_id"] = secret  # the task is no_log (checked above)
        if ctx.diff:
            result["diff"] = _diff(title, {}, token_view(want))
        return result

    changes = []
    if _names(existing.get("Policies")) != want_policies:
        changes.append("policies")
    if _names(existing.get("Roles")) != want_roles:
        changes.append("roles")
    if local is not None and bool(existing.get("Local")) != local:
        raise OperationError("consul", f"ACL token {description!r}",
                             f"the token exists with local={bool(existing.get('Local'))}; Consul cannot change that",
                             hint="delete the token (state=absent) and create it again, or keep local as it is")
    if params.get("expiration_ttl"):
        ctx.warn("expiration_ttl only applies when the token is created; the existing token keeps its expiration")
    token = existing
    if changes:
        if not ctx.check_mode:
            if full is None:
                full = api.acl_token_read(existing["AccessorID"])
                ctx.hide(full.get("SecretID"))
            body = {k: full[k] for k in TOKEN_KEPT_FIELDS if full.get(k)}
            body.update(AccessorID=existing["AccessorID"], Description=description, Local=bool(full.get("Local")),
                        Policies=want["Policies"], Roles=want["Roles"])
            token = _write_token(api, body, existing["AccessorID"])
            ctx.hide(token.get("SecretID"))
        else:
            token = dict(existing, Policies=want["Policies"], Roles=want["Roles"])
    result = {"changed": bool(changes), "operation": "update" if changes else "none", "changes": changes}
    if store:
        # The token list carries SecretIDs for a caller with acl = "write"; read the token only
        # when the list redacted it.
        secret = (full or existing).get("SecretID")
        if secret in (None,) + HIDDEN_SECRET and full is None:
            full = api.acl_token_read(existing["AccessorID"])
            ctx.hide(full.get("SecretID"))
            secret = full.get("SecretID")
        if secret in (None,) + HIDDEN_SECRET:
            raise OperationError("consul", f"ACL token {description!r}",
                                 "Consul did not reveal the token's SecretID to store it",
                                 hint='storing an existing token\'s SecretID needs a Consul token with acl = "write"')
        written = store_secret(nomad, store, secret, ctx.check_mode, accessor=existing["AccessorID"],
                               variable=variable)
        result["secret_stored"] = True
        if written:
            result["changed"] = True
            result["changes"] = changes + written
            if result["operation"] == "none":
                result["operation"] = "store"
    result["token"] = token_public(token)
    if ctx.diff and changes:
        result["diff"] = _diff(title, token_view(existing), token_view(dict(existing, **want)))
    return result


def _write_token(api, body, accessor_id=None):
    try:
        return api.acl_token_write(body, accessor_id)
    except ServiceError as err:
        if "No such ACL policy" in err.body or "No such ACL role" in err.body:
            err.hint = ("a policy or role named in the task does not exist; create it first (for a policy, with "
                        "octant.openclaw.consul_acl_policy) or fix the name")
        raise


# -- the SecretID into a Nomad Variable --------------------------------------------------------

def store_secret(nomad, store, secret, check_mode=False, accessor=None, variable=False):
    """Make item `store['item']` of Nomad Variable `store['path']` equal `secret` and, unless turned
    off, its accessor item equal `accessor`, in one check-and-set write that keeps the variable's
    other items (a concurrent change is re-read and merged, up to 3 attempts). `variable`: the
    variable as the caller already read it (None: it does not exist; False: not read yet).
    Returns what it wrote (or in check mode would write): [], or V(stored_secret) and/or
    V(stored_accessor). The variable's items are never returned nor put in an error text."""
    path = store["path"].strip("/")
    namespace = store.get("namespace")
    want = {store["item"]: secret}
    item = accessor_item(store)
    if item and accessor:
        want[item] = accessor
    for _attempt in range(STORE_ATTEMPTS):
        if variable is False:
            variable = nomad.get_variable(path, namespace=namespace)
        items = dict((variable or {}).get("Items") or {})
        index = (variable or {}).get("ModifyIndex", 0) if variable else 0
        variable = False  # a retry reads it again
        written = [("stored_secret" if key == store["item"] else "stored_accessor")
                   for key, value in want.items() if items.get(key) != value]
        if not written or check_mode:
            return written
        items.update(want)
        try:
            nomad.put_variable(path, items, index, namespace=namespace)
        except VariableConflictError:
            continue
        return written
    raise ServiceError("nomad", f"variable write of {path!r}", 409,
                       f"the variable changed concurrently {STORE_ATTEMPTS} times in a row; nothing was written",
                       hint="re-run the task")
