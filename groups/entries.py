"""An event's `entries` as Sentry's API shows them, built from the stored (normalized) payload.

Sentry's EventSerializer lists the payload's interfaces by display score, message first, each as
`{"type": …, "data": …}` with camelCase keys (src/sentry/api/serializers/models/event.py,
src/sentry/interfaces/{message,exception,stacktrace,threads,breadcrumbs,http}.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

JSON = dict[str, Any]


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[JSON]:
    if isinstance(value, dict):
        value = value.get("values")
    return [item for item in value or [] if isinstance(item, dict)]


def frame_context(frame: JSON) -> list[list[Any]]:
    """`[[lineno, line], …]` around the frame's line (Sentry's get_context)."""
    lineno = frame.get("lineno")
    pre = [line for line in frame.get("pre_context") or [] if isinstance(line, str)]
    post = [line for line in frame.get("post_context") or [] if isinstance(line, str)]
    line = frame.get("context_line")
    if not isinstance(lineno, int) or (line is None and not pre and not post):
        return []
    at = max(0, lineno - len(pre))
    context = []
    for text in [*pre, line, *post] if line is not None else [*pre, *post]:
        context.append([at, text])
        at += 1
    return context


def frame(raw: JSON) -> JSON:
    return {
        "filename": raw.get("filename"),
        "absPath": raw.get("abs_path"),
        "module": raw.get("module"),
        "package": raw.get("package"),
        "platform": raw.get("platform"),
        "instructionAddr": raw.get("instruction_addr"),
        "symbolAddr": raw.get("symbol_addr"),
        "function": raw.get("function"),
        "rawFunction": raw.get("raw_function"),
        "symbol": raw.get("symbol"),
        "context": frame_context(raw),
        "lineNo": raw.get("lineno"),
        "colNo": raw.get("colno"),
        "inApp": bool(raw.get("in_app")),
        "trust": raw.get("trust"),
        "errors": None,
        "lock": None,
        "sourceLink": None,
        "vars": raw.get("vars"),
    }


def _has_system_frames(frames: list[JSON]) -> bool:
    """Sentry shows the "full stack" toggle only when in-app and other frames mix."""
    flags = {bool(item.get("in_app")) for item in frames}
    return flags == {True, False}


def stacktrace(raw: Any) -> JSON | None:
    if not isinstance(raw, dict):
        return None
    frames = _dicts(raw.get("frames"))
    return {
        "frames": [frame(item) for item in frames],
        "framesOmitted": raw.get("frames_omitted"),
        "registers": raw.get("registers"),
        "hasSystemFrames": _has_system_frames(frames),
    }


def _exception(data: JSON) -> JSON | None:
    values = _dicts(data.get("exception"))
    if not values:
        return None
    frames = [f for value in values for f in _dicts(_dict(value.get("stacktrace")).get("frames"))]
    return {
        "values": [
            {
                "type": value.get("type"),
                "value": value.get("value"),
                "module": value.get("module"),
                "mechanism": value.get("mechanism"),
                "threadId": value.get("thread_id"),
                "stacktrace": stacktrace(value.get("stacktrace")),
                "rawStacktrace": None,
            }
            for value in values
        ],
        "excOmitted": None,
        "hasSystemFrames": _has_system_frames(frames),
    }


def _message(data: JSON) -> JSON | None:
    logentry = _dict(data.get("logentry"))
    if not logentry:
        return None
    return {
        "formatted": logentry.get("formatted"),
        "message": logentry.get("message"),
        "params": logentry.get("params"),
    }


def _threads(data: JSON) -> JSON | None:
    values = _dicts(data.get("threads"))
    if not values:
        return None
    return {
        "values": [
            {
                "id": value.get("id"),
                "name": value.get("name"),
                "current": value.get("current"),
                "crashed": value.get("crashed"),
                "state": value.get("state"),
                "stacktrace": stacktrace(value.get("stacktrace")),
                "rawStacktrace": None,
            }
            for value in values
        ]
    }


def iso_timestamp(value: Any) -> Any:
    """Unix seconds as ISO 8601 UTC with `Z`; other values (already ISO) as they are."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, tz=UTC)
        return moment.isoformat().replace("+00:00", "Z")
    return value


def _breadcrumbs(data: JSON) -> JSON | None:
    values = _dicts(data.get("breadcrumbs"))
    if not values:
        return None
    return {
        "values": [
            {
                "type": crumb.get("type", "default"),
                "category": crumb.get("category"),
                "level": crumb.get("level"),
                "message": crumb.get("message"),
                "data": crumb.get("data"),
                "timestamp": iso_timestamp(crumb.get("timestamp")),
                "event_id": crumb.get("event_id"),
            }
            for crumb in values
        ]
    }


def _pairs(value: Any) -> list[list[Any]]:
    """Headers, cookies and query strings as `[[name, value], …]`, as Sentry sends them."""
    if isinstance(value, str):
        return [list(pair) for pair in parse_qsl(value.lstrip("?"), keep_blank_values=True)]
    if isinstance(value, dict):
        return [[key, item] for key, item in sorted(value.items())]
    if isinstance(value, list):
        return [list(pair) for pair in value if isinstance(pair, list | tuple) and len(pair) == 2]
    return []


def _request(data: JSON) -> JSON | None:
    request = _dict(data.get("request"))
    if not request:
        return None
    headers = _pairs(request.get("headers"))
    content_type = next(
        (value for name, value in headers if str(name).lower() == "content-type"), None
    )
    cookies = request.get("cookies")
    return {
        "url": request.get("url"),
        "method": request.get("method"),
        "query": _pairs(request.get("query_string")),
        "fragment": request.get("fragment"),
        "data": request.get("data"),
        "headers": headers,
        "cookies": _pairs(cookies if cookies is not None else ""),
        "env": request.get("env"),
        "inferredContentType": content_type,
        "apiTarget": None,
    }


def _stacktrace(data: JSON) -> JSON | None:
    return stacktrace(data.get("stacktrace"))


# In Sentry's display order (each interface's display score, highest first).
_ENTRIES: tuple[tuple[str, Callable[[JSON], JSON | None]], ...] = (
    ("message", _message),
    ("exception", _exception),
    ("stacktrace", _stacktrace),
    ("threads", _threads),
    ("breadcrumbs", _breadcrumbs),
    ("request", _request),
)


def entries_of(data: JSON) -> list[JSON]:
    """The payload's interfaces as Sentry's `entries` list."""
    entries = []
    for kind, build in _ENTRIES:
        built = build(data)
        if built is not None:
            entries.append({"type": kind, "data": built})
    return entries
