"""Unreal Engine crash reports (`/api/<id>/unreal/<key>/`), as the engine's CrashReportClient
sends them, turned into an envelope: an event, its attachments and the player's comment.

The body is a zlib stream of Unreal's crash container (container.py). What Relay makes of a
report, Faultline makes of it too (relay-server's utils/unreal.rs), except that a report
that cannot be read is answered 400 (Relay answers 200 and drops it later):
- every file is attached, typed by name or magic bytes (the minidump as `event.minidump`,
  `CrashContext.runtime-xml` as `unreal.context`, `*.log` as `unreal.logs`…);
- the event is the `__sentry` JSON of the context's GameData (sentry-unreal puts it there),
  merged with sentry-native's `__sentry-event` and breadcrumb files, or a new one; the crash
  context fills its message, user, level, device, OS, GPU, `game` and `unreal` contexts and
  SDK (context.py); the last 40 log lines become breadcrumbs (logs.py); the minidump's
  exception record is its exception, as for minidump uploads (not symbolicated);
- a player's description (UserDescription) becomes a user report;
- the query's `UserID` (`user id|Epic account id|machine id`) names the user.
"""

from __future__ import annotations

import io
import json
import zlib
from typing import Any

from ingest.body import TOO_LARGE, decompress_once
from ingest.envelope import Envelope, Item
from ingest.exceptions import BadRequest
from ingest.minidump import (
    BREADCRUMB_FIELDS,
    EVENT_FIELD,
    attachment_item,
    describe_crash,
    merge_event,
    native_event,
)
from ingest.unreal.container import INVALID, unpack_container
from ingest.unreal.context import SENTRY_PAYLOAD_KEY, merge_context, read_context
from ingest.unreal.logs import MAX_LOG_BREADCRUMBS, log_breadcrumbs

__all__ = ["envelope_from_unreal", "log_breadcrumbs", "unpack_container"]

JSON = dict[str, Any]
CONTEXT_FILE = "CrashContext.runtime-xml"
CONFIG_FILE = "CrashReportClient.ini"
Context = dict[str, dict[str, str]]


def envelope_from_unreal(body: bytes, *, user_id: str | None, max_bytes: int) -> Envelope:
    """The envelope of an Unreal crash report: event first, then the files as attachments,
    then the player's comment as a user report; at most `max_bytes` unpacked (else 413)."""
    files = unpack_container(_inflate(body, max_bytes=max_bytes))
    context = next((read_context(data) for name, data in files if name == CONTEXT_FILE), {})
    event = _event(files, context, user_id=user_id)
    try:
        payload = json.dumps(event, default=str).encode()
    except (ValueError, TypeError, RecursionError) as exc:
        # TypeError: a msgpack map key that is bytes.
        raise BadRequest(f"invalid event: {exc}") from None
    items = [Item("event", {}, payload)]
    for name, data in files:
        if name not in (EVENT_FIELD, *BREADCRUMB_FIELDS):
            kind = _file_type(name, data)
            items.append(attachment_item(data, filename=name, attachment_type=kind))
    comment = context.get("RuntimeProperties", {}).get("UserDescription")
    if comment:
        username = context["RuntimeProperties"].get("UserName") or "unknown"
        report = {"event_id": event["event_id"], "name": username, "email": "", "comments": comment}
        items.append(Item("user_report", {}, json.dumps(report).encode()))
    return Envelope(headers={"event_id": event["event_id"]}, items=items)


def _inflate(body: bytes, *, max_bytes: int) -> bytes:
    return decompress_once(
        zlib.decompressobj(),
        body,
        max_bytes=max_bytes,
        invalid=INVALID,
        truncated="truncated zlib stream",
        too_large=TOO_LARGE,
    )


def _event(files: list[tuple[str, bytes]], context: Context, *, user_id: str | None) -> JSON:
    event = _initial_event(files, context)
    runtime = context.get("RuntimeProperties", {})
    if not event.get("level") and _is_true(runtime.get("IsAssert")):
        event["level"] = "error"
    elif not event.get("level") and _is_true(runtime.get("IsEnsure")):
        event["level"] = "warning"
    describe_crash(event, next((data for _, data in files if data.startswith(b"MDMP")), None))
    if user_id:
        _merge_user_id(event, user_id)
    merge_context(event, context)
    logs = [data for name, data in files if name.endswith(".log")]
    _add_log_breadcrumbs(event, logs)
    return event


def _is_true(text: str | None) -> bool:
    return (text or "").strip().lower() in ("true", "1")


def _initial_event(files: list[tuple[str, bytes]], context: Context) -> JSON:
    """The event the report carries: the context's `__sentry` JSON, and sentry-native's
    msgpack files, or an empty one."""
    payload = context.get("GameData", {}).get(SENTRY_PAYLOAD_KEY, "")
    event: JSON = {}
    if payload.strip():
        try:
            loaded = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"{INVALID}: bad __sentry event ({exc})") from None
        if isinstance(loaded, dict):
            event = loaded
    merge_event(event, native_event({name: io.BytesIO(data) for name, data in files}))
    return event


def _file_type(name: str, data: bytes) -> str:
    """The attachment type of a file of the report (symbolic-unreal's file types)."""
    if name == CONTEXT_FILE:
        return "unreal.context"
    if name == CONFIG_FILE:
        return "event.attachment"
    if name.endswith(".log"):
        return "unreal.logs"
    if data.startswith(b"MDMP"):
        return "event.minidump"
    if data.startswith(b"Incident Identifier:"):
        return "event.applecrashreport"
    return "event.attachment"


def _merge_user_id(event: JSON, user_id: str) -> None:
    """The query's `UserID`: `user id|Epic account id|machine id`, any part empty."""
    parts = [*user_id.split("|"), "", ""]
    if parts[0]:
        if not isinstance(event.get("user"), dict):
            event["user"] = {}
        event["user"]["id"] = parts[0]
    tags = event.get("tags")
    if not isinstance(tags, dict | list):
        tags = event["tags"] = {}
    for key, value in (("epic_account_id", parts[1]), ("machine_id", parts[2])):
        if value and isinstance(tags, dict):
            tags[key] = value
        elif value:
            tags.append([key, value])


def _add_log_breadcrumbs(event: JSON, logs: list[bytes]) -> None:
    """The last MAX_LOG_BREADCRUMBS lines of the report's logs, after the event's own."""
    crumbs = [crumb for data in logs for crumb in log_breadcrumbs(data)][:MAX_LOG_BREADCRUMBS]
    if not crumbs:
        return
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, list):
        breadcrumbs = {"values": breadcrumbs}
    if not isinstance(breadcrumbs, dict) or not isinstance(breadcrumbs.get("values"), list):
        breadcrumbs = {"values": []}
    breadcrumbs["values"].extend(crumbs)
    event["breadcrumbs"] = breadcrumbs
