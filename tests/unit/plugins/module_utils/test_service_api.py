# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tokens never reach an error message, even when requests refuses to send them."""

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._errors import ServiceError
from ansible_collections.octant.openclaw.plugins.module_utils._service_api import ApiSession

TOKEN = "c0nsul-secret-id-3f9a"


def test_a_pasted_token_loses_its_trailing_newline():
    assert ApiSession("consul", "http://127.0.0.1:9", token=TOKEN + "\n").token == TOKEN


def test_a_token_that_cannot_be_a_header_is_refused_without_echoing_it():
    # requests refuses the header before connecting, quoting the value in its own message.
    api = ApiSession("nomad", "http://127.0.0.1:9", token=TOKEN + "\ninner", token_header="X-Nomad-Token")
    with pytest.raises(ServiceError) as failure:
        api.call("GET", "/v1/jobs")
    message = str(failure.value)
    assert TOKEN not in message
    assert "token cannot be sent in an HTTP header" in message
    assert "nomad_token" in message
