"""Event normalization as Relay does it before storage (relay-event-normalization)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from ingest.normalize.fields import (
    LEVELS,
    MAX_MESSAGE_CHARS,
    MAX_STRING_CHARS,
    format_logentry,
    normalize_level,
    normalize_tags,
    parse_timestamp,
    string_field,
    trim_databag,
)
from ingest.normalize.schema import KNOWN_ATTRIBUTES, LEGACY_ALIASES, VALID_PLATFORMS

JSON = dict[str, Any]

MAX_SECONDS_IN_FUTURE = 60
MAX_AGE = timedelta(days=90)
# |received - sent_at| from which timestamps are corrected (relay MINIMUM_CLOCK_DRIFT).
MINIMUM_CLOCK_DRIFT = timedelta(minutes=55)


class InvalidEvent(ValueError):
    """The payload is not an event at all (not a JSON object)."""


def _values(container: Any) -> list[Any]:
    """`{"values": [...]}` or a bare list (raven-js sends `exception` as a list)."""
    if isinstance(container, dict):
        container = container.get("values")
    if isinstance(container, list):
        return [value for value in container if isinstance(value, dict)]
    return []


def _normalize_logentry(event: JSON) -> None:
    logentry = event.get("logentry")
    message = event.pop("message", None)
    if isinstance(logentry, str):
        logentry = {"formatted": logentry}
    if not isinstance(logentry, dict):
        logentry = {}
    if isinstance(message, dict):  # some clients send a whole logentry as `message`
        logentry = {**message, **logentry}
    elif isinstance(message, str) and not (logentry.get("message") or logentry.get("formatted")):
        # Relay: a plain `message` string is the legacy spelling of `logentry.formatted`.
        logentry["formatted"] = message
    text = string_field(logentry.get("message"), MAX_MESSAGE_CHARS)
    formatted = string_field(logentry.get("formatted"), MAX_MESSAGE_CHARS)
    if text and not formatted:
        formatted = format_logentry(text, logentry.get("params"))
    if not text and not formatted:
        event.pop("logentry", None)
        return
    result: JSON = {"formatted": formatted or text}
    if text and text != result["formatted"]:
        result["message"] = text
    if logentry.get("params"):
        result["params"] = logentry["params"]
    event["logentry"] = result


def _normalize_frames(stacktrace: Any) -> JSON | None:
    if not isinstance(stacktrace, dict):
        return None
    raw_frames = stacktrace.get("frames")
    raw_frames = raw_frames if isinstance(raw_frames, list) else []
    frames = [_normalize_frame(frame) for frame in raw_frames if isinstance(frame, dict)]
    stacktrace["frames"] = frames
    return stacktrace


_FRAME_STRINGS = (
    "filename",
    "abs_path",
    "function",
    "raw_function",
    "symbol",
    "module",
    "package",
    "platform",
    "context_line",
    "instruction_addr",
    "symbol_addr",
    "image_addr",
)


def _normalize_frame(frame: JSON) -> JSON:
    """A frame whose fields have the types grouping and display expect; others are dropped."""
    for key in _FRAME_STRINGS:
        if key in frame and not isinstance(frame[key], str):
            frame[key] = string_field(frame[key], MAX_STRING_CHARS)
            if frame[key] is None:
                del frame[key]
    for key in ("lineno", "colno"):
        if key in frame and not (isinstance(frame[key], int) and not isinstance(frame[key], bool)):
            try:
                frame[key] = int(frame[key])
            except (TypeError, ValueError, OverflowError):
                del frame[key]
    if "in_app" in frame and not isinstance(frame["in_app"], bool):
        del frame["in_app"]
    for key in ("pre_context", "post_context"):
        if key in frame and not (
            isinstance(frame[key], list) and all(isinstance(line, str) for line in frame[key])
        ):
            del frame[key]
    if "vars" in frame:
        frame["vars"] = trim_databag(frame["vars"])
    return frame


def _normalize_exception(event: JSON) -> None:
    values = _values(event.get("exception"))
    if not values:
        event.pop("exception", None)
        return
    for exception in values:
        for key in ("type", "value", "module"):
            if key in exception:
                text = string_field(exception[key], MAX_MESSAGE_CHARS)
                if text is None:
                    exception.pop(key)
                else:
                    exception[key] = text
        if "mechanism" in exception and not isinstance(exception["mechanism"], dict):
            del exception["mechanism"]
        mechanism = exception.get("mechanism")
        if mechanism is not None:
            for flag in ("handled", "synthetic"):
                if flag in mechanism and not isinstance(mechanism[flag], bool):
                    del mechanism[flag]
            if "type" in mechanism and not isinstance(mechanism["type"], str):
                del mechanism["type"]
        stacktrace = _normalize_frames(exception.get("stacktrace"))
        if stacktrace is None:
            exception.pop("stacktrace", None)
        else:
            exception["stacktrace"] = stacktrace
    event["exception"] = {"values": values}


def _normalize_threads(event: JSON) -> None:
    threads = _values(event.get("threads"))
    if not threads:
        event.pop("threads", None)
        return
    for thread in threads:
        stacktrace = _normalize_frames(thread.get("stacktrace"))
        if stacktrace is None:
            thread.pop("stacktrace", None)
        else:
            thread["stacktrace"] = stacktrace
    event["threads"] = {"values": threads}


def _normalize_breadcrumbs(event: JSON) -> None:
    crumbs = _values(event.get("breadcrumbs"))
    if not crumbs:
        event.pop("breadcrumbs", None)
        return
    # Up to a hundred per event, the bulk of most payloads: the usual cases inline (most
    # SDK breadcrumbs have no level at all).
    for crumb in crumbs:
        if "type" not in crumb:
            crumb["type"] = "default"
        level = crumb.get("level")
        if level is None:
            crumb["level"] = "info"
        elif not (type(level) is str and level in LEVELS):
            crumb["level"] = normalize_level(level) or "info"
        data = crumb.get("data")
        if data is not None:
            crumb["data"] = trim_databag(data)
    event["breadcrumbs"] = {"values": crumbs}


def _add_error(event: JSON, error: JSON) -> None:
    """Note a normalization problem in the event's `errors`, as Relay does."""
    if not isinstance(event.get("errors"), list):
        event["errors"] = []
    event["errors"].append(error)


def _shift_timestamps(event: JSON, delta: timedelta) -> None:
    """Move breadcrumb and span timestamps with the event's own (clock-drift correction)."""
    seconds = delta.total_seconds()
    crumbs = event.get("breadcrumbs", {}).get("values", []) if event.get("breadcrumbs") else []
    spans = event.get("spans")
    spans = [span for span in spans if isinstance(span, dict)] if isinstance(spans, list) else []
    for holder in [*crumbs, *spans]:
        for key in ("timestamp", "start_timestamp"):
            moment = parse_timestamp(holder.get(key))
            if moment is not None:
                holder[key] = moment.timestamp() + seconds
    start = parse_timestamp(event.get("start_timestamp"))
    if start is not None:
        event["start_timestamp"] = start.timestamp() + seconds


def _normalize_timestamps(event: JSON, received: datetime, sent_at: datetime | None) -> datetime:
    timestamp = parse_timestamp(event.get("timestamp")) or received
    delta = timedelta(0)
    if sent_at is not None and abs(received - sent_at) >= MINIMUM_CLOCK_DRIFT:
        delta = received - sent_at
    try:
        corrected = timestamp + delta
    except OverflowError:
        delta, corrected = timedelta(0), received
    if corrected - received > timedelta(seconds=MAX_SECONDS_IN_FUTURE):
        _add_error(event, {"type": "future_timestamp"})
        delta, corrected = received - timestamp, received
    elif received - corrected > MAX_AGE:
        _add_error(event, {"type": "past_timestamp"})
        delta, corrected = received - timestamp, received
    if delta:
        try:
            _shift_timestamps(event, delta)
        except (OverflowError, ValueError, OSError):
            _add_error(event, {"type": "invalid_data", "name": "timestamps"})
    event["timestamp"] = corrected.timestamp()
    event["received"] = received.timestamp()
    return corrected


def _sdk_from_client(client: str | None) -> JSON | None:
    if not client:
        return None
    name, _, version = client.partition("/")
    return {"name": name, "version": version} if name and version else None


def _summarize_foreign_json(event: JSON, foreign: JSON) -> None:
    """Non-Sentry JSON posted to /store/ (`{"event_type": "user_login", …}`): a message."""
    if event.get("logentry") or event.get("exception"):
        return
    label = foreign.get("event_type") or foreign.get("event") or foreign.get("name")
    text = string_field(label, MAX_MESSAGE_CHARS) if not isinstance(label, dict | list) else None
    event["logentry"] = {"formatted": text or "<unlabeled event>"}


def normalize_event(
    payload: Any,
    *,
    event_id: str,
    received: datetime,
    sent_at: Any = None,
    client: str | None = None,
    client_ip: str | None = None,
    project_id: int | None = None,
) -> JSON:
    """A normalized copy of an SDK's event payload, ready for grouping and storage."""
    if not isinstance(payload, dict):
        raise InvalidEvent("event payload is not a JSON object")
    event: JSON = dict(payload)
    for legacy, modern in LEGACY_ALIASES.items():
        if legacy in event:
            value = event.pop(legacy)
            event.setdefault(modern, value)
    foreign = {key: event.pop(key) for key in list(event) if key not in KNOWN_ATTRIBUTES}

    event["event_id"] = uuid.UUID(event_id).hex
    if project_id is not None:
        event["project"] = project_id
    event_type = event.get("type")

    level = normalize_level(event.get("level"))
    if level is None and event.get("level") is not None:
        _add_error(event, {"type": "invalid_data", "name": "level"})
    event["level"] = level or ("info" if event_type == "transaction" else "error")

    platform = event.get("platform")
    event["platform"] = (
        platform if isinstance(platform, str) and platform in VALID_PLATFORMS else "other"
    )
    for key, limit in (("logger", 64), ("transaction", 200), ("culprit", 200), ("dist", 64)):
        text = string_field(event.get(key), limit)
        if text is None:
            event.pop(key, None)
        else:
            event[key] = text
    release = string_field(event.get("release"), 200)
    if release is None or "\n" in release or release in (".", ".."):
        event.pop("release", None)
    else:
        event["release"] = release

    tags = normalize_tags(event.get("tags"))
    server_name = string_field(event.pop("server_name", None), 256)
    if server_name and not any(key == "server_name" for key, _ in tags):
        tags.append(["server_name", server_name[:200]])
    environment = string_field(event.get("environment"), 64)
    tag_environment = next((value for key, value in tags if key == "environment"), None)
    tags = [pair for pair in tags if pair[0] != "environment"]
    environment = environment or (tag_environment[:64] if tag_environment else None)
    if environment:
        event["environment"] = environment
    else:
        event.pop("environment", None)
    event["tags"] = tags

    _normalize_logentry(event)
    _normalize_exception(event)
    event["stacktrace"] = _normalize_frames(event.get("stacktrace"))
    if event["stacktrace"] is None:
        del event["stacktrace"]
    _normalize_breadcrumbs(event)
    _normalize_threads(event)

    extra = event.get("extra")
    extra = extra if isinstance(extra, dict) else {}
    for key, value in foreign.items():
        extra.setdefault(key, value)
    event["extra"] = trim_databag(extra)
    _summarize_foreign_json(event, foreign)

    for key in ("contexts", "user", "request", "sdk", "modules"):
        if key in event and not isinstance(event[key], dict):
            del event[key]
    event["contexts"] = trim_databag(event.get("contexts") or {})
    user = event.get("user")
    if isinstance(user, dict) and user.get("ip_address") == "{{auto}}":
        user["ip_address"] = client_ip or None
    request = event.get("request")
    if isinstance(request, dict) and "data" in request:
        request["data"] = trim_databag(request["data"])
    if "sdk" not in event:
        sdk = _sdk_from_client(client)
        if sdk:
            event["sdk"] = sdk
    if isinstance(event.get("fingerprint"), list):
        event["fingerprint"] = [str(part) for part in event["fingerprint"] if part is not None]
    else:
        event.pop("fingerprint", None)

    if event_type not in ("transaction", "feedback"):
        event["type"] = "error" if event.get("exception") else "default"
        if "csp" in event:
            event["type"] = "csp"
    _normalize_timestamps(event, received, parse_timestamp(sent_at))
    return event
