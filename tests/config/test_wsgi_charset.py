"""The WSGI handler and the charset a client names: against the live server (gunicorn)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.organizations.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "charset",
    ["unicode_escape", "raw_unicode_escape", "utf-7", "punycode", "idna", "base64", "undefined"],
)
def test_a_charset_that_is_no_plain_text_is_read_as_utf8(faultline_server, organization, charset):
    # Found by fuzzing: Django decoded the query string with it, a 500 while building the
    # request (punycode, idna, base64) or a lone surrogate failing later (the others).
    key = ApiKeyFactory(organization=organization, scopes=["project:releases"])
    request = urllib.request.Request(  # noqa: S310
        f"{faultline_server.url}/api/0/organizations/{organization.slug}/releases/"
        "?query=%5Cud800%2B2AA-",
        headers={
            "Authorization": f"Bearer {key.plain_key}",
            "Content-Type": f"text/plain; charset={charset}",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200
        assert json.loads(response.read()) == []
