"""Envelope framing as Relay parses it (relay-server/src/envelope), and the seed's JSON form."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from ingest.exceptions import BadRequest, InvalidEnvelope, PayloadTooLarge

MAX_ITEMS = 500
_WHITESPACE = b" \t\r\n"

# Data category of each item type, for outcomes and rate limits (Sentry's DataCategory names).
ITEM_CATEGORIES: dict[str, str] = {
    "event": "error",
    "transaction": "transaction",
    "security": "security",
    "attachment": "attachment",
    "session": "session",
    "sessions": "session",
    "user_report": "user_report_v2",
    "feedback": "feedback",
    "client_report": "internal",
    "check_in": "monitor",
    "profile": "profile",
    "profile_chunk": "profile_chunk",
    "profile_chunk_ui": "profile_chunk_ui",
    "replay_event": "replay",
    "replay_recording": "replay",
    "replay_video": "replay",
    "span": "span",
    "otel_span": "span",
    "log": "log_item",
    "otel_log": "log_item",
    "trace_metric": "trace_metric",
    "statsd": "metric_bucket",
    "metric_buckets": "metric_bucket",
    "metric_meta": "metric_bucket",
}
# Items that Relay refuses from clients (relay-server/src/envelope/item.rs, `is_internal`).
_INTERNAL_TYPES = frozenset({"integration"})
EVENT_TYPES = frozenset({"event", "transaction", "feedback", "replay_event", "security"})


@dataclass
class Item:
    type: str
    headers: dict[str, Any]
    payload: bytes

    @property
    def category(self) -> str:
        return ITEM_CATEGORIES.get(self.type, "default")


@dataclass
class Envelope:
    headers: dict[str, Any]
    items: list[Item] = field(default_factory=list)

    @property
    def event_id(self) -> str | None:
        return self.headers.get("event_id")


def _limit(name: str) -> int:
    return getattr(settings, name)


# (size budget setting, per-item setting, max count) for item types sharing a budget.
def _budgets() -> dict[str, tuple[str, int, int, int]]:
    event = ("event", _limit("INGEST_MAX_EVENT_BYTES"), _limit("INGEST_MAX_EVENT_BYTES"), 1)
    attachment = (
        "attachment",
        _limit("INGEST_MAX_ATTACHMENTS_BYTES"),
        _limit("INGEST_MAX_ATTACHMENT_BYTES"),
        30,
    )
    session = ("session", 10 * 1024 * 1024, 10 * 1024 * 1024, 100)
    return {
        **dict.fromkeys(EVENT_TYPES, event),
        **dict.fromkeys(("attachment", "user_report"), attachment),
        **dict.fromkeys(("session", "sessions"), session),
        "client_report": ("client_report", 100 * 1024, 100 * 1024, 100),
        "check_in": ("check_in", 100 * 1024, 100 * 1024, 1),
        **dict.fromkeys(
            ("profile", "profile_chunk"), ("profile", 50 * 1024 * 1024, 50 * 1024 * 1024, 1)
        ),
        **dict.fromkeys(
            ("replay_recording", "replay_video"),
            ("replay", 10 * 1024 * 1024, 10 * 1024 * 1024, 2),
        ),
        "log": ("log", 12 * 1024 * 1024, 12 * 1024 * 1024, 1000),
        "span": ("span", 12 * 1024 * 1024, 10 * 1024 * 1024, 1000),
    }


def check_limits(envelope: Envelope) -> None:
    """Relay's per-type size budgets and item counts (relay-server/src/utils/sizes.rs)."""
    budgets = _budgets()
    used: dict[str, list[int]] = {}
    for item in envelope.items:
        if item.type in _INTERNAL_TYPES:
            raise BadRequest("envelope contains internal items")
        budget = budgets.get(item.type)
        if budget is None:
            continue
        name, total_limit, item_limit, max_count = budget
        count_size = used.setdefault(name, [0, 0])
        count_size[0] += 1
        count_size[1] += len(item.payload)
        if len(item.payload) > item_limit or count_size[1] > total_limit:
            raise PayloadTooLarge(f"envelope exceeded size limits for type '{item.type}'")
        if count_size[0] > max_count:
            raise PayloadTooLarge(f"envelope exceeded size limits for type '{item.type}'")


def normalize_event_id(value: object) -> str:
    """32 lower-case hex digits from a UUID in any of its usual spellings."""
    if not isinstance(value, str):
        raise ValueError("event_id must be a string")
    return uuid.UUID(value).hex


def _json_object(raw: bytes, reason: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidEnvelope(reason) from None
    if not isinstance(value, dict):
        raise InvalidEnvelope(reason)
    return value


def parse_envelope(data: bytes) -> Envelope:
    """Split an envelope into its header and items; framing errors → 400."""
    if not data.strip():
        raise BadRequest("empty request body")
    newline = data.find(b"\n")
    first_line = data if newline == -1 else data[:newline]
    try:
        header = json.loads(first_line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        header = None
    if isinstance(header, dict) and isinstance(header.get("items"), list):
        if data[len(first_line) :].strip():
            raise InvalidEnvelope("unexpected data after JSON envelope")
        return _from_json_object(header)
    if header is None and data.lstrip()[:1] == b"{":
        whole = _json_object(data, "invalid envelope header")
        if isinstance(whole.get("items"), list):
            return _from_json_object(whole)
    if not isinstance(header, dict):
        raise InvalidEnvelope("invalid envelope header")
    envelope = Envelope(headers=_checked_headers(header))
    pos = len(data) if newline == -1 else newline + 1
    while pos < len(data):
        item, pos = _parse_item(data, pos)
        envelope.items.append(item)
        if len(envelope.items) > MAX_ITEMS:
            raise InvalidEnvelope("too many individual items")
    return envelope


def _checked_headers(header: dict[str, Any]) -> dict[str, Any]:
    if header.get("event_id") is not None:
        try:
            header["event_id"] = normalize_event_id(header["event_id"])
        except ValueError:
            raise InvalidEnvelope("invalid event_id in envelope header") from None
    else:
        header.pop("event_id", None)
    return header


def _parse_item(data: bytes, pos: int) -> tuple[Item, int]:
    end = len(data)
    while pos < end and data[pos] in _WHITESPACE:
        pos += 1
    if pos == end:
        raise InvalidEnvelope("unexpected end of file")
    newline = data.find(b"\n", pos)
    header_end = end if newline == -1 else newline
    headers = _json_object(data[pos:header_end], "invalid item header")
    item_type = headers.get("type")
    if not isinstance(item_type, str) or not item_type:
        raise InvalidEnvelope("invalid item header")
    pos = end if newline == -1 else newline + 1
    length = headers.get("length")
    if length is None:
        newline = data.find(b"\n", pos)
        payload_end = end if newline == -1 else newline
        return Item(item_type, headers, data[pos:payload_end]), min(payload_end + 1, end)
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise InvalidEnvelope("invalid item header")
    if pos + length > end:
        raise InvalidEnvelope("unexpected end of file")
    payload = data[pos : pos + length]
    pos += length
    if pos < end:
        if data[pos] != ord("\n"):
            raise InvalidEnvelope("missing newline after header or payload")
        pos += 1
    return Item(item_type, headers, payload), pos


def _from_json_object(document: dict[str, Any]) -> Envelope:
    """The seed's form: `{"event_id", "timestamp", "items": [{"type", "payload"}]}`."""
    headers = {key: value for key, value in document.items() if key != "items"}
    envelope = Envelope(headers=_checked_headers(headers))
    for raw in document["items"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            raise InvalidEnvelope("invalid item header")
        payload = raw.get("payload")
        if isinstance(payload, str):
            body = payload.encode("utf-8", "replace")  # a lone surrogate cannot be encoded
        else:
            try:
                body = json.dumps(payload, separators=(",", ":")).encode()
            except (ValueError, RecursionError):
                raise InvalidEnvelope("invalid item payload") from None
        item_headers = {key: value for key, value in raw.items() if key != "payload"}
        envelope.items.append(Item(raw["type"], item_headers, body))
    if len(envelope.items) > MAX_ITEMS:
        raise InvalidEnvelope("too many individual items")
    return envelope
