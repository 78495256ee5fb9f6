"""Moesif's collector endpoints: events one at a time and in batches, config, rules, the
ignored profile updates; auth, limits and the all-or-nothing validation of batches."""

from __future__ import annotations

import gzip
import json

import pytest

from groups.models import ApiCall
from ingest.digest import drain
from ingest.models import OutcomeCounter, QueuedItem
from ingest.moesif import APP_CONFIG, CONFIG_ETAG
from tests.ingest.conftest import MOESIF_EVENT as EVENT
from tests.ingest.conftest import moesif_event as event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", ["/v1", "/moesifapi", "/moesifapi/v1"])
def test_single_event_is_queued_then_stored(post_moesif, key, prefix):
    response = post_moesif(f"{prefix}/events", EVENT)
    assert response.status_code == 201, response.content
    assert response.json() == {}
    assert response["X-Moesif-Config-ETag"] == CONFIG_ETAG
    assert response["Access-Control-Allow-Origin"] == "*"
    assert QueuedItem.objects.get().type == "api_call"
    drain()
    call = ApiCall.objects.get()
    assert call.project_id == key.project_id
    assert (call.verb, call.status, call.route) == ("POST", 201, "/items/{id}")
    assert call.duration_ms == pytest.approx(100.0)
    assert call.request_time.isoformat() == "2026-11-22T15:15:56.084163+00:00"
    assert str(call.transaction_id) == EVENT["transaction_id"]
    assert OutcomeCounter.objects.get(category="api_call").outcome == "accepted"


def test_raw_json_and_a_lone_object_in_a_batch(post_moesif):
    response = post_moesif("/moesifapi/events/batch", event(), gzipped=False)
    assert response.status_code == 201, response.content
    drain()
    assert ApiCall.objects.count() == 1


def test_empty_batch_is_accepted(post_moesif):
    assert post_moesif("/v1/events/batch", []).status_code == 201
    assert not QueuedItem.objects.exists()


def test_backlog_bound_answers_429(post_moesif, settings, monkeypatch):
    from ingest import door

    settings.INGEST_MAX_BACKLOG_ITEMS = 1
    monkeypatch.setattr(door, "_backlog", door._BacklogProbe())
    assert post_moesif("/v1/events/batch", [event(), event()]).status_code == 201
    # The probe looks at the queue at most once a second: a fresh one looks now.
    monkeypatch.setattr(door, "_backlog", door._BacklogProbe())
    response = post_moesif("/v1/events", event())
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(settings.INGEST_BACKLOG_RETRY_AFTER_SECONDS)


def test_batch_is_stored_in_order_and_retries_are_deduplicated(post_moesif):
    batch = [event(transaction_id=f"00000000-0000-4000-8000-00000000000{n}") for n in range(3)]
    for _ in range(2):
        response = post_moesif("/v1/events/batch", batch)
        assert response.status_code == 201, response.content
        assert response["X-Moesif-Config-ETag"] == CONFIG_ETAG
    assert QueuedItem.objects.count() == 6
    drain()
    assert ApiCall.objects.count() == 3


def test_non_uuid_transaction_ids_still_deduplicate(post_moesif):
    for _ in range(2):
        assert post_moesif("/v1/events", event(transaction_id="order-7")).status_code == 201
    drain()
    assert ApiCall.objects.count() == 1


def test_what_is_stored_is_scrubbed_and_capped(post_moesif):
    big = {"blob": "x" * 70_000}
    response = post_moesif("/v1/events", event(request__body=big, metadata={"token": "t0k"}))
    assert response.status_code == 201, response.content
    drain()
    call = ApiCall.objects.get()
    request, answer = call.data["request"], call.data["response"]
    assert request["headers"]["Authorization"] == "[Filtered]"
    assert request["headers"]["Content-Type"] == "application/json"
    assert answer["headers"]["Set-Cookie"] == "[Filtered]"
    assert request["truncated"] is True
    assert len(request["body"]) == 64 * 1024
    assert answer == {
        "headers": {"Set-Cookie": "[Filtered]"},
        "body": "eyJvayI6dHJ1ZX0=",
        "transfer_encoding": "base64",
        "truncated": False,
    }
    assert "api_key=%5BFiltered%5D" in call.uri
    assert call.session_token.startswith("sha256:")
    assert len(call.session_token) == len("sha256:") + 16
    assert call.metadata == {"token": "[Filtered]"}
    assert (call.user_id, call.company_id, call.direction) == ("u1", "c1", "Incoming")
    assert call.ip_address == "61.48.220.123"


def test_body_password_is_scrubbed(post_moesif):
    post_moesif("/v1/events", EVENT)
    drain()
    assert ApiCall.objects.get().data["request"]["body"] == {"a": 1, "password": "[Filtered]"}


def test_a_project_that_does_not_scrub_keeps_everything(post_moesif, key):
    key.project.scrub_data = False
    key.project.save()
    post_moesif("/v1/events", EVENT)
    drain()
    call = ApiCall.objects.get()
    assert call.session_token == "tok"
    assert call.data["request"]["headers"]["Authorization"] == "Bearer abc"


def test_timeout_without_response_is_stored_without_status(post_moesif):
    response = post_moesif("/v1/events", event(response=None))
    assert response.status_code == 201, response.content
    drain()
    call = ApiCall.objects.get()
    assert (call.status, call.response_time, call.duration_ms) == (None, None, None)
    assert call.data["response"] is None


def test_nulls_in_optional_fields_are_tolerated(post_moesif):
    nulls = event(
        request__headers=None,
        request__body=None,
        request__api_version=None,
        response__headers=None,
        response__body=None,
        session_token=None,
        user_id=None,
        company_id=None,
        metadata=None,
        direction=None,
        weight=None,
        transaction_id=None,
    )
    response = post_moesif("/v1/events", nulls)
    assert response.status_code == 201, response.content
    drain()
    call = ApiCall.objects.get()
    assert (call.metadata, call.weight, call.session_token, call.user_id) == ({}, 1, "", "")


def test_response_before_request_has_no_duration(post_moesif):
    post_moesif("/v1/events", event(response__time="2026-11-22T15:15:55Z"))
    drain()
    assert ApiCall.objects.get().duration_ms is None


def test_batch_with_bad_events_names_each_and_stores_nothing(post_moesif):
    batch = [event(), event(request__time=...), event(), "nope", event(response__status=None)]
    response = post_moesif("/v1/events/batch", batch)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errors"] == [
        {"index": 1, "field": "request.time", "reason": "required"},
        {"index": 3, "field": "", "reason": "an event must be a JSON object"},
        {"index": 4, "field": "response.status", "reason": "required"},
    ]
    assert "1, 3, 4" in body["detail"]
    assert not QueuedItem.objects.exists()
    invalid = OutcomeCounter.objects.get(category="api_call")
    assert (invalid.outcome, invalid.reason, invalid.quantity) == ("invalid", "invalid_api_call", 5)
    drain()
    assert not ApiCall.objects.exists()


@pytest.mark.parametrize(
    ("path", "raw", "detail"),
    [
        ("/v1/events", b"{not json", "malformed JSON body"),
        ("/v1/events/batch", b"[1,", "malformed JSON body"),
        ("/v1/events", b"", "empty request body"),
        ("/v1/events", b"[]", "expected one event object; post arrays to /v1/events/batch"),
        ("/v1/events/batch", b'"text"', "expected a JSON array of event objects"),
        ("/v1/events", b"[" * 5000 + b"]" * 5000, "malformed JSON body"),
    ],
)
def test_bad_bodies_are_400(post_moesif, path, raw, detail):
    response = post_moesif(path, None, raw=raw)
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": detail}


def test_bad_gzip_is_400(client, key):
    response = client.post(
        "/v1/events",
        data=b"\x1f\x8bnot gzip at all",
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_X_MOESIF_APPLICATION_ID=key.public_key,
    )
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("invalid gzip body")


def test_gzip_bomb_is_413(client, key):
    bomb = gzip.compress(b"[" + b" " * (50 * 1024 * 1024) + b"]")
    response = client.post(
        "/v1/events",
        data=bomb,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_X_MOESIF_APPLICATION_ID=key.public_key,
    )
    assert response.status_code == 413, response.content
    assert "detail" in response.json()


def test_oversize_batch_is_413_asking_to_split(post_moesif, settings):
    settings.MOESIF_MAX_BATCH_BYTES = 4096
    response = post_moesif("/v1/events/batch", [event() for _ in range(10)])
    assert response.status_code == 413, response.content
    assert "split it into smaller batches" in response.json()["detail"]
    assert not QueuedItem.objects.exists()


def test_oversize_event_is_413(post_moesif, settings):
    settings.MOESIF_MAX_EVENT_BYTES = 2048
    response = post_moesif("/v1/events", event(request__body="x" * 4000), gzipped=False)
    assert response.status_code == 413, response.content


@pytest.mark.parametrize(
    ("app_id", "status"),
    [(None, 401), ("", 401), ("0" * 32, 401), ("short", 401), ("é" * 32, 401)],
)
def test_application_id_is_required_and_checked(post_moesif, app_id, status):
    response = post_moesif("/v1/events", EVENT, app_id=app_id)
    assert response.status_code == status, response.content
    assert "detail" in response.json()
    assert not QueuedItem.objects.exists()


def test_disabled_key_is_401(post_moesif, key, settings):
    settings.INGEST_KEY_CACHE_SECONDS = 0
    key.is_active = False
    key.save()
    response = post_moesif("/v1/events/batch", [EVENT])
    assert response.status_code == 401, response.content


def test_upper_case_application_id_is_accepted(post_moesif, key):
    response = post_moesif("/v1/events", EVENT, app_id=key.public_key.upper())
    assert response.status_code == 201, response.content


def test_project_quota_on_api_calls_is_429(post_moesif, key, settings):
    from projects.models import ProjectQuota

    settings.INGEST_KEY_CACHE_SECONDS = 0
    ProjectQuota.objects.create(
        project=key.project, category="api_call", count=2, window_seconds=60
    )
    assert post_moesif("/v1/events/batch", [event(), event()]).status_code == 201
    response = post_moesif("/v1/events", event())
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    assert QueuedItem.objects.count() == 2
    limited = OutcomeCounter.objects.get(outcome="rate_limited")
    assert (limited.category, limited.quantity) == ("api_call", 1)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/events"),
        ("put", "/v1/events/batch"),
        ("post", "/v1/config"),
        ("delete", "/v1/rules"),
    ],
)
def test_wrong_method_is_405(client, key, method, path):
    response = getattr(client, method)(path, HTTP_X_MOESIF_APPLICATION_ID=key.public_key)
    assert response.status_code == 405, response.content
    assert response.json() == {"detail": "method not allowed"}


@pytest.mark.parametrize("path", ["/v1/config", "/moesifapi/v1/config", "/moesifapi/config"])
def test_config(client, key, path):
    response = client.get(path, HTTP_X_MOESIF_APPLICATION_ID=key.public_key)
    assert response.status_code == 200, response.content
    assert response.json() == APP_CONFIG
    assert response.json()["sample_rate"] == 100
    assert response["X-Moesif-Config-ETag"] == CONFIG_ETAG
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", ["/v1/rules", "/moesifapi/v1/rules", "/moesifapi/rules"])
def test_rules(client, key, path):
    response = client.get(path, HTTP_X_MOESIF_APPLICATION_ID=key.public_key)
    assert response.status_code == 200, response.content
    assert response.json() == []


@pytest.mark.parametrize("resource", ["users", "companies", "subscriptions", "actions"])
@pytest.mark.parametrize("suffix", ["", "/batch"])
def test_profile_updates_are_acknowledged_and_ignored(post_moesif, resource, suffix):
    response = post_moesif(f"/v1/{resource}{suffix}", {"user_id": "u1"}, gzipped=False)
    assert response.status_code == 201, response.content
    assert response.json() == {}
    assert not QueuedItem.objects.exists()


def test_preflight_and_cors(client):
    response = client.options("/v1/events/batch", HTTP_ORIGIN="https://app.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "x-moesif-application-id" in response["Access-Control-Allow-Headers"]
    assert "x-moesif-config-etag" in response["Access-Control-Expose-Headers"]
    assert client.get("/v1/config")["Access-Control-Allow-Origin"] == "*"


def test_trailing_slash_is_not_routed_as_moesif(client):
    assert (
        client.post("/v1/events/", data=b"{}", content_type="application/json").status_code == 404
    )


def test_nul_characters_and_lone_surrogates_are_stored_cleaned(post_moesif):
    raw = json.dumps(
        event(
            request__uri="https://x.example/a\u0000b",
            user_id="u\u00001",
            metadata={"k\u0000": "\ud800", "big": 2**70},
            request__body={"text": "nul \u0000 here"},
        )
    ).encode()
    response = post_moesif("/v1/events", None, raw=raw)
    assert response.status_code == 201, response.content
    drain()
    call = ApiCall.objects.get()
    assert (call.uri, call.user_id) == ("https://x.example/ab", "u1")
    assert call.metadata == {"k": "\ufffd", "big": 2**70}
    assert call.data["request"]["body"] == {"text": "nul  here"}


@pytest.mark.parametrize("ip_address", [..., None, ""])
def test_a_request_without_ip_address_takes_the_clients(post_moesif, ip_address):
    response = post_moesif(
        "/v1/events", event(request__ip_address=ip_address), REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 201, response.content
    drain()
    assert ApiCall.objects.get().ip_address == "198.51.100.7"


@pytest.mark.parametrize("depth", [500, 1000])
@pytest.mark.parametrize("field", ["metadata", "request__body", "request__headers"])
def test_deeply_nested_data_is_trimmed_not_a_500(post_moesif, depth, field):
    deep = b'{"a": ' * depth + b"1" + b"}" * depth
    raw = json.dumps(event(**{field: {"x": "DEEP"}})).encode().replace(b'"DEEP"', deep)
    response = post_moesif("/v1/events", None, raw=raw)
    assert response.status_code == 201, response.content
    drain()
    assert not QueuedItem.objects.exists()
    assert ApiCall.objects.count() == 1
    assert OutcomeCounter.objects.get(category="api_call").outcome == "accepted"


def test_a_node_middleware_sized_batch_fits_the_default_limit(post_moesif):
    """moesif-nodejs sends up to 200 events a batch, bodies included: ~1.6 MB here."""
    batch = [event(request__body={"text": "x" * 4000}, response=None) for _ in range(200)]
    response = post_moesif("/v1/events/batch", batch)
    assert response.status_code == 201, response.content
    assert QueuedItem.objects.count() == 200


@pytest.mark.parametrize("transaction_id", [b'"\\ud800"', b'"order\\u0000-7"'])
def test_unstorable_characters_in_a_transaction_id_are_cleaned_not_a_500(
    post_moesif, transaction_id
):
    raw = json.dumps(event(transaction_id="TID")).encode().replace(b'"TID"', transaction_id)
    response = post_moesif("/v1/events", None, raw=raw)
    assert response.status_code == 201, response.content
    drain()
    assert ApiCall.objects.get().transaction_id is not None
