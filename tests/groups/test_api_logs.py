"""/api/0/ log records of a project, and of an event's trace."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api_helpers import parse_link, walk
from tests.groups.factories import EventFactory, GroupFactory, LogRecordFactory
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db

TRACE = "0af7651916cd43dd8448eb211c80319c"
KEYS = {
    "id",
    "projectID",
    "timestamp",
    "level",
    "severityNumber",
    "body",
    "traceId",
    "spanId",
    "release",
    "environment",
    "attributes",
    "dateReceived",
}


@pytest.fixture
def project(organization):
    return ProjectFactory(organization=organization)


@pytest.fixture
def url(organization, project):
    return f"/api/0/projects/{organization.slug}/{project.slug}/logs/"


class TestList:
    def test_newest_first(self, api_client, project, url, django_assert_num_queries):
        now = timezone.now()
        older = LogRecordFactory(project=project, timestamp=now - timedelta(minutes=5))
        newer = LogRecordFactory(
            project=project, timestamp=now, trace_id=TRACE, attributes={"k": 1}, level="warn"
        )
        LogRecordFactory()  # another project
        # Key, organization, project, the page, and the cursors' two tie counts.
        with django_assert_num_queries(6):
            response = api_client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert [item["id"] for item in body] == [str(newer.pk), str(older.pk)]
        assert set(body[0]) == KEYS
        assert (body[0]["traceId"], body[0]["level"], body[0]["attributes"]) == (
            TRACE,
            "warn",
            {"k": 1},
        )
        assert (body[1]["traceId"], body[1]["spanId"]) == (None, None)
        links = parse_link(response["Link"])
        assert (links["previous"]["results"], links["next"]["results"]) == (False, False)

    def test_pages_both_ways(self, api_client, project, url):
        now = timezone.now()
        records = [
            LogRecordFactory(project=project, timestamp=now - timedelta(seconds=i // 2))
            for i in range(7)
        ]
        pages = walk(api_client, url, per_page=3)
        assert [len(page) for page in pages] == [3, 3, 1]
        seen = [item["id"] for page in pages for item in page]
        assert sorted(seen) == sorted(str(record.pk) for record in records)
        assert len(set(seen)) == 7

        second = api_client.get(url, {"per_page": 3, "cursor": _next_cursor(api_client, url)})
        links = parse_link(second["Link"])
        assert links["previous"]["results"] is True
        back = api_client.get(url, {"per_page": 3, "cursor": links["previous"]["cursor"]})
        assert back.status_code == 200, back.content
        assert [item["id"] for item in back.json()] == seen[:3]

    def test_filters(self, api_client, project, url):
        now = timezone.now()
        LogRecordFactory(project=project, level="error", body="payment declined", trace_id=TRACE)
        LogRecordFactory(project=project, level="info", body="cart loaded", environment="prod")
        LogRecordFactory(
            project=project, level="debug", body="old", timestamp=now - timedelta(days=2)
        )

        def bodies(**params):
            response = api_client.get(url, params)
            assert response.status_code == 200, response.content
            return sorted(item["body"] for item in response.json())

        assert bodies(level="error") == ["payment declined"]
        assert bodies(level=["error", "info"]) == ["cart loaded", "payment declined"]
        assert bodies(trace=TRACE.upper()) == ["payment declined"]
        assert bodies(query="CART") == ["cart loaded"]
        assert bodies(environment="prod") == ["cart loaded"]
        assert bodies(statsPeriod="24h") == ["cart loaded", "payment declined"]
        assert bodies(end=(now - timedelta(days=1)).isoformat()) == ["old"]
        assert len(bodies()) == 3

    @pytest.mark.parametrize(
        "params",
        [
            {"level": "loud"},
            {"trace": "xyz"},
            {"statsPeriod": "1y"},
            {"end": "tomorrow"},
            {"cursor": "1:2"},
            {"per_page": "0"},
        ],
    )
    def test_bad_parameter_is_400(self, api_client, url, params):
        response = api_client.get(url, params)
        assert response.status_code == 400, response.content
        assert isinstance(response.json(), dict)

    def test_permissions(self, client, api_client_for, organization, url):
        assert client.get(url).status_code == 401
        response = api_client_for(organization, ["event:read"]).get(url)
        assert response.status_code == 403, response.content
        assert api_client_for(organization, ["project:read"]).get(url).status_code == 200
        other = ProjectFactory()
        response = api_client_for(organization, ["project:read"]).get(
            f"/api/0/projects/{other.organization.slug}/{other.slug}/logs/"
        )
        assert response.status_code == 403, response.content


def _next_cursor(client, url: str) -> str:
    response = client.get(url, {"per_page": 3})
    return parse_link(response["Link"])["next"]["cursor"]


class TestEventLogs:
    def test_logs_of_the_event_trace(self, api_client, organization, project):
        event = EventFactory(group=GroupFactory(project=project), trace_id=TRACE)
        sibling = ProjectFactory(organization=organization)
        here = LogRecordFactory(project=project, trace_id=TRACE)
        there = LogRecordFactory(project=sibling, trace_id=TRACE)  # a service downstream
        LogRecordFactory(project=project)  # another trace
        LogRecordFactory(trace_id=TRACE)  # another organization
        url = (
            f"/api/0/projects/{organization.slug}/{project.slug}/events/{event.event_id.hex}/logs/"
        )
        response = api_client.get(url)
        assert response.status_code == 200, response.content
        assert {item["id"] for item in response.json()} == {str(here.pk), str(there.pk)}
        parse_link(response["Link"])

    def test_event_without_trace(self, api_client, organization, project):
        event = EventFactory(group=GroupFactory(project=project), trace_id="")
        LogRecordFactory(project=project)
        url = (
            f"/api/0/projects/{organization.slug}/{project.slug}/events/{event.event_id.hex}/logs/"
        )
        response = api_client.get(url)
        assert (response.status_code, response.json()) == (200, [])

    @pytest.mark.parametrize("event_id", ["nope", "0" * 32])
    def test_unknown_event_is_404(self, api_client, organization, project, event_id):
        url = f"/api/0/projects/{organization.slug}/{project.slug}/events/{event_id}/logs/"
        response = api_client.get(url)
        assert response.status_code == 404, response.content

    def test_permissions(self, client, api_client_for, organization, project):
        event = EventFactory(group=GroupFactory(project=project), trace_id=TRACE)
        url = (
            f"/api/0/projects/{organization.slug}/{project.slug}/events/{event.event_id.hex}/logs/"
        )
        assert client.get(url).status_code == 401
        assert api_client_for(organization, ["org:read"]).get(url).status_code == 403
