"""/api/0/ events of an issue and of a project, as sentry-cli and Sentry's issue page read them."""

from __future__ import annotations

import uuid

import pytest

from groups.models import Event, Group
from tests.api_helpers import parse_link, walk
from tests.groups.conftest import error, fixture_event
from tests.groups.factories import EventFactory, GroupFactory

pytestmark = pytest.mark.django_db

LIST_KEYS = {
    "id",
    "eventID",
    "groupID",
    "projectID",
    "title",
    "message",
    "platform",
    "event.type",
    "culprit",
    "location",
    "dateCreated",
    "user",
    "tags",
    "metadata",
}
DETAIL_KEYS = LIST_KEYS | {
    "dateReceived",
    "entries",
    "contexts",
    "sdk",
    "packages",
    "errors",
    "dist",
    "release",
    "fingerprints",
    "groupingConfig",
    "nextEventID",
    "previousEventID",
    "userReport",
    "type",
}


@pytest.fixture
def python_event(send):
    event_id = send(fixture_event("python_exception"))
    return Event.objects.get(event_id=event_id)


def _entry(body: dict, kind: str) -> dict:
    (entry,) = [entry for entry in body["entries"] if entry["type"] == kind]
    return entry["data"]


class TestDetail:
    def test_python_exception(self, api_client, python_event):
        url = f"/api/0/issues/{python_event.group_id}/events/{python_event.event_id.hex}/"
        response = api_client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) >= DETAIL_KEYS, sorted(body)
        assert "project" not in body  # sentry-cli would read it as a number
        assert body["id"] == body["eventID"] == python_event.event_id.hex
        assert (body["groupID"], body["projectID"]) == (
            str(python_event.group_id),
            str(python_event.project_id),
        )
        assert (body["event.type"], body["type"], body["platform"]) == ("error", "error", "python")
        assert body["location"] == "shop/orders/services.py"
        assert body["release"] == {"version": "shop@2025.11.3+4f1c2ab"}
        assert body["fingerprints"] == python_event.data["hashes"]
        assert body["groupingConfig"]["id"] == "faultline:2026-11"
        assert body["user"]["email"] == "maria.keller@example.com"
        assert {"key": "environment", "value": "production"} in body["tags"]
        assert body["contexts"]["runtime"]["name"] == "CPython"
        assert body["sdk"]["name"] == "sentry.python.django"
        assert body["packages"]["django"] == "5.1.3"
        assert body["metadata"] == {
            "type": "KeyError",
            "value": "'sku'",
            "filename": "shop/orders/services.py",
            "function": "build_line_items",
        }
        assert [entry["type"] for entry in body["entries"]] == [
            "exception",
            "breadcrumbs",
            "request",
        ]
        assert (body["nextEventID"], body["previousEventID"]) == (None, None)

    def test_exception_entry(self, api_client, python_event):
        body = api_client.get(f"/api/0/issues/{python_event.group_id}/events/latest/").json()
        exception = _entry(body, "exception")
        (value,) = exception["values"]
        assert (value["type"], value["value"]) == ("KeyError", "'sku'")
        assert value["mechanism"] == {"type": "django", "handled": False}
        frames = value["stacktrace"]["frames"]
        raw = python_event.data["exception"]["values"][0]["stacktrace"]["frames"]
        assert len(frames) == len(raw)
        first = frames[0]
        assert {
            "filename",
            "absPath",
            "module",
            "function",
            "lineNo",
            "colNo",
            "inApp",
            "context",
            "vars",
        } <= set(first)
        assert first["absPath"] == raw[0]["abs_path"]
        assert (first["lineNo"], first["inApp"]) == (55, False)
        assert first["function"] == "inner"
        assert first["vars"]["exc"] == "KeyError('sku')"
        pre, post = raw[0]["pre_context"], raw[0]["post_context"]
        assert first["context"][0] == [55 - len(pre), pre[0]]
        assert first["context"][len(pre)] == [55, raw[0]["context_line"]]
        assert first["context"][-1] == [55 + len(post), post[-1]]
        assert frames[-1]["inApp"] is True
        assert value["stacktrace"]["hasSystemFrames"] is True
        assert not any("_" in key for frame in frames for key in frame)

    def test_breadcrumbs_and_request_entries(self, api_client, python_event):
        body = api_client.get(f"/api/0/issues/{python_event.group_id}/events/latest/").json()
        crumbs = _entry(body, "breadcrumbs")["values"]
        assert crumbs[0]["category"] == "query"
        assert crumbs[0]["timestamp"].endswith("Z")
        request = _entry(body, "request")
        assert request["method"] == "POST"
        assert request["query"] == [["source", "cart"]]
        assert ["Accept", "application/json"] in request["headers"]
        assert request["inferredContentType"] == "application/json"

    def test_message_entry(self, api_client, send):
        event_id = send(fixture_event("message_event"))
        event = Event.objects.get(event_id=event_id)
        body = api_client.get(f"/api/0/issues/{event.group_id}/events/{event_id}/").json()
        message = _entry(body, "message")
        assert message["formatted"] == body["message"]
        assert message["message"] == "Payment for order %s failed after %d retries"
        assert body["entries"][0]["type"] == "message"

    def test_latest_oldest_recommended_and_neighbours(self, api_client, send):
        oldest = send(error(), minutes_ago=30)
        middle = send(error(), minutes_ago=20)
        latest = send(error(), minutes_ago=10)
        group_id = Group.objects.get().pk
        base = f"/api/0/issues/{group_id}/events/"
        for name, expected in (
            ("latest", latest),
            ("recommended", latest),
            ("oldest", oldest),
            (middle, middle),
            (str(uuid.UUID(middle)), middle),
        ):
            response = api_client.get(f"{base}{name}/")
            assert response.status_code == 200, (name, response.content)
            assert response.json()["eventID"] == expected, name
        body = api_client.get(f"{base}{middle}/").json()
        assert (body["previousEventID"], body["nextEventID"]) == (oldest, latest)
        body = api_client.get(f"{base}latest/").json()
        assert (body["previousEventID"], body["nextEventID"]) == (middle, None)

    @pytest.mark.parametrize("event_id", [uuid.uuid4().hex, "newest", "12345"])
    def test_unknown_event_is_404(self, api_client, python_event, event_id):
        response = api_client.get(f"/api/0/issues/{python_event.group_id}/events/{event_id}/")
        assert response.status_code == 404, response.content

    def test_event_of_another_issue_is_404(self, api_client, python_event, send):
        other = Event.objects.get(event_id=send(error()))
        url = f"/api/0/issues/{python_event.group_id}/events/{other.event_id.hex}/"
        assert api_client.get(url).status_code == 404

    def test_permissions(self, client, api_client_for, organization, python_event):
        url = f"/api/0/issues/{python_event.group_id}/events/latest/"
        assert client.get(url).status_code == 401
        no_events = api_client_for(organization, ["project:read"]).get(url)
        assert no_events.status_code == 403, no_events.content
        other = EventFactory()
        response = api_client_for(organization, ["event:read"]).get(
            f"/api/0/issues/{other.group_id}/events/latest/"
        )
        assert response.status_code == 403, response.content

    def test_project_event(self, api_client, organization, project, python_event):
        url = f"/api/0/projects/{organization.slug}/{project.slug}/events/"
        response = api_client.get(f"{url}{python_event.event_id.hex}/")
        assert response.status_code == 200, response.content
        assert response.json()["groupID"] == str(python_event.group_id)
        elsewhere = EventFactory()
        missing = api_client.get(f"{url}{elsewhere.event_id.hex}/")
        assert missing.status_code == 404, missing.content


class TestLists:
    def test_issue_events_newest_first(self, api_client, send, django_assert_max_num_queries):
        ids = [send(error(), minutes_ago=minutes) for minutes in (50, 40, 30, 20, 10)]
        send(error("OtherIssue"))
        group = Group.objects.get(title__startswith="ValueError")
        url = f"/api/0/issues/{group.pk}/events/"
        with django_assert_max_num_queries(6):
            response = api_client.get(url, {"per_page": 2, "cursor": ""})
        assert response.status_code == 200, response.content
        items = response.json()
        assert set(items[0]) >= LIST_KEYS
        assert "entries" not in items[0]
        pages = walk(api_client, url, per_page=2)
        assert [item["eventID"] for page in pages for item in page] == ids[::-1]
        full = api_client.get(url, {"full": "true"}).json()
        assert len(full) == 5
        assert full[0]["entries"][0]["type"] == "exception"

    def test_issue_events_by_environment(self, api_client, send):
        send(error(environment="production"))
        staging = send(error(environment="staging"))
        group = Group.objects.get()
        response = api_client.get(f"/api/0/issues/{group.pk}/events/", {"environment": "staging"})
        assert [item["eventID"] for item in response.json()] == [staging], response.content

    def test_project_events_for_sentry_cli(
        self, api_client, organization, project, send, django_assert_max_num_queries
    ):
        ids = [send(error(f"Error{index}"), minutes_ago=10 - index) for index in range(5)]
        send(fixture_event("python_exception"))
        EventFactory()  # another organization's
        url = f"/api/0/projects/{organization.slug}/{project.slug}/events/"
        with django_assert_max_num_queries(7):
            first = api_client.get(url, {"cursor": "", "per_page": 4})
        assert first.status_code == 200, first.content
        assert parse_link(first["Link"])["next"]["results"] is True
        pages = walk(api_client, url, per_page=4)
        events = [item for page in pages for item in page]
        assert len(events) == 6
        assert [item["eventID"] for item in events[1:]] == ids[::-1]
        user = events[0]["user"]
        assert all(isinstance(user[name], str) for name in ("id", "email", "username"))
        assert all("project" not in item for item in events)

    def test_numeric_user_ids_become_strings(self, api_client, organization, project, send):
        send(error(user={"id": 42, "email": "ann@example.com"}))
        url = f"/api/0/projects/{organization.slug}/{project.slug}/events/"
        (item,) = api_client.get(url).json()
        assert item["user"]["id"] == "42"

    def test_project_events_permissions(self, client, api_client_for, organization, project):
        url = f"/api/0/projects/{organization.slug}/{project.slug}/events/"
        assert client.get(url).status_code == 401
        response = api_client_for(organization, ["project:read"]).get(url)
        assert response.status_code == 403, response.content
        other = GroupFactory().project
        response = api_client_for(organization, ["event:read"]).get(
            f"/api/0/projects/{other.organization.slug}/{other.slug}/events/"
        )
        assert response.status_code == 403, response.content

    def test_bad_cursor_is_400(self, api_client, organization, project):
        url = f"/api/0/projects/{organization.slug}/{project.slug}/events/"
        response = api_client.get(url, {"cursor": "1:2"})
        assert response.status_code == 400, response.content
