"""/api/0/ statistics: time ranges and project ids at the edges of what dates and databases
hold answer 400 (or match nothing), never a 500."""

from __future__ import annotations

from collections import Counter

import pytest
from django.utils import timezone

from ingest.outcomes import record_outcomes
from projects import services as project_services

pytestmark = pytest.mark.django_db

# 0001-01-01T00:00:00Z and 9999-12-31T22:59:59Z / 23:59:59Z: inside Python's datetime range,
# outside what date arithmetic on them can take.
FIRST_MOMENT = "-62135596800"
LAST_HOUR = "253402297199"
LAST_MOMENT = "253402300799"


@pytest.fixture
def project(organization):
    return project_services.create_project(organization=organization, name="web")


@pytest.fixture(params=["organization", "project"])
def legacy_url(request, organization, project):
    if request.param == "organization":
        return f"/api/0/organizations/{organization.slug}/stats/"
    return f"/api/0/projects/{organization.slug}/{project.slug}/stats/"


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"until": FIRST_MOMENT}, "Invalid until: 0001-01-01T00:00:00+00:00 is out of range."),
        (
            {"since": FIRST_MOMENT, "until": "-62135590000"},
            "Invalid until: 0001-01-01T01:53:20+00:00 is out of range.",
        ),
        (
            {"since": LAST_HOUR, "until": LAST_MOMENT},
            "Invalid until: 9999-12-31T23:59:59+00:00 is out of range.",
        ),
        (
            {"since": LAST_HOUR, "until": LAST_MOMENT, "resolution": "1d"},
            "Invalid until: 9999-12-31T23:59:59+00:00 is out of range.",
        ),
        ({"since": FIRST_MOMENT}, "Invalid since: 0001-01-01T00:00:00+00:00 is out of range."),
        (
            {"since": LAST_HOUR, "resolution": "1d"},
            "Invalid since: 9999-12-31T22:59:59+00:00 is out of range.",
        ),
        ({"since": "1e300"}, "since must be a numeric timestamp"),
        ({"until": "nan"}, "until must be a numeric timestamp"),
    ],
)
def test_legacy_stats_out_of_range_is_400(api_client, legacy_url, params, detail):
    response = api_client.get(legacy_url, params)
    assert (response.status_code, response.json()) == (400, {"detail": detail}), response.content


@pytest.mark.parametrize("resolution", ["1h", "1d"])
def test_legacy_stats_at_the_edges_of_the_range(api_client, legacy_url, resolution):
    # The earliest and latest moments the range check lets through still answer a series.
    for since, until in (("-62135510400", "-62135424000"), ("253402041600", "253402128000")):
        params = {"since": since, "until": until, "resolution": resolution}
        response = api_client.get(legacy_url, params)
        assert response.status_code == 200, (params, response.content)
        assert all(count == 0 for _, count in response.json()), response.content


def test_legacy_stats_until_at_the_earliest_moment(api_client, legacy_url):
    # No since: a day before until, which is where the range check begins.
    response = api_client.get(legacy_url, {"until": "-62135510400"})
    assert response.status_code == 200, response.content
    assert len(response.json()) == 24, response.content


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        (
            {"start": "9999-12-31T00:00:00", "end": "9999-12-31T23:59:59"},
            "Invalid end: 9999-12-31T23:59:59 is out of range.",
        ),
        (
            {"start": "0001-01-01T00:00:00+01:00", "end": "0001-01-02T00:00:00"},
            "Invalid start: 0001-01-01T00:00:00+01:00 is out of range.",
        ),
        (
            {"start": "9999-12-31T23:00:00-05:00", "end": "9999-12-31T23:30:00-05:00"},
            "Invalid end: 9999-12-31T23:30:00-05:00 is out of range.",
        ),
        (
            {"start": "9999-12-31T00:00:00", "end": "2026-01-01"},
            "Invalid start: 9999-12-31T00:00:00 is out of range.",
        ),
        (
            {"end": "0001-01-01T12:00:00"},
            "Invalid end: 0001-01-01T12:00:00 is out of range.",
        ),
        ({"end": "0001-01-02T12:00:00", "statsPeriod": "2d"}, "Invalid statsPeriod: too long."),
    ],
)
def test_stats_v2_out_of_range_is_400(api_client, organization, project, params, detail):
    response = api_client.get(f"/api/0/organizations/{organization.slug}/stats_v2/", params)
    assert (response.status_code, response.json()) == (400, {"detail": detail}), response.content


def test_stats_v2_at_the_edges_of_the_range(api_client, organization, project):
    url = f"/api/0/organizations/{organization.slug}/stats_v2/"
    for start, end in (("0001-01-02", "0001-01-03"), ("9999-12-29", "9999-12-30")):
        params = {"start": start, "end": end, "interval": "1d", "groupBy": "outcome"}
        response = api_client.get(url, params)
        assert response.status_code == 200, (params, response.content)
        assert response.json()["intervals"] == [f"{start}T00:00:00Z"], response.content


@pytest.mark.parametrize(
    "value",
    ["99999999999999999999", str(2**63), "9" * 5000, "²"],
    ids=["20 digits", "2**63", "5000 digits", "superscript two"],
)
def test_stats_v2_project_beyond_a_database_id_matches_nothing(
    api_client, organization, project, value
):
    record_outcomes(
        project_id=project.pk,
        outcomes=Counter({("error", "accepted", ""): 4}),
        moment=timezone.now(),
    )
    url = f"/api/0/organizations/{organization.slug}/stats_v2/"
    response = api_client.get(url, {"project": value, "groupBy": "project"})
    assert response.status_code == 200, response.content
    assert response.json()["groups"] == [], response.content
    # Alongside a known id, the out-of-range one is ignored as an unknown id would be.
    response = api_client.get(url, {"project": [value, str(project.pk)], "groupBy": "project"})
    assert response.status_code == 200, response.content
    groups = response.json()["groups"]
    assert [group["totals"]["sum(quantity)"] for group in groups] == [4], response.content
