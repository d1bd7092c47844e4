# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP calls for what the service clients (python-nomad, python-consul2) lack, such as blocking
queries, transactions that return 409 bodies and HCL parsing, made through the client's own
requests.Session so TLS, tokens and connection reuse stay in one place."""

from __future__ import annotations

import json
import traceback

from ansible_collections.octant.openclaw.plugins.module_utils.errors import ServiceError, hint_for

try:
    import requests
except ImportError:
    requests = None
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    REQUESTS_IMPORT_ERROR = None


def normalize_address(address, default_scheme="http"):
    """`127.0.0.1:8500` (as CONSUL_HTTP_ADDR often is) -> `http://127.0.0.1:8500`."""
    address = (address or "").strip().rstrip("/")
    if "://" not in address:
        address = f"{default_scheme}://{address}"
    return address


class Reply:
    """Status, decoded JSON (or text) body and headers of one call."""

    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def index(self, header):
        try:
            return int(self.headers.get(header, 0))
        except (TypeError, ValueError):
            return 0


class ApiSession:
    """One service's HTTP API: base address, token header, TLS settings and a requests.Session."""

    def __init__(self, service, address, token=None, token_header="X-Consul-Token", verify=True,
                 ca_file=None, client_cert=None, client_key=None, timeout=30, session=None,
                 default_params=None):
        self.service = service
        self.address = normalize_address(address)
        # A pasted token often ends in a newline; requests would refuse it and quote it back.
        self.token = token.strip() if isinstance(token, str) else token
        self.token_header = token_header
        self.session = session if session is not None else requests.Session()
        # TLS is verified unless turned off; a CA file replaces the system store.
        self.verify = (ca_file or True) if verify else False
        self.cert = (client_cert, client_key) if client_cert and client_key else client_cert or None
        self.timeout = timeout
        self.default_params = {k: v for k, v in (default_params or {}).items() if v}

    def call(self, method, path, params=None, body=None, raw=None, ok=(200,), timeout=None, what=None):
        """Make one call; return a Reply when the status is in `ok`, else raise ServiceError.
        `body` is sent as JSON, `raw` as bytes."""
        what = what or f"{method} {path}"
        query = dict(self.default_params)
        query.update({k: v for k, v in (params or {}).items() if v is not None})
        headers = {}
        if self.token:
            headers[self.token_header] = self.token
        data = raw
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            response = self.session.request(
                method, self.address + path, params=query, data=data, headers=headers,
                verify=self.verify, cert=self.cert, timeout=timeout or self.timeout)
        except requests.exceptions.SSLError as exc:
            raise ServiceError(self.service, what, None, str(exc),
                               hint=f"TLS verification failed for {self.address}; set the CA file option "
                                    f"or, only for a lab, turn certificate validation off") from None
        except requests.exceptions.InvalidHeader:
            # requests quotes the offending header value (the token) in its message: never echo it.
            raise ServiceError(self.service, what, None, "the token cannot be sent in an HTTP header",
                               hint=f"the {self.service} token contains spaces or control characters; "
                                    f"check {self.service}_token") from None
        except requests.exceptions.ReadTimeout:
            # Reachable but slow: the address is right, the timeout (or the server's load) is not.
            raise ServiceError(self.service, what, None, f"timed out: no answer within {timeout or self.timeout} s",
                               hint=f"{self.service} at {self.address} is slow to answer; raise "
                                    f"{self.service}_timeout or check the server's load") from None
        except requests.exceptions.RequestException as exc:
            raise ServiceError(self.service, what, None, _short(exc),
                               hint=hint_for(self.service, None, "", self.address)) from None
        text = response.text
        if response.status_code not in ok:
            raise ServiceError(self.service, what, response.status_code, text,
                               hint=hint_for(self.service, response.status_code, text, self.address))
        try:
            decoded = json.loads(text) if text else None
        except ValueError:
            decoded = text
        return Reply(response.status_code, decoded, response.headers)


def _short(exc):
    text = str(exc)
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    return text
