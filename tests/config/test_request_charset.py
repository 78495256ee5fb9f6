"""The WSGI and ASGI entry points and the charset a client names."""

from __future__ import annotations

import json
import urllib.request

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from groups.models import GroupStatus
from tests.groups.factories import GroupFactory
from tests.organizations.factories import ApiKeyFactory
from tests.projects.factories import ProjectFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("asgi_connections_closed"),
]


@pytest.mark.parametrize(
    "charset",
    ["unicode_escape", "raw_unicode_escape", "utf-7", "punycode", "idna", "base64", "undefined"],
)
def test_a_charset_that_is_no_plain_text_is_read_as_utf8(faultline_server, organization, charset):
    # Against the live server (gunicorn; the API runs in config.asgi's thread pool).
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


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded; charset=punycode", b"status=resolved"),
        (
            "multipart/form-data; boundary=B; charset=idna",
            b'--B\r\nContent-Disposition: form-data; name="status"\r\n\r\nresolved\r\n--B--\r\n',
        ),
    ],
)
def test_the_asgi_entry_point_drops_it_too(organization, content_type, body):
    # Both were a 500 under config.asgi while the API parsed the form.
    key = ApiKeyFactory(organization=organization, scopes=["event:write"])
    group = GroupFactory(project=ProjectFactory(organization=organization))
    status, answer = _asgi_put(key, group, [content_type], body)
    assert status == 200, answer
    assert json.loads(answer)["status"] == "resolved"
    group.refresh_from_db()
    assert group.status == GroupStatus.RESOLVED


def test_the_asgi_entry_point_judges_repeated_content_types_joined(organization):
    """Django joins repeated headers with commas, and codecs reads `utf,7` as UTF-7: the
    `%2B2AA-` of this form would be a lone surrogate. Read as UTF-8, it is plain text."""
    key = ApiKeyFactory(organization=organization, scopes=["event:write"])
    group = GroupFactory(project=ProjectFactory(organization=organization))
    types = ["application/x-www-form-urlencoded; charset=utf", "7"]
    status, answer = _asgi_put(key, group, types, b"status=%2B2AA-")
    assert (status, json.loads(answer)) == (400, {"status": ['"+2AA-" is not a valid choice.']})


def _asgi_put(key, group, content_types: list[str], body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": f"/api/0/issues/{group.pk}/",
        "raw_path": b"",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {key.plain_key}".encode()),
            *[(b"content-type", content_type.encode()) for content_type in content_types],
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    return async_to_sync(_asgi_request)(scope, body)


async def _asgi_request(scope: dict, body: bytes) -> tuple[int, bytes]:
    # Imported in the test, once the static files directory of the tests' settings exists
    # (WhiteNoise warns about a missing one when the application is built).
    from config.asgi import application

    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(timeout=10)
    answer = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        answer += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)
    return start["status"], answer
