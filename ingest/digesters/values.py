"""Validating the pieces that span and log items share: payload JSON, ids, timestamps,
clock drift and attributes. Each reader returns a clean value or raises InvalidItem."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from groups import jsoncodec
from ingest.models import QueuedItem
from ingest.normalize import (
    MAX_ARRAY_VALUES,
    MAX_DATABAG_DEPTH,
    MAX_SECONDS_IN_FUTURE,
    MINIMUM_CLOCK_DRIFT,
    NEEDS_CLEANING,
    clean_json,
    clean_text,
    parse_timestamp,
    trim_databag,
)
from ingest.scrubbing import FILTERED, Scrubber

JSON = dict[str, Any]

# Records kept from one span or log container; the rest are counted invalid. The SDKs send
# at most 1000 spans (sentry-python's SpanBatcher) or 100 logs (both SDKs) per item.
MAX_RECORDS_PER_ITEM = 2000
MAX_ATTRIBUTES = 200
MAX_ATTRIBUTE_KEY_CHARS = 200
MAX_ATTRIBUTE_CHARS = 1024
# Attributes that hold the client's address (OpenTelemetry and Sentry conventions): dropped
# when the project scrubs IP addresses, as `user.ip_address` is from events.
IP_ATTRIBUTES = frozenset({"client.address", "user.ip_address", "http.client_ip", "sentry.user.ip"})
_HEX = re.compile(r"[0-9a-f]+")
# Relay drops spans and logs timestamped more than `max_secs_in_future` (60 s) ahead of the
# receive time or more than `max_secs_in_past` (30 days) before it, after clock-drift
# correction (relay-config `default_max_secs_in_past`; relay-server processing/logs and spans
# `validate_timestamps`, outcome reason `timestamp`).
MAX_RECORD_FUTURE = timedelta(seconds=MAX_SECONDS_IN_FUTURE)
MAX_RECORD_AGE = timedelta(days=30)


class InvalidItem(ValueError):
    """An item (or one record of a container) that cannot be stored; `reason` is its outcome
    reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


def load_payload(row: QueuedItem) -> Any:
    """The item's JSON, with what PostgreSQL cannot store cleaned when the bytes hint at it.

    Raises ValueError (or RecursionError) for what is not JSON: every digester loads its
    items through here or load_object, never with a bare jsoncodec.loads.
    """
    raw = bytes(row.body)
    payload, non_finite = jsoncodec.loads_noting_non_finite(raw)
    # Rare in practice, so only walked for when the raw bytes hint at them.
    if non_finite or NEEDS_CLEANING.search(raw):
        payload = clean_json(payload)
    return payload


def load_object(row: QueuedItem, reason: str) -> JSON:
    """The item's payload, which must be a JSON object."""
    try:
        payload = load_payload(row)
    except (ValueError, RecursionError) as exc:
        raise InvalidItem("invalid_json", str(exc)) from None
    if not isinstance(payload, dict):
        raise InvalidItem(reason, "payload is not a JSON object")
    return payload


def container_records(payload: JSON, reason: str) -> tuple[list[Any], int]:
    """The records of a `{"items": [...]}` container, at most MAX_RECORDS_PER_ITEM; and how
    many were left out."""
    records = payload.get("items")
    if not isinstance(records, list):
        raise InvalidItem(reason, "no items")
    return records[:MAX_RECORDS_PER_ITEM], max(0, len(records) - MAX_RECORDS_PER_ITEM)


def item_count(row: QueuedItem) -> int:
    """How many records an unusable container item held, by its `item_count` header."""
    count = ((row.meta or {}).get("item") or {}).get("item_count")
    valid = isinstance(count, int) and not isinstance(count, bool)
    return count if valid and 0 < count <= MAX_RECORDS_PER_ITEM else 1


def hex_id(value: Any, length: int, *, required: bool, reason: str) -> str:
    """A trace id (32) or span id (16) as lowercase hex; dashed UUIDs are accepted."""
    if value in (None, "") and not required:
        return ""
    text = value.replace("-", "").lower() if isinstance(value, str) else ""
    if len(text) != length or not _HEX.fullmatch(text) or text == "0" * length:
        raise InvalidItem(reason, f"bad id {value!r}")
    return text


def uuid_or_none(value: Any) -> uuid.UUID | None:
    """A UUID from its string forms (hex, dashed, braced); None for anything else."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def clock_drift(row: QueuedItem) -> timedelta:
    """Relay's clock-drift correction: the shift to apply to the item's timestamps when the
    SDK's `sent_at` is 55 minutes or more away from the receive time
    (relay-event-normalization/src/clock_drift.rs)."""
    sent_at = parse_timestamp((row.meta or {}).get("sent_at"))
    if sent_at is None or abs(row.received - sent_at) < MINIMUM_CLOCK_DRIFT:
        return timedelta(0)
    return row.received - sent_at


def moment(
    value: Any,
    *,
    drift: timedelta,
    received: datetime | None = None,
    reason: str = "timestamp",
    max_age: timedelta = MAX_RECORD_AGE,
) -> datetime:
    """A required timestamp (RFC 3339 or unix seconds), corrected for clock drift.

    With `received`, bounded as Relay bounds span and log timestamps: more than
    MAX_SECONDS_IN_FUTURE ahead of it or older than `max_age` → invalid `timestamp`.
    """
    parsed = parse_timestamp(value)
    if parsed is None:
        raise InvalidItem(reason, f"bad timestamp {value!r}")
    try:
        corrected = parsed + drift
    except OverflowError:
        raise InvalidItem(reason, f"bad timestamp {value!r}") from None
    if received is not None and not (
        received - max_age <= corrected <= received + MAX_RECORD_FUTURE
    ):
        raise InvalidItem("timestamp", f"timestamp out of range {value!r}")
    return corrected


def text(value: Any, limit: int, *, numbers: bool = True) -> str:
    """A string field cut to `limit`, storable in a text column (no NULs, no lone
    surrogates); numbers are stringified (unless `numbers` is false), anything else is
    empty."""
    if isinstance(value, bool) or value is None:
        return ""
    if numbers and isinstance(value, int | float):
        value = str(value)
    return clean_text(value).strip()[:limit] if isinstance(value, str) else ""


def string_field(value: Any, limit: int, *, reason: str) -> str:
    """A field that must be a string when present, read as `text` reads it; any other type
    makes the item invalid with `reason`."""
    if value is not None and not isinstance(value, str):
        raise InvalidItem(reason)
    return text(value, limit)


def _capped(value: Any, depth: int = 0) -> Any:
    """An attribute value with strings, arrays and nesting cut (deeper than
    MAX_DATABAG_DEPTH is "...", as normalize.trim_databag does)."""
    if isinstance(value, str):
        return value[:MAX_ATTRIBUTE_CHARS]
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= MAX_DATABAG_DEPTH:
        return "..."
    if isinstance(value, list):
        return [_capped(item, depth + 1) for item in value[:MAX_ARRAY_VALUES]]
    return jsoncodec.dumps(trim_databag(value, depth)).decode()[:MAX_ATTRIBUTE_CHARS]


def flat_attributes(attributes: Any, *, typed: bool) -> JSON:
    """{key: value} with at most MAX_ATTRIBUTES keys and capped values.

    `typed`: span v2 and log attributes come as {key: {"value": …, "type": …}}.
    """
    if not isinstance(attributes, dict):
        return {}
    flat: JSON = {}
    for key, item in attributes.items():
        if len(flat) >= MAX_ATTRIBUTES:
            break
        value = item.get("value") if typed and isinstance(item, dict) else item
        flat[str(key)[:MAX_ATTRIBUTE_KEY_CHARS]] = _capped(value)
    return flat


def scrubbed(attributes: JSON, scrubber: Scrubber | None) -> JSON:
    """The project's scrubbing applied to flat attributes: sensitive keys and card numbers
    become `[Filtered]`, client addresses go when the project scrubs IPs."""
    if scrubber is None:
        return attributes
    if scrubber.scrub_ip_addresses:
        attributes = {k: v for k, v in attributes.items() if k not in IP_ATTRIBUTES}
    return {
        key: FILTERED if scrubber.is_sensitive(key) and value not in (None, "") else value
        for key, value in ((k, scrubber.value(v)) for k, v in attributes.items())
    }
