"""Release health queries: Sentry's sessions API and a release's `healthData`, read from the
counts that projects.health records (see its docstring for the counting rule)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Trunc

from projects.health import COUNTERS, hour_of
from projects.models import SessionAggregate, SessionUser

STATUSES = ("healthy", "errored", "crashed", "abnormal")
FIELDS = (
    "sum(session)",
    "count_unique(user)",
    "crash_free_rate(session)",
    "crash_free_rate(user)",
    "crash_rate(session)",
    "crash_rate(user)",
)
# What groupBy names select on: the stored columns (session.status is computed).
GROUP_COLUMNS = {"project": "project_id", "release": "release", "environment": "environment"}
Counts = dict[str, int]


@dataclass(frozen=True)
class SessionQuery:
    """A release health query: Sentry's sessions API parameters, parsed and aligned."""

    project_ids: list[int]
    start: datetime
    end: datetime
    step: timedelta
    fields: list[str]
    group_by: list[str]
    environments: list[str] = field(default_factory=list)
    releases: list[str] = field(default_factory=list)

    @property
    def intervals(self) -> list[datetime]:
        count = (self.end - self.start) // self.step
        return [self.start + index * self.step for index in range(count)]

    @property
    def columns(self) -> list[str]:
        return [GROUP_COLUMNS[name] for name in self.group_by if name in GROUP_COLUMNS]

    def index(self, moment: datetime) -> int:
        return (moment.astimezone(UTC) - self.start) // self.step

    def narrow(self, rows: QuerySet, moment: str) -> QuerySet:
        rows = rows.filter(
            project_id__in=self.project_ids,
            **{f"{moment}__gte": self.start, f"{moment}__lt": self.end},
        )
        if self.environments:
            rows = rows.filter(environment__in=self.environments)
        if self.releases:
            rows = rows.filter(release__in=self.releases)
        return rows


def _session_series(query: SessionQuery) -> dict[tuple, dict[str, list[int]]]:
    """Per group (of the stored columns), each counter per interval."""
    size = len(query.intervals)
    groups: dict[tuple, dict[str, list[int]]] = {}
    rows = (
        query.narrow(SessionAggregate.objects.all(), "hour")
        .values(*query.columns, "hour")
        .annotate(**{f"total_{name}": Sum(name) for name in COUNTERS})
    )
    for row in rows:
        key = tuple(row[column] for column in query.columns)
        series = groups.setdefault(key, {name: [0] * size for name in COUNTERS})
        for name in COUNTERS:
            series[name][query.index(row["hour"])] += row[f"total_{name}"]
    return groups


def _user_counts(query: SessionQuery, rows: QuerySet, *extra: str) -> list[dict[str, Any]]:
    """Distinct and crashed users of `rows`, per group (and `extra` columns)."""
    counts = {
        "users": Count("distinct_id", distinct=True),
        "crashed_users": Count("distinct_id", distinct=True, filter=Q(has_crashed=True)),
    }
    if not query.columns and not extra:
        return [rows.aggregate(**counts)]
    return list(rows.values(*query.columns, *extra).annotate(**counts))


def _user_series(query: SessionQuery) -> tuple[dict, dict[tuple, Counts]]:
    """Distinct users per group and interval (counted in the interval of their first
    session), and per group over the whole range."""
    size = len(query.intervals)
    users = query.narrow(SessionUser.objects.all(), "first_seen")
    kind = "day" if query.step >= timedelta(days=1) else "hour"
    series: dict[tuple, dict[str, list[int]]] = {}
    buckets = users.annotate(bucket=Trunc("first_seen", kind, tzinfo=UTC))
    for row in _user_counts(query, buckets, "bucket"):
        key = tuple(row[column] for column in query.columns)
        values = series.setdefault(key, {"users": [0] * size, "crashed_users": [0] * size})
        for name in ("users", "crashed_users"):
            values[name][query.index(row["bucket"])] += row[name]
    totals = {
        tuple(row[column] for column in query.columns): {
            "users": row["users"],
            "crashed_users": row["crashed_users"],
        }
        for row in _user_counts(query, users)
    }
    return series, totals


def _value(name: str, status: str | None, counts: Counts) -> int | float | None:
    kind = "user" if name.endswith("(user)") else "session"
    total = counts["users"] if kind == "user" else counts["started"]
    crashed = counts["crashed_users"] if kind == "user" else counts["crashed"]
    if name.startswith("crash_free_rate"):
        return None if not total else 1 - crashed / total
    if name.startswith("crash_rate"):
        return None if not total else crashed / total
    if status is None:
        return total
    if status == "healthy":
        unhealthy = crashed if kind == "user" else crashed + counts["errored"] + counts["abnormal"]
        return max(total - unhealthy, 0)
    if status == "crashed":
        return crashed
    # Errored and abnormal users are not tracked, only crashed ones.
    return 0 if kind == "user" else counts[status]


def _group(
    query: SessionQuery,
    by: dict[str, Any],
    status: str | None,
    series: dict[str, list[int]],
    totals: Counts,
) -> dict[str, Any]:
    size = len(query.intervals)
    points = [{name: values[index] for name, values in series.items()} for index in range(size)]
    if status is not None:
        by = {**by, "session.status": status}
    return {
        "by": by,
        "totals": {name: _value(name, status, totals) for name in query.fields},
        "series": {name: [_value(name, status, p) for p in points] for name in query.fields},
    }


def query_sessions(*, query: SessionQuery) -> list[dict[str, Any]]:
    """Sentry's sessions API groups: `by`, `totals` and `series` of each requested field."""
    sessions = _session_series(query)
    wants_users = any(name.endswith("(user)") for name in query.fields)
    users, user_totals = _user_series(query) if wants_users else ({}, {})
    keys = sorted(set(sessions) | set(users), key=str) or ([()] if not query.columns else [])
    statuses = STATUSES if "session.status" in query.group_by else (None,)
    zeros = [0] * len(query.intervals)
    groups = []
    for key in keys:
        series = {name: zeros for name in (*COUNTERS, "users", "crashed_users")}
        series.update(sessions.get(key, {}))
        series.update(users.get(key, {}))
        totals = {name: sum(values) for name, values in series.items()}
        # Users are distinct over the whole range, not a sum of the intervals' users.
        totals.update(user_totals.get(key, {"users": 0, "crashed_users": 0}))
        names = [name for name in query.group_by if name in GROUP_COLUMNS]
        by = {
            name: (str(value) if name == "project" else value)
            for name, value in zip(names, key, strict=True)
        }
        groups += [_group(query, by, status, series, totals) for status in statuses]
    return groups


def _percent(crashed: int, total: int) -> float | None:
    return None if not total else round(100 * (1 - crashed / total), 4)


def release_health(
    *, project_ids: Iterable[int], versions: Iterable[str], now: datetime
) -> dict[tuple[int, str], dict[str, Any]]:
    """Sentry's `healthData` per (project id, release version): sessions, users, crash-free
    percentages, all time and the last 24 hours. Two queries, whatever the number of pairs."""
    day_ago = now - timedelta(hours=24)
    where = {"project_id__in": list(project_ids), "release__in": list(versions)}
    sessions = (
        SessionAggregate.objects.filter(**where)
        .values("project_id", "release")
        .annotate(
            **{f"sessions_{name}": Sum(name) for name in ("started", "errored", "crashed")},
            started_24h=Sum("started", filter=Q(hour__gte=hour_of(day_ago))),
        )
    )
    users = (
        SessionUser.objects.filter(**where)
        .values("project_id", "release")
        .annotate(
            users=Count("distinct_id", distinct=True),
            crashed_users=Count("distinct_id", distinct=True, filter=Q(has_crashed=True)),
            users_24h=Count("distinct_id", distinct=True, filter=Q(first_seen__gte=day_ago)),
        )
    )
    health: dict[tuple[int, str], Counts] = {}
    for row in [*sessions, *users]:
        counts = health.setdefault((row["project_id"], row["release"]), {})
        counts.update({name: value or 0 for name, value in row.items()})
    return {key: _health_data(counts) for key, counts in health.items()}


def _health_data(counts: dict[str, Any]) -> dict[str, Any]:
    started, users = counts.get("sessions_started", 0), counts.get("users", 0)
    crashed = counts.get("sessions_crashed", 0)
    return {
        "hasHealthData": started > 0,
        "crashFreeSessions": _percent(crashed, started),
        "crashFreeUsers": _percent(counts.get("crashed_users", 0), users),
        "totalSessions": started,
        "totalSessions24h": counts.get("started_24h", 0),
        "sessionsCrashed": crashed,
        "sessionsErrored": counts.get("sessions_errored", 0),
        "totalUsers": users,
        "totalUsers24h": counts.get("users_24h", 0),
        # Not tracked: session durations, adoption against the project's other releases.
        "durationP50": None,
        "durationP90": None,
        "adoption": None,
        "sessionsAdoption": None,
    }


NO_HEALTH_DATA = _health_data({})
