"""Breadcrumbs from an Unreal log (`[2019.03.28-12.55.12:345][  0]LogWindows: message`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

MAX_LOG_BREADCRUMBS = 40
# Only the end of a log is read: its last lines are what become breadcrumbs.
TAIL_BYTES = 256 * 1024
_LOG_LINE = re.compile(
    r"(?:\[(\d{4})\.(\d\d)\.(\d\d)-(\d\d)\.(\d\d)\.(\d\d):(\d{3})\]\[\s*\d+\])?"
    r"(?:([A-Za-z_][\w.]*): )?(.*)"
)
# The log's first line: `Log file open, 12/13/18 15:54:53` (month first, local time).
_LOG_OPENED = re.compile(r"Log file open, (\d\d)/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)$")


def log_breadcrumbs(data: bytes, limit: int = MAX_LOG_BREADCRUMBS) -> list[dict[str, Any]]:
    """Breadcrumbs of an Unreal log's last `limit` lines after its first (the header); blank
    lines are skipped. A line without a time of its own takes that of the next line that has
    one, or the time the log was opened (local time, taken as UTC, as Relay does)."""
    end = data.find(b"\n")
    header, body = (data, b"") if end < 0 else (data[:end], data[end + 1 :])
    opened = _log_opened(header[:200].decode("utf-8", "replace"))
    lines = body[-TAIL_BYTES:].decode("utf-8", "replace").splitlines()
    if len(body) > TAIL_BYTES and lines:
        lines.pop(0)  # cut in the middle
    crumbs: list[dict[str, Any]] = []
    moment = None
    for line in reversed(lines):
        if len(crumbs) == limit:
            break
        if line.strip():
            moment = _crumb(line, moment, opened, crumbs)
    crumbs.reverse()
    return crumbs


def _crumb(
    line: str, moment: datetime | None, opened: datetime | None, crumbs: list[dict[str, Any]]
) -> datetime | None:
    """Append the line's breadcrumb; the time the lines before it fall back to."""
    match = _LOG_LINE.fullmatch(line)
    moment = (_log_time(match.groups()[:7]) if match else None) or moment
    crumb: dict[str, Any] = {"message": match.group(9) if match else line}
    if match and match.group(8):
        crumb["category"] = match.group(8)
    if moment or opened:
        crumb["timestamp"] = (moment or opened).isoformat()
    crumbs.append(crumb)
    return moment


def _log_time(parts: tuple[str | None, ...]) -> datetime | None:
    if parts[0] is None:
        return None
    year, month, day, hour, minute, second, millis = (int(part) for part in parts)
    try:
        return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)
    except ValueError:
        return None


def _log_opened(line: str) -> datetime | None:
    match = _LOG_OPENED.search(line.strip())
    if match is None:
        return None
    month, day, year, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
