"""Release health: session counts per release, environment and hour, and distinct users.

Counting rule (Sentry's release health, as Relay extracts it from session updates, where a
session is told apart by its `sid` and errored is a set of session ids):
- `started` += 1 for an update with `init: true` (the session's first update);
- `errored` += 1 the first time a session is seen with errors > 0 or status `errored`, whatever
  its status: browser SDKs never end a session, they send `ok` updates with an error count;
- `crashed` or `abnormal` += 1 for the session's first update with that status; a session
  counted as errored before moves from `errored` to it (errored means neither crashed nor
  abnormal);
- `exited` += 1 for the first `exited` update of a session that never had errors;
- anything else (`ok` updates, an SDK's retried terminal update) counts nothing more.
What each session has been counted as is kept in SessionMark rows (unique per project and
`sid`) for the 5 days an update of it is accepted, then pruned by `prune_session_marks`;
updates without a `sid` and server-mode aggregates are counted as they come.
Each stored count saturates at Relay's u32 maximum (COUNT_MAX) instead of overflowing.
Healthy sessions are then `started - errored - crashed - abnormal`, crash-free sessions
`1 - crashed / started`. Users are distinct `did`s per release and environment, and a user is
crashed once any of their sessions crashed. Users are kept per release and environment, not
per hour: the sessions API counts a user in the interval of their first session there, and
tracks crashed users only (errored and abnormal users are not told apart from healthy ones).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import F
from django.db.models.functions import Greatest

from projects.models import SessionAggregate, SessionMark, SessionUser

COUNTERS = ("started", "exited", "errored", "crashed", "abnormal")
# Relay reads session counts as u32 (relay-event-schema `protocol/session.rs`); stored counts
# stop there rather than overflow the column.
COUNT_MAX = 2**32 - 1
# How long a session can still be updated (Relay's `max_session_secs_in_past`).
SESSION_HORIZON = timedelta(days=5)


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
            self,
            **{
                name: min(getattr(self, name) + getattr(other, name), COUNT_MAX)
                for name in COUNTERS
            },
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


@dataclass(frozen=True)
class SessionMarkSeen:
    """What one session (`sid`) has been counted as: errored, and in a terminal counter."""

    project_id: int
    sid: UUID
    started: datetime
    is_errored: bool = False
    is_terminal: bool = False

    @property
    def key(self) -> tuple[int, UUID]:
        return (self.project_id, self.sid)


def hour_of(moment: datetime) -> datetime:
    """The start of the hour `moment` falls in (the one helper for hourly buckets)."""
    return moment.replace(minute=0, second=0, microsecond=0)


_UPSERT = "INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT ({key}) DO UPDATE SET "
_COUNT_KEY = ("project_id", "release", "environment", "hour")
_USER_KEY = ("project_id", "release", "environment", "distinct_id")


# Bound on one statement's parameters: SQLite takes 32766, PostgreSQL 65535.
MAX_STATEMENT_PARAMETERS = 30_000


def _upsert(
    table: str, key: tuple[str, ...], columns: tuple[str, ...], updates: str, rows: list[list[Any]]
) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE SET updates (`{t}` names the table in `updates`);
    one statement per batch unless the batch is larger than a statement can carry."""
    if not rows:
        return
    # Rows in key order: two workers upserting overlapping keys then lock them in the same
    # order, and cannot deadlock on PostgreSQL.
    rows = sorted(rows, key=lambda row: row[: len(key)])
    quote = connection.ops.quote_name
    placeholders = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    per_statement = MAX_STATEMENT_PARAMETERS // len(rows[0])
    for first in range(0, len(rows), per_statement):
        chunk = rows[first : first + per_statement]
        sql = _UPSERT.format(
            table=quote(table),
            columns=", ".join(quote(name) for name in key + columns),
            values=", ".join([placeholders] * len(chunk)),
            key=", ".join(quote(name) for name in key),
        ) + updates.replace("{t}", quote(table))
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for row in chunk for value in row])


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


def _saturating_sum(name: str) -> str:
    least = "LEAST" if connection.vendor == "postgresql" else "MIN"
    return f"{name} = {least}({{t}}.{name} + excluded.{name}, {COUNT_MAX})"


def _record_counts(counts: Iterable[SessionCounts]) -> None:
    """Upsert the counts; an errored count below zero (sessions moved from errored to crashed
    or abnormal) is taken off the stored row afterwards, as a CHECK forbids inserting it."""
    adapt = connection.ops.adapt_datetimefield_value
    merged = _merged_counts(counts)
    _upsert(
        SessionAggregate._meta.db_table,
        _COUNT_KEY,
        COUNTERS,
        ", ".join(_saturating_sum(name) for name in COUNTERS),
        [
            [c.project_id, c.release, c.environment, adapt(c.hour)]
            + [max(getattr(c, name), 0) for name in COUNTERS]
            for c in merged
        ],
    )
    for c in sorted((c for c in merged if c.errored < 0), key=lambda c: c.key):
        SessionAggregate.objects.filter(
            project_id=c.project_id, release=c.release, environment=c.environment, hour=c.hour
        ).update(errored=Greatest(F("errored") + c.errored, 0))


def _record_marks(marks: Iterable[SessionMarkSeen]) -> None:
    prepare = SessionMark._meta.get_field("sid").get_db_prep_value
    adapt = connection.ops.adapt_datetimefield_value
    latest = {mark.key: mark for mark in marks}
    _upsert(
        SessionMark._meta.db_table,
        ("project_id", "sid"),
        ("started", "is_errored", "is_terminal"),
        "is_errored = ({t}.is_errored OR excluded.is_errored), "
        "is_terminal = ({t}.is_terminal OR excluded.is_terminal)",
        [
            [
                m.project_id,
                prepare(m.sid, connection),
                adapt(m.started),
                m.is_errored,
                m.is_terminal,
            ]
            for m in latest.values()
        ],
    )


def session_marks(*, keys: Iterable[tuple[int, UUID]]) -> dict[tuple[int, UUID], SessionMarkSeen]:
    """What the given sessions (project id, sid) have been counted as so far; one query."""
    keys = set(keys)
    if not keys:
        return {}
    rows = SessionMark.objects.filter(
        project_id__in={project_id for project_id, _ in keys}, sid__in={sid for _, sid in keys}
    )
    marks = {
        (row.project_id, row.sid): SessionMarkSeen(
            row.project_id, row.sid, row.started, row.is_errored, row.is_terminal
        )
        for row in rows
    }
    return {key: mark for key, mark in marks.items() if key in keys}


def prune_session_marks(*, now: datetime) -> int:
    """Marks of sessions started before the horizon (no update of them is counted any more)
    are deleted; returns how many."""
    return SessionMark.objects.filter(started__lt=now - SESSION_HORIZON).delete()[0]


def record_sessions(
    *,
    counts: Iterable[SessionCounts],
    users: Iterable[SessionUserSeen] = (),
    marks: Iterable[SessionMarkSeen] = (),
) -> None:
    """Add session counts and distinct users and keep the sessions' marks, one upsert
    statement for each table."""
    adapt = connection.ops.adapt_datetimefield_value
    _record_counts(counts)
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
    _record_marks(marks)
