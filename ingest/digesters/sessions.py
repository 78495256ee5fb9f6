"""Release health: `session` updates and `sessions` aggregates become hourly session counts.

Validation follows Relay (relay-event-schema `protocol/session.rs`, relay-server
`processing/sessions`): a session needs `attrs.release` (Relay drops it otherwise), a known
`status` and a `started` time; one that started more than SESSION_MAX_AGE ago, or stamped more
than SESSION_MAX_FUTURE ahead of its arrival, is dropped as Relay's `timestamp` reason does
(Relay defaults: `max_session_secs_in_past` 5 days, `max_secs_in_future` 60 s), after the
same clock-drift correction as events (the envelope's `sent_at`). Counts go to
the hour in which the session started, as Relay's metrics extraction does, so a session's start
and end land in the same bucket.

Counting follows Relay's, by session id (`sid`): a session counts as errored once, the first
time an update carries errors > 0 or status `errored` (an `ok` update of a browser session
too, as those never send `exited`), and in one terminal counter once, so an SDK's retried
`exited` or `crashed` update is not counted twice; a session that crashes after erroring moves
from errored to crashed. What each sid was counted as is kept for the 5-day session horizon
(projects.models.SessionMark); the full rule is in projects/health.py. Payloads are read with
values.load_object (NaN, NUL and lone surrogates cleaned) and counts are capped at u32.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_OID, UUID, uuid5

from ingest.digesters import Outcomes, digests
from ingest.digesters.values import JSON, InvalidItem, load_object, string_field
from ingest.models import Outcome
from ingest.normalize import MINIMUM_CLOCK_DRIFT, parse_timestamp
from projects.health import (
    COUNT_MAX,
    SessionCounts,
    SessionMarkSeen,
    SessionUserSeen,
    hour_of,
    record_sessions,
    session_marks,
)

if TYPE_CHECKING:
    from ingest.models import QueuedItem
    from projects.models import Project

logger = logging.getLogger(__name__)

SESSION_MAX_AGE = timedelta(days=5)
SESSION_MAX_FUTURE = timedelta(seconds=60)
STATUSES = frozenset({"ok", "exited", "crashed", "abnormal", "errored"})
# Aggregate fields, and the counter each adds to (Relay's newer `unhandled` is an error).
AGGREGATE_FIELDS = {
    "exited": "exited",
    "errored": "errored",
    "unhandled": "errored",
    "crashed": "crashed",
    "abnormal": "abnormal",
}
RELEASE_MAX_LENGTH = 200
ENVIRONMENT_MAX_LENGTH = 64
DISTINCT_ID_MAX_LENGTH = 200


class InvalidSession(InvalidItem):
    """A session item that cannot be counted; `reason` is its outcome reason."""


Parsed = tuple[list[SessionCounts], list[SessionUserSeen]]
Marks = dict[tuple[int, UUID], SessionMarkSeen]


def _attributes(payload: Any) -> tuple[str, str]:
    if not isinstance(payload, dict):
        raise InvalidSession("invalid_session")
    if not isinstance(payload.get("attrs"), dict):
        raise InvalidSession("missing_release")
    release = string_field(
        payload["attrs"].get("release"), RELEASE_MAX_LENGTH, reason="invalid_session"
    )
    if not release:
        raise InvalidSession("missing_release")
    return release, string_field(
        payload["attrs"].get("environment"), ENVIRONMENT_MAX_LENGTH, reason="invalid_session"
    )


@dataclass(frozen=True)
class Clock:
    """When the item arrived, and how far the sender's clock is off (Relay's correction)."""

    received: datetime
    drift: timedelta = timedelta(0)

    @classmethod
    def of(cls, row: QueuedItem) -> Clock:
        sent_at = parse_timestamp((row.meta or {}).get("sent_at"))
        drift = row.received - sent_at if sent_at is not None else timedelta(0)
        return cls(row.received, drift if abs(drift) >= MINIMUM_CLOCK_DRIFT else timedelta(0))


def _moment(value: Any, clock: Clock) -> datetime:
    moment = parse_timestamp(value)
    if moment is None:
        raise InvalidSession("invalid_session")
    try:
        moment = moment.astimezone(UTC) + clock.drift
    except OverflowError:
        raise InvalidSession("timestamp") from None
    received = clock.received
    if moment < received - SESSION_MAX_AGE or moment > received + SESSION_MAX_FUTURE:
        raise InvalidSession("timestamp")
    return moment


def _count(value: Any) -> int:
    """A count, capped at Relay's u32 maximum."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidSession("invalid_session")
    return min(value, COUNT_MAX)


def session_id(payload: JSON) -> UUID | None:
    """The update's `sid`, or None when it has none (then it cannot be told apart) or it is
    not a string. Relay drops a `sid` that is not a UUID; here such a string still tells its
    session apart, by a UUID derived from it."""
    sid = payload.get("sid")
    if not isinstance(sid, str) or not sid:
        return None
    try:
        return UUID(sid)
    except ValueError:
        return uuid5(NAMESPACE_OID, sid)


def _counters(
    status: str, errors: int, mark: SessionMarkSeen
) -> tuple[dict[str, int], SessionMarkSeen]:
    """What this update adds, given what its session was counted as (the rule in
    projects/health.py), and the session's mark after it."""
    counters: dict[str, int] = {}
    if status in ("crashed", "abnormal"):
        if not mark.is_terminal:
            counters[status] = 1
            if mark.is_errored:
                counters["errored"] = -1
        return counters, replace(mark, is_terminal=True)
    ended = status == "exited"
    if status == "errored" or errors > 0:
        if not (mark.is_errored or mark.is_terminal):
            counters["errored"] = 1
        return counters, replace(mark, is_errored=True, is_terminal=mark.is_terminal or ended)
    if ended and not (mark.is_errored or mark.is_terminal):
        counters["exited"] = 1
    return counters, replace(mark, is_terminal=mark.is_terminal or ended)


def parse_session(payload: Any, *, project_id: int, clock: Clock, marks: Marks) -> Parsed:
    """One session update: its counts and, with a `did`, its user. `marks` (by project id
    and sid) is read and brought up to date."""
    release, environment = _attributes(payload)
    status = payload.get("status", "ok")
    if not isinstance(status, str) or status not in STATUSES:
        raise InvalidSession("invalid_session")
    started = _moment(payload.get("started"), clock)
    if payload.get("timestamp") is not None:
        _moment(payload["timestamp"], clock)
    init = payload.get("init", False)
    if not isinstance(init, bool):
        raise InvalidSession("invalid_session")
    sid = session_id(payload)
    if payload.get("sid") is not None and sid is None:
        raise InvalidSession("invalid_session")
    errors = _count(payload.get("errors"))
    did = string_field(payload.get("did"), DISTINCT_ID_MAX_LENGTH, reason="invalid_session")
    mark = marks.get((project_id, sid)) if sid is not None else None
    mark = mark or SessionMarkSeen(project_id, sid or UUID(int=0), started)
    counters, mark = _counters(status, errors, mark)
    if sid is not None:
        marks[mark.key] = mark
    if init:
        counters["started"] = 1
    where = {"project_id": project_id, "release": release, "environment": environment}
    counts = [SessionCounts(**where, hour=hour_of(started), **counters)]
    users = [
        SessionUserSeen(**where, distinct_id=did, seen=started, has_crashed=status == "crashed")
    ]
    return counts, users if did else []


def parse_aggregates(payload: Any, *, project_id: int, clock: Clock, marks: Marks) -> Parsed:
    """Server-mode aggregates: each entry's sessions started and ended in its `started` hour."""
    release, environment = _attributes(payload)
    entries = payload.get("aggregates")
    if not isinstance(entries, list) or not entries:
        raise InvalidSession("invalid_session")
    where = {"project_id": project_id, "release": release, "environment": environment}
    counts, users = [], []
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidSession("invalid_session")
        started = _moment(entry.get("started"), clock)
        ended: Counter[str] = Counter()
        for name, counter in AGGREGATE_FIELDS.items():
            ended[counter] += _count(entry.get(name))
        started_count = min(ended.total(), COUNT_MAX)
        counts.append(SessionCounts(**where, hour=hour_of(started), started=started_count, **ended))
        did = string_field(entry.get("did"), DISTINCT_ID_MAX_LENGTH, reason="invalid_session")
        if did:
            users.append(
                SessionUserSeen(
                    **where, distinct_id=did, seen=started, has_crashed=ended["crashed"] > 0
                )
            )
    return counts, users


_PARSERS = {"session": parse_session, "sessions": parse_aggregates}


def _loaded(rows: list[QueuedItem], outcomes: Outcomes) -> list[tuple[QueuedItem, JSON]]:
    """The rows whose payload is a JSON object, with it; the others are counted invalid."""
    loaded = []
    for row in rows:
        try:
            loaded.append((row, load_object(row, "invalid_session")))
        except InvalidItem as exc:
            outcomes[row.project_id][("session", Outcome.INVALID, exc.reason)] += 1
    return loaded


@digests("session", "sessions")
def digest_sessions(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    outcomes: Outcomes = defaultdict(Counter)
    loaded = _loaded(rows, outcomes)
    sids = {(row.project_id, session_id(payload)) for row, payload in loaded}
    marks = session_marks(keys={key for key in sids if key[1] is not None})
    known = dict(marks)
    counts: list[SessionCounts] = []
    users: list[SessionUserSeen] = []
    for row, payload in loaded:
        try:
            row_counts, row_users = _PARSERS[row.type](
                payload, project_id=row.project_id, clock=Clock.of(row), marks=marks
            )
        except InvalidItem as exc:
            outcomes[row.project_id][("session", Outcome.INVALID, exc.reason)] += 1
            continue
        counts += row_counts
        users += row_users
        outcomes[row.project_id][("session", Outcome.ACCEPTED, "")] += 1
    # A mark without flags says nothing that its absence does not: only flagged ones are kept.
    changed = [
        mark
        for key, mark in marks.items()
        if known.get(key) != mark and (mark.is_errored or mark.is_terminal)
    ]
    record_sessions(counts=counts, users=users, marks=changed)
    return outcomes
