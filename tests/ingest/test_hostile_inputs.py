"""Inputs found in review that once turned into 500s or stopped the digest: each is answered
with its 4xx, or accepted and then digested without harming the events queued beside it."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from groups.models import Event
from ingest.digest import drain
from ingest.management.commands.digest import run_worker
from ingest.models import QueuedItem
from ingest.normalize import MAX_MESSAGE_CHARS
from tests.ingest.conftest import (
    auth_header,
    envelope_bytes,
    event_envelope,
    queue_undigestible,
)

pytestmark = pytest.mark.django_db

FRAME = {"function": "handler", "module": "app.views", "in_app": True, "lineno": 3}


def exception(**extra):
    value = {"type": "ValueError", "value": "boom", "stacktrace": {"frames": [dict(FRAME)]}}
    return {"exception": {"values": [{**value, **extra}]}}


ODD_EVENTS = {
    "mechanism not an object": exception(mechanism="x"),
    "handled is a list": exception(mechanism={"type": "generic", "handled": []}),
    "frame platform is a list": {
        "exception": {
            "values": [{"type": "E", "stacktrace": {"frames": [{**FRAME, "platform": ["python"]}]}}]
        }
    },
    "errors is a string with a bad level": {"errors": "x", "level": "loud", "message": "m"},
    "line number overflows": {
        "exception": {
            "values": [{"type": "E", "stacktrace": {"frames": [{**FRAME, "lineno": 1e400}]}}]
        }
    },
    "synthetic exception with a numeric function": exception(
        type=None,
        mechanism={"type": "x", "synthetic": True},
        stacktrace={"frames": [{**FRAME, "function": 5}]},
    ),
    "native frame with a numeric function": {
        "platform": "native",
        "exception": {
            "values": [
                {"type": "SIGSEGV", "stacktrace": {"frames": [{"function": 5, "in_app": True}]}}
            ]
        },
    },
    "thread frames that are strings": {
        "message": "t",
        "threads": [{"stacktrace": {"frames": ["a", 5]}}],
    },
    "lone surrogate": {"message": "\ud800 boom"},
    "format string bomb": {"logentry": {"message": "%500000000s", "params": ["x"]}},
    "platform is a list": {"platform": ["python"], "message": "p"},
    "frames is a number": {"exception": {"values": [{"type": "E", "stacktrace": {"frames": 5}}]}},
    "far future and far past": {"timestamp": "9999-01-01T00:00:00Z", "message": "t"},
    # Found by fuzzing the live server (2026-12-03): each once raised out of the digest, so
    # the item was parked, or grew the message a hundredfold.
    "repeated field of a long param": {
        "logentry": {"message": "{0}" * 2000, "params": ["B" * 500]}
    },
    "attribute lookup in a template": {"logentry": {"message": "{0} {0.foo}", "params": ["x"]}},
    "index lookup in a template": {"message": {"message": "{0} {0[x]}", "params": ["s"]}},
    "character code out of range": {"logentry": {"message": "%(a)c", "params": {"a": 99999999}}},
    "level of 5,000 digits": {"level": "4" * 5000, "message": "m"},
    "spans a number, clock drift": {
        "spans": 5,
        "message": "m",
        "timestamp": "2999-01-01T00:00:00Z",
    },
}


@pytest.mark.parametrize("case", list(ODD_EVENTS))
def test_odd_events_are_stored_with_their_neighbours(post_envelope, key, case):
    event_id = uuid.uuid4().hex
    odd = envelope_bytes(
        {"event_id": event_id, "sent_at": "0001-01-02T00:00:00Z"},
        [({"type": "event"}, json.dumps({"event_id": event_id, **ODD_EVENTS[case]}).encode())],
    )
    assert post_envelope(odd).status_code == 200
    assert post_envelope(event_envelope({"message": "a good neighbour"})).status_code == 200
    drain()
    assert not QueuedItem.objects.exists()
    titles = set(Event.objects.values_list("title", flat=True))
    assert "a good neighbour" in titles
    assert Event.objects.filter(event_id=uuid.UUID(event_id)).exists(), titles


def test_a_repeated_field_is_formatted_to_one_message_at_most(post_envelope):
    params = ["B" * 500]
    post_envelope(event_envelope({"logentry": {"message": "{0}" * 2000, "params": params}}))
    drain()
    assert Event.objects.get().message == "B" * MAX_MESSAGE_CHARS


def test_format_bomb_is_not_formatted(post_envelope):
    post_envelope(event_envelope({"logentry": {"message": "%999999999s", "params": ["x"]}}))
    drain()
    assert Event.objects.get().title == "%999999999s"


@pytest.mark.parametrize("endpoint", ["store", "envelope"])
def test_deeply_nested_json_is_400(client, key, endpoint):
    nested = b"[" * 100_000 + b"]" * 100_000
    body = nested if endpoint == "store" else b"{}\n" + b'{"type":"event"}\n' + nested + b"\n"
    header_bomb = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    for data in (body, header_bomb + b"\n"):
        response = client.post(
            f"/api/{key.project_id}/{endpoint}/",
            data=data,
            content_type="application/json",
            HTTP_X_SENTRY_AUTH=auth_header(key.public_key),
        )
        assert response.status_code in (200, 400), response.content
        if endpoint == "store":
            assert response.status_code == 400


def test_envelope_dsn_with_a_broken_host_is_401(client, key):
    body = envelope_bytes({"dsn": f"http://{key.public_key}@[::1/{key.project_id}"}, [])
    response = client.post(f"/api/{key.project_id}/envelope/", data=body, content_type="text/plain")
    assert response.status_code == 401, response.content


def test_nul_and_surrogates_in_headers_are_stored(post_envelope, key):
    event_id = uuid.uuid4().hex
    body = envelope_bytes(
        {"event_id": event_id, "sent_at": "\u0000"},
        [
            ({"type": "attachment", "filename": "a\u0000b\ud800"}, b"data"),
            ({"type": "x\u0000y"}, b"?"),
            ({"type": "event"}, {"message": "with odd headers"}),
        ],
    )
    assert post_envelope(body).status_code == 200
    drain()
    assert Event.objects.get().title == "with odd headers"


@pytest.mark.django_db(transaction=True)  # the worker closes its connection after a failure
def test_an_item_that_cannot_be_digested_is_parked_not_blocking(key):
    broken = queue_undigestible(key)
    good = QueuedItem.objects.create(
        project=key.project,
        key=key,
        type="event",
        event_id=uuid.uuid4(),
        received=timezone.now(),
        payload=QueuedItem.pack(b'{"message": "after the broken one"}'),
    )
    stop = threading.Event()
    for _ in range(QueuedItem.MAX_FAILURES + 2):
        run_worker(stop=stop, batch_size=10, until_empty=True)
    broken.refresh_from_db()
    assert broken.failures == QueuedItem.MAX_FAILURES
    assert broken.last_error
    assert not QueuedItem.objects.filter(pk=good.pk).exists()
    assert Event.objects.get().title == "after the broken one"


# Items the door takes without parsing (200 for the SDK), that once raised in their digester
# and aborted the whole batch. Each must end as one counted outcome, leaving the queue empty.
TRACE = "6547d075f3564dddbaf70585b409c1d7"
SPAN_V2 = "application/vnd.sentry.items.span.v2+json"
EARLIEST = "0001-01-01T00:00:00+01:00"
LATEST = "9999-12-31T23:59:59-01:00"


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def _now(**shift: float) -> float:
    return (timezone.now() + timedelta(**shift)).timestamp()


def _log(**record) -> tuple[dict, bytes]:
    record = {"timestamp": _now(), "level": "info", "body": "b", **record}
    return {"type": "log", "item_count": 1}, json.dumps({"items": [record]}).encode()


def _otel_log(**record) -> tuple[dict, bytes]:
    record = {
        "timeUnixNano": str(int(_now() * 1e9)),
        "severityText": "info",
        "body": {"stringValue": "b"},
        **record,
    }
    return {"type": "otel_log"}, json.dumps(record).encode()


def _span(**span) -> tuple[dict, bytes]:
    span = {
        "trace_id": TRACE,
        "span_id": "b53c804da752f031",
        "name": "work",
        "start_timestamp": _now(seconds=-1),
        "end_timestamp": _now(),
        **span,
    }
    return {"type": "span", "content_type": SPAN_V2, "item_count": 1}, json.dumps(
        {"version": 2, "items": [span]}
    ).encode()


def _transaction(child: dict | None = None, **overrides) -> tuple[dict, bytes]:
    spans = [
        {
            "span_id": "92ecdb2462bde363",
            "op": "db",
            "start_timestamp": _now(seconds=-1),
            "timestamp": _now(seconds=-0.5),
            **(child or {}),
        }
    ]
    payload = {
        "type": "transaction",
        "event_id": uuid.uuid4().hex,
        "start_timestamp": _now(seconds=-2),
        "timestamp": _now(),
        "contexts": {"trace": {"trace_id": TRACE, "span_id": "99cdc6a13e935508"}},
        "spans": spans,
        **overrides,
    }
    return {"type": "transaction"}, json.dumps(payload).encode()


def _with_deep(item: tuple[dict, bytes], marker: str, depth: int = 500) -> tuple[dict, bytes]:
    header, body = item
    return header, body.replace(json.dumps(marker).encode(), _deep(depth))


HOSTILE_ITEMS = {
    "otel log attributes a number": (_otel_log(attributes=5), ("log_item", "accepted", "")),
    "otel array value a list": (
        _otel_log(attributes=[{"key": "a", "value": {"arrayValue": [1]}}]),
        ("log_item", "accepted", ""),
    ),
    "otel array values a number": (
        _otel_log(attributes=[{"key": "a", "value": {"arrayValue": {"values": 3}}}]),
        ("log_item", "accepted", ""),
    ),
    "otel timestamp beyond floats": (
        _otel_log(timeUnixNano="9" * 400),
        ("log_item", "invalid", "timestamp"),
    ),
    "otel array value nested 300 deep": (
        (
            _otel_log()[0],
            _otel_log(body="DEEP")[1].replace(
                b'"DEEP"',
                b'{"arrayValue": {"values": [' * 300 + b'{"intValue": "1"}' + b"]}}" * 300,
            ),
        ),
        ("log_item", "accepted", ""),
    ),
    "log at the earliest moment": (_log(timestamp=EARLIEST), ("log_item", "invalid", "timestamp")),
    "log at the latest moment": (_log(timestamp=LATEST), ("log_item", "invalid", "timestamp")),
    "log 31 days old": (_log(timestamp=_now(days=-31)), ("log_item", "invalid", "timestamp")),
    "log 5 minutes ahead": (_log(timestamp=_now(minutes=5)), ("log_item", "invalid", "timestamp")),
    "log attribute nested 500 deep": (
        _with_deep(_log(attributes={"a": {"value": "DEEP"}}), "DEEP"),
        ("log_item", "accepted", ""),
    ),
    "span at the earliest moment": (
        _span(start_timestamp=EARLIEST),
        ("span", "invalid", "timestamp"),
    ),
    "span ending at the latest moment": (
        _span(end_timestamp=LATEST),
        ("span", "invalid", "timestamp"),
    ),
    "span 31 days old": (
        _span(start_timestamp=_now(days=-31)),
        ("span", "invalid", "timestamp"),
    ),
    "span attribute nested 500 deep": (
        _with_deep(_span(attributes={"a": {"value": "DEEP"}}), "DEEP"),
        ("span", "accepted", ""),
    ),
    "transaction starting at the earliest moment": (
        _transaction(start_timestamp=EARLIEST),
        ("transaction", "invalid", "timestamp"),
    ),
    "transaction child at the earliest moment": (
        _transaction({"start_timestamp": EARLIEST}),
        ("span", "invalid", "timestamp"),
    ),
    "transaction child data nested 500 deep": (
        _with_deep(_transaction({"data": {"a": "DEEP"}}), "DEEP"),
        ("transaction", "accepted", ""),
    ),
    "attachment type a list": (
        ({"type": "attachment", "attachment_type": ["x"], "filename": ["f"]}, b"content"),
        ("attachment", "accepted", ""),
    ),
    "attachment content type an object": (
        ({"type": "attachment", "content_type": {"a": 1}, "filename": "a\u0000b"}, b"content"),
        ("attachment", "accepted", ""),
    ),
    "client report with Infinity": (
        (
            {"type": "client_report"},
            b'{"discarded_events": [{"category": "error", "reason": "x", "quantity": Infinity}]}',
        ),
        ("internal", "invalid", "invalid_client_report"),
    ),
    "client report category longer than its column": (
        (
            {"type": "client_report"},
            json.dumps(
                {"discarded_events": [{"category": "c" * 64, "reason": "x", "quantity": 1}]}
            ).encode(),
        ),
        ("internal", "invalid", "invalid_client_report"),
    ),
    "client report reason longer than its column": (
        (
            {"type": "client_report"},
            json.dumps(
                {"discarded_events": [{"category": "error", "reason": "r" * 65, "quantity": 1}]}
            ).encode(),
        ),
        ("internal", "invalid", "invalid_client_report"),
    ),
    "feedback with NUL and surrogates": (
        (
            {"type": "feedback"},
            b'{"contexts": {"feedback": {"message": "m\\u0000 \\ud800", "name": "n\\u0000"}}}',
        ),
        ("feedback", "accepted", ""),
    ),
    "check-in every 10,000 years": (
        (
            {"type": "check_in"},
            json.dumps(
                {
                    "check_in_id": uuid.uuid4().hex,
                    "monitor_slug": "rarely",
                    "status": "ok",
                    "monitor_config": {
                        "schedule": {"type": "interval", "value": 10_000, "unit": "year"},
                        "checkin_margin": 40_320,
                    },
                }
            ).encode(),
        ),
        ("monitor", "accepted", ""),
    ),
    "transaction with an attribute lookup in its message": (
        _transaction(logentry={"message": "{0} {0.real.imag.foo}", "params": [1]}),
        ("transaction", "accepted", ""),
    ),
    "user report with Infinity": (
        ({"type": "user_report"}, b'{"comments": "c\\u0000", "name": Infinity}'),
        ("user_report_v2", "accepted", ""),
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_ITEMS))
def test_hostile_items_are_counted_not_raised(post_envelope, case):
    from ingest.models import OutcomeCounter

    item, expected = HOSTILE_ITEMS[case]
    odd = envelope_bytes({"event_id": uuid.uuid4().hex}, [item])
    assert post_envelope(odd).status_code == 200
    assert post_envelope(event_envelope({"message": "a good neighbour"})).status_code == 200
    drain()
    assert not QueuedItem.objects.exists()
    assert "a good neighbour" in set(Event.objects.values_list("title", flat=True))
    counted = {
        (row.category, row.outcome, row.reason)
        for row in OutcomeCounter.objects.exclude(category="error")
    }
    assert expected in counted, counted
