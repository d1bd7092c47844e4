# Copyright: octant.openclaw contributors
# Apache License 2.0 (see LICENSE)
"""The Nomad client every module and lookup uses: python-nomad configured from the shared
connection options (token precedence and TLS verification fixed here), and an ApiSession on the
same requests.Session for what python-nomad lacks (blocking queries, parse with variables,
exact status handling)."""

from __future__ import annotations

import traceback

from ansible_collections.octant.openclaw.plugins.module_utils.connection import NOMAD_OPTIONS, resolve
from ansible_collections.octant.openclaw.plugins.module_utils.errors import ServiceError, hint_for
from ansible_collections.octant.openclaw.plugins.module_utils.http import ApiSession, normalize_address

try:
    import nomad
    import requests
except ImportError:
    nomad = None
    NOMAD_IMPORT_ERROR = traceback.format_exc()
else:
    NOMAD_IMPORT_ERROR = None


class NomadApi:
    """Both faces of one Nomad connection: `client` (python-nomad) and `http` (ApiSession)."""

    def __init__(self, settings):
        settings = resolve(NOMAD_OPTIONS, settings)
        self.settings = settings
        self.address = normalize_address(settings["nomad_address"])
        session = requests.Session()
        self.http = ApiSession(
            "nomad", self.address, token=settings["nomad_token"], token_header="X-Nomad-Token",
            verify=settings["nomad_validate_certs"], ca_file=settings["nomad_ca_file"],
            client_cert=settings["nomad_client_cert"], client_key=settings["nomad_client_key"],
            timeout=settings["nomad_timeout"], session=session,
            default_params={"namespace": settings["nomad_namespace"], "region": settings["nomad_region"]})
        # python-nomad does not verify TLS unless told, and reads NOMAD_* itself when an argument
        # is empty: pass every resolved value explicitly.
        self.client = nomad.Nomad(
            address=self.address, token=settings["nomad_token"] or None,
            namespace=settings["nomad_namespace"], region=settings["nomad_region"],
            verify=self.http.verify, cert=self.http.cert or (), timeout=settings["nomad_timeout"],
            session=session)

    @property
    def namespace(self):
        return self.settings["nomad_namespace"] or "default"

    def wrap(self, what, call, *args, **kwargs):
        """Run a python-nomad call and turn its exceptions into one ServiceError."""
        try:
            return call(*args, **kwargs)
        except nomad.api.exceptions.BaseNomadException as exc:
            response = exc.nomad_resp
            if isinstance(response, requests.Response):
                status, text = response.status_code, response.text
            else:  # no response: the service could not be reached
                status, text = None, "connection refused" if "refused" in str(response) else str(response)
            raise ServiceError("nomad", what, status, text,
                               hint=hint_for("nomad", status, text, self.address)) from None
