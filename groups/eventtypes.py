"""Title, culprit and metadata of an event, as Sentry derives them (src/sentry/eventtypes)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

JSON = dict[str, Any]
_BARE_FUNCTION_PLATFORMS = frozenset({"objc", "cocoa", "native", "c"})
_CALL_STYLE_PLATFORMS = frozenset({"javascript", "node"})
# Schemes written with `//` before the host (Python's urllib.parse.uses_netloc, in short).
_NETLOC_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file"})
MAX_SOURCE_CHARS = 200


def truncate(text: str, limit: int) -> str:
    """Django's truncatechars: at most `limit` characters, ending in `...` when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _last_exception(event: JSON) -> JSON | None:
    values = (event.get("exception") or {}).get("values") or []
    return values[-1] if values else None


def _frames(event: JSON) -> list[JSON]:
    exception = _last_exception(event)
    stacktrace = (exception or {}).get("stacktrace") or event.get("stacktrace") or {}
    return [frame for frame in stacktrace.get("frames") or [] if isinstance(frame, dict)]


def _crash_frame(frames: list[JSON]) -> JSON | None:
    """The most recent frame with a real function name (frames run oldest first)."""
    for frame in reversed(frames):
        if frame.get("function") not in (None, "", "?", "<anonymous>"):
            return frame
    return frames[-1] if frames else None


def csp_source(uri: str) -> str:
    """A blocked URI as a CSP source: `'self'` for the document itself, the host (and port)
    for web URLs, the scheme and host for others (`data:`, `blob:`, `wss://host`); at most
    MAX_SOURCE_CHARS characters (an unparsable URI is kept as it is)."""
    return truncate(_source(uri), MAX_SOURCE_CHARS)


def _source(uri: str) -> str:
    if uri in ("", "self", "'self'"):
        return "'self'"
    if ":" not in uri:
        # Browsers often report only the scheme: `data`, `blob`.
        return f"{uri}://" if uri in _NETLOC_SCHEMES else f"{uri}:"
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return uri
    host = parts.hostname or ""
    if parts.scheme in ("http", "https"):
        source = host
    elif host or parts.scheme in _NETLOC_SCHEMES:
        source = f"{parts.scheme}://{host}"
    else:
        source = f"{parts.scheme}:"
    return f"{source}:{port}" if port is not None else source


def _csp_metadata(event: JSON) -> JSON | None:
    """Sentry's metadata of a CSP violation: its directive, the blocked source, the message."""
    csp = event.get("csp")
    if event.get("type") != "csp" or not isinstance(csp, dict):
        return None
    logentry = event.get("logentry") or {}
    message = logentry.get("formatted") or logentry.get("message") or ""
    return {
        "directive": str(csp.get("effective_directive") or ""),
        "uri": csp_source(str(csp.get("blocked_uri") or "")),
        "message": message,
        "title": truncate(_first_line(message), 100) or "<unlabeled event>",
    }


def metadata_of(event: JSON) -> JSON:
    csp = _csp_metadata(event)
    if csp is not None:
        return csp
    exception = _last_exception(event)
    if exception is not None:
        metadata: JSON = {"value": (exception.get("value") or "")[:1024]}
        if not (exception.get("mechanism") or {}).get("synthetic"):
            metadata["type"] = (exception.get("type") or "Error")[:128]
        frame = _crash_frame(_frames(event))
        if frame is not None:
            for key in ("filename", "function"):
                if frame.get(key):
                    metadata[key] = frame[key]
        return metadata
    logentry = event.get("logentry") or {}
    message = logentry.get("formatted") or logentry.get("message") or ""
    return {"title": truncate(_first_line(message), 100) or "<unlabeled event>"}


def title_of(event: JSON, metadata: JSON) -> str:
    if "title" in metadata:
        return metadata["title"]
    value = truncate(_first_line(metadata.get("value", "")), 100)
    kind = metadata.get("type")
    if kind:
        return f"{kind}: {value}" if value else kind
    # A synthetic exception (no type): @sentry/node attaches one to every captured message.
    # Sentry titles these by the crash frame's function; the message says more.
    logentry = event.get("logentry") or {}
    message = _first_line(logentry.get("formatted") or logentry.get("message") or "")
    return truncate(message, 100) if message else metadata.get("function") or "<unknown>"


def _frame_culprit(frame: JSON, platform: str) -> str:
    place = frame.get("module") or frame.get("filename") or frame.get("abs_path") or ""
    function = frame.get("function") or "?"
    if platform in _BARE_FUNCTION_PLATFORMS:
        return frame.get("function") or ""
    if platform in _CALL_STYLE_PLATFORMS:
        return f"{function}({place})" if place else function
    return f"{place} in {function}" if place else ""


def culprit_of(event: JSON) -> str:
    """The SDK's culprit, else the transaction, else the most recent in-app frame."""
    for key in ("culprit", "transaction"):
        if event.get(key):
            return truncate(str(event[key]), 200)
    exception = _last_exception(event)
    if exception and (exception.get("mechanism") or {}).get("synthetic"):
        return ""
    platform = event.get("platform", "other")
    fallback = None
    for frame in reversed(_frames(event)):
        culprit = _frame_culprit(frame, frame.get("platform") or platform)
        if not culprit:
            continue
        if frame.get("in_app"):
            return truncate(culprit, 200)
        fallback = fallback or culprit
    if fallback:
        return truncate(fallback, 200)
    url = (event.get("request") or {}).get("url")
    return truncate(url, 200) if isinstance(url, str) else ""
