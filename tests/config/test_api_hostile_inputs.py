"""/api/0/ against what a fuzzer sends: each answer is a JSON 4xx with a `detail`, never a 500
or Django's HTML error page."""

from __future__ import annotations

import base64
import json

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.groups.factories import GroupFactory
from tests.projects.factories import MonitorFactory, ProjectFactory

pytestmark = pytest.mark.django_db

BEYOND_64_BITS = 99999999999999999999
# Python's int() refuses strings of over 4300 digits.
TOO_MANY_DIGITS = "9" * 5000
# int() counts leading zeros too.
ZERO_PADDED = "0" * 4999 + "1"


@pytest.fixture
def client(api_client):
    # A 500 is answered as the live server would, not raised into the test.
    api_client.raise_request_exception = False
    return api_client


@pytest.fixture
def project(organization):
    return ProjectFactory(organization=organization, slug="web")


@pytest.fixture
def group(project):
    return GroupFactory(project=project)


def org_url(organization, suffix=""):
    return f"/api/0/organizations/{organization.slug}/{suffix}"


def assert_error(response, status, detail=None):
    """A JSON error with a `detail`, and the given one if any."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json", response.content
    assert "detail" in response.json(), response.content
    if detail is not None:
        assert response.json()["detail"] == detail, response.content


def writes(organization, group):
    """(method, path) of writes whose bodies go through the API's parsers."""
    return [
        ("put", org_url(organization)),
        ("post", org_url(organization, "teams/")),
        ("put", f"/api/0/issues/{group.pk}/"),
    ]


class TestIdsBeyondTheDatabase:
    """An id past 64 bits names no project, as an unknown id; SQLite refused it in the query."""

    @pytest.mark.parametrize(
        "value", [str(BEYOND_64_BITS), str(2**63), TOO_MANY_DIGITS, ZERO_PADDED]
    )
    def test_release_list_filter_matches_nothing(self, client, organization, project, value):
        client.post(
            org_url(organization, "releases/"),
            {"version": "v1", "projects": ["web"]},
            format="json",
        )
        response = client.get(org_url(organization, "releases/"), {"project": value})
        assert response.status_code == 200, response.content
        assert response.json() == []
        both = client.get(org_url(organization, "releases/"), {"project": [value, project.pk]})
        assert [release["version"] for release in both.json()] == ["v1"], both.content

    @pytest.mark.parametrize(
        "value", [str(BEYOND_64_BITS), str(2**63), TOO_MANY_DIGITS, ZERO_PADDED]
    )
    def test_monitor_filter_matches_nothing(self, client, organization, project, value):
        monitor = MonitorFactory(project=project)
        response = client.get(org_url(organization, "monitors/"), {"project": value})
        assert response.status_code == 200, response.content
        assert response.json() == []
        detail = client.get(org_url(organization, f"monitors/{monitor.slug}/"), {"project": value})
        assert_error(detail, 404)

    @pytest.mark.parametrize(
        "value", [BEYOND_64_BITS, str(BEYOND_64_BITS), TOO_MANY_DIGITS, ZERO_PADDED]
    )
    def test_release_and_deploy_writes_name_an_unknown_project(
        self, client, organization, project, value
    ):
        unknown = {"projects": [f"unknown project(s): {value}"]}
        created = client.post(
            org_url(organization, "releases/"),
            {"version": "v1", "projects": [value]},
            format="json",
        )
        assert created.status_code == 400, created.content
        assert created.json() == unknown
        client.post(
            org_url(organization, "releases/"),
            {"version": "v1", "projects": ["web"]},
            format="json",
        )
        updated = client.put(
            org_url(organization, "releases/v1/"), {"projects": [value]}, format="json"
        )
        assert updated.status_code == 400, updated.content
        assert updated.json() == unknown
        deployed = client.post(
            org_url(organization, "releases/v1/deploys/"),
            {"environment": "production", "projects": [value]},
            format="json",
        )
        assert deployed.status_code == 400, deployed.content
        assert deployed.json() == unknown

    def test_the_largest_id_is_looked_up(self, client, organization, project):
        largest = 2**63 - 1
        response = client.post(
            org_url(organization, "releases/"),
            {"version": "v1", "projects": [project.pk, largest]},
            format="json",
        )
        assert response.status_code == 400, response.content
        assert response.json() == {"projects": [f"unknown project(s): {largest}"]}


LONE_SURROGATE = "lone surrogate in a string; text must be valid Unicode"
TOO_MANY_FIELDS = (
    f"Too many fields or parameters: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}."
)
TOO_LARGE = f"Request body too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."


@pytest.mark.parametrize("value", [str(BEYOND_64_BITS), str(2**63), TOO_MANY_DIGITS, ZERO_PADDED])
@pytest.mark.parametrize(
    "path",
    [
        "/api/0/organizations/{value}/",
        "/api/0/projects/{org}/{value}/",
        "/api/0/issues/{value}/",
        "/api/0/organizations/{org}/issues/{value}/",
        "/api/0/projects/{org}/web/api-calls/{value}/",
        "/api/0/projects/{org}/web/events/0123456789abcdef0123456789abcdef/attachments/{value}/",
    ],
)
def test_ids_in_paths_past_64_bits_are_unknown(client, organization, project, path, value):
    # int() refuses over 4300 digits (a 500); gunicorn's request-line limit hid it there.
    response = client.get(path.format(org=organization.slug, value=value))
    assert_error(response, 404)


class TestLoneSurrogates:
    """A string that cannot be encoded as UTF-8 is refused by the parsers, before a query or an
    error message that echoes it fails on it."""

    @pytest.mark.parametrize(
        "body",
        [
            b'{"version": "v1", "projects": ["\\ud800"]}',
            b'{"version": "v1", "projects": ["web\\uDFFF"]}',
            b'{"version": "v1", "projects": ["web"], "\\udc00": 1}',
            # A high surrogate followed by another high one is no pair.
            b'{"version": "v1", "projects": ["\\ud83d\\ud83d"]}',
        ],
    )
    def test_release_and_deploy_writes(self, client, organization, project, body):
        client.post(
            org_url(organization, "releases/"),
            {"version": "v0", "projects": ["web"]},
            format="json",
        )
        for method, path in [
            ("post", "releases/"),
            ("put", "releases/v0/"),
            ("post", "releases/v0/deploys/"),
        ]:
            response = getattr(client, method)(
                org_url(organization, path), body, content_type="application/json"
            )
            assert_error(response, 400, f"JSON parse error - {LONE_SURROGATE}")

    def test_issue_updates(self, client, organization, project, group):
        body = b'{"status": "\\ud800"}'
        for path in [
            f"/api/0/issues/{group.pk}/",
            f"/api/0/projects/{organization.slug}/web/issues/?id={group.pk}",
            org_url(organization, f"issues/?id={group.pk}"),
        ]:
            response = client.put(path, body, content_type="application/json")
            assert_error(response, 400, f"JSON parse error - {LONE_SURROGATE}")

    def test_api_token_scopes(self, owner):
        session = APIClient(raise_request_exception=False)
        session.force_authenticate(owner)
        response = session.post(
            "/api/0/api-tokens/", b'{"scopes": ["\\ud800"]}', content_type="application/json"
        )
        assert_error(response, 400, f"JSON parse error - {LONE_SURROGATE}")

    @pytest.mark.parametrize(
        ("body", "echoed"),
        [
            # A surrogate pair is one character, echoed back as such.
            (b'{"status": "\\ud83d\\ude00"}', "\U0001f600"),
            # An escaped backslash: the text \ud800, no surrogate.
            (b'{"status": "\\\\ud800"}', "\\ud800"),
        ],
    )
    def test_what_only_looks_like_one_passes(self, client, group, body, echoed):
        response = client.put(f"/api/0/issues/{group.pk}/", body, content_type="application/json")
        assert response.status_code == 400, response.content
        assert response.json() == {"status": [f'"{echoed}" is not a valid choice.']}

    @pytest.mark.parametrize(
        ("charset", "body"),
        [
            # A client names the charset; these two decode escapes and UTF-7 runs to surrogates.
            ("unicode_escape", b'{"status": "\\ud800"}'),
            ("utf-7", b'{"status": "+2AA-"}'),
        ],
    )
    def test_json_in_a_charset_that_decodes_to_one(self, client, group, charset, body):
        response = client.put(
            f"/api/0/issues/{group.pk}/", body, content_type=f"application/json; charset={charset}"
        )
        assert_error(response, 400, f"JSON parse error - {LONE_SURROGATE}")

    @pytest.mark.parametrize(
        ("charset", "body"),
        [("unicode_escape", b"status=%5Cud800"), ("raw_unicode_escape", b"status=\\ud800")],
    )
    def test_form_in_a_charset_that_decodes_to_one(self, client, group, charset, body):
        response = client.put(
            f"/api/0/issues/{group.pk}/",
            body,
            content_type=f"application/x-www-form-urlencoded; charset={charset}",
        )
        assert_error(response, 400, f"Form parse error - {LONE_SURROGATE}")

    @pytest.mark.parametrize(
        "part",
        [
            b'Content-Disposition: form-data; name="status"\r\n\r\n\\ud800',
            b'Content-Disposition: form-data; name="\\ud800"\r\n\r\nresolved',
            b'Content-Disposition: form-data; name="\\ud800"; filename="a.txt"\r\n\r\nx',
        ],
    )
    def test_multipart_in_a_charset_that_decodes_to_one(self, client, group, part):
        body = b"--BoUnDaRy\r\n" + part + b"\r\n--BoUnDaRy--\r\n"
        response = client.put(
            f"/api/0/issues/{group.pk}/",
            body,
            content_type="multipart/form-data; boundary=BoUnDaRy; charset=unicode_escape",
        )
        assert_error(response, 400, f"Multipart form parse error - {LONE_SURROGATE}")

    def test_utf8_forms_cannot_carry_one(self, client, group):
        # UTF-8 cannot encode a surrogate: its would-be bytes decode to replacement characters.
        form = client.put(
            f"/api/0/issues/{group.pk}/",
            b"status=%ED%A0%80",
            content_type="application/x-www-form-urlencoded",
        )
        multipart = client.put(
            f"/api/0/issues/{group.pk}/",
            b'--B\r\nContent-Disposition: form-data; name="status"\r\n\r\n'
            b"\xed\xa0\x80\r\n--B--\r\n",
            content_type="multipart/form-data; boundary=B",
        )
        for response in (form, multipart):
            assert response.status_code == 400, response.content
            assert response.json() == {"status": ['"\ufffd\ufffd\ufffd" is not a valid choice.']}


class TestDeeplyNestedJson:
    @pytest.mark.parametrize(
        "body",
        ["[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000, '{"name":' + "[" * 5000],
    )
    def test_is_a_parse_error(self, client, organization, group, body):
        for method, path in writes(organization, group):
            response = getattr(client, method)(path, body, content_type="application/json")
            assert_error(response, 400, "JSON parse error - nested too deeply")


class TestMalformedBasicHeader:
    @pytest.mark.parametrize(
        "credentials",
        [
            "\xc3\xbc",  # the bytes of "ü" in UTF-8, as a WSGI server passes them on
            "\xff",
            base64.b64encode(b"\xff\xfe:").decode(),  # a user name that is not UTF-8
            "not base64!",
        ],
    )
    def test_is_401(self, organization, credentials):
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Basic {credentials}")
        for path in ["/api/0/", org_url(organization)]:
            response = client.get(path)
            assert_error(response, 401, "Invalid basic header.")
            assert response["WWW-Authenticate"] == 'xBasic realm="api"'


class TestRequestLimits:
    """Django refuses bodies past DATA_UPLOAD_MAX_*; the API says so in JSON."""

    def test_form_with_too_many_fields(self, client, organization, group):
        body = "&".join(f"field{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 200))
        for method, path in writes(organization, group):
            response = getattr(client, method)(
                path, body, content_type="application/x-www-form-urlencoded"
            )
            assert_error(response, 400, TOO_MANY_FIELDS)

    def test_multipart_with_too_many_parts(self, client, organization, group):
        fields = {f"field{n}": "1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 200)}
        for method, path in writes(organization, group):
            response = getattr(client, method)(path, fields, format="multipart")
            assert_error(response, 400, TOO_MANY_FIELDS)

    def test_multipart_with_too_many_files(self, client, organization):
        files = {
            f"file{n}": SimpleUploadedFile(f"{n}.txt", b"x")
            for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
        }
        response = client.post(org_url(organization, "teams/"), files, format="multipart")
        assert_error(
            response, 400, f"Too many files: at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES}."
        )

    def test_query_string_with_too_many_parameters(self, client, organization):
        query = "&".join(f"p{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 200))
        response = client.get(org_url(organization, f"releases/?{query}"))
        assert_error(response, 400, TOO_MANY_FIELDS)

    def test_form_too_large(self, client, organization, group):
        body = "name=" + "a" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        for method, path in writes(organization, group):
            response = getattr(client, method)(
                path, body, content_type="application/x-www-form-urlencoded"
            )
            assert_error(response, 413, TOO_LARGE)

    def test_multipart_value_too_large(self, client, organization, group):
        fields = {"name": "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
        for method, path in writes(organization, group):
            response = getattr(client, method)(path, fields, format="multipart")
            assert_error(response, 413, TOO_LARGE)

    def test_json_too_large(self, client, organization, group):
        body = json.dumps({"name": "a" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
        for method, path in writes(organization, group):
            response = getattr(client, method)(path, body, content_type="application/json")
            assert_error(response, 413, TOO_LARGE)

    def test_session_request_refused_while_checking_csrf(self, owner):
        # SessionAuthentication's CSRF check reads the form first, inside DRF's handling.
        session = APIClient(enforce_csrf_checks=True, raise_request_exception=False)
        session.force_login(owner)
        session.cookies["csrftoken"] = "a" * 32
        body = "&".join(f"field{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
        response = session.post(
            "/api/0/api-tokens/", body, content_type="application/x-www-form-urlencoded"
        )
        assert_error(response, 400, TOO_MANY_FIELDS)

    def test_within_limits_still_works(self, client, organization):
        response = client.post(
            org_url(organization, "teams/"), {"slug": "backend", "name": "Backend"}, format="json"
        )
        assert response.status_code == 201, response.content
