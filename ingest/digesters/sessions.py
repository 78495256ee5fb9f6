"""Release health: `session` updates and `sessions` aggregates become hourly session counts.

Validation follows Relay (relay-event-schema `protocol/session.rs`, relay-server
`processing/sessions`): a session needs `attrs.release` (Relay drops it otherwise), a known
`status` and a `started` time; one that started more than SESSION_MAX_AGE ago, or stamped more
than SESSION_MAX_FUTURE ahead of its arrival, is dropped as Relay's `timestamp` reason does
(Relay defaults: `max_session_secs_in_past` 5 days, `max_secs_in_future` 60 s), after the
same clock-drift correction as events (the envelope's `sent_at`). Counts go to
the hour in which the session started, as Relay's metrics extraction does, so a session's start
and end land in the same bucket. The counting rule is in projects/health.py.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from groups import jsoncodec
from ingest.digesters import Outcomes, digests
from ingest.models import Outcome
from ingest.normalize import MINIMUM_CLOCK_DRIFT, parse_timestamp
from projects.health import SessionCounts, SessionUserSeen, hour_of, record_sessions

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


class InvalidSession(ValueError):
    """A session item that cannot be counted; `reason` is its outcome reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Parsed = tuple[list[SessionCounts], list[SessionUserSeen]]


def _text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidSession("invalid_session")
    return value.strip()[:limit]


def _attributes(payload: Any) -> tuple[str, str]:
    if not isinstance(payload, dict):
        raise InvalidSession("invalid_session")
    if not isinstance(payload.get("attrs"), dict):
        raise InvalidSession("missing_release")
    release = _text(payload["attrs"].get("release"), RELEASE_MAX_LENGTH)
    if not release:
        raise InvalidSession("missing_release")
    return release, _text(payload["attrs"].get("environment"), ENVIRONMENT_MAX_LENGTH)


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
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidSession("invalid_session")
    return value


def _terminal(status: str, errors: int) -> str | None:
    """The counter a session update ends in, or None for an update of a running session."""
    if status == "exited":
        return "errored" if errors > 0 else "exited"
    return None if status == "ok" else status


def parse_session(payload: Any, *, project_id: int, clock: Clock) -> Parsed:
    """One session update: its counts and, with a `did`, its user."""
    release, environment = _attributes(payload)
    status = payload.get("status", "ok")
    if status not in STATUSES:
        raise InvalidSession("invalid_session")
    started = _moment(payload.get("started"), clock)
    if payload.get("timestamp") is not None:
        _moment(payload["timestamp"], clock)
    init = payload.get("init", False)
    if not isinstance(init, bool):
        raise InvalidSession("invalid_session")
    counters: dict[str, int] = {"started": 1} if init else {}
    terminal = _terminal(status, _count(payload.get("errors")))
    if terminal is not None:
        counters[terminal] = 1
    where = {"project_id": project_id, "release": release, "environment": environment}
    counts = [SessionCounts(**where, hour=hour_of(started), **counters)]
    did = _text(payload.get("did"), DISTINCT_ID_MAX_LENGTH)
    users = [
        SessionUserSeen(**where, distinct_id=did, seen=started, has_crashed=terminal == "crashed")
    ]
    return counts, users if did else []


def parse_aggregates(payload: Any, *, project_id: int, clock: Clock) -> Parsed:
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
        counts.append(SessionCounts(**where, hour=hour_of(started), started=ended.total(), **ended))
        did = _text(entry.get("did"), DISTINCT_ID_MAX_LENGTH)
        if did:
            users.append(
                SessionUserSeen(
                    **where, distinct_id=did, seen=started, has_crashed=ended["crashed"] > 0
                )
            )
    return counts, users


_PARSERS = {"session": parse_session, "sessions": parse_aggregates}


@digests("session", "sessions")
def digest_sessions(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    outcomes: Outcomes = defaultdict(Counter)
    counts: list[SessionCounts] = []
    users: list[SessionUserSeen] = []
    for row in rows:
        try:
            payload = jsoncodec.loads(bytes(row.body))
            row_counts, row_users = _PARSERS[row.type](
                payload, project_id=row.project_id, clock=Clock.of(row)
            )
        except InvalidSession as exc:
            outcomes[row.project_id][("session", Outcome.INVALID, exc.reason)] += 1
            continue
        except (ValueError, RecursionError):
            outcomes[row.project_id][("session", Outcome.INVALID, "invalid_json")] += 1
            continue
        counts += row_counts
        users += row_users
        outcomes[row.project_id][("session", Outcome.ACCEPTED, "")] += 1
    record_sessions(counts=counts, users=users)
    return outcomes
