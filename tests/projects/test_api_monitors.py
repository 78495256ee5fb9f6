"""/api/0/organizations/{org}/monitors/…: list, detail and paginated check-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from tests.api_helpers import parse_link, walk
from tests.projects.factories import MonitorCheckInFactory, MonitorFactory, ProjectFactory

pytestmark = pytest.mark.django_db

DUE = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)


@pytest.fixture
def project(organization):
    return ProjectFactory(organization=organization, slug="web")


@pytest.fixture
def monitor(project):
    return MonitorFactory(
        project=project,
        slug="nightly",
        status="ok",
        last_checkin=DUE - timedelta(minutes=5),
        next_checkin=DUE,
        next_checkin_latest=DUE + timedelta(minutes=1),
    )


def url(organization, suffix=""):
    return f"/api/0/organizations/{organization.slug}/monitors/{suffix}"


class TestList:
    def test_lists_the_organizations_monitors(
        self, api_client, organization, monitor, django_assert_num_queries
    ):
        MonitorFactory(project=ProjectFactory(organization=organization))
        MonitorFactory()  # another organization's
        with django_assert_num_queries(5):
            response = api_client.get(url(organization))
        assert response.status_code == 200, response.content
        assert len(response.json()) == 2
        assert parse_link(response["Link"])["next"]["results"] is False
        assert response.json()[1]["slug"] == "nightly"

    def test_project_filter(self, api_client, organization, monitor):
        MonitorFactory(project=ProjectFactory(organization=organization))
        response = api_client.get(url(organization), {"project": monitor.project_id})
        assert [row["slug"] for row in response.json()] == ["nightly"], response.content
        assert len(api_client.get(url(organization), {"project": "-1"}).json()) == 2

    def test_bad_project_is_400(self, api_client, organization):
        response = api_client.get(url(organization), {"project": "web"})
        assert response.status_code == 400, response.content

    def test_no_credentials_is_401(self, organization):
        response = APIClient().get(url(organization))
        assert response.status_code == 401, response.content

    def test_needs_project_read(self, api_client_for, organization):
        response = api_client_for(organization, ["org:read"]).get(url(organization))
        assert response.status_code == 403, response.content
        allowed = api_client_for(organization, ["project:read"]).get(url(organization))
        assert allowed.status_code == 200, allowed.content

    def test_other_organization_is_403(self, api_client):
        other = MonitorFactory()
        response = api_client.get(url(other.project.organization))
        assert response.status_code == 403, response.content


class TestDetail:
    def test_detail(self, api_client, organization, monitor):
        response = api_client.get(url(organization, "nightly/"))
        assert response.status_code == 200, response.content
        data = response.json()
        assert data["id"] == str(monitor.pk)
        assert (data["slug"], data["name"], data["status"]) == ("nightly", monitor.name, "ok")
        assert data["config"] == {
            "schedule_type": "crontab",
            "schedule": "*/5 * * * *",
            "checkin_margin": 1,
            "max_runtime": 30,
            "timezone": "UTC",
        }
        assert data["project"]["slug"] == "web"
        assert data["nextCheckIn"] == "2026-11-22T10:05:00Z"
        assert data["nextCheckInLatest"] == "2026-11-22T10:06:00Z"
        assert data["lastCheckIn"] == "2026-11-22T10:00:00Z"

    def test_unknown_is_404(self, api_client, organization, monitor):
        response = api_client.get(url(organization, "nope/"))
        assert response.status_code == 404, response.content

    def test_same_slug_in_two_projects_picked_by_project(self, api_client, organization, monitor):
        other = MonitorFactory(project=ProjectFactory(organization=organization), slug="nightly")
        picked = api_client.get(url(organization, "nightly/"), {"project": other.project_id})
        assert picked.json()["id"] == str(other.pk), picked.content
        assert api_client.get(url(organization, "nightly/")).json()["id"] == str(monitor.pk)

    def test_other_organizations_monitor_is_not_found(self, api_client, organization):
        other = MonitorFactory(slug="theirs")
        assert api_client.get(url(organization, "theirs/")).status_code == 404
        assert api_client.get(url(other.project.organization, "theirs/")).status_code == 403

    def test_no_credentials_is_401(self, organization, monitor):
        assert APIClient().get(url(organization, "nightly/")).status_code == 401

    def test_needs_project_read(self, api_client_for, organization, monitor):
        client = api_client_for(organization, ["org:read"])
        assert client.get(url(organization, "nightly/")).status_code == 403


class TestCheckIns:
    def test_newest_first_with_pages_both_ways(
        self, api_client, organization, monitor, django_assert_num_queries
    ):
        rows = [
            MonitorCheckInFactory(monitor=monitor, date_added=DUE + timedelta(minutes=i))
            for i in range(5)
        ]
        path = url(organization, "nightly/checkins/")
        with django_assert_num_queries(6):
            first = api_client.get(path, {"per_page": 2})
        assert first.status_code == 200, first.content
        assert [row["id"] for row in first.json()] == [str(r.check_in_id) for r in rows[:2:-1]]
        assert set(first.json()[0]) == {
            "id",
            "status",
            "duration",
            "environment",
            "dateCreated",
            "dateUpdated",
            "expectedTime",
        }
        assert first.json()[0]["duration"] == 1500
        links = parse_link(first["Link"])
        assert (links["previous"]["results"], links["next"]["results"]) == (False, True)
        second = api_client.get(path, {"per_page": 2, "cursor": links["next"]["cursor"]})
        back_cursor = parse_link(second["Link"])["previous"]["cursor"]
        back = api_client.get(path, {"per_page": 2, "cursor": back_cursor})
        assert back.json() == first.json()
        pages = walk(api_client, path, per_page=2)
        assert sum(len(page) for page in pages) == 5

    def test_bad_cursor_is_400(self, api_client, organization, monitor):
        response = api_client.get(url(organization, "nightly/checkins/"), {"cursor": "x"})
        assert response.status_code == 400, response.content

    def test_unknown_monitor_is_404(self, api_client, organization):
        assert api_client.get(url(organization, "nope/checkins/")).status_code == 404

    def test_no_credentials_is_401_and_scope_403(self, api_client_for, organization, monitor):
        path = url(organization, "nightly/checkins/")
        assert APIClient().get(path).status_code == 401
        assert api_client_for(organization, ["org:read"]).get(path).status_code == 403

    def test_other_organization_is_403(self, api_client):
        other = MonitorFactory()
        path = url(other.project.organization, f"{other.slug}/checkins/")
        assert api_client.get(path).status_code == 403
