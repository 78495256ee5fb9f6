"""Releases with `?health=1`: Sentry's `healthData` per project, from stored sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from projects import services
from tests.projects.factories import SessionAggregateFactory, SessionUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(organization):
    project = services.create_project(organization=organization, name="web")
    services.upsert_release(
        organization=organization, version="shop@1.0", projects=[project.slug], attributes={}
    )
    services.upsert_release(
        organization=organization, version="shop@2.0", projects=[project.slug], attributes={}
    )
    return project


@pytest.fixture
def sessions(project):
    SessionAggregateFactory(project=project, started=10, errored=1, crashed=2)
    SessionAggregateFactory(
        project=project, hour=timezone.now() - timedelta(days=3), started=10, crashed=0, errored=0
    )
    SessionUserFactory(project=project, has_crashed=True)
    SessionUserFactory(project=project, first_seen=timezone.now() - timedelta(days=3))
    SessionUserFactory(project=project, first_seen=timezone.now() - timedelta(days=3))
    SessionUserFactory(project=project, first_seen=timezone.now() - timedelta(days=3))


def url(organization, suffix=""):
    return f"/api/0/organizations/{organization.slug}/releases/{suffix}"


def test_list_with_health(api_client, organization, sessions, django_assert_num_queries):
    with django_assert_num_queries(9):
        response = api_client.get(url(organization), {"health": "1"})
    assert response.status_code == 200, response.content
    by_version = {row["version"]: row["projects"][0] for row in response.json()}
    health = by_version["shop@1.0"]["healthData"]
    assert by_version["shop@1.0"]["hasHealthData"] is True
    assert health["totalSessions"] == 20
    assert health["totalSessions24h"] == 10
    assert health["crashFreeSessions"] == 90.0
    assert (health["totalUsers"], health["totalUsers24h"], health["crashFreeUsers"]) == (4, 1, 75.0)
    assert (health["sessionsCrashed"], health["sessionsErrored"]) == (2, 1)
    assert by_version["shop@2.0"]["hasHealthData"] is False
    assert by_version["shop@2.0"]["healthData"]["crashFreeSessions"] is None


def test_without_health_no_health_data(api_client, organization, sessions):
    response = api_client.get(url(organization))
    assert response.status_code == 200, response.content
    assert "healthData" not in response.json()[0]["projects"][0]


def test_detail_and_project_list_with_health(api_client, organization, project, sessions):
    detail = api_client.get(url(organization, "shop@1.0/"), {"health": "1"})
    assert detail.status_code == 200, detail.content
    assert detail.json()["projects"][0]["healthData"]["totalSessions"] == 20
    listed = api_client.get(
        f"/api/0/projects/{organization.slug}/{project.slug}/releases/", {"health": "1"}
    )
    assert listed.status_code == 200, listed.content
    assert {row["projects"][0]["hasHealthData"] for row in listed.json()} == {True, False}
