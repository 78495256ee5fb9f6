"""Release health: session counts per release, environment and hour, and distinct users.

Counting rule (Sentry's release health, as Relay extracts it from session updates):
- `started` += 1 for an update with `init: true` (the session's first update);
- a terminal update counts once in exactly one of: `errored` (status `errored`, or `exited`
  with errors > 0), `crashed`, `abnormal`, `exited` (status `exited` with no errors);
- `ok` updates after the first count nothing more.
Healthy sessions are then `started - errored - crashed - abnormal`, crash-free sessions
`1 - crashed / started`. Users are distinct `did`s per release and environment, and a user is
crashed once any of their sessions crashed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import connection

from projects.models import SessionAggregate, SessionUser

COUNTERS = ("started", "exited", "errored", "crashed", "abnormal")


@dataclass(frozen=True)
class SessionCounts:
    """What one session update or aggregate adds to its release's hour."""

    project_id: int
    release: str
    environment: str
    hour: datetime
    started: int = 0
    exited: int = 0
    errored: int = 0
    crashed: int = 0
    abnormal: int = 0

    @property
    def key(self) -> tuple[int, str, str, datetime]:
        return (self.project_id, self.release, self.environment, self.hour)

    def __add__(self, other: SessionCounts) -> SessionCounts:
        return replace(
            self, **{name: getattr(self, name) + getattr(other, name) for name in COUNTERS}
        )


@dataclass(frozen=True)
class SessionUserSeen:
    """A distinct user (`did`) seen in a release and environment."""

    project_id: int
    release: str
    environment: str
    distinct_id: str
    seen: datetime
    has_crashed: bool = field(default=False)

    @property
    def key(self) -> tuple[int, str, str, str]:
        return (self.project_id, self.release, self.environment, self.distinct_id)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


_UPSERT = "INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT ({key}) DO UPDATE SET "
_COUNT_KEY = ("project_id", "release", "environment", "hour")
_USER_KEY = ("project_id", "release", "environment", "distinct_id")


def _upsert(
    table: str, key: tuple[str, ...], columns: tuple[str, ...], updates: str, rows: list[list[Any]]
) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE SET updates (`{t}` names the table in `updates`)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    placeholders = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    sql = _UPSERT.format(
        table=quote(table),
        columns=", ".join(quote(name) for name in key + columns),
        values=", ".join([placeholders] * len(rows)),
        key=", ".join(quote(name) for name in key),
    ) + updates.replace("{t}", quote(table))
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


def _merged_counts(counts: Iterable[SessionCounts]) -> list[SessionCounts]:
    # One row per key: PostgreSQL refuses to update the same row twice in one statement.
    merged: dict[tuple, SessionCounts] = {}
    for count in counts:
        merged[count.key] = merged[count.key] + count if count.key in merged else count
    return list(merged.values())


def _merged_users(users: Iterable[SessionUserSeen]) -> list[SessionUserSeen]:
    merged: dict[tuple, SessionUserSeen] = {}
    for user in users:
        known = merged.get(user.key)
        if known is not None:
            user = replace(
                known,
                seen=min(known.seen, user.seen),
                has_crashed=known.has_crashed or user.has_crashed,
            )
        merged[user.key] = user
    return list(merged.values())


def record_sessions(
    *, counts: Iterable[SessionCounts], users: Iterable[SessionUserSeen] = ()
) -> None:
    """Add session counts and distinct users, one upsert statement for each table."""
    adapt = connection.ops.adapt_datetimefield_value
    _upsert(
        SessionAggregate._meta.db_table,
        _COUNT_KEY,
        COUNTERS,
        ", ".join(f"{name} = {{t}}.{name} + excluded.{name}" for name in COUNTERS),
        [
            [c.project_id, c.release, c.environment, adapt(c.hour)]
            + [getattr(c, name) for name in COUNTERS]
            for c in _merged_counts(counts)
        ],
    )
    _upsert(
        SessionUser._meta.db_table,
        _USER_KEY,
        ("first_seen", "has_crashed"),
        "has_crashed = ({t}.has_crashed OR excluded.has_crashed)",
        [
            [u.project_id, u.release, u.environment, u.distinct_id, adapt(u.seen), u.has_crashed]
            for u in _merged_users(users)
        ],
    )
