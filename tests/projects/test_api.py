"""/api/0/ projects and client keys."""

from __future__ import annotations

import pytest

from projects import services
from projects.models import Project, ProjectKey
from tests.api_helpers import parse_link, walk
from tests.organizations.factories import OrganizationFactory, TeamFactory
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(organization):
    return TeamFactory(organization=organization, slug="backend")


@pytest.fixture
def project(organization, team):
    return services.create_project(organization=organization, name="Web", teams=[team])


def test_create_under_team(api_client, organization, team):
    url = f"/api/0/teams/{organization.slug}/{team.slug}/projects/"
    response = api_client.post(url, {"name": "Web Shop", "platform": "python"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["slug"], body["platform"], body["team"]["slug"]) == (
        "web-shop",
        "python",
        "backend",
    )
    assert ProjectKey.objects.get(project_id=body["id"]).is_default
    again = api_client.post(url, {"name": "Web Shop"}, format="json")
    assert again.status_code == 409, again.content


def test_create_needs_project_write(api_client_for, organization, team):
    client = api_client_for(organization, ["project:read"])
    response = client.post(
        f"/api/0/teams/{organization.slug}/{team.slug}/projects/", {"name": "x"}, format="json"
    )
    assert response.status_code == 403, response.content


def test_create_rejects_bad_slug(api_client, organization, team):
    response = api_client.post(
        f"/api/0/teams/{organization.slug}/{team.slug}/projects/",
        {"name": "x", "slug": "Bad Slug"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "slug" in response.json()


def test_organization_list_with_pages(
    api_client, organization, project, django_assert_max_num_queries
):
    for index in range(4):
        services.create_project(organization=organization, name=f"p{index}")
    ProjectFactory()  # elsewhere
    url = f"/api/0/organizations/{organization.slug}/projects/"
    with django_assert_max_num_queries(8):
        first = api_client.get(url, {"per_page": 2, "cursor": ""})
    assert first.status_code == 200, first.content
    assert {"id", "slug", "name", "team"} <= set(first.json()[0])
    pages = walk(api_client, url, per_page=2)
    assert sum(len(page) for page in pages) == 5
    assert parse_link(first["Link"])["previous"]["results"] is False


def test_global_list_shows_only_own_organization(api_client, project):
    ProjectFactory()
    response = api_client.get("/api/0/projects/")
    assert [item["slug"] for item in response.json()] == [project.slug]


def test_detail_update_and_rename_redirect(api_client, organization, project):
    url = f"/api/0/projects/{organization.slug}/{project.slug}/"
    detail = api_client.get(url)
    assert detail.status_code == 200, detail.content
    assert detail.json()["organization"]["slug"] == organization.slug
    updated = api_client.put(
        url, {"slug": "storefront", "name": "Storefront", "dataScrubber": False}, format="json"
    )
    assert updated.status_code == 200, updated.content
    project.refresh_from_db()
    assert (project.slug, project.name, project.scrub_data) == ("storefront", "Storefront", False)
    moved = api_client.get(url)
    assert moved.status_code == 302, moved.content
    assert moved.json()["slug"] == "storefront"
    by_id = api_client.get(f"/api/0/projects/{organization.slug}/{project.pk}/")
    assert by_id.json()["slug"] == "storefront"


def test_delete_needs_project_admin(api_client_for, organization, project):
    url = f"/api/0/projects/{organization.slug}/{project.slug}/"
    assert api_client_for(organization, ["project:write"]).delete(url).status_code == 403
    assert api_client_for(organization, ["project:admin"]).delete(url).status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()


def test_other_organizations_project(api_client):
    other = ProjectFactory()
    url = f"/api/0/projects/{other.organization.slug}/{other.slug}/"
    assert api_client.get(url).status_code == 403
    assert api_client.get(f"/api/0/projects/{OrganizationFactory().slug}/nope/").status_code == 403


def test_unknown_project_is_404(api_client, organization):
    assert api_client.get(f"/api/0/projects/{organization.slug}/nope/").status_code == 404


class TestKeys:
    def test_list_shows_dsn_object(self, api_client, organization, project, settings):
        settings.FAULTLINE_BASE_URL = "https://errors.example.com"
        response = api_client.get(f"/api/0/projects/{organization.slug}/{project.slug}/keys/")
        assert response.status_code == 200, response.content
        (key,) = response.json()
        stored = project.keys.get()
        assert key["id"] == key["public"] == stored.public_key
        assert key["projectId"] == project.pk
        assert (
            key["dsn"]["public"] == f"https://{stored.public_key}@errors.example.com/{project.pk}"
        )
        assert key["dsn"]["secret"] == stored.secret_dsn
        assert key["dsn"]["csp"].startswith(
            f"https://errors.example.com/api/{project.pk}/csp-report/"
        )
        assert key["rateLimit"] is None

    def test_create_update_delete(self, api_client, organization, project):
        base = f"/api/0/projects/{organization.slug}/{project.slug}/keys/"
        created = api_client.post(
            base, {"name": "CI", "rateLimit": {"count": 100, "window": 60}}, format="json"
        )
        assert created.status_code == 201, created.content
        body = created.json()
        assert (body["name"], body["rateLimit"]) == ("CI", {"count": 100, "window": 60})
        url = f"{base}{body['id']}/"
        updated = api_client.put(url, {"isActive": False, "rateLimit": None}, format="json")
        assert updated.status_code == 200, updated.content
        assert (updated.json()["isActive"], updated.json()["rateLimit"]) == (False, None)
        assert api_client.delete(url).status_code == 204
        assert project.keys.count() == 1

    def test_bad_rate_limit_is_400(self, api_client, organization, project):
        response = api_client.post(
            f"/api/0/projects/{organization.slug}/{project.slug}/keys/",
            {"rateLimit": {"count": 5, "window": 0}},
            format="json",
        )
        assert response.status_code == 400, response.content

    def test_read_only_key_cannot_create(self, api_client_for, organization, project):
        client = api_client_for(organization, ["project:read"])
        url = f"/api/0/projects/{organization.slug}/{project.slug}/keys/"
        assert client.get(url).status_code == 200
        assert client.post(url, {"name": "x"}, format="json").status_code == 403

    def test_unknown_key_is_404(self, api_client, organization, project):
        url = f"/api/0/projects/{organization.slug}/{project.slug}/keys/{'0' * 32}/"
        assert api_client.get(url).status_code == 404
