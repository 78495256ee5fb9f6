"""/api/0/ under inputs a fuzzer sends: OPTIONS on every route, ids that are digits only to
str.isdigit(), and writes sent as query strings. Each answers JSON, never a 500."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from groups.models import Group, GroupStatus
from organizations.roles import SCOPES
from organizations.services import create_user_token
from projects import services as project_services
from tests.groups.factories import (
    ApiCallFactory,
    AttachmentFactory,
    EventFactory,
    GroupFactory,
    GroupTagValueFactory,
)
from tests.organizations.factories import TeamFactory
from tests.projects.factories import MonitorFactory

pytestmark = pytest.mark.django_db

_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def _routes(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def api_routes() -> list[str]:
    """Every route under /api/0/ but the catch-all for unknown paths (a regular expression)."""
    (api,) = [p for p in get_resolver().url_patterns if str(p.pattern) == "api/0/"]
    return sorted(route for route in set(_routes(api.url_patterns)) if not route.startswith("^"))


@pytest.fixture
def samples(organization, owner):
    """A value for each path parameter, naming an object that exists in `organization`."""
    project = project_services.create_project(organization=organization, name="web")
    group = GroupFactory(project=project)
    event = EventFactory(group=group)
    GroupTagValueFactory(group=group)
    attachment = AttachmentFactory(project=project, event_id=event.event_id)
    release = project_services.upsert_release(
        organization=organization, version="web@1.0", projects=[project.slug]
    ).release
    token, _ = create_user_token(user=owner, label="cli", scopes=["org:read"])
    return {
        "organization_id_or_slug": organization.slug,
        "project_id_or_slug": project.slug,
        "team_id_or_slug": TeamFactory(organization=organization).slug,
        "token_id": str(token.pk),
        "key_id": project.keys.get().public_key,
        "version": release.version,
        "monitor_id_or_slug": MonitorFactory(project=project).slug,
        "issue_id": str(group.pk),
        "short_id": group.qualified_short_id,
        "event_id": event.event_id.hex,
        "attachment_id": str(attachment.pk),
        "api_call_id": str(ApiCallFactory(project=project).pk),
        "trace_id": uuid.uuid4().hex,
        "key": "environment",
    }


def test_options_on_every_route_answers_json(api_client, samples):
    """OPTIONS describes the view (DRF's metadata) on every route, whatever the view defines."""
    routes = api_routes()
    assert len(routes) >= 70, routes
    for route in routes:
        path = "/api/0/" + _PARAMETER.sub(lambda match: samples[match.group(1)], route)
        response = api_client.options(path)
        assert response.status_code == 200, (path, response.content[:500])
        assert response["Content-Type"] == "application/json", (path, response.content[:500])
        body = response.json()
        assert {"name", "description", "renders", "parses"} <= set(body), (path, body)
        # What a PUT or POST would take is not described: that ran get_object() for it.
        assert "actions" not in body, (path, body)


def test_options_of_an_unknown_path_is_404(api_client):
    response = api_client.options("/api/0/no-such-resource/")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "The requested resource does not exist"},
    ), response.content


def test_options_still_needs_credentials_and_access(client, api_client_for, samples):
    path = f"/api/0/organizations/{samples['organization_id_or_slug']}/"
    response = client.options(path)
    assert response.status_code == 401, response.content
    response = api_client_for(GroupFactory().project.organization, SCOPES).options(path)
    assert response.status_code == 403, response.content
    response = api_client_for(GroupFactory().project.organization, SCOPES).options(
        f"/api/0/issues/{samples['issue_id']}/"
    )
    assert response.status_code == 403, response.content


class TestSchemaViews:
    @pytest.mark.parametrize("path", ["/api/0/schema/", "/api/0/schema/docs/"])
    def test_options_and_other_methods_answer_json(self, client, path):
        response = client.options(path)
        assert response.status_code == 200, response.content[:500]
        assert response.json()["name"], response.content
        for method in (client.post, client.delete):
            response = method(path)
            assert response["Content-Type"] == "application/json", response.content[:500]
            assert response.status_code == 405, response.content[:500]
            assert set(response.json()) == {"detail"}, response.content

    def test_get_still_renders_the_page(self, client):
        response = client.get("/api/0/schema/docs/")
        assert response.status_code == 200, response.content[:500]
        assert response["Content-Type"].startswith("text/html")
        assert b"swagger" in response.content.lower()

    def test_get_still_negotiates_the_schema_format(self, client):
        yaml = client.get("/api/0/schema/")
        assert yaml["Content-Type"].startswith("application/vnd.oai.openapi")
        assert yaml.content.startswith(b"openapi: ")
        json = client.get("/api/0/schema/", {"format": "json"})
        assert json.json()["openapi"].startswith("3.")


@pytest.mark.parametrize("attachment_id", ["%C2%B2", "²", "%D9%A3", "1%C2%B2"])
def test_attachment_id_with_non_ascii_digits_is_404(api_client, samples, attachment_id):
    path = (
        f"/api/0/projects/{samples['organization_id_or_slug']}/{samples['project_id_or_slug']}"
        f"/events/{samples['event_id']}/attachments/{attachment_id}/"
    )
    response = api_client.get(path)
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "The requested resource does not exist"},
    ), response.content


class TestIssueUpdateFromTheQueryString:
    """sentry-cli and scripts send `PUT …?status=resolved` with no body (Sentry reads both)."""

    @pytest.fixture(params=["issues", "groups", "organization"])
    def issue_url(self, request, organization, samples):
        issue_id = samples["issue_id"]
        if request.param == "organization":
            return f"/api/0/organizations/{organization.slug}/issues/{issue_id}/"
        return f"/api/0/{request.param}/{issue_id}/"

    def test_status_is_applied(self, api_client, samples, issue_url):
        response = api_client.put(f"{issue_url}?status=resolved")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "resolved", response.content
        assert Group.objects.get(pk=samples["issue_id"]).status == GroupStatus.RESOLVED

    @pytest.mark.parametrize(
        ("query", "field"), [("status=xyz", "status"), ("hasSeen=maybe", "hasSeen")]
    )
    def test_bad_values_are_400(self, api_client, samples, issue_url, query, field):
        response = api_client.put(f"{issue_url}?{query}")
        assert response.status_code == 400, response.content
        assert field in response.json(), response.content
        assert Group.objects.get(pk=samples["issue_id"]).status == GroupStatus.UNRESOLVED

    def test_a_body_wins_over_the_query_string(self, api_client, samples, issue_url):
        response = api_client.put(f"{issue_url}?status=resolved", {"status": "ignored"})
        assert response.status_code == 200, response.content
        assert Group.objects.get(pk=samples["issue_id"]).status == GroupStatus.IGNORED

    def test_reading_needs_no_write_scope(self, api_client_for, organization, samples, issue_url):
        # The query string of a GET stays a filter, never a write.
        reader = api_client_for(organization, ["event:read"])
        assert reader.get(f"{issue_url}?status=resolved").status_code == 200
        response = reader.put(f"{issue_url}?status=resolved")
        assert response.status_code == 403, response.content
        assert Group.objects.get(pk=samples["issue_id"]).status == GroupStatus.UNRESOLVED
