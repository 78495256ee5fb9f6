"""Log items → LogRecord rows.

`log`: a container `{"items": [{timestamp, level, body, trace_id, span_id, severity_number,
attributes}]}` (sentry-python `sentry_sdk.logger` with `enable_logs=True`, @sentry/node
`Sentry.logger`). `otel_log`: one OpenTelemetry LogRecord in OTLP/JSON
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding), converted first. Each
record is counted in Relay's `log_item` category; an invalid one costs only itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from groups.models import LogRecord
from groups.services.logs import store_logs
from ingest.digesters import Outcomes, digests
from ingest.digesters.values import (
    JSON,
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
)
from ingest.models import Outcome, QueuedItem
from ingest.normalize.fields import LOG_LEVEL_ALIASES, LOG_LEVELS
from ingest.normalize.otlp import log_record_from_otel
from ingest.scrubbing import Scrubber, project_scrubber
from projects.models import Project

CATEGORY = "log_item"
MAX_BODY_CHARS = 8192
# OpenTelemetry severity numbers 1 to 24, four per level (logs data model, SeverityNumber).
_SEVERITY_LEVELS = {number: LOG_LEVELS[(number - 1) // 4] for number in range(1, 25)}
_SEVERITY_NUMBERS = {level: index * 4 + 1 for index, level in enumerate(LOG_LEVELS)}


def _severity(record: JSON, attributes: JSON) -> int | None:
    for value in (record.get("severity_number"), attributes.get("sentry.severity_number")):
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 24:
            return value
    return None


def _level(value: Any, severity: int | None) -> str:
    if isinstance(value, str):
        level = value.strip().lower()
        level = LOG_LEVEL_ALIASES.get(level, level)
        if level in LOG_LEVELS:
            return level
    if severity is not None:
        return _SEVERITY_LEVELS[severity]
    raise InvalidItem("invalid_log", f"bad level {value!r}")


def _record(row: QueuedItem, raw: Any, drift: timedelta, scrubber: Scrubber | None) -> LogRecord:
    if not isinstance(raw, dict):
        raise InvalidItem("invalid_log", "log is not an object")
    body = raw.get("body")
    if not isinstance(body, str):
        raise InvalidItem("invalid_log", "body is not a string")
    attributes = flat_attributes(raw.get("attributes"), typed=True)
    severity = _severity(raw, attributes)
    level = _level(raw.get("level"), severity)
    trace = (row.meta or {}).get("trace") or {}
    body = body[:MAX_BODY_CHARS]
    return LogRecord(
        project_id=row.project_id,
        timestamp=moment(raw.get("timestamp"), drift=drift, received=row.received),
        level=level,
        severity_number=severity or _SEVERITY_NUMBERS[level],
        body=scrubber.value(body) if scrubber is not None else body,
        trace_id=hex_id(raw.get("trace_id"), 32, required=False, reason="invalid_log"),
        span_id=hex_id(raw.get("span_id"), 16, required=False, reason="invalid_log"),
        release=text(attributes.get("sentry.release"), 200) or text(trace.get("release"), 200),
        environment=text(attributes.get("sentry.environment"), 64)
        or text(trace.get("environment"), 64),
        attributes=scrubbed(attributes, scrubber),
        received=row.received,
    )


def _records(row: QueuedItem) -> tuple[list[Any], int]:
    payload = load_object(row, "invalid_log")
    if row.type == "otel_log":
        return [log_record_from_otel(payload)], 0
    return container_records(payload, "invalid_log")


@digests("log", "otel_log")
def digest_logs(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    """Each log record of each item → a LogRecord row."""
    outcomes: Outcomes = defaultdict(Counter)
    records: list[LogRecord] = []
    for row in rows:
        scrubber = project_scrubber(projects.get(row.project_id))
        try:
            raws, left_out = _records(row)
        except InvalidItem as exc:
            outcomes[row.project_id][(CATEGORY, Outcome.INVALID, exc.reason)] += item_count(row)
            continue
        if left_out:
            outcomes[row.project_id][(CATEGORY, Outcome.INVALID, "too_many_items")] += left_out
        drift = clock_drift(row)
        for raw in raws:
            try:
                records.append(_record(row, raw, drift, scrubber))
            except InvalidItem as exc:
                outcomes[row.project_id][(CATEGORY, Outcome.INVALID, exc.reason)] += 1
    for record in store_logs(records=records):
        outcomes[record.project_id][(CATEGORY, Outcome.ACCEPTED, "")] += 1
    return outcomes
