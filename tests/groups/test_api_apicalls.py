"""/api/0/ API calls of a project: list with filters and pages, detail with errors, routes,
and the calls around an error event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api_helpers import parse_link, walk
from tests.groups.factories import ApiCallFactory, EventFactory, GroupFactory
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db

LIST_KEYS = {
    "id", "projectID", "requestTime", "responseTime", "durationMs", "verb", "uri", "route",
    "status", "ipAddress", "userId", "companyId", "sessionToken", "traceId", "transactionId",
    "direction", "weight", "apiVersion", "tags", "metadata",
}  # fmt: skip


@pytest.fixture
def url(organization, project):
    return f"/api/0/projects/{organization.slug}/{project.slug}/api-calls/"


def event_calls_url(organization, project, event_id: str) -> str:
    return f"/api/0/projects/{organization.slug}/{project.slug}/events/{event_id}/api-calls/"


def minutes_ago(minutes: float):
    return timezone.now() - timedelta(minutes=minutes)


class TestList:
    def test_newest_first_with_string_ids(self, api_client, project, url):
        old = ApiCallFactory(project=project, request_time=minutes_ago(10))
        new = ApiCallFactory(project=project, request_time=minutes_ago(1), status=503)
        ApiCallFactory()  # another project's
        response = api_client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert [row["id"] for row in body] == [str(new.pk), str(old.pk)]
        assert set(body[0]) == LIST_KEYS
        assert body[0]["projectID"] == str(project.pk)
        assert body[0]["status"] == 503
        assert body[0]["transactionId"] == str(new.transaction_id)

    def test_pages_both_ways(self, api_client, project, url, django_assert_num_queries):
        moment = minutes_ago(5)
        calls = [ApiCallFactory(project=project, request_time=moment) for _ in range(3)]
        calls += [ApiCallFactory(project=project, request_time=minutes_ago(n)) for n in range(4)]
        pages = walk(api_client, url, per_page=2)
        ids = [row["id"] for page in pages for row in page]
        assert sorted(ids) == sorted(str(call.pk) for call in calls)
        assert len(ids) == len(set(ids)) == 7
        first = api_client.get(url, {"per_page": 2})
        following = parse_link(first["Link"])["next"]
        with django_assert_num_queries(7):
            second = api_client.get(url, {"per_page": 2, "cursor": following["cursor"]})
        back = parse_link(second["Link"])["previous"]
        assert back["results"] is True
        again = api_client.get(url, {"per_page": 2, "cursor": back["cursor"]})
        assert again.json() == first.json()

    def test_query_count(self, api_client, project, url, django_assert_num_queries):
        for _ in range(5):
            ApiCallFactory(project=project)
        with django_assert_num_queries(6):
            response = api_client.get(url)
        assert len(response.json()) == 5

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"verb": "post"}, {"post"}),
            ({"status": "5xx"}, {"fail", "gone"}),
            ({"status": "4XX"}, {"miss"}),
            ({"status": "503"}, {"gone"}),
            ({"route": "/orders/{id}"}, {"post", "miss"}),
            ({"user": "u2"}, {"miss"}),
            ({"query": "orders/7"}, {"post"}),
            ({"statsPeriod": "30m"}, {"post", "miss", "fail"}),
            ({"statsPeriod": "2h"}, {"post", "miss", "fail", "gone"}),
            ({"start": "2000-01-01T00:00:00"}, {"post", "miss", "fail", "gone"}),
            ({"end": (timezone.now() - timedelta(minutes=50)).isoformat()}, {"gone"}),
        ],
    )
    def test_filters(self, api_client, project, url, params, expected):
        made = {
            "post": ApiCallFactory(
                project=project, verb="POST", uri="https://x/orders/7", route="/orders/{id}"
            ),
            "miss": ApiCallFactory(project=project, status=404, route="/orders/{id}", user_id="u2"),
            "fail": ApiCallFactory(project=project, status=500),
            "gone": ApiCallFactory(project=project, status=503, request_time=minutes_ago(60)),
        }
        names = {str(call.pk): name for name, call in made.items()}
        response = api_client.get(url, params)
        assert response.status_code == 200, response.content
        assert {names[row["id"]] for row in response.json()} == expected

    @pytest.mark.parametrize(
        "params",
        [
            {"status": "6xx"},
            {"status": "ok"},
            {"statsPeriod": "forever"},
            {"statsPeriod": "999999w"},
            {"start": "yesterday"},
            {"start": "0001-01-01T00:00:00+01:00"},
            {"end": "9999-12-31T23:30:00Z"},
            {"end": "0001-01-01T00:00:00+01:00"},
            {"cursor": "bad"},
            {"per_page": "1000"},
        ],
    )
    def test_bad_filters_are_400(self, api_client, url, params):
        response = api_client.get(url, params)
        assert response.status_code == 400, response.content
        assert isinstance(response.json(), dict)

    def test_permissions(self, client, api_client_for, organization, project, url):
        assert client.get(url).status_code == 401
        no_scope = api_client_for(organization, ["org:read"]).get(url)
        assert no_scope.status_code == 403, no_scope.content
        reader = api_client_for(organization, ["project:read"]).get(url)
        assert reader.status_code == 200, reader.content
        other = ProjectFactory()
        elsewhere = f"/api/0/projects/{other.organization.slug}/{other.slug}/api-calls/"
        response = api_client_for(organization, ["project:read"]).get(elsewhere)
        assert response.status_code == 403, response.content
        missing = f"/api/0/projects/{organization.slug}/{other.slug}/api-calls/"
        assert api_client_for(organization, ["project:read"]).get(missing).status_code == 404


class TestDetail:
    def test_call_with_messages_and_errors(self, api_client, project, url):
        call = ApiCallFactory(
            project=project,
            trace_id="a" * 32,
            user_id="u1",
            data={
                "request": {"headers": {"Accept": "*/*"}, "body": {"a": 1}, "truncated": False},
                "response": {
                    "headers": {},
                    "body": "eyJ9",
                    "transfer_encoding": "base64",
                    "truncated": True,
                },
            },
        )
        group = GroupFactory(project=project)
        by_trace = EventFactory(group=group, trace_id="a" * 32, timestamp=minutes_ago(90))
        by_user = EventFactory(group=group, user_key="id:u1")
        EventFactory(group=group, user_key="id:u1", timestamp=minutes_ago(30))  # too far
        EventFactory(group=group, user_key="id:u2")  # someone else
        response = api_client.get(f"{url}{call.pk}/")
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == LIST_KEYS | {"request", "response", "errors"}
        assert body["request"] == {
            "headers": {"Accept": "*/*"},
            "body": {"a": 1},
            "transferEncoding": "json",
            "truncated": False,
        }
        assert body["response"]["transferEncoding"] == "base64"
        assert body["response"]["truncated"] is True
        assert [error["eventID"] for error in body["errors"]] == [
            by_user.event_id.hex,
            by_trace.event_id.hex,
        ]

    def test_timeout_has_no_response(self, api_client, project, url):
        call = ApiCallFactory(project=project, status=None, data={"request": {}, "response": None})
        body = api_client.get(f"{url}{call.pk}/").json()
        assert (body["response"], body["status"], body["errors"]) == (None, None, [])

    @pytest.mark.parametrize("value", ["999999", "abc", "1.5"])
    def test_unknown_is_404(self, api_client, url, value):
        assert api_client.get(f"{url}{value}/").status_code == 404

    def test_other_projects_call_is_404(self, api_client, url):
        response = api_client.get(f"{url}{ApiCallFactory().pk}/")
        assert response.status_code == 404, response.content

    def test_permissions(self, client, api_client_for, organization, project, url):
        call = ApiCallFactory(project=project)
        assert client.get(f"{url}{call.pk}/").status_code == 401
        response = api_client_for(organization, ["event:read"]).get(f"{url}{call.pk}/")
        assert response.status_code == 403, response.content


class TestRoutes:
    def test_aggregates_per_route_and_verb(self, api_client, project, url):
        for duration in (10, 20, 30, 40):
            ApiCallFactory(project=project, route="/items/{id}", duration_ms=float(duration))
        ApiCallFactory(project=project, route="/items/{id}", status=500, duration_ms=100.0)
        ApiCallFactory(project=project, route="/items/{id}", status=None, duration_ms=None)
        ApiCallFactory(project=project, route="/items/{id}", verb="POST", status=404)
        ApiCallFactory(route="/items/{id}")  # another project's
        response = api_client.get(f"{url}routes/")
        assert response.status_code == 200, response.content
        rows = response.json()
        assert rows[0] == {
            "route": "/items/{id}",
            "verb": "GET",
            "count": 6,
            "failed": 2,
            "errorRate": pytest.approx(2 / 6),
            "p50": 30.0,
            "p95": 100.0,
        }
        assert rows[1]["verb"] == "POST"
        assert rows[1]["failed"] == 0  # a 4xx is the client's mistake

    def test_filters_apply(self, api_client, project, url):
        ApiCallFactory(project=project, route="/a", request_time=minutes_ago(120))
        ApiCallFactory(project=project, route="/b")
        rows = api_client.get(f"{url}routes/", {"statsPeriod": "1h"}).json()
        assert [row["route"] for row in rows] == ["/b"]
        assert api_client.get(f"{url}routes/", {"status": "9"}).status_code == 400

    def test_the_last_24_hours_by_default(self, api_client, project, url):
        ApiCallFactory(project=project, route="/old", request_time=minutes_ago(25 * 60))
        ApiCallFactory(project=project, route="/new", request_time=minutes_ago(23 * 60))
        rows = api_client.get(f"{url}routes/").json()
        assert [row["route"] for row in rows] == ["/new"], rows
        rows = api_client.get(f"{url}routes/", {"statsPeriod": "2d"}).json()
        assert {row["route"] for row in rows} == {"/old", "/new"}, rows
        old = (timezone.now() - timedelta(days=3)).isoformat()
        rows = api_client.get(f"{url}routes/", {"start": old}).json()
        assert {row["route"] for row in rows} == {"/old", "/new"}, rows
        # The list keeps every stored call.
        assert len(api_client.get(url).json()) == 2

    def test_permissions_and_queries(
        self, client, api_client_for, organization, url, django_assert_num_queries
    ):
        assert client.get(f"{url}routes/").status_code == 401
        assert api_client_for(organization, ["org:read"]).get(f"{url}routes/").status_code == 403
        reader = api_client_for(organization, ["project:read"])
        # key, organization, project, the one summary query
        with django_assert_num_queries(4):
            assert reader.get(f"{url}routes/").status_code == 200


class TestEventApiCalls:
    def test_calls_around_an_error(self, api_client, organization, project):
        event = EventFactory(
            group=GroupFactory(project=project), trace_id="b" * 32, user_key="id:u9"
        )
        same_trace = ApiCallFactory(project=project, trace_id="b" * 32, request_time=minutes_ago(9))
        same_user = ApiCallFactory(project=project, user_id="u9", request_time=minutes_ago(0.5))
        ApiCallFactory(project=project, user_id="u9", request_time=minutes_ago(5))  # too far
        ApiCallFactory(project=project, user_id="u8")
        ApiCallFactory(trace_id="b" * 32)  # another project's
        url = event_calls_url(organization, project, event.event_id.hex)
        response = api_client.get(url)
        assert response.status_code == 200, response.content
        assert [row["id"] for row in response.json()] == [str(same_user.pk), str(same_trace.pk)]
        parse_link(response["Link"])

    def test_event_without_trace_or_user_id_has_none(self, api_client, organization, project):
        event = EventFactory(group=GroupFactory(project=project), user_key="email:a@b.c")
        ApiCallFactory(project=project, user_id="a@b.c")
        url = (
            f"/api/0/projects/{organization.slug}/{project.slug}/events/{event.event_id}/api-calls/"
        )
        response = api_client.get(url)
        assert response.status_code == 200, response.content
        assert response.json() == []

    def test_unknown_or_other_projects_event_is_404(self, api_client, organization, project):
        base = f"/api/0/projects/{organization.slug}/{project.slug}/events/"
        other = EventFactory()
        assert api_client.get(f"{base}{other.event_id.hex}/api-calls/").status_code == 404
        assert api_client.get(f"{base}nope/api-calls/").status_code == 404

    def test_permissions(self, client, api_client_for, organization, project):
        event = EventFactory(group=GroupFactory(project=project))
        url = event_calls_url(organization, project, event.event_id.hex)
        assert client.get(url).status_code == 401
        assert api_client_for(organization, ["org:read"]).get(url).status_code == 403
