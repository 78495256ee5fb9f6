"""Protocol tests: every answer of the ingest endpoints, through Django's test client."""

from __future__ import annotations

import base64
import gzip
import io
import json
import uuid
import zlib

import brotli
import pytest
import zstandard
from django.conf import settings
from django.utils import timezone

from ingest.digest import drain
from ingest.models import OutcomeCounter, QueuedItem
from projects.models import ProjectQuota
from tests.ingest.conftest import auth_header, envelope_bytes, event_envelope
from tests.projects.factories import ProjectKeyFactory

pytestmark = pytest.mark.django_db

STORE_EVENT = {"message": "hello from store", "level": "warning"}


def body_of(response) -> dict:
    return json.loads(response.content)


def assert_status(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return body_of(response)


def test_envelope_is_queued_then_digested(post_envelope, key):
    event_id = uuid.uuid4().hex
    response = post_envelope(event_envelope(event_id=event_id))
    assert assert_status(response, 200) == {"id": event_id}
    assert QueuedItem.objects.get().event_id.hex == event_id
    drain()
    assert not QueuedItem.objects.exists()
    group = key.project.groups.get()
    assert (group.title, group.times_seen) == ("hello", 1)


def test_store_with_auth_header_and_secret_as_in_the_seed(client, key):
    # raven-era X-Sentry-Auth: version 6, with a secret (accepted and ignored).
    response = client.post(
        f"/api/{key.project_id}/store/",
        data=json.dumps(STORE_EVENT),
        content_type="application/json",
        HTTP_X_SENTRY_AUTH=(
            f"Sentry sentry_version=6, sentry_client=raven-python/6.10.0, "
            f"sentry_key={key.public_key}, sentry_secret={key.secret_key}"
        ),
    )
    event_id = assert_status(response, 200)["id"]
    assert len(event_id) == 32
    drain()
    event = key.project.events.get()
    assert event.event_id.hex == event_id
    assert event.data["sdk"] == {"name": "raven-python", "version": "6.10.0"}


def test_store_non_sentry_json_from_the_seed_becomes_a_message(client, key):
    seed = {
        "event_type": "user_login",
        "timestamp": "2023-10-04T14:48:00Z",
        "user_id": "12345",
        "metadata": {"ip_address": "192.168.1.1", "device": "mobile"},
    }
    response = client.post(
        f"/api/{key.project_id}/store/?sentry_key={key.public_key}&sentry_version=7",
        data=json.dumps(seed),
        content_type="application/json",
    )
    assert_status(response, 200)
    drain()
    event = key.project.events.get()
    assert event.title == "user_login"
    assert event.data["extra"]["user_id"] == "12345"
    assert event.data["extra"]["metadata"]["device"] == "mobile"


def test_seed_json_object_envelope(client, key):
    seed = {
        "event_id": "f9b8e4d6-6a4c-4e2f-9b2b-8a9b6c7d8e9f",
        "timestamp": "2023-10-01T12:00:00Z",
        "items": [
            {
                "type": "event",
                "payload": {
                    "event_id": "f9b8e4d6-6a4c-4e2f-9b2b-8a9b6c7d8e9f",
                    "level": "error",
                    "message": "An error occurred",
                    "platform": "javascript",
                    "exception": {
                        "values": [
                            {
                                "type": "Error",
                                "value": "Something went wrong",
                                "stacktrace": {
                                    "frames": [
                                        {
                                            "filename": "app.js",
                                            "lineno": 10,
                                            "colno": 5,
                                            "function": "myFunction",
                                        }
                                    ]
                                },
                            }
                        ]
                    },
                },
            }
        ],
    }
    response = client.post(
        f"/api/{key.project_id}/envelope/",
        data=json.dumps(seed, indent=2),
        content_type="application/json",
        HTTP_X_SENTRY_AUTH="Sentry sentry_key="
        + key.public_key
        + ", sentry_version=7, sentry_client=raven-js/3.15.0",
    )
    assert assert_status(response, 200) == {"id": "f9b8e4d66a4c4e2f9b2b8a9b6c7d8e9f"}
    drain()
    group = key.project.groups.get()
    assert group.title == "Error: Something went wrong"
    assert group.culprit == "myFunction(app.js)"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "", "identity"])
def test_every_content_encoding(client, key, encoding):
    raw = event_envelope()
    body = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": brotli.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }.get(encoding, lambda data: data)(raw)
    response = client.post(
        f"/api/{key.project_id}/envelope/",
        data=body,
        content_type="application/x-sentry-envelope",
        HTTP_CONTENT_ENCODING=encoding,
        HTTP_X_SENTRY_AUTH=auth_header(key.public_key),
    )
    assert_status(response, 200)
    assert QueuedItem.objects.get().body.startswith(b"{")


def test_raw_deflate_is_tolerated(post_envelope):
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = compressor.compress(event_envelope()) + compressor.flush()
    response = post_envelope(body, HTTP_CONTENT_ENCODING="deflate")
    assert_status(response, 200)


def test_store_base64_zlib_without_header(post_store, key):
    # raven-node's legacy body: base64(zlib(json)) and no Content-Encoding.
    body = base64.b64encode(zlib.compress(json.dumps(STORE_EVENT).encode()))
    response = post_store(body, content_type="text/plain")
    assert_status(response, 200)
    drain()
    assert key.project.events.get().title == "hello from store"


def test_store_accepts_python_nan(post_store, key):
    body = b'{"message": "nan", "extra": {"ratio": NaN, "top": Infinity}}'
    response = post_store(body, auth=auth_header(key.public_key, client="sentry-python/0.1"))
    assert_status(response, 200)
    drain()
    assert key.project.events.get().data["extra"] == {"ratio": None, "top": None}


def test_store_get_answers_a_gif(client, key):
    payload = base64.b64encode(zlib.compress(json.dumps(STORE_EVENT).encode())).decode()
    response = client.get(
        f"/api/{key.project_id}/store/",
        {"sentry_data": payload, "sentry_key": key.public_key, "sentry_version": "7"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert QueuedItem.objects.count() == 1


def test_legacy_store_takes_project_from_key(client, key):
    response = client.post(
        "/api/store/",
        data=json.dumps(STORE_EVENT),
        content_type="application/json",
        HTTP_X_SENTRY_AUTH=auth_header(key.public_key),
    )
    assert_status(response, 200)
    assert QueuedItem.objects.get().project_id == key.project_id


@pytest.mark.parametrize("path", ["/errors/api/{id}/envelope/", "/api//{id}//envelope/"])
def test_path_prefix_and_repeated_slashes(post_envelope, key, path):
    response = post_envelope(event_envelope(), path=path.format(id=key.project_id))
    assert_status(response, 200)


def test_query_string_credentials_as_browser_sdks_send(client, key):
    response = client.post(
        f"/api/{key.project_id}/envelope/?sentry_version=7&sentry_key={key.public_key}"
        "&sentry_client=sentry.javascript.browser%2F8.0.0",
        data=event_envelope(),
        content_type="text/plain;charset=UTF-8",
    )
    assert_status(response, 200)


def test_envelope_dsn_header_authenticates(client, key):
    event_id = uuid.uuid4().hex
    body = envelope_bytes(
        {"event_id": event_id, "dsn": f"http://{key.public_key}@testserver/{key.project_id}"},
        [({"type": "event"}, {"message": "tunnelled"})],
    )
    response = client.post(f"/api/{key.project_id}/envelope/", data=body, content_type="text/plain")
    assert assert_status(response, 200) == {"id": event_id}


def test_authorization_sentry_header(client, key):
    response = client.post(
        f"/api/{key.project_id}/envelope/",
        data=event_envelope(),
        content_type="application/x-sentry-envelope",
        HTTP_AUTHORIZATION=auth_header(key.public_key),
    )
    assert_status(response, 200)


def test_cors_preflight(client, key):
    response = client.options(
        f"/api/{key.project_id}/envelope/",
        HTTP_ORIGIN="https://shop.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "x-sentry-auth" in response["Access-Control-Allow-Headers"]
    assert "retry-after" in response["Access-Control-Expose-Headers"]
    assert "x-sentry-rate-limits" in response["Access-Control-Expose-Headers"]


def test_header_only_envelope_answers_empty_object(post_envelope):
    assert assert_status(post_envelope(b"{}\n"), 200) == {}
    assert not QueuedItem.objects.exists()


def test_unknown_items_are_skipped_and_counted(post_envelope, key):
    event_id = uuid.uuid4().hex
    body = envelope_bytes(
        {"event_id": event_id},
        [({"type": "future_thing"}, b"whatever"), ({"type": "event"}, {"message": "kept"})],
    )
    assert assert_status(post_envelope(body), 200) == {"id": event_id}
    assert list(QueuedItem.objects.values_list("type", flat=True)) == ["event"]
    counter = OutcomeCounter.objects.get()
    assert (counter.outcome, counter.reason, counter.quantity) == (
        "filtered",
        "unknown_item:future_thing",
        1,
    )


def test_types_not_stored_are_counted_and_the_sdk_told_to_stop(post_envelope, key):
    body = envelope_bytes(
        {},
        [
            ({"type": "profile"}, {"version": "1"}),
            ({"type": "replay_recording"}, b"rrweb"),
            ({"type": "statsd"}, b"metric:1|c"),
        ],
    )
    response = post_envelope(body)
    assert_status(response, 200)
    assert not QueuedItem.objects.exists()
    filtered = dict(
        OutcomeCounter.objects.filter(outcome="filtered", reason="not_stored").values_list(
            "category", "quantity"
        )
    )
    assert filtered == {"profile": 1, "replay": 1, "metric_bucket": 1}
    limits = response["X-Sentry-Rate-Limits"]
    seconds, categories, scope, reason = limits.split(":")
    assert int(seconds) == settings.INGEST_NOT_STORED_RETRY_AFTER_SECONDS
    assert {"profile", "replay", "metric_bucket"} <= set(categories.split(";"))
    assert not {"error", "attachment", "feedback"} & set(categories.split(";"))
    assert (scope, reason) == ("project", "feature_disabled")


def test_stored_types_are_queued_for_the_digest(post_envelope, key):
    body = envelope_bytes(
        {"event_id": uuid.uuid4().hex},
        [
            ({"type": "client_report"}, {"discarded_events": []}),
            ({"type": "attachment", "filename": "a.txt"}, b"bytes"),
        ],
    )
    assert_status(post_envelope(body), 200)
    assert sorted(QueuedItem.objects.values_list("type", flat=True)) == [
        "attachment",
        "client_report",
    ]


def test_sessions_and_checkins_are_queued_and_counted_when_digested(post_envelope, key):
    session = {"sid": str(uuid.uuid4()), "init": True, "started": "2020-01-01T00:00:00Z"}
    body = envelope_bytes(
        {}, [({"type": "session"}, session), ({"type": "check_in"}, {"status": "ok"})]
    )
    assert_status(post_envelope(body), 200)
    assert sorted(QueuedItem.objects.values_list("type", flat=True)) == ["check_in", "session"]
    assert not OutcomeCounter.objects.exists()
    drain()
    invalid = OutcomeCounter.objects.filter(outcome="invalid")
    assert dict(invalid.values_list("category", "reason")) == {
        "session": "missing_release",
        "monitor": "invalid_checkin",
    }


def test_duplicate_event_id_is_stored_and_counted_once(post_envelope, key):
    event_id = uuid.uuid4().hex
    for _ in range(3):
        assert_status(post_envelope(event_envelope(event_id=event_id)), 200)
    drain()
    assert_status(post_envelope(event_envelope(event_id=event_id)), 200)
    drain()
    assert key.project.events.count() == 1
    assert key.project.groups.get().times_seen == 1


def test_resolved_issue_regresses(post_envelope, key):
    post_envelope(event_envelope({"message": "again"}))
    drain()
    key.project.groups.update(status="resolved", substatus="")
    post_envelope(event_envelope({"message": "again"}))
    drain()
    group = key.project.groups.get()
    assert (group.status, group.substatus, group.times_seen) == ("unresolved", "regressed", 2)


class TestRejections:
    """The bad-input table: each answered with its 4xx, a JSON detail and X-Sentry-Error."""

    @staticmethod
    def check(response, status: int, detail: str):
        body = assert_status(response, status)
        assert body["detail"] == detail, body
        assert response["X-Sentry-Error"] == detail
        assert response["Access-Control-Allow-Origin"] == "*"
        return body

    def test_no_credentials_on_store(self, client, key):
        response = client.post(
            f"/api/{key.project_id}/store/", data="{}", content_type="application/json"
        )
        self.check(response, 401, "missing authorization information")

    def test_no_credentials_on_envelope(self, client, key):
        response = client.post(
            f"/api/{key.project_id}/envelope/", data=event_envelope(), content_type="text/plain"
        )
        self.check(response, 401, "bad envelope authentication header")

    def test_two_credentials(self, client, key):
        response = client.post(
            f"/api/{key.project_id}/store/?sentry_key={key.public_key}",
            data="{}",
            content_type="application/json",
            HTTP_X_SENTRY_AUTH=auth_header(key.public_key),
        )
        self.check(response, 401, "multiple authorization payloads detected")

    @pytest.mark.parametrize("credentials", ["\xe9", "not base64!"])
    def test_unreadable_basic_authorization(self, client, key, credentials):
        # Found by fuzzing: base64 refuses text that is not ASCII with a ValueError, once a 500.
        response = client.post(
            f"/api/{key.project_id}/store/",
            data="{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {credentials}",
        )
        self.check(response, 401, "bad x-sentry-auth header")

    def test_auth_header_without_key(self, post_store):
        response = post_store("{}", auth="Sentry sentry_version=7")
        self.check(response, 401, "bad x-sentry-auth header")

    def test_key_of_wrong_length(self, post_store):
        response = post_store("{}", auth=auth_header("abc"))
        self.check(response, 400, "bad sentry DSN public key")

    def test_protocol_version_above_seven(self, post_store, key):
        response = post_store("{}", auth=auth_header(key.public_key, version=8))
        self.check(response, 400, "unsupported protocol version (8)")

    @pytest.mark.parametrize("path_id", ["web", "²"])
    def test_non_numeric_project(self, post_envelope, path_id):
        response = post_envelope(event_envelope(), path=f"/api/{path_id}/envelope/")
        self.check(response, 400, "bad project path parameter")

    def test_unknown_key(self, post_store):
        response = post_store("{}", auth=auth_header("0" * 32))
        self.check(response, 403, "event submission rejected with_reason: ProjectId")

    def test_disabled_key(self, post_envelope, key):
        key.is_active = False
        key.save()
        self.check(
            post_envelope(event_envelope()), 403, "event submission rejected with_reason: ProjectId"
        )

    def test_key_of_another_project(self, post_envelope):
        other = ProjectKeyFactory()
        response = post_envelope(event_envelope(), path=f"/api/{other.project_id}/envelope/")
        self.check(response, 403, "event submission rejected with_reason: ProjectId")

    def test_envelope_dsn_of_another_key(self, post_envelope, key):
        other = ProjectKeyFactory(project=key.project)
        body = envelope_bytes(
            {"dsn": f"http://{other.public_key}@testserver/{key.project_id}"},
            [({"type": "event"}, {"message": "x"})],
        )
        body = self.check(post_envelope(body), 400, "invalid event envelope")
        assert body["causes"] == ["public key header mismatch between envelope and request"]

    @pytest.mark.parametrize(
        ("body", "cause"),
        [
            (b"not json\n", "invalid envelope header"),
            (b'{}\n{"type":"event","length":50}\n{}', "unexpected end of file"),
            (b'{}\n{"type":"event","length":2}\n{}x\n', "missing newline after header or payload"),
            (b'{}\n{"type":"event"}\n{}\n\n', "unexpected end of file"),
            (b'{}\n{"length":2}\n{}\n', "invalid item header"),
            (b'{"event_id":"nope"}\n', "invalid event_id in envelope header"),
        ],
    )
    def test_broken_envelopes(self, post_envelope, body, cause):
        body = self.check(post_envelope(body), 400, "invalid event envelope")
        assert body["causes"] == [cause]

    def test_empty_body(self, post_envelope):
        self.check(post_envelope(b""), 400, "empty request body")

    @pytest.mark.parametrize(
        "body", [b"{not json", b"[1, 2]", b"\x00\x01garbage", b'{"event_id": "not-a-uuid"}']
    )
    def test_bad_store_bodies(self, post_store, body):
        response = post_store(body)
        assert response.status_code == 400, response.content
        assert body_of(response)["detail"].startswith(("invalid", "empty"))

    def test_bad_base64(self, post_store):
        response = post_store(b"eJzLSM3JyVcozy/KSQEAGgQEXQ==!!!broken", content_type="text/plain")
        assert response.status_code == 400, response.content

    @pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
    def test_corrupt_compressed_body(self, post_envelope, encoding):
        response = post_envelope(
            b"\x1f\x8b\x08 definitely not compressed", HTTP_CONTENT_ENCODING=encoding
        )
        assert response.status_code == 400, response.content
        assert response["X-Sentry-Error"].startswith(f"invalid {encoding} body")

    def test_truncated_gzip(self, post_envelope):
        body = gzip.compress(event_envelope())[:-12]
        response = post_envelope(body, HTTP_CONTENT_ENCODING="gzip")
        assert response.status_code == 400, response.content

    def test_unknown_encoding(self, post_envelope):
        response = post_envelope(event_envelope(), HTTP_CONTENT_ENCODING="lzma")
        self.check(response, 415, "unsupported content encoding 'lzma'")

    @pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
    def test_decompression_bombs(self, post_store, settings, encoding):
        settings.INGEST_MAX_STORE_BYTES = 64 * 1024
        bomb_source = b'{"message": "' + b"A" * (50 * 1024 * 1024) + b'"}'
        compress = {
            "gzip": gzip.compress,
            "deflate": zlib.compress,
            "br": lambda data: brotli.compress(data, quality=5),
            "zstd": zstandard.ZstdCompressor().compress,
        }[encoding]
        body = compress(bomb_source)
        assert len(body) < 200 * 1024
        response = post_store(body, HTTP_CONTENT_ENCODING=encoding)
        self.check(response, 413, "request content exceeded size limits")

    def test_base64_zlib_bomb(self, post_store, settings):
        settings.INGEST_MAX_STORE_BYTES = 64 * 1024
        body = base64.b64encode(zlib.compress(b'{"m": "' + b"A" * 10_000_000 + b'"}'))
        response = post_store(body, content_type="text/plain")
        self.check(response, 413, "request content exceeded size limits")

    def test_oversized_plain_store_body(self, post_store):
        body = json.dumps({"message": "x" * (1024 * 1024)})
        response = post_store(body)
        self.check(response, 413, "request content exceeded size limits")

    def test_oversized_event_item(self, post_envelope):
        body = event_envelope({"extra": {"blob": "x" * (1024 * 1024)}})
        response = post_envelope(body)
        self.check(response, 413, "envelope exceeded size limits for type 'event'")

    def test_two_event_items(self, post_envelope):
        body = envelope_bytes({}, [({"type": "event"}, {}), ({"type": "transaction"}, {})])
        self.check(post_envelope(body), 413, "envelope exceeded size limits for type 'transaction'")

    def test_method_not_allowed(self, client, key):
        response = client.put(f"/api/{key.project_id}/envelope/", data=b"")
        assert response.status_code == 405, response.content
        assert body_of(response) == {"detail": "method not allowed"}


class TestRateLimits:
    def test_key_rate_limit_answers_429_with_sentry_headers(self, post_envelope, key):
        key.rate_limit_count, key.rate_limit_window_seconds = 2, 3600
        key.save()
        for _ in range(2):
            assert_status(post_envelope(event_envelope()), 200)
        response = post_envelope(event_envelope())
        assert response.status_code == 429, response.content
        retry_after = int(response["Retry-After"])
        assert 0 < retry_after <= 3600
        assert response["X-Sentry-Rate-Limits"] == (
            f"{retry_after}:default;error;security;transaction:key"
        )
        assert QueuedItem.objects.count() == 2
        limited = OutcomeCounter.objects.get(outcome="rate_limited")
        assert (limited.category, limited.quantity) == ("error", 1)

    def test_an_event_dropped_by_a_quota_takes_its_attachments(self, post_envelope, key):
        ProjectQuota.objects.create(
            project=key.project, category="error", count=0, window_seconds=60
        )
        event_id = uuid.uuid4().hex
        attachment = ({"type": "attachment", "filename": "a.txt"}, b"hello")
        with_event = envelope_bytes(
            {"event_id": event_id}, [({"type": "event"}, {"message": "x"}), attachment]
        )
        assert_status(post_envelope(with_event), 429)
        # Without its event in the envelope, an attachment is its own item.
        assert_status(post_envelope(envelope_bytes({"event_id": event_id}, [attachment])), 200)
        assert QueuedItem.objects.get().type == "attachment"
        limited = {
            row.category: row.quantity
            for row in OutcomeCounter.objects.filter(outcome="rate_limited")
        }
        assert limited == {"error": 1, "attachment": 1}

    def test_project_quota_by_category_keeps_other_items(self, post_envelope, key):
        ProjectQuota.objects.create(
            project=key.project, category="session", count=1, window_seconds=60
        )
        started = timezone.now().isoformat()
        attrs = {"release": "web@1"}
        session = ({"type": "session"}, {"sid": "a", "started": started, "attrs": attrs})
        assert_status(post_envelope(envelope_bytes({}, [session])), 200)
        drain()
        event_id = uuid.uuid4().hex
        mixed = envelope_bytes(
            {"event_id": event_id}, [session, ({"type": "event"}, {"message": "kept"})]
        )
        response = post_envelope(mixed)
        assert assert_status(response, 200) == {"id": event_id}
        quota_limit = response["X-Sentry-Rate-Limits"].split(", ")[0]
        assert quota_limit.endswith(":session:project")
        assert list(QueuedItem.objects.values_list("type", flat=True)) == ["event"]
        drain()
        counts = dict(
            OutcomeCounter.objects.filter(category="session").values_list("outcome", "quantity")
        )
        assert counts == {"accepted": 1, "rate_limited": 1}

    def test_backlog_bound_answers_429(self, post_envelope, settings, monkeypatch):
        from ingest import door

        settings.INGEST_MAX_BACKLOG_ITEMS = 2
        monkeypatch.setattr(door, "_backlog", door._BacklogProbe())
        for _ in range(3):
            monkeypatch.setattr(door, "_backlog", door._BacklogProbe())
            assert_status(post_envelope(event_envelope()), 200)
        monkeypatch.setattr(door, "_backlog", door._BacklogProbe())
        response = post_envelope(event_envelope())
        assert response.status_code == 429, response.content
        assert response["Retry-After"] == str(settings.INGEST_BACKLOG_RETRY_AFTER_SECONDS)
        assert QueuedItem.objects.count() == 3
        drain()
        monkeypatch.setattr(door, "_backlog", door._BacklogProbe())
        assert_status(post_envelope(event_envelope()), 200)


def test_chunked_body_is_read_from_the_wsgi_stream(rf, key):
    """Django reads nothing from a WSGI body without Content-Length; ingest must."""
    from ingest.views import envelope

    body = event_envelope()
    request = rf.post(
        f"/api/{key.project_id}/envelope/?sentry_key={key.public_key}",
        data=b"",
        content_type="",
    )
    request.META.pop("CONTENT_LENGTH", None)
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
    request.environ["wsgi.input"] = io.BytesIO(body)
    response = envelope(request, project_id=str(key.project_id))
    assert response.status_code == 200, response.content
    assert QueuedItem.objects.count() == 1


def test_gzip_with_several_members(post_envelope, key):
    event_id = uuid.uuid4().hex
    raw = event_envelope(event_id=event_id)
    half = len(raw) // 2
    body = gzip.compress(raw[:half]) + gzip.compress(raw[half:])
    response = post_envelope(body, HTTP_CONTENT_ENCODING="gzip")
    assert assert_status(response, 200) == {"id": event_id}


def test_data_after_a_zlib_stream_is_400(post_envelope):
    body = zlib.compress(event_envelope()) + b"trailing"
    response = post_envelope(body, HTTP_CONTENT_ENCODING="deflate")
    assert response.status_code == 400, response.content


def test_forwarded_for_takes_the_address_the_proxy_saw(post_envelope, key, settings):
    settings.TRUST_X_FORWARDED_FOR = True
    post_envelope(
        event_envelope({"user": {"ip_address": "{{auto}}"}}),
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    drain()
    assert key.project.events.get().data["user"]["ip_address"] == "203.0.113.9"


def test_outcome_rows_are_upserted_in_key_order(key):
    """Two workers lock the same counter rows in the same order: no deadlock."""
    from collections import Counter

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ingest.outcomes import record_outcomes

    outcomes = Counter(
        {("span", "invalid", "b"): 1, ("error", "accepted", ""): 2, ("span", "invalid", "a"): 3}
    )
    with CaptureQueriesContext(connection) as queries:
        record_outcomes(project_id=key.project_id, outcomes=outcomes)
    (sql,) = [query["sql"] for query in queries]
    positions = [sql.index(f"'{label}'") for label in ("error", "a", "b")]
    assert positions == sorted(positions), sql


@pytest.mark.django_db(transaction=True)
def test_a_lost_database_connection_is_a_json_503_and_the_next_request_reconnects(
    post_envelope, key
):
    """The server dropped the connection (a restart, a failover): 503 with a JSON detail,
    not Django's HTML 500, and the following request connects again."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs a server that can drop the connection")
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        other.close()
    response = post_envelope(event_envelope({"message": "lost"}))
    assert response.status_code == 503, response.content
    assert response.json() == {"detail": "the database could not take the request; retry later"}
    assert response["X-Sentry-Error"] == response.json()["detail"]
    assert response["Access-Control-Allow-Origin"] == "*"
    # What request_finished does after every request under a real server (the test client
    # leaves connections open): the broken connection is dropped, the next one connects.
    connection.close_if_unusable_or_obsolete()
    response = post_envelope(event_envelope({"message": "reconnected"}))
    assert response.status_code == 200, response.content
    assert QueuedItem.objects.count() == 1
