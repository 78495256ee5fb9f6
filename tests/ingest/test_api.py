"""/api/0/ statistics from ingest's outcome counters."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from ingest.outcomes import record_outcomes
from projects import services as project_services
from projects.health import hour_of
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(organization):
    project = project_services.create_project(organization=organization, name="web")
    now = timezone.now()
    record_outcomes(
        project_id=project.pk, outcomes=Counter({("error", "accepted", ""): 5}), moment=now
    )
    record_outcomes(
        project_id=project.pk,
        outcomes=Counter(
            {
                ("error", "accepted", ""): 2,
                ("error", "rate_limited", "quota"): 3,
                ("transaction", "accepted", ""): 7,
            }
        ),
        moment=now - timedelta(hours=3),
    )
    return project


def test_project_stats_received_hourly(api_client, organization, project):
    response = api_client.get(f"/api/0/projects/{organization.slug}/{project.slug}/stats/")
    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) in (24, 25)
    assert sum(count for _, count in series) == 7  # errors only, transactions not counted
    assert series[-1][1] == 5
    assert series[-1][0] == int(hour_of(timezone.now()).timestamp())


def test_project_stats_rejected(api_client, organization, project):
    response = api_client.get(
        f"/api/0/projects/{organization.slug}/{project.slug}/stats/", {"stat": "rejected"}
    )
    assert sum(count for _, count in response.json()) == 3


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"resolution": "10s"}, "Invalid resolution"),
        ({"since": "yesterday"}, "since must be a numeric timestamp"),
        ({"stat": "eaten"}, "Invalid stat: eaten"),
    ],
)
def test_project_stats_bad_input(api_client, organization, project, params, detail):
    response = api_client.get(f"/api/0/projects/{organization.slug}/{project.slug}/stats/", params)
    assert (response.status_code, response.json()) == (400, {"detail": detail})


def test_organization_stats_daily(api_client, organization, project):
    response = api_client.get(
        f"/api/0/organizations/{organization.slug}/stats/",
        {"resolution": "1d", "since": int((timezone.now() - timedelta(days=2)).timestamp())},
    )
    assert response.status_code == 200, response.content
    assert sum(count for _, count in response.json()) == 7


def test_stats_v2_grouped_by_outcome_and_category(api_client, organization, project):
    ProjectFactory()  # other organizations' counts stay out
    response = api_client.get(
        f"/api/0/organizations/{organization.slug}/stats_v2/",
        {
            "field": "sum(quantity)",
            "groupBy": ["outcome", "category"],
            "statsPeriod": "1d",
            "interval": "1h",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    totals = {
        (group["by"]["outcome"], group["by"]["category"]): group["totals"]["sum(quantity)"]
        for group in body["groups"]
    }
    assert totals == {
        ("accepted", "error"): 7,
        ("rate_limited", "error"): 3,
        ("accepted", "transaction"): 7,
    }
    assert len(body["intervals"]) == len(body["groups"][0]["series"]["sum(quantity)"])


def test_stats_v2_filters_and_bad_input(api_client, organization, project):
    url = f"/api/0/organizations/{organization.slug}/stats_v2/"
    filtered = api_client.get(url, {"category": "transaction", "groupBy": "project"}).json()
    assert filtered["groups"][0]["by"] == {"project": str(project.pk)}
    assert filtered["groups"][0]["totals"]["sum(quantity)"] == 7
    assert api_client.get(url, {"groupBy": "colour"}).status_code == 400
    assert api_client.get(url, {"statsPeriod": "forever"}).status_code == 400


def test_stats_need_credentials_and_scope(client, api_client_for, organization, project):
    url = f"/api/0/organizations/{organization.slug}/stats_v2/"
    assert client.get(url).status_code == 401
    assert api_client_for(organization, ["project:read"]).get(url).status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"statsPeriod": "999999999999d"},
        {"start": "1900-01-01", "end": "2000-01-01"},
        {"start": "2026-01-02", "end": "2026-01-01"},
    ],
)
def test_stats_v2_ranges_are_bounded(api_client, organization, project, params):
    response = api_client.get(f"/api/0/organizations/{organization.slug}/stats_v2/", params)
    assert response.status_code == 400, response.content
