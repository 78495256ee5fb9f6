"""/api/0/ transactions (aggregates per name) and traces (spans, errors and logs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.groups.factories import (
    ApiCallFactory,
    EventFactory,
    GroupFactory,
    LogRecordFactory,
    SpanFactory,
)
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db

TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture
def project(organization):
    return ProjectFactory(organization=organization)


@pytest.fixture
def transactions_url(organization, project):
    return f"/api/0/projects/{organization.slug}/{project.slug}/transactions/"


def _checkout_and_home(project, now):
    for duration in range(1, 21):  # 1 … 20 ms, two of them failed
        status = "internal_error" if duration in (3, 4) else "ok"
        SpanFactory(
            project=project,
            name="POST /checkout",
            duration_ms=float(duration),
            status=status,
            start=now - timedelta(minutes=duration),
        )
    SpanFactory(project=project, name="GET /", duration_ms=7.0, status="cancelled", start=now)
    SpanFactory(project=project, name="GET /", duration_ms=9.0, status="unknown", start=now)


class TestTransactions:
    def test_aggregates(self, api_client, project, transactions_url, django_assert_num_queries):
        now = timezone.now()
        _checkout_and_home(project, now)
        SpanFactory(project=project, name="POST /checkout", is_segment=False, duration_ms=999)
        SpanFactory(project=project, name="POST /checkout", start=now - timedelta(days=2))
        SpanFactory(name="POST /checkout")  # another project
        with django_assert_num_queries(4):
            response = api_client.get(transactions_url)
        assert response.status_code == 200, response.content
        assert response.json() == [
            {
                "transaction": "POST /checkout",
                "count": 20,
                "failureCount": 2,
                "failureRate": 0.1,
                "p50": 10.0,
                "p95": 19.0,
            },
            {
                "transaction": "GET /",
                "count": 2,
                "failureCount": 0,
                "failureRate": 0.0,
                "p50": 7.0,
                "p95": 9.0,
            },
        ]

    def test_filters(self, api_client, project, transactions_url):
        now = timezone.now()
        _checkout_and_home(project, now)
        SpanFactory(project=project, name="GET /old", start=now - timedelta(days=3))
        SpanFactory(project=project, name="GET /", environment="staging", release="v2", start=now)

        def names(**params):
            response = api_client.get(transactions_url, params)
            assert response.status_code == 200, response.content
            return {row["transaction"]: row["count"] for row in response.json()}

        assert names(query="checkout") == {"POST /checkout": 20}
        assert names(transaction="GET /") == {"GET /": 3}
        assert names(statsPeriod="7d") == {"POST /checkout": 20, "GET /": 3, "GET /old": 1}
        assert names(statsPeriod="10m") == {"POST /checkout": 9, "GET /": 3}
        assert names(environment="staging") == {"GET /": 1}
        assert names(release="v2") == {"GET /": 1}
        start = (now - timedelta(days=4)).isoformat()
        end = (now - timedelta(days=1)).isoformat()
        assert names(start=start, end=end) == {"GET /old": 1}

    def test_per_hour(self, api_client, project, transactions_url):
        hour = timezone.now().replace(minute=30, second=0, microsecond=0) - timedelta(hours=2)
        SpanFactory(project=project, name="GET /", start=hour, duration_ms=5.0)
        SpanFactory(project=project, name="GET /", start=hour + timedelta(hours=1))
        response = api_client.get(transactions_url, {"per": "hour"})
        assert response.status_code == 200, response.content
        rows = sorted(response.json(), key=lambda row: row["hour"])
        assert [(row["transaction"], row["count"]) for row in rows] == [("GET /", 1), ("GET /", 1)]
        first = datetime.fromisoformat(rows[0]["hour"].replace("Z", "+00:00"))
        assert first == hour.replace(minute=0).astimezone(UTC)

    @pytest.mark.parametrize(
        "params",
        [
            {"statsPeriod": "forever"},
            {"statsPeriod": "99999999d"},
            {"start": "yesterday"},
            {"per": "day"},
            {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
            {"per_page": "1000"},
        ],
    )
    def test_bad_parameter_is_400(self, api_client, transactions_url, params):
        response = api_client.get(transactions_url, params)
        assert response.status_code == 400, response.content

    def test_permissions(self, client, api_client_for, organization, transactions_url):
        assert client.get(transactions_url).status_code == 401
        response = api_client_for(organization, ["org:read"]).get(transactions_url)
        assert response.status_code == 403, response.content
        assert (
            api_client_for(organization, ["project:read"]).get(transactions_url).status_code == 200
        )

    def test_other_organization(self, api_client):
        other = ProjectFactory()
        response = api_client.get(
            f"/api/0/projects/{other.organization.slug}/{other.slug}/transactions/"
        )
        assert response.status_code == 403, response.content


class TestTrace:
    @pytest.fixture
    def url(self, organization):
        return f"/api/0/organizations/{organization.slug}/traces/{TRACE}/"

    def test_spans_errors_logs_and_api_calls(
        self, api_client, project, url, django_assert_num_queries
    ):
        now = timezone.now()
        root = SpanFactory(
            project=project,
            trace_id=TRACE,
            name="POST /checkout",
            start=now,
            transaction_event_id=uuid.uuid4(),
        )
        child = SpanFactory(
            project=project,
            trace_id=TRACE,
            is_segment=False,
            parent_span_id=root.span_id,
            segment_id=root.span_id,
            name="SELECT 1",
            op="db",
            start=now + timedelta(milliseconds=1),
        )
        event = EventFactory(group=GroupFactory(project=project), trace_id=TRACE)
        log = LogRecordFactory(project=project, trace_id=TRACE, span_id=child.span_id)
        call = ApiCallFactory(project=project, trace_id=TRACE)
        SpanFactory(trace_id=TRACE)  # same trace id in another organization
        ApiCallFactory(trace_id=TRACE)
        EventFactory()
        with django_assert_num_queries(6) as captured:
            response = api_client.get(url)
        assert response.status_code == 200, response.content
        calls_sql = [q["sql"] for q in captured.captured_queries if "groups_apicall" in q["sql"]]
        assert calls_sql, captured.captured_queries
        assert not any('"groups_apicall"."data"' in sql for sql in calls_sql), calls_sql
        body = response.json()
        assert body["traceId"] == TRACE
        assert [span["spanId"] for span in body["spans"]] == [root.span_id, child.span_id]
        first, second = body["spans"]
        assert (first["isSegment"], first["parentSpanId"], first["segmentId"]) == (
            True,
            None,
            root.span_id,
        )
        assert first["transactionEventId"] == root.transaction_event_id.hex
        assert (second["parentSpanId"], second["op"], second["duration"]) == (
            root.span_id,
            "db",
            10.0,
        )
        assert set(second) >= {"name", "status", "start", "end", "projectID"}
        assert second["projectID"] == str(project.pk)
        assert body["errors"] == [
            {
                "eventID": event.event_id.hex,
                "groupID": str(event.group_id),
                "projectID": str(project.pk),
                "title": event.title,
                "level": "error",
                "timestamp": body["errors"][0]["timestamp"],
            }
        ]
        assert [(item["id"], item["spanId"]) for item in body["logs"]] == [
            (str(log.pk), child.span_id)
        ]
        assert [(item["id"], item["traceId"]) for item in body["apiCalls"]] == [
            (str(call.pk), TRACE)
        ]

    def test_a_trace_of_api_calls_only_is_found(self, api_client, project, url):
        ApiCallFactory(project=project, trace_id=TRACE)
        body = api_client.get(url).json()
        assert (len(body["apiCalls"]), body["spans"], body["errors"]) == (1, [], [])

    def test_unknown_trace_is_404(self, api_client, url):
        SpanFactory(trace_id=TRACE)  # in another organization only
        response = api_client.get(url)
        assert response.status_code == 404, response.content

    def test_bad_trace_id_is_400(self, api_client, organization):
        response = api_client.get(f"/api/0/organizations/{organization.slug}/traces/nope/")
        assert response.status_code == 400, response.content

    def test_permissions(self, client, api_client_for, organization, project, url):
        SpanFactory(project=project, trace_id=TRACE)
        assert client.get(url).status_code == 401
        assert api_client_for(organization, ["org:read"]).get(url).status_code == 403
        assert api_client_for(organization, ["project:read"]).get(url).status_code == 200
        other = ProjectFactory().organization
        response = api_client_for(organization, ["project:read"]).get(
            f"/api/0/organizations/{other.slug}/traces/{TRACE}/"
        )
        assert response.status_code == 403, response.content
