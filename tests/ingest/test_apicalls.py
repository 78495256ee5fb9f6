"""Validation of Moesif API-call events (ingest/apicalls.py): every fault named, the clean
payload queued for the digest."""

from __future__ import annotations

import pytest

from ingest.apicalls import parse_api_call
from ingest.models import QueuedItem
from tests.ingest.conftest import moesif_event as event


def test_clean_payload_of_a_client_event():
    payload = parse_api_call(event(transaction_id="2B68A772-9D65-44D0-A208-B1F723867377"))
    assert payload["request"]["time"] == "2026-11-22T15:15:56.084163+00:00"
    assert payload["request"]["verb"] == "POST"
    assert payload["response"]["transfer_encoding"] == "base64"
    assert payload["transaction_id"] == "2b68a772-9d65-44d0-a208-b1f723867377"
    assert (payload["weight"], payload["tags"], payload["metadata"]) == (1, "", {"k": "v"})


def test_numbers_for_ids_become_strings_and_long_strings_are_cut():
    payload = parse_api_call(event(user_id=42, tags="t" * 600))
    assert (payload["user_id"], len(payload["tags"])) == ("42", 512)


@pytest.mark.parametrize(
    ("changes", "trace_id"),
    [
        ({"trace_id": "4BF92F3577B34DA6A3CE929D0E0E4736"}, "4bf92f3577b34da6a3ce929d0e0e4736"),
        (
            {
                "request__headers": {
                    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                }
            },
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ),
        (
            {
                "request__headers": {
                    "Sentry-Trace": "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1"
                }
            },
            "771a43a4192642f0b136d5159a501700",
        ),
        ({"request__headers": {"traceparent": "garbage"}}, ""),
    ],
)
def test_trace_id_from_the_event_or_its_headers(changes, trace_id):
    assert parse_api_call(event(**changes))["trace_id"] == trace_id


BAD_EVENTS = [
    ({"request": ...}, "request", "required"),
    ({"request": "GET /"}, "request", "must be an object"),
    ({"request__time": ...}, "request.time", "required"),
    ({"request__time": "yesterday"}, "request.time", "not an ISO 8601 time"),
    ({"request__time": 1700000000}, "request.time", "must be an ISO 8601 string"),
    ({"request__uri": ...}, "request.uri", "required"),
    ({"request__uri": 5}, "request.uri", "must be a string"),
    ({"request__verb": ...}, "request.verb", "required"),
    ({"request__verb": "GET /x"}, "request.verb", "not an HTTP method"),
    ({"request__ip_address": 5}, "request.ip_address", "must be a string"),
    ({"request__headers": ["a"]}, "request.headers", "must be an object"),
    ({"request__transfer_encoding": "zip"}, "request.transfer_encoding", "must be json or base64"),
    ({"response": "ok"}, "response", "must be an object"),
    ({"response__time": ...}, "response.time", "required"),
    ({"response__time": "2026-13-01T00:00:00"}, "response.time", "not an ISO 8601 time"),
    ({"response__status": ...}, "response.status", "required"),
    ({"response__status": "200"}, "response.status", "must be an HTTP status code (100-599)"),
    ({"response__status": 99}, "response.status", "must be an HTTP status code (100-599)"),
    ({"response__status": True}, "response.status", "must be an HTTP status code (100-599)"),
    (
        {"response__body": {"a": 1}},
        "response.body",
        "must be a base64 string when transfer_encoding is base64",
    ),
    ({"metadata": [1]}, "metadata", "must be an object"),
    ({"weight": -1}, "weight", "must be a non-negative integer"),
    ({"user_id": {"id": 1}}, "user_id", "must be a string"),
]


@pytest.mark.parametrize(("changes", "field", "reason"), BAD_EVENTS, ids=lambda v: str(v)[:40])
@pytest.mark.django_db
def test_invalid_event_is_400_naming_the_field(post_moesif, changes, field, reason):
    response = post_moesif("/v1/events", event(**changes))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errors"] == [{"index": 0, "field": field, "reason": reason}], body
    assert body["detail"]
    assert not QueuedItem.objects.exists()


@pytest.mark.django_db
def test_an_event_with_several_faults_lists_them_all(post_moesif):
    response = post_moesif("/v1/events", event(request__uri=..., response__status="x"))
    fields = [error["field"] for error in response.json()["errors"]]
    assert fields == ["request.uri", "response.status"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.django_db
def test_times_beyond_the_calendar_in_utc_are_400(post_moesif, moment):
    response = post_moesif("/v1/events", event(request__time=moment))
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "request.time"
