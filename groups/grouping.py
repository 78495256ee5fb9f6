"""Grouping hashes: the SDK's fingerprint, else exception type and in-app frames, else message.

Follows Sentry's newstyle strategies (src/sentry/grouping/strategies/newstyle.py, message.py)
in simplified form: each contributing value is fed into an MD5, in order.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

# Version of the rules below. Hashes are stored with it, so that a later version can compute
# hashes of both versions and keep existing issues together.
GROUPING_CONFIG = "faultline:2026-11"

JSON = dict[str, Any]
_DEFAULT_MARKER = re.compile(r"^\{\{\s*default\s*\}\}$")
_VARIABLE = re.compile(r"^\{\{\s*([\w.]+)\s*\}\}$")
# Platforms whose context lines are trusted source (Sentry uses them in the hash).
_CONTEXT_LINE_PLATFORMS = frozenset({"python", "javascript", "node"})
_MAX_CONTEXT_LINE = 120

# Sentry's message parameterization (src/sentry/grouping/parameterization.py), in order.
_PARAMETERS = [
    ("email", r"[a-zA-Z0-9._+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9.-]+"),
    ("url", r"\b(?:wss?|https?|ftp)://[^\s/$.?#].[^\s]*"),
    ("ip", r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b"),
    (
        "uuid",
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    ),
    ("sha1", r"\b[0-9a-fA-F]{40}\b"),
    ("md5", r"\b[0-9a-fA-F]{32}\b"),
    (
        "date",
        r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s\d{1,2}\s\w{3}\s\d{4}\s\d{2}:\d{2}:\d{2}(?:\s\w+)?",
    ),
    ("hex", r"\b0[xX][0-9a-fA-F]+\b"),
    ("float", r"-?\b\d+\.\d+\b"),
    ("int", r"-?\b\d+\b"),
    ("quoted_str", r"(?<==)'[^']*'|(?<==)\"[^\"]*\""),
]
_PARAMETER_RE = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _PARAMETERS))


def normalize_message(message: str) -> str:
    """The first two non-empty lines, with variable parts replaced by `<kind>` placeholders."""
    lines = [line for line in message.splitlines() if line.strip()]
    text = "\n".join(lines[:2]) + ("..." if len(lines) > 2 else "")

    def placeholder(match: re.Match[str]) -> str:
        return f"<{match.lastgroup}>"

    return _PARAMETER_RE.sub(placeholder, text)


@dataclass(frozen=True)
class Grouping:
    """The hashes of one event: the first is primary; any of them may match an issue."""

    hashes: list[str]
    config: str = GROUPING_CONFIG


def _md5(values: list[str]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for value in values:
        digest.update(value.encode("utf-8", "replace"))
    return digest.hexdigest()


def _clean_function(function: Any, platform: str) -> str | None:
    if not isinstance(function, str) or function in ("?", "<anonymous>", "<unknown>", ""):
        return None
    if platform in ("javascript", "node"):
        function = function.rsplit(".", 1)[-1] if function.startswith("Object.") else function
        function = function.removeprefix("new ").removeprefix("async ")
    if platform == "java":
        # Lambdas and generated proxies carry run-specific numbers.
        function = re.sub(r"\$\$Lambda\$\d+/0x[0-9a-f]+", "$$Lambda", function)
        function = re.sub(
            r"\$\$(?:EnhancerBySpringCGLIB|FastClassBySpringCGLIB)\$\$[0-9a-f]+",
            "$$CGLIB",
            function,
        )
    if platform == "ruby":
        function = re.sub(r"_\d+(?:_\d+)*$", "", function)  # erb template suffixes
    return function


def _frame_values(frame: JSON, platform: str) -> list[str]:
    values = []
    module = frame.get("module")
    filename = frame.get("filename") or frame.get("abs_path")
    if isinstance(module, str) and module:
        values.append(module)
    elif (
        isinstance(filename, str)
        and filename
        and "://" not in filename
        and filename not in ("<anonymous>", "[native code]")
    ):
        values.append(re.split(r"[/\\]", filename)[-1].lower())
    function = _clean_function(frame.get("function") or frame.get("symbol"), platform)
    if function:
        values.append(function)
    context_line = frame.get("context_line")
    frame_platform = frame.get("platform") or platform
    if (
        frame_platform in _CONTEXT_LINE_PLATFORMS
        and isinstance(context_line, str)
        and context_line.strip()
        and len(context_line) <= _MAX_CONTEXT_LINE
    ):
        values.append(" ".join(context_line.split()))
    return values


def _stacktrace_values(stacktrace: Any, platform: str, *, app_only: bool) -> list[str]:
    if not isinstance(stacktrace, dict):
        return []
    values: list[str] = []
    previous: list[str] | None = None
    for frame in stacktrace.get("frames") or []:
        if app_only and frame.get("in_app") is not True:
            continue
        frame_values = _frame_values(frame, platform)
        if frame_values and frame_values != previous:  # recursion counts once
            values += frame_values
        previous = frame_values
    return values


def _has_app_frames(event: JSON) -> bool:
    return any(
        frame.get("in_app") is True
        for stacktrace in _stacktraces(event)
        for frame in stacktrace.get("frames") or []
    )


def _stacktraces(event: JSON) -> list[JSON]:
    found = [
        exc["stacktrace"]
        for exc in (event.get("exception") or {}).get("values", [])
        if isinstance(exc.get("stacktrace"), dict)
    ]
    if isinstance(event.get("stacktrace"), dict):
        found.append(event["stacktrace"])
    return found


def _exception_values(event: JSON, *, app_only: bool) -> list[str]:
    platform = event.get("platform", "other")
    values: list[str] = []
    for exception in (event.get("exception") or {}).get("values", []):
        frames = _stacktrace_values(exception.get("stacktrace"), platform, app_only=app_only)
        values += frames
        synthetic = (exception.get("mechanism") or {}).get("synthetic") is True
        if exception.get("type") and not synthetic:
            values.append(exception["type"])
        if not frames and exception.get("value"):
            values.append(normalize_message(exception["value"]))
    return values


def _single_thread_stacktrace(event: JSON) -> Any:
    threads = event.get("threads")
    values = threads.get("values") if isinstance(threads, dict) else threads
    if isinstance(values, list) and len(values) == 1 and isinstance(values[0], dict):
        return values[0].get("stacktrace")
    return None


def _message_values(event: JSON) -> list[str]:
    logentry = event.get("logentry") or {}
    message = logentry.get("message") or logentry.get("formatted")
    return [normalize_message(message)] if isinstance(message, str) and message else []


def default_values(event: JSON, *, app_only: bool) -> list[str]:
    """Contributing values of the default algorithm for one variant (app or system)."""
    platform = event.get("platform", "other")
    if event.get("exception"):
        values = _exception_values(event, app_only=app_only)
        if values:
            return values
    for stacktrace in (_single_thread_stacktrace(event), event.get("stacktrace")):
        values = _stacktrace_values(stacktrace, platform, app_only=app_only)
        if values:
            return values
    return _message_values(event)


def _resolve_variable(name: str, event: JSON) -> str:
    exceptions = (event.get("exception") or {}).get("values") or [{}]
    last = exceptions[-1]
    frames = (last.get("stacktrace") or event.get("stacktrace") or {}).get("frames") or [{}]
    crash_frame = frames[-1]
    logentry = event.get("logentry") or {}
    lookups = {
        "transaction": event.get("transaction"),
        "message": logentry.get("formatted") or logentry.get("message") or last.get("value"),
        "type": last.get("type"),
        "error.type": last.get("type"),
        "value": last.get("value"),
        "error.value": last.get("value"),
        "function": crash_frame.get("function"),
        "module": crash_frame.get("module"),
        "path": crash_frame.get("abs_path") or crash_frame.get("filename"),
        "package": crash_frame.get("package"),
        "level": event.get("level"),
        "logger": event.get("logger"),
    }
    if name.startswith("tags."):
        tag = name[5:]
        value = next((v for k, v in event.get("tags") or [] if k == tag), None)
        return value if value is not None else f"<no-value-for-tag-{tag}>"
    value = lookups.get(name)
    return str(value) if value not in (None, "") else f"<no-{name}>"


def compute_grouping(event: JSON) -> Grouping:
    """The grouping hashes of a normalized event."""
    checksum = event.get("checksum")
    if isinstance(checksum, str) and checksum:
        hashed = checksum if re.fullmatch(r"[0-9a-f]{32}", checksum) else _md5([checksum])
        return Grouping(hashes=[hashed])

    app_values = default_values(event, app_only=True) if _has_app_frames(event) else []
    system_values = default_values(event, app_only=False)
    fingerprint = event.get("fingerprint")
    if fingerprint and not all(_DEFAULT_MARKER.match(part) for part in fingerprint):
        primary = app_values or system_values
        resolved: list[str] = []
        for part in fingerprint:
            if _DEFAULT_MARKER.match(part):
                resolved += primary
                continue
            variable = _VARIABLE.match(part)
            resolved.append(_resolve_variable(variable.group(1), event) if variable else part)
        return Grouping(hashes=[_md5(resolved)])

    hashes = []
    if app_values:
        hashes.append(_md5(app_values))
    system_hash = _md5(system_values)
    if system_hash not in hashes:
        hashes.append(system_hash)
    return Grouping(hashes=hashes)
