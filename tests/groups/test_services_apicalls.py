"""API-call services: route normalization, bulk storage, and the joins to errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from groups.models import ApiCall
from groups.routes import normalize_route
from groups.services.apicalls import (
    MAX_BODY_CHARS,
    NewApiCall,
    calls_of_event,
    capped_message,
    duration_ms,
    errors_of_call,
    store_api_calls,
)
from tests.groups.factories import ApiCallFactory, EventFactory, GroupFactory
from tests.projects.factories import ProjectFactory


@pytest.mark.parametrize(
    ("uri", "route"),
    [
        ("https://api.acme.com/users/42/orders?page=2", "/users/{id}/orders"),
        ("https://api.acme.com/", "/"),
        ("https://api.acme.com", "/"),
        ("/items/7/", "/items/{id}"),
        ("//items//7", "/{id}"),  # `//items` is a host to urlsplit
        ("/files/3f2a9c0e-1b2c-4d5e-8f90-0a1b2c3d4e5f", "/files/{uuid}"),
        ("/files/3F2A9C0E1B2C4D5E8F900A1B2C3D4E5F", "/files/{uuid}"),
        ("/blobs/da39a3ee5e6b4b0d3255bfef95601890afd80709", "/blobs/{hash}"),
        ("/objects/507f1f77bcf86cd799439011", "/objects/{hash}"),
        ("/tokens/aB3dE5gH7jK9mN1pQ3sT5vX7", "/tokens/{hash}"),
        ("/prices/-12.50", "/prices/{id}"),
        ("/v1/users/me", "/v1/users/me"),
        ("/api/2fa/setup", "/api/2fa/setup"),
        ("/deadbeefcafe", "/deadbeefcafe"),  # short hex is a word
        ("api.acme.com/items/9?x=1", "/items/{id}"),
        ("items/9", "/items/{id}"),
        ("http://[::1/x", "/x"),
        ("/x#frag", "/x"),
        ("", "/"),
    ],
)
def test_normalize_route(uri, route):
    assert normalize_route(uri) == route


def test_route_is_capped():
    assert len(normalize_route("/" + "a" * 3000)) == 512


def test_duration():
    now = timezone.now()
    assert duration_ms(now, now + timedelta(seconds=1.5)) == 1500.0
    assert duration_ms(now, now - timedelta(seconds=1)) is None
    assert duration_ms(now, None) is None


def test_capped_message():
    assert capped_message(None) is None
    small = capped_message({"body": {"a": 1}})
    assert small == {"body": {"a": 1}, "truncated": False}
    big = capped_message({"body": {"a": "x" * MAX_BODY_CHARS}})
    assert big["truncated"] is True
    assert big["body"].startswith('{"a":"xxx')
    assert len(big["body"]) == MAX_BODY_CHARS


def _new_call(project, **fields) -> NewApiCall:
    now = timezone.now()
    values = {
        "project_id": project.pk,
        "request_time": now,
        "response_time": now + timedelta(milliseconds=5),
        "status": 200,
        "verb": "get",
        "uri": "https://x.example/a/1?q=" + "z" * 3000,
        "received": now,
        "transaction_id": str(uuid.uuid4()),
        "data": {"request": {"headers": {}, "body": None}, "response": None},
    }
    return NewApiCall(**{**values, **fields})


@pytest.mark.django_db
def test_store_api_calls_in_bulk_skipping_retries(django_assert_num_queries):
    project = ProjectFactory()
    first, second = _new_call(project), _new_call(project)
    with django_assert_num_queries(1):
        store_api_calls(calls=[first, second, first])
    store_api_calls(calls=[second, _new_call(project, transaction_id=None)])
    assert ApiCall.objects.count() == 3
    call = ApiCall.objects.get(transaction_id=first.transaction_id)
    assert (call.verb, call.route, len(call.uri)) == ("GET", "/a/{id}", 2048)
    assert call.duration_ms == pytest.approx(5.0)
    assert call.data == {
        "request": {"headers": {}, "body": None, "truncated": False},
        "response": None,
    }


@pytest.mark.django_db
class TestJoins:
    def test_errors_of_call_by_trace_and_user(self, settings, django_assert_num_queries):
        settings.API_CALL_ERROR_WINDOW_SECONDS = 30
        now = timezone.now()
        group = GroupFactory()
        project = group.project
        call = ApiCallFactory(project=project, trace_id="c" * 32, user_id="7", request_time=now)
        traced = EventFactory(group=group, trace_id="c" * 32, timestamp=now - timedelta(hours=2))
        near = EventFactory(group=group, user_key="id:7", timestamp=now + timedelta(seconds=20))
        EventFactory(group=group, user_key="id:7", timestamp=now - timedelta(seconds=45))
        EventFactory(group=group, user_key="email:7")
        EventFactory(trace_id="c" * 32)  # another project's
        with django_assert_num_queries(1):
            errors = errors_of_call(call=call)
        assert errors == [near, traced]
        assert errors[0].group == group  # selected with it

    @pytest.mark.parametrize(
        ("request_time", "response_time"),
        [
            (datetime(1, 1, 1, tzinfo=UTC), None),
            (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), None),
            (datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ],
    )
    def test_errors_of_a_call_at_the_ends_of_time(self, request_time, response_time):
        # Moesif clients may send any ISO 8601 time; the window must not overflow.
        call = ApiCallFactory(user_id="7", request_time=request_time, response_time=response_time)
        group = GroupFactory(project=call.project)
        EventFactory(group=group, user_key="id:7", timestamp=timezone.now())
        found = errors_of_call(call=call)
        assert len(found) == (1 if response_time else 0)

    def test_call_matching_nothing_has_no_errors(self, django_assert_num_queries):
        call = ApiCallFactory()
        EventFactory(group=GroupFactory(project=call.project))
        with django_assert_num_queries(1):
            assert errors_of_call(call=call) == []

    def test_errors_of_call_by_url_path_within_the_window(self, settings):
        settings.API_CALL_ERROR_WINDOW_SECONDS = 60
        now = timezone.now()
        call = ApiCallFactory(uri="https://api.example.com/orders/12?expand=1", request_time=now)
        group = GroupFactory(project=call.project)
        same = EventFactory(group=group, request_path="/orders/12", timestamp=now)
        EventFactory(group=group, request_path="/orders/12", timestamp=now - timedelta(hours=1))
        EventFactory(group=group, request_path="/orders/1", timestamp=now)
        EventFactory(group=group, request_path="/orders/123", timestamp=now)
        assert errors_of_call(call=call) == [same]

    def test_calls_of_event_by_url_path_within_the_window(self, settings):
        settings.API_CALL_ERROR_WINDOW_SECONDS = 60
        now = timezone.now()
        event = EventFactory(request_path="/orders/12", timestamp=now)
        project = event.project

        def call(uri, seconds=0):
            return ApiCallFactory(
                project=project,
                uri=uri,
                route=normalize_route(uri),
                request_time=now + timedelta(seconds=seconds),
            )

        matching = {
            call("https://api.example.com/orders/12"),
            call("http://10.0.0.5:8080/orders/12?expand=items", seconds=30),
            call("/orders/12#top", seconds=-30),
        }
        call("https://api.example.com/orders/123")
        call("https://api.example.com/orders/1")
        call("https://api.example.com/v2/orders/12")
        call("https://api.example.com/orders/12", seconds=120)
        assert set(calls_of_event(event=event)) == matching

    def test_calls_of_event(self, settings):
        settings.API_CALL_ERROR_WINDOW_SECONDS = 60
        now = timezone.now()
        event = EventFactory(trace_id="d" * 32, user_key="id:42", timestamp=now)
        project = event.project
        traced = ApiCallFactory(
            project=project, trace_id="d" * 32, request_time=now - timedelta(days=1)
        )
        near = ApiCallFactory(
            project=project, user_id="42", request_time=now - timedelta(seconds=59)
        )
        ApiCallFactory(project=project, user_id="42", request_time=now + timedelta(seconds=61))
        ApiCallFactory(project=project, user_id="4")
        assert set(calls_of_event(event=event)) == {traced, near}
