"""/api/0/ releases and deploys."""

from __future__ import annotations

import pytest

from projects import services
from projects.models import Release
from tests.api_helpers import walk
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(organization):
    return services.create_project(organization=organization, name="web")


def url(organization, suffix=""):
    return f"/api/0/organizations/{organization.slug}/releases/{suffix}"


def test_create_is_201_then_208(api_client, organization, project):
    body = {"version": "web@1.0.0", "projects": [project.slug], "ref": "abc123"}
    created = api_client.post(url(organization), body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["version"], data["ref"], data["projects"][0]["slug"]) == (
        "web@1.0.0",
        "abc123",
        "web",
    )
    assert data["versionInfo"]["package"] == "web"
    again = api_client.post(url(organization), body, format="json")
    assert again.status_code == 208, again.content


def test_projects_by_numeric_id_as_sentry_cli_sends(api_client, organization, project):
    response = api_client.post(
        url(organization), {"version": "1.2", "projects": [project.pk]}, format="json"
    )
    assert response.status_code == 201, response.content


def test_adding_a_project_is_201(api_client, organization, project):
    other = services.create_project(organization=organization, name="api")
    api_client.post(url(organization), {"version": "v1", "projects": ["web"]}, format="json")
    response = api_client.post(
        url(organization), {"version": "v1", "projects": ["web", other.slug]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert len(response.json()["projects"]) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"projects": ["web"]},
        {"version": "a/b", "projects": ["web"]},
        {"version": "v1", "projects": ["nope"]},
        {"version": "v1", "projects": [True]},
    ],
)
def test_bad_input_is_400(api_client, organization, project, body):
    response = api_client.post(url(organization), body, format="json")
    assert response.status_code == 400, response.content


def test_finalize_update_delete(api_client, organization, project):
    api_client.post(url(organization), {"version": "v2", "projects": ["web"]}, format="json")
    finalized = api_client.put(
        url(organization, "v2/"), {"dateReleased": "2026-11-22T10:00:00Z"}, format="json"
    )
    assert finalized.status_code == 200, finalized.content
    assert finalized.json()["dateReleased"].startswith("2026-11-22T10:00:00")
    assert api_client.get(url(organization, "nope/")).status_code == 404
    assert api_client.delete(url(organization, "v2/")).status_code == 204
    assert not Release.objects.exists()


def test_project_list_and_pagination(
    api_client, organization, project, django_assert_max_num_queries
):
    for index in range(5):
        services.upsert_release(organization=organization, version=f"v{index}", projects=["web"])
    services.upsert_release(organization=organization, version="other")
    with django_assert_max_num_queries(10):
        response = api_client.get(
            f"/api/0/projects/{organization.slug}/{project.slug}/releases/", {"per_page": 2}
        )
    assert response.status_code == 200, response.content
    pages = walk(
        api_client, f"/api/0/projects/{organization.slug}/{project.slug}/releases/", per_page=2
    )
    assert sorted(r["version"] for page in pages for r in page) == [f"v{i}" for i in range(5)]
    assert len(api_client.get(url(organization)).json()) == 6


def test_deploys(api_client, organization, project):
    services.upsert_release(organization=organization, version="v3", projects=["web"])
    created = api_client.post(
        url(organization, "v3/deploys/"),
        {"environment": "production", "name": "blue"},
        format="json",
    )
    assert created.status_code == 201, created.content
    listed = api_client.get(url(organization, "v3/deploys/")).json()
    assert [d["environment"] for d in listed] == ["production"]
    release = api_client.get(url(organization, "v3/")).json()
    assert (release["deployCount"], release["lastDeploy"]["name"]) == (1, "blue")
    missing = api_client.post(url(organization, "v3/deploys/"), {}, format="json")
    assert missing.status_code == 400, missing.content


def test_scopes(api_client_for, organization, project):
    reader = api_client_for(organization, ["project:read"])
    assert reader.get(url(organization)).status_code == 200
    response = reader.post(url(organization), {"version": "v9"}, format="json")
    assert response.status_code == 403, response.content
    releaser = api_client_for(organization, ["project:releases"])
    assert releaser.post(url(organization), {"version": "v9"}, format="json").status_code == 201


def test_other_organization(api_client):
    other = ProjectFactory()
    response = api_client.get(f"/api/0/organizations/{other.organization.slug}/releases/")
    assert response.status_code == 403, response.content


def test_project_filter(api_client, organization, project):
    other = services.create_project(organization=organization, name="api")
    for version, slug in (("web@1", project.slug), ("api@1", other.slug)):
        body = {"version": version, "projects": [slug]}
        assert api_client.post(url(organization), body, format="json").status_code == 201

    def versions(value):
        response = api_client.get(url(organization), {"project": value})
        assert response.status_code == 200, response.content
        return sorted(release["version"] for release in response.json())

    assert versions(project.pk) == ["web@1"]
    # -1 is "all projects" in Sentry's clients, as on the issue and monitor lists.
    assert versions("-1") == ["api@1", "web@1"]
