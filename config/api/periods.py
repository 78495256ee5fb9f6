"""Sentry's time range parameters (`statsPeriod`, `start`, `end`) parsed for every app's API,
within the range that date arithmetic and both databases can take."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from rest_framework.exceptions import ParseError

_PERIOD = re.compile(r"(\d{1,6})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# A day inside Python's datetime range at both ends: aligning a range to whole days, or a
# time zone offset, then cannot step outside it (an OverflowError, or a query that fails).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def parse_period(value: str) -> timedelta:
    """`30m`, `24h`, `14d`, `2w`: a number and a unit; ValueError otherwise."""
    match = _PERIOD.fullmatch(value)
    if not match:
        raise ValueError(f"Invalid statsPeriod: {value}; use a number and s, m, h, d or w.")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def in_range(moment: datetime, name: str) -> datetime:
    """The moment in UTC (naive ones are UTC); ValueError when it lies outside
    [EARLIEST, LATEST]."""
    try:
        utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"Invalid {name}: {moment.isoformat()} is out of range.")
    return utc


def period_start(end: datetime, period: timedelta) -> datetime:
    """`period` before `end`; ValueError when that lies out of range."""
    try:
        return in_range(end - period, "statsPeriod")
    except (OverflowError, ValueError):
        raise ValueError("Invalid statsPeriod: too long.") from None


def moment_param(moment: datetime, name: str) -> datetime:
    """in_range() for a query parameter: out of range is a 400."""
    try:
        return in_range(moment, name)
    except ValueError as exc:
        raise ParseError(str(exc)) from None


def period_start_param(raw: str, end: datetime) -> datetime:
    """The start of a `statsPeriod` query parameter before `end`; a bad or too long one is a
    400."""
    try:
        return period_start(end, parse_period(raw))
    except ValueError as exc:
        raise ParseError(str(exc)) from None
