"""Storing spans (transactions are their segment spans), reading traces, and retention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Model, Q, QuerySet
from django.db.models.functions import TruncHour

from groups.models import ApiCall, Event, LogRecord, Span
from groups.services.aggregates import summarize

# Sentry's failure_rate(): every status but these counts as a failure
# (src/sentry/search/events/fields.py, `failure_rate`).
NON_FAILURE_STATUSES = ("ok", "cancelled", "unknown")
# A trace view shows at most this many spans, logs and error events.
MAX_TRACE_ROWS = 1000
_LOOKUP_CHUNK = 500
PRUNE_CHUNK = 1000


def store_spans(*, spans: Sequence[Span]) -> list[Span]:
    """Insert the spans not stored yet; returns those (SDK retries are stored once).

    Spans are unique per (project, trace id, span id): the ones already there, or repeated
    in `spans`, are left out, and a concurrent insert of the same span is ignored.
    """
    seen = _stored_keys(spans)
    fresh: list[Span] = []
    for span in spans:
        key = (span.project_id, span.trace_id, span.span_id)
        if key not in seen:
            seen.add(key)
            fresh.append(span)
    Span.objects.bulk_create(fresh, batch_size=500, ignore_conflicts=True)
    return fresh


def _stored_keys(spans: Sequence[Span]) -> set[tuple[int, str, str]]:
    trace_ids = sorted({span.trace_id for span in spans})
    keys: set[tuple[int, str, str]] = set()
    for start in range(0, len(trace_ids), _LOOKUP_CHUNK):
        chunk = trace_ids[start : start + _LOOKUP_CHUNK]
        keys.update(
            Span.objects.filter(trace_id__in=chunk).values_list("project_id", "trace_id", "span_id")
        )
    return keys


def is_failure() -> Q:
    return ~Q(status__in=NON_FAILURE_STATUSES)


def transaction_summaries(
    *, segments: QuerySet[Span], per_hour: bool, limit: int = 100
) -> list[dict]:
    """Per transaction name (and hour): count, failures, p50 and p95 of the duration."""
    by: dict[str, str | TruncHour] = {"transaction": "name"}
    if per_hour:
        by["hour"] = TruncHour("start")
    rows = summarize(segments, by=by, value="duration_ms", failed=is_failure(), limit=limit)
    if per_hour:
        for row in rows:
            row["hour"] = _aware(row["hour"])
    return rows


def _aware(hour: datetime | str) -> datetime:
    """The hour as an aware datetime (summarize's raw SQL gives SQLite's text as is)."""
    if isinstance(hour, str):
        hour = datetime.fromisoformat(hour)
    return hour if hour.tzinfo else hour.replace(tzinfo=UTC)


@dataclass
class Trace:
    spans: list[Span]
    events: list[Event]
    logs: list[LogRecord]
    api_calls: list[ApiCall]

    def is_empty(self) -> bool:
        return not (self.spans or self.events or self.logs or self.api_calls)


def trace_of(*, project_ids: QuerySet, trace_id: str) -> Trace:
    """The spans, error events, logs and API calls of one trace in the given projects,
    oldest first."""
    spans = Span.objects.filter(trace_id=trace_id, project_id__in=project_ids)
    events = Event.objects.filter(trace_id=trace_id, project_id__in=project_ids)
    logs = LogRecord.objects.filter(trace_id=trace_id, project_id__in=project_ids)
    # Headers and bodies are for one call's detail, not a trace: left compressed in the table.
    calls = ApiCall.objects.filter(trace_id=trace_id, project_id__in=project_ids).defer("data")
    return Trace(
        spans=list(spans.order_by("start", "id")[:MAX_TRACE_ROWS]),
        events=list(events.order_by("timestamp", "id")[:MAX_TRACE_ROWS]),
        logs=list(logs.order_by("timestamp", "id")[:MAX_TRACE_ROWS]),
        api_calls=list(calls.order_by("request_time", "id")[:MAX_TRACE_ROWS]),
    )


def prune_rows(
    *, queryset: QuerySet, chunk: int = PRUNE_CHUNK, max_chunks: int | None = None
) -> int:
    """Delete the queryset's rows `chunk` ids at a time (short transactions, no long locks),
    at most `max_chunks` times per call; returns how many went."""
    model: type[Model] = queryset.model
    deleted = 0
    rounds = 0
    while max_chunks is None or rounds < max_chunks:
        ids = list(queryset.order_by().values_list("id", flat=True)[:chunk])
        if not ids:
            break
        deleted += model.objects.filter(id__in=ids).delete()[0]
        rounds += 1
    return deleted


def prune_spans(*, now: datetime, max_chunks: int | None = None) -> int:
    """Spans received more than SPAN_RETENTION_DAYS ago are deleted."""
    cutoff = now - timedelta(days=settings.SPAN_RETENTION_DAYS)
    return prune_rows(queryset=Span.objects.filter(received__lt=cutoff), max_chunks=max_chunks)
