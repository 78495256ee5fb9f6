"""Transactions and spans → Span rows.

A transaction event becomes its segment span plus its child spans; a `span` item holds span
v2 records (`{"version": 2, "items": [...]}`, what @sentry/node's span streaming sends) or,
in the older shape, one span as JSON. Outcomes follow Relay: a transaction counts once in
`transaction` and, with its segment and child spans, in `span` (Relay's span quantity of a
transaction is its span count + 1).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from groups.models import Span
from groups.services.spans import store_spans
from ingest.digesters import Outcomes, digests
from ingest.digesters.values import (
    JSON,
    MAX_RECORD_AGE,
    InvalidItem,
    clock_drift,
    container_records,
    flat_attributes,
    hex_id,
    item_count,
    load_object,
    moment,
    scrubbed,
    text,
    uuid_or_none,
)
from ingest.models import Outcome, QueuedItem
from ingest.normalize import MAX_AGE, InvalidEvent, normalize_event
from ingest.scrubbing import Scrubber, project_scrubber, scrub_event
from projects.models import Project

logger = logging.getLogger(__name__)

# Relay keeps at most this many child spans of a transaction (max_span_count).
MAX_TRANSACTION_SPANS = 1000
MAX_NAME_CHARS = 200
MAX_OP_CHARS = 64
UNLABELED = "<unlabeled span>"


def _times(
    start: Any,
    end: Any,
    drift: timedelta,
    received: datetime | None = None,
    max_age: timedelta = MAX_RECORD_AGE,
) -> tuple[datetime, datetime, float]:
    """Start, end and duration; with `received`, both bounded as Relay bounds span items
    (older than `max_age`: invalid)."""
    started = moment(start, drift=drift, received=received, max_age=max_age)
    ended = moment(end, drift=drift, received=received, max_age=max_age)
    if ended < started:
        raise InvalidItem("timestamp", "ends before it starts")
    return started, ended, (ended - started) / timedelta(milliseconds=1)


def _span(row: QueuedItem, **values: Any) -> Span:
    values["name"] = values["name"][:MAX_NAME_CHARS] or UNLABELED
    return Span(project_id=row.project_id, received=row.received, **values)


# Transactions.


def _normalized_transaction(row: QueuedItem, scrubber: Scrubber | None) -> JSON:
    """The transaction normalized as events are (clock drift and future timestamps corrected,
    spans shifted with it) and scrubbed."""
    payload = load_object(row, "invalid_transaction")
    for key in ("timestamp", "start_timestamp"):
        if payload.get(key) is None:
            raise InvalidItem("timestamp", f"missing {key}")
    try:
        event = normalize_event(
            payload,
            event_id=row.event_id.hex if row.event_id else payload.get("event_id") or "",
            received=row.received,
            sent_at=(row.meta or {}).get("sent_at"),
            client=(row.meta or {}).get("client"),
            project_id=row.project_id,
        )
    except (InvalidEvent, ValueError, TypeError) as exc:
        raise InvalidItem("invalid_transaction", str(exc)) from None
    if scrubber is not None:
        scrub_event(event, scrubber)
    return event


def _transaction_spans(
    row: QueuedItem, scrubber: Scrubber | None
) -> tuple[list[Span], Counter[str]]:
    """The transaction's segment span and child spans; and the reasons children were not."""
    event = _normalized_transaction(row, scrubber)
    segment = _segment(row, event, scrubber)
    raw_spans = event.get("spans") if isinstance(event.get("spans"), list) else []
    children: list[Span] = []
    dropped: Counter[str] = Counter()
    if len(raw_spans) > MAX_TRANSACTION_SPANS:
        dropped["too_many_spans"] = len(raw_spans) - MAX_TRANSACTION_SPANS
    for raw in raw_spans[:MAX_TRANSACTION_SPANS]:
        try:
            children.append(_child(row, raw, segment, scrubber))
        except InvalidItem as exc:
            dropped[exc.reason] += 1
    return [segment, *children], dropped


def _segment(row: QueuedItem, event: JSON, scrubber: Scrubber | None) -> Span:
    trace = (event.get("contexts") or {}).get("trace")
    if not isinstance(trace, dict):
        raise InvalidItem("invalid_transaction", "no trace context")
    # Already corrected for clock drift by normalize_event, which keeps events up to MAX_AGE
    # old (a cached envelope sent weeks later); bounded so otherwise, as span items are.
    start, end, duration = _times(
        event.get("start_timestamp"), event["timestamp"], timedelta(0), row.received, MAX_AGE
    )
    sdk = event.get("sdk") or {}
    attributes = {
        **flat_attributes(trace.get("data"), typed=False),
        **{f"tags.{key}": value for key, value in event.get("tags") or []},
        "sentry.sdk.name": text(sdk.get("name"), 64),
        "sentry.sdk.version": text(sdk.get("version"), 64),
        "sentry.platform": event.get("platform"),
    }
    return _span(
        row,
        trace_id=hex_id(trace.get("trace_id"), 32, required=True, reason="invalid_transaction"),
        span_id=hex_id(trace.get("span_id"), 16, required=True, reason="invalid_transaction"),
        parent_span_id=hex_id(
            trace.get("parent_span_id"), 16, required=False, reason="invalid_transaction"
        ),
        segment_id="",
        is_segment=True,
        name=text(event.get("transaction"), MAX_NAME_CHARS) or "<unlabeled transaction>",
        op=text(trace.get("op"), MAX_OP_CHARS),
        status=text(trace.get("status"), 32),
        start=start,
        end=end,
        duration_ms=duration,
        release=text(event.get("release"), 200),
        environment=text(event.get("environment"), 64),
        transaction_event_id=uuid_or_none(event["event_id"]),
        attributes=scrubbed(flat_attributes(attributes, typed=False), scrubber),
    )


def _child(row: QueuedItem, raw: Any, segment: Span, scrubber: Scrubber | None) -> Span:
    if not isinstance(raw, dict):
        raise InvalidItem("invalid_span", "span is not an object")
    start, end, duration = _times(
        raw.get("start_timestamp"), raw.get("timestamp"), timedelta(0), row.received, MAX_AGE
    )
    attributes = {
        **flat_attributes(raw.get("data"), typed=False),
        **flat_attributes(raw.get("tags"), typed=False),
    }
    return _span(
        row,
        trace_id=segment.trace_id,
        span_id=hex_id(raw.get("span_id"), 16, required=True, reason="invalid_span"),
        parent_span_id=hex_id(raw.get("parent_span_id"), 16, required=False, reason="invalid_span"),
        segment_id=segment.span_id,
        is_segment=False,
        name=text(raw.get("description"), MAX_NAME_CHARS) or text(raw.get("op"), MAX_NAME_CHARS),
        op=text(raw.get("op"), MAX_OP_CHARS),
        status=text(raw.get("status"), 32),
        start=start,
        end=end,
        duration_ms=duration,
        release=segment.release,
        environment=segment.environment,
        transaction_event_id=segment.transaction_event_id,
        attributes=scrubbed(attributes, scrubber),
    )


@digests("transaction")
def digest_transactions(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    """Each transaction → its segment span and child spans."""
    outcomes: Outcomes = defaultdict(Counter)
    spans: list[Span] = []
    for row in rows:
        try:
            found, dropped = _transaction_spans(row, project_scrubber(projects.get(row.project_id)))
        except InvalidItem as exc:
            logger.info("dropping invalid transaction %s: %s", row.event_id, exc)
            outcomes[row.project_id][("transaction", Outcome.INVALID, exc.reason)] += 1
            continue
        for reason, quantity in dropped.items():
            outcomes[row.project_id][("span", Outcome.INVALID, reason)] += quantity
        spans += found
    for span in store_spans(spans=spans):
        if span.is_segment:
            outcomes[span.project_id][("transaction", Outcome.ACCEPTED, "")] += 1
        outcomes[span.project_id][("span", Outcome.ACCEPTED, "")] += 1
    return outcomes


# Span items.


def _attribute(attributes: JSON, key: str, limit: int) -> str:
    return text(attributes.get(key), limit)


def _v2_span(row: QueuedItem, raw: Any, drift: timedelta, scrubber: Scrubber | None) -> Span:
    """One span v2 record (Sentry's span protocol, `application/vnd.sentry.items.span.v2+json`)."""
    if not isinstance(raw, dict):
        raise InvalidItem("invalid_span", "span is not an object")
    start, end, duration = _times(
        raw.get("start_timestamp"), raw.get("end_timestamp"), drift, row.received
    )
    attributes = flat_attributes(raw.get("attributes"), typed=True)
    trace = (row.meta or {}).get("trace") or {}
    is_segment = raw.get("is_segment") is True
    return _span(
        row,
        trace_id=hex_id(raw.get("trace_id"), 32, required=True, reason="invalid_span"),
        span_id=hex_id(raw.get("span_id"), 16, required=True, reason="invalid_span"),
        parent_span_id=hex_id(raw.get("parent_span_id"), 16, required=False, reason="invalid_span"),
        segment_id=""
        if is_segment
        else hex_id(attributes.get("sentry.segment.id"), 16, required=False, reason="invalid_span"),
        is_segment=is_segment,
        name=text(raw.get("name"), MAX_NAME_CHARS),
        op=_attribute(attributes, "sentry.op", MAX_OP_CHARS),
        status=text(raw.get("status"), 32),
        start=start,
        end=end,
        duration_ms=duration,
        release=_attribute(attributes, "sentry.release", 200) or text(trace.get("release"), 200),
        environment=_attribute(attributes, "sentry.environment", 64)
        or text(trace.get("environment"), 64),
        transaction_event_id=None,
        attributes=scrubbed(attributes, scrubber),
    )


def _legacy_span(row: QueuedItem, raw: JSON, drift: timedelta, scrubber: Scrubber | None) -> Span:
    """A standalone span in the transaction-child shape (`timestamp` is its end)."""
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    v2 = {
        **raw,
        "name": raw.get("description") or raw.get("op"),
        "end_timestamp": raw.get("timestamp"),
        "attributes": {
            **{key: {"value": value} for key, value in data.items()},
            "sentry.op": {"value": raw.get("op")},
            "sentry.segment.id": {"value": raw.get("segment_id")},
        },
    }
    return _v2_span(row, v2, drift, scrubber)


def _records(row: QueuedItem) -> tuple[list[Any], int]:
    payload = load_object(row, "invalid_span")
    if "items" not in payload and "span_id" in payload:
        return [payload], 0
    return container_records(payload, "invalid_span")


@digests("span")
def digest_spans(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    """Each span record of each item → a Span row; an invalid record costs only itself."""
    outcomes: Outcomes = defaultdict(Counter)
    spans: list[Span] = []
    for row in rows:
        scrubber = project_scrubber(projects.get(row.project_id))
        try:
            records, left_out = _records(row)
        except InvalidItem as exc:
            outcomes[row.project_id][("span", Outcome.INVALID, exc.reason)] += item_count(row)
            continue
        if left_out:
            outcomes[row.project_id][("span", Outcome.INVALID, "too_many_items")] += left_out
        drift = clock_drift(row)
        for raw in records:
            try:
                legacy = isinstance(raw, dict) and "end_timestamp" not in raw and "timestamp" in raw
                span = (_legacy_span if legacy else _v2_span)(row, raw, drift, scrubber)
            except InvalidItem as exc:
                outcomes[row.project_id][("span", Outcome.INVALID, exc.reason)] += 1
                continue
            spans.append(span)
    for span in store_spans(spans=spans):
        outcomes[span.project_id][("span", Outcome.ACCEPTED, "")] += 1
    return outcomes
