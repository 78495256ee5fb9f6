"""`log` and `otel_log` items through the door and the digest: LogRecord rows and outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from groups.models import LogRecord
from ingest.envelope import parse_envelope
from ingest.models import QueuedItem
from ingest.services import accept_envelope
from tests.ingest.conftest import envelope_bytes
from tests.ingest.test_digest_performance import outcomes, send

pytestmark = pytest.mark.django_db

LOG = "application/vnd.sentry.items.log+json"
TRACE = "935a9d6aa2fd417e9e5071e0917a3a84"


def record(**overrides) -> dict:
    """One record as sentry-python 2.75 sends it."""
    return {
        "timestamp": timezone.now().timestamp(),
        "level": "info",
        "body": "hello world",
        "trace_id": TRACE,
        "span_id": "96213ce254fd9edf",
        "attributes": {
            "sentry.message.template": {"value": "hello {who}", "type": "string"},
            "sentry.environment": {"value": "env", "type": "string"},
            "sentry.release": {"value": "r@1", "type": "string"},
            "sentry.severity_number": {"value": 9, "type": "integer"},
        },
        **overrides,
    }


def log_item(*records) -> tuple[dict, dict]:
    return (
        {"type": "log", "content_type": LOG, "item_count": len(records)},
        {"version": 2, "items": list(records)},
    )


def test_records_are_stored(key):
    send(key, [log_item(record(), record(level="warning", body="careful"))])
    first, second = LogRecord.objects.order_by("id")
    assert (first.level, first.severity_number, first.body) == ("info", 9, "hello world")
    assert (first.trace_id, first.span_id) == (TRACE, "96213ce254fd9edf")
    assert (first.release, first.environment) == ("r@1", "env")
    assert first.attributes["sentry.message.template"] == "hello {who}"
    assert abs(first.timestamp - timezone.now()) < timedelta(minutes=1)
    assert (second.level, second.body) == ("warn", "careful")
    assert outcomes() == {("log_item", "accepted", ""): 2}


@pytest.mark.parametrize(
    ("level", "severity", "expected"),
    [
        ("TRACE", None, ("trace", 1)),
        ("critical", None, ("fatal", 21)),
        (None, 18, ("error", 18)),
        ("loud", 6, ("debug", 6)),
    ],
)
def test_levels(key, level, severity, expected):
    send(key, [log_item(record(level=level, severity_number=severity, attributes={}))])
    row = LogRecord.objects.get()
    assert (row.level, row.severity_number) == expected


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"timestamp": None}, "timestamp"),
        ({"timestamp": "last tuesday"}, "timestamp"),
        ({"body": {"nested": True}}, "invalid_log"),
        ({"level": "loud", "attributes": {}}, "invalid_log"),
        ({"trace_id": "not-hex"}, "invalid_log"),
    ],
)
def test_invalid_record_costs_only_itself(key, bad, reason):
    send(key, [log_item(record(**bad), record(body="fine"), [1, 2])])
    assert list(LogRecord.objects.values_list("body", flat=True)) == ["fine"]
    assert outcomes() == {
        ("log_item", "accepted", ""): 1,
        ("log_item", "invalid", reason): 1,
        ("log_item", "invalid", "invalid_log"): 1 + (reason == "invalid_log"),
    }


@pytest.mark.parametrize("payload", [b"{oops", b"[]", b'{"items": 3}'])
def test_unusable_item_is_invalid(key, payload):
    send(key, [({"type": "log", "item_count": 4}, payload)])
    (((category, outcome, _), quantity),) = outcomes().items()
    assert (category, outcome, quantity) == ("log_item", "invalid", 4)


def test_huge_body_and_attributes_are_capped(key):
    attributes = {f"k{i}": {"value": "v" * 5000, "type": "string"} for i in range(500)}
    send(key, [log_item(record(body="b" * 100_000, attributes=attributes))])
    row = LogRecord.objects.get()
    assert len(row.body) == 8192
    assert len(row.attributes) == 200
    assert {len(value) for value in row.attributes.values()} == {1024}


def test_scrubbing(key):
    attributes = {
        "password": {"value": "hunter2", "type": "string"},
        "note": {"value": "card 4111 1111 1111 1111", "type": "string"},
    }
    send(key, [log_item(record(body="paid with 4111-1111-1111-1111", attributes=attributes))])
    row = LogRecord.objects.get()
    assert row.body == "paid with [Filtered]"
    assert row.attributes == {"password": "[Filtered]", "note": "card [Filtered]"}


def test_release_from_the_envelope_trace_header(key):
    header = {"trace": {"trace_id": TRACE, "release": "dsc@3", "environment": "staging"}}
    send(key, [log_item(record(attributes={}))], header)
    row = LogRecord.objects.get()
    assert (row.release, row.environment) == ("dsc@3", "staging")


def test_otel_log(key):
    nanos = int(timezone.now().timestamp() * 1e9)
    otel = {
        "timeUnixNano": str(nanos),
        "severityNumber": 13,
        "severityText": "WARN",
        "traceId": TRACE,
        "spanId": "96213ce254fd9edf",
        "body": {"stringValue": "disk almost full"},
        "attributes": [
            {"key": "disk.free", "value": {"intValue": "1024"}},
            {"key": "host", "value": {"stringValue": "db-1"}},
            {"key": "mounts", "value": {"arrayValue": {"values": [{"stringValue": "/"}]}}},
        ],
    }
    send(key, [({"type": "otel_log"}, otel), ({"type": "otel_log"}, {"body": 3})])
    row = LogRecord.objects.get()
    assert (row.level, row.severity_number, row.body) == ("warn", 13, "disk almost full")
    assert row.attributes == {"disk.free": 1024, "host": "db-1", "mounts": ["/"]}
    assert row.trace_id == TRACE
    assert outcomes() == {
        ("log_item", "accepted", ""): 1,
        ("log_item", "invalid", "invalid_log"): 1,
    }


def test_queued_with_item_headers(key):
    envelope = parse_envelope(envelope_bytes({}, [log_item(record())]))
    accept_envelope(key=key, envelope=envelope, meta={})
    assert QueuedItem.objects.get().meta["item"]["item_count"] == 1


def test_records_past_the_cap_are_counted_invalid(key, monkeypatch):
    monkeypatch.setattr("ingest.digesters.values.MAX_RECORDS_PER_ITEM", 3)
    send(key, [log_item(*[record(body=f"line {i}") for i in range(5)])])
    assert LogRecord.objects.count() == 3
    assert outcomes() == {
        ("log_item", "accepted", ""): 3,
        ("log_item", "invalid", "too_many_items"): 2,
    }
