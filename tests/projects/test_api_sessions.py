"""/api/0/organizations/{org}/sessions/: release health totals and series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from tests.projects.factories import ProjectFactory, SessionAggregateFactory, SessionUserFactory

pytestmark = pytest.mark.django_db

HOUR = datetime(2026, 11, 20, 10, tzinfo=UTC)
RANGE = {"start": "2026-11-20T08:30:00Z", "end": "2026-11-20T12:10:00Z"}


@pytest.fixture
def project(organization):
    return ProjectFactory(organization=organization, slug="web")


@pytest.fixture
def data(project):
    SessionAggregateFactory(project=project, hour=HOUR, started=10, exited=7, errored=1, crashed=2)
    SessionAggregateFactory(
        project=project, hour=HOUR + timedelta(hours=1), started=4, exited=4, errored=0, crashed=0
    )
    SessionAggregateFactory(
        project=project, release="shop@2.0", hour=HOUR, started=5, exited=5, errored=0, crashed=0
    )
    SessionAggregateFactory(project=ProjectFactory(), hour=HOUR, started=99)  # elsewhere
    SessionUserFactory(project=project, first_seen=HOUR, has_crashed=True)
    SessionUserFactory(project=project, first_seen=HOUR + timedelta(minutes=90))
    SessionUserFactory(project=project, release="shop@2.0", first_seen=HOUR)


def url(organization):
    return f"/api/0/organizations/{organization.slug}/sessions/"


def get(client, organization, **params):
    response = client.get(url(organization), {**RANGE, **params})
    assert response.status_code == 200, response.content
    return response.json()


def test_totals_and_series_aligned_to_hours(api_client, organization, data):
    body = get(api_client, organization, field=["sum(session)", "count_unique(user)"])
    assert (body["start"], body["end"]) == ("2026-11-20T08:00:00Z", "2026-11-20T13:00:00Z")
    assert body["intervals"][0] == "2026-11-20T08:00:00Z"
    assert len(body["intervals"]) == 5
    [group] = body["groups"]
    assert group["by"] == {}
    assert group["totals"] == {"sum(session)": 19, "count_unique(user)": 3}
    assert group["series"]["sum(session)"] == [0, 0, 15, 4, 0]
    assert group["series"]["count_unique(user)"] == [0, 0, 2, 1, 0]


def test_group_by_release_with_crash_free_rates(api_client, organization, data, project):
    body = get(
        api_client,
        organization,
        field=["crash_free_rate(session)", "crash_free_rate(user)"],
        groupBy=["release", "project"],
    )
    groups = {group["by"]["release"]: group for group in body["groups"]}
    assert groups["shop@1.0"]["by"]["project"] == str(project.pk)
    assert groups["shop@1.0"]["totals"] == {
        "crash_free_rate(session)": pytest.approx(1 - 2 / 14),
        "crash_free_rate(user)": pytest.approx(0.5),
    }
    assert groups["shop@1.0"]["series"]["crash_free_rate(session)"][:3] == [None, None, 0.8]
    assert groups["shop@2.0"]["totals"]["crash_free_rate(session)"] == 1.0


def test_group_by_session_status(api_client, organization, data):
    body = get(api_client, organization, field="sum(session)", groupBy="session.status")
    totals = {
        group["by"]["session.status"]: group["totals"]["sum(session)"] for group in body["groups"]
    }
    assert totals == {"healthy": 16, "errored": 1, "crashed": 2, "abnormal": 0}


def test_release_query_environment_and_daily_interval(api_client, organization, data, project):
    body = get(
        api_client,
        organization,
        field="sum(session)",
        query="release:shop@2.0",
        interval="1d",
        project=project.pk,
        environment="production",
    )
    assert body["intervals"] == ["2026-11-20T00:00:00Z"]
    assert body["groups"][0]["totals"]["sum(session)"] == 5
    nothing = get(api_client, organization, field="sum(session)", environment="staging")
    assert nothing["groups"][0]["totals"]["sum(session)"] == 0


def test_stats_period_default(api_client, organization, data):
    response = api_client.get(url(organization), {"field": "sum(session)", "statsPeriod": "7d"})
    assert response.status_code == 200, response.content
    assert len(response.json()["intervals"]) in (168, 169)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"field": "sum(users)"},
        {"field": "sum(session)", "groupBy": "browser"},
        {"field": "crash_free_rate(session)", "groupBy": "session.status"},
        {"field": "sum(session)", "interval": "5m"},
        {"field": "sum(session)", "statsPeriod": "forever"},
        {"field": "sum(session)", "start": "yesterday", "end": "2026-11-20T00:00:00Z"},
        {"field": "sum(session)", "start": "2026-11-20T00:00:00Z"},
        {"field": "sum(session)", "statsPeriod": "900d"},
        {"field": "sum(session)", "statsPeriod": "999999w"},
        {
            "field": "sum(session)",
            "start": "0001-01-01T00:00:00+01:00",
            "end": "0001-01-02T00:00:00Z",
        },
        {
            "field": "sum(session)",
            "start": "9999-12-31T00:00:00Z",
            "end": "9999-12-31T23:30:00Z",
        },
        {"field": "sum(session)", "interval": "1d", "start": "2026-01-01", "end": "9999-12-31"},
        {"field": "sum(session)", "project": "web"},
        {"field": "sum(session)", "query": "level:error"},
        {"field": "sum(session)", "query": 'release:"unclosed'},
    ],
)
def test_bad_parameters_are_400(api_client, organization, params):
    response = api_client.get(url(organization), params)
    assert response.status_code == 400, response.content
    assert "detail" in response.json(), response.content


def test_no_credentials_is_401(organization):
    assert APIClient().get(url(organization), {"field": "sum(session)"}).status_code == 401


def test_needs_org_read(api_client_for, organization):
    client = api_client_for(organization, ["project:releases"])
    assert client.get(url(organization), {"field": "sum(session)"}).status_code == 403


def test_other_organization_is_403(api_client):
    other = ProjectFactory()
    response = api_client.get(url(other.organization), {"field": "sum(session)"})
    assert response.status_code == 403, response.content


def test_queries_are_pinned(api_client, organization, data, django_assert_num_queries):
    with django_assert_num_queries(6):
        get(
            api_client,
            organization,
            field=["sum(session)", "count_unique(user)"],
            groupBy="release",
        )
