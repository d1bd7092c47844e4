# Copyright: octant.openclaw contributors
# Apache License 2.0 (see LICENSE)
"""The Consul client every module and lookup uses: python-consul2 configured from the shared
connection options, and an ApiSession on the same requests.Session for what it lacks
(transactions that answer 409 with a body, blocking reads with exact index handling).

python-consul2 lets CONSUL_HTTP_TOKEN and CONSUL_HTTP_ADDR in the environment override what the
caller passes; that is undone here, in one place: an explicit option always wins."""

from __future__ import annotations

import traceback
from urllib.parse import urlsplit

from ansible_collections.octant.openclaw.plugins.module_utils.connection import CONSUL_OPTIONS, resolve
from ansible_collections.octant.openclaw.plugins.module_utils.errors import ServiceError, hint_for
from ansible_collections.octant.openclaw.plugins.module_utils.http import ApiSession, normalize_address

try:
    import consul
except ImportError:
    consul = None
    CONSUL_IMPORT_ERROR = traceback.format_exc()
else:
    CONSUL_IMPORT_ERROR = None


class ConsulApi:
    """Both faces of one Consul connection: `client` (python-consul2) and `http` (ApiSession)."""

    def __init__(self, settings):
        settings = resolve(CONSUL_OPTIONS, settings)
        self.settings = settings
        self.address = normalize_address(settings["consul_address"])
        self.http = ApiSession(
            "consul", self.address, token=settings["consul_token"], token_header="X-Consul-Token",
            verify=settings["consul_validate_certs"], ca_file=settings["consul_ca_file"],
            client_cert=settings["consul_client_cert"], client_key=settings["consul_client_key"],
            timeout=settings["consul_timeout"], default_params={"dc": settings["consul_datacenter"]})
        parts = urlsplit(self.address)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        client = consul.Consul(host=parts.hostname, port=port, scheme=parts.scheme,
                               token=settings["consul_token"], dc=settings["consul_datacenter"],
                               verify=self.http.verify, cert=self.http.cert, timeout=settings["consul_timeout"])
        # Undo the environment overrides python-consul2 applies in its constructor.
        client.token = settings["consul_token"]
        client.http = client.http_connect(parts.hostname, port, parts.scheme, self.http.verify, self.http.cert,
                                          timeout=settings["consul_timeout"])
        client.scheme = parts.scheme
        # One connection pool for both faces.
        self.http.session = client.http.session
        self.client = client

    def wrap(self, what, call, *args, **kwargs):
        """Run a python-consul2 call and turn its exceptions into one ServiceError."""
        try:
            return call(*args, **kwargs)
        except consul.ConsulException as exc:
            text = str(exc)
            status = _status_of(exc)
            raise ServiceError("consul", what, status, text, hint=hint_for("consul", status, text, self.address)) \
                from None
        except OSError as exc:  # requests' ConnectionError is an OSError
            raise ServiceError("consul", what, None, "connection refused" if "refused" in str(exc) else str(exc),
                               hint=hint_for("consul", None, "", self.address)) from None


def _status_of(exc):
    # python-consul2 encodes the status only in the exception class (or message text).
    names = {"ACLPermissionDenied": 403, "NotFound": 404, "BadRequest": 400, "ACLDisabled": 401}
    status = names.get(type(exc).__name__)
    if status is None and str(exc)[:3].isdigit():
        status = int(str(exc)[:3])
    return status
