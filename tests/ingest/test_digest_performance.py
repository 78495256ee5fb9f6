"""Transactions and span items through the door and the digest: Span rows and outcomes."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from groups.models import Event, Span
from ingest.digest import drain
from ingest.envelope import parse_envelope
from ingest.models import OutcomeCounter, QueuedItem
from ingest.services import accept_envelope
from tests.ingest.conftest import envelope_bytes

pytestmark = pytest.mark.django_db

TRACE = "6547d075f3564dddbaf70585b409c1d7"
SEGMENT = "99cdc6a13e935508"
SPAN_V2 = "application/vnd.sentry.items.span.v2+json"


def outcomes(category: str | None = None) -> Counter:
    rows = OutcomeCounter.objects.all()
    if category:
        rows = rows.filter(category=category)
    counts: Counter = Counter()
    for row in rows:
        counts[(row.category, row.outcome, row.reason)] += row.quantity
    return counts


def send(key, items: list[tuple[dict, bytes | dict]], header: dict | None = None) -> None:
    envelope = parse_envelope(envelope_bytes(header or {}, items))
    accept_envelope(key=key, envelope=envelope, meta={"ip": "127.0.0.1"})
    drain()


def transaction(**overrides) -> dict:
    now = timezone.now()
    payload = {
        "type": "transaction",
        "event_id": uuid.uuid4().hex,
        "transaction": "GET /checkout",
        "start_timestamp": (now - timedelta(seconds=2)).isoformat(),
        "timestamp": now.timestamp(),
        "release": "shop@1.0",
        "environment": "production",
        "tags": {"region": "eu", "api_token": "secret-value"},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
        "contexts": {
            "trace": {
                "trace_id": TRACE,
                "span_id": SEGMENT,
                "op": "http.server",
                "status": "internal_error",
                "data": {"thread.name": "MainThread"},
            }
        },
        "spans": [
            {
                "trace_id": TRACE,
                "span_id": "92ecdb2462bde363",
                "parent_span_id": SEGMENT,
                "op": "db",
                "description": "SELECT * FROM orders",
                "start_timestamp": (now - timedelta(seconds=1.5)).timestamp(),
                "timestamp": (now - timedelta(seconds=1)).isoformat(),
                "data": {"db.system": "postgresql", "password": "hunter2"},
            }
        ],
    }
    return {**payload, **overrides}


def v2_span(**overrides) -> dict:
    now = timezone.now().timestamp()
    return {
        "trace_id": TRACE,
        "span_id": "b53c804da752f031",
        "parent_span_id": SEGMENT,
        "name": "child work",
        "status": "ok",
        "is_segment": False,
        "start_timestamp": now - 1,
        "end_timestamp": now - 0.5,
        "attributes": {
            "sentry.op": {"value": "acc.child", "type": "string"},
            "sentry.segment.id": {"value": SEGMENT, "type": "string"},
            "sentry.release": {"value": "node@2", "type": "string"},
            "count": {"value": 3, "type": "integer"},
        },
        **overrides,
    }


def span_item(*spans) -> tuple[dict, dict]:
    return (
        {"type": "span", "content_type": SPAN_V2, "item_count": len(spans)},
        {"version": 2, "items": list(spans)},
    )


class TestTransactions:
    def test_segment_and_children(self, key):
        payload = transaction()
        send(key, [({"type": "transaction"}, payload)], {"event_id": payload["event_id"]})
        segment = Span.objects.get(is_segment=True)
        child = Span.objects.get(is_segment=False)
        assert (segment.name, segment.op, segment.status) == (
            "GET /checkout",
            "http.server",
            "internal_error",
        )
        assert (segment.trace_id, segment.span_id, segment.parent_span_id) == (TRACE, SEGMENT, "")
        assert segment.transaction_event_id.hex == payload["event_id"]
        assert (segment.release, segment.environment) == ("shop@1.0", "production")
        assert segment.duration_ms == pytest.approx(2000, abs=1)
        assert segment.attributes["tags.region"] == "eu"
        assert segment.attributes["tags.api_token"] == "[Filtered]"
        assert segment.attributes["sentry.sdk.name"] == "sentry.python"
        assert (child.name, child.op, child.segment_id, child.parent_span_id) == (
            "SELECT * FROM orders",
            "db",
            SEGMENT,
            SEGMENT,
        )
        assert child.duration_ms == pytest.approx(500, abs=1)
        assert child.attributes == {"db.system": "postgresql", "password": "[Filtered]"}
        assert (child.release, child.transaction_event_id) == (
            "shop@1.0",
            segment.transaction_event_id,
        )
        assert not Event.objects.exists(), "a transaction never becomes an issue"
        assert outcomes() == {
            ("transaction", "accepted", ""): 1,
            ("span", "accepted", ""): 2,
        }

    def test_retry_is_stored_and_counted_once(self, key):
        payload = transaction()
        for _ in range(2):
            send(key, [({"type": "transaction"}, payload)], {"event_id": payload["event_id"]})
        assert Span.objects.count() == 2
        assert outcomes()[("transaction", "accepted", "")] == 1

    def test_clock_drift_is_corrected(self, key):
        """An SDK whose clock is two hours behind: sent_at says so, the spans move with it."""
        skew = timedelta(hours=2)
        past = timezone.now() - skew
        payload = transaction(
            start_timestamp=(past - timedelta(seconds=1)).timestamp(),
            timestamp=past.timestamp(),
            spans=[],
        )
        header = {"event_id": payload["event_id"], "sent_at": past.isoformat()}
        send(key, [({"type": "transaction"}, payload)], header)
        segment = Span.objects.get()
        assert abs(segment.end - timezone.now()) < timedelta(minutes=1)
        assert segment.duration_ms == pytest.approx(1000, abs=1)

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"timestamp": None}, "timestamp"),
            ({"start_timestamp": "yesterday-ish"}, "timestamp"),
            ({"start_timestamp": 4102444800}, "timestamp"),  # starts after it ends
            ({"start_timestamp": "0001-01-01T00:00:00Z"}, "timestamp"),  # 2,000 years long
            ({"contexts": {}}, "invalid_transaction"),
            (
                {"contexts": {"trace": {"trace_id": "nope", "span_id": SEGMENT}}},
                "invalid_transaction",
            ),
            ({"contexts": {"trace": {"trace_id": TRACE, "span_id": 12}}}, "invalid_transaction"),
        ],
    )
    def test_invalid_transaction_is_counted(self, key, overrides, reason):
        bad = transaction(**overrides)
        good = transaction(contexts={"trace": {"trace_id": "a" * 32, "span_id": "b" * 16}})
        send(key, [({"type": "transaction"}, bad)], {"event_id": bad["event_id"]})
        send(key, [({"type": "transaction"}, good)], {"event_id": good["event_id"]})
        assert not QueuedItem.objects.exists()
        assert list(Span.objects.filter(is_segment=True).values_list("trace_id", flat=True)) == [
            "a" * 32
        ]
        assert outcomes("transaction") == {
            ("transaction", "invalid", reason): 1,
            ("transaction", "accepted", ""): 1,
        }

    def test_not_json_is_invalid(self, key):
        event_id = uuid.uuid4().hex
        send(key, [({"type": "transaction"}, b"{not json")], {"event_id": event_id})
        assert outcomes() == {("transaction", "invalid", "invalid_json"): 1}

    def test_a_transaction_sent_weeks_later_is_kept(self, key):
        """A cached envelope sent 45 days late: events are kept up to 90 days old, and so are
        the transaction's segment and child spans (span items: 30)."""
        late = timezone.now() - timedelta(days=45)
        child = {
            **transaction()["spans"][0],
            "start_timestamp": (late - timedelta(seconds=1.5)).timestamp(),
            "timestamp": (late - timedelta(seconds=1)).isoformat(),
        }
        payload = transaction(
            start_timestamp=(late - timedelta(seconds=2)).isoformat(),
            timestamp=late.timestamp(),
            spans=[child],
        )
        send(key, [({"type": "transaction"}, payload)], {"event_id": payload["event_id"]})
        assert Span.objects.count() == 2
        assert abs(Span.objects.get(is_segment=True).end - late) < timedelta(seconds=1)
        assert outcomes("span") == {("span", "accepted", ""): 2}

    def test_bad_child_spans_cost_only_themselves(self, key):
        good = transaction()["spans"][0]
        spans = [
            good,
            "not a span",
            {**good, "span_id": "zz"},
            {**good, "span_id": "1" * 16, "timestamp": None},
            # Bounded as span items are: not 2,000 years long, not in year 9999.
            {**good, "span_id": "2" * 16, "start_timestamp": "0001-01-01T00:00:00Z"},
            {**good, "span_id": "3" * 16, "timestamp": "9999-12-31T23:59:59Z"},
        ]
        payload = transaction(spans=spans)
        send(key, [({"type": "transaction"}, payload)], {"event_id": payload["event_id"]})
        assert Span.objects.count() == 2
        assert outcomes("span") == {
            ("span", "accepted", ""): 2,
            ("span", "invalid", "invalid_span"): 2,
            ("span", "invalid", "timestamp"): 3,
        }

    def test_children_are_capped(self, key):
        child = transaction()["spans"][0]
        spans = [{**child, "span_id": f"{index:016x}"} for index in range(1, 1003)]
        payload = transaction(spans=spans)
        send(key, [({"type": "transaction"}, payload)], {"event_id": payload["event_id"]})
        assert Span.objects.filter(is_segment=False).count() == 1000
        assert outcomes("span")[("span", "invalid", "too_many_spans")] == 2

    def test_huge_values_are_capped(self, key):
        payload = transaction(
            transaction="x" * 5000,
            tags={f"k{index}": "v" * 5000 for index in range(300)},
        )
        send(key, [({"type": "transaction"}, payload)], {"event_id": payload["event_id"]})
        segment = Span.objects.get(is_segment=True)
        assert segment.name == "x" * 200
        assert len(segment.attributes) <= 200
        assert all(len(str(value)) <= 1024 for value in segment.attributes.values())


class TestSpanItems:
    def test_v2_spans(self, key):
        segment = v2_span(
            span_id=SEGMENT,
            parent_span_id=None,
            is_segment=True,
            name="GET /cart",
            attributes={"sentry.op": {"value": "http.server", "type": "string"}},
        )
        header = {"trace": {"trace_id": TRACE, "release": "dsc@1", "environment": "staging"}}
        send(key, [span_item(v2_span(), segment)], header)
        child = Span.objects.get(span_id="b53c804da752f031")
        assert (child.name, child.op, child.segment_id, child.is_segment) == (
            "child work",
            "acc.child",
            SEGMENT,
            False,
        )
        assert (child.release, child.environment) == ("node@2", "staging")
        assert child.attributes["count"] == 3
        assert child.duration_ms == pytest.approx(500, abs=1)
        root = Span.objects.get(span_id=SEGMENT)
        assert (root.is_segment, root.op, root.release, root.parent_span_id) == (
            True,
            "http.server",
            "dsc@1",
            "",
        )
        assert outcomes() == {("span", "accepted", ""): 2}

    def test_legacy_json_span(self, key):
        now = timezone.now().timestamp()
        legacy = {
            "trace_id": TRACE,
            "span_id": "c" * 16,
            "op": "cache.get",
            "description": "GET user:1",
            "start_timestamp": now - 1,
            "timestamp": now,
            "data": {"cache.hit": True},
        }
        send(key, [({"type": "span"}, legacy)])
        span = Span.objects.get()
        assert (span.name, span.op, span.attributes["cache.hit"]) == (
            "GET user:1",
            "cache.get",
            True,
        )

    @pytest.mark.parametrize(
        ("bad", "reason"),
        [
            ({"start_timestamp": None}, "timestamp"),
            ({"end_timestamp": "soon"}, "timestamp"),
            ({"trace_id": 42}, "invalid_span"),
            ({"span_id": "x" * 16}, "invalid_span"),
            ({"attributes": {"sentry.segment.id": {"value": "short"}}}, "invalid_span"),
        ],
    )
    def test_invalid_record_costs_only_itself(self, key, bad, reason):
        send(key, [span_item(v2_span(**bad), v2_span(span_id="d" * 16), "garbage")])
        assert list(Span.objects.values_list("span_id", flat=True)) == ["d" * 16]
        assert outcomes() == {
            ("span", "accepted", ""): 1,
            ("span", "invalid", reason): 1,
            ("span", "invalid", "invalid_span"): 1 + (reason == "invalid_span"),
        }

    @pytest.mark.parametrize("payload", [b"[1, 2]", b"\xff\xfe", b'{"version": 2}', b"nan"])
    def test_unusable_item_is_invalid(self, key, payload):
        send(key, [({"type": "span", "item_count": 3}, payload)])
        (counted,) = outcomes().items()
        assert counted[0][:2] == ("span", "invalid")
        assert counted[1] == 3

    def test_does_not_block_the_batch(self, key):
        """A broken span item queued between events: all the rest is stored in one batch."""
        event_id = uuid.uuid4().hex
        items = [
            ({"type": "event"}, {"event_id": event_id, "message": "boom"}),
            ({"type": "span"}, b"\x00garbage"),
            span_item(v2_span()),
        ]
        envelope = parse_envelope(envelope_bytes({"event_id": event_id}, items))
        accept_envelope(key=key, envelope=envelope, meta={})
        assert QueuedItem.objects.count() == 3
        drain()
        assert Event.objects.count() == 1
        assert Span.objects.count() == 1
        assert not QueuedItem.objects.filter(failures__gt=0).exists()


def test_span_attributes_are_scrubbed(key):
    span = v2_span(
        attributes={
            "http.request.header.authorization": {"value": "Bearer abc", "type": "string"},
            "card": {"value": "4111 1111 1111 1111", "type": "string"},
            "client.address": {"value": "203.0.113.9", "type": "string"},
        }
    )
    send(key, [span_item(span)])
    assert Span.objects.get().attributes == {
        "http.request.header.authorization": "[Filtered]",
        "card": "[Filtered]",
        "client.address": "203.0.113.9",
    }


def test_json_dumps_roundtrip_of_meta(key):
    """The trace header kept for span items is plain JSON in the queue's meta."""
    envelope = parse_envelope(
        envelope_bytes(
            {"trace": {"release": "r\u0000@1", "environment": 7}}, [span_item(v2_span())]
        )
    )
    accept_envelope(key=key, envelope=envelope, meta={})
    assert json.loads(json.dumps(QueuedItem.objects.get().meta))["trace"] == {"release": "r@1"}


@pytest.mark.parametrize(
    "items",
    [
        [({"type": "transaction"}, b"\x00\xff not json")],
        [({"type": "span", "content_type": SPAN_V2, "item_count": 1}, b'{"items": "x"}')],
        [({"type": "log", "item_count": 2}, b"[[[[")],
        [({"type": "otel_log"}, b'"just a string"')],
    ],
)
def test_hostile_items_are_accepted_then_counted_invalid(post_envelope, items):
    """The door does not parse these payloads: 200 for the SDK, `invalid` at the digest."""
    response = post_envelope(envelope_bytes({"event_id": uuid.uuid4().hex}, items))
    assert response.status_code == 200, response.content
    drain()
    assert not QueuedItem.objects.exists()
    assert not Span.objects.exists()
    (((_, outcome, _), _),) = outcomes().items()
    assert outcome == "invalid"
