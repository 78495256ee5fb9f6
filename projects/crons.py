"""Cron monitors: check-ins upsert their monitor, and maintenance finds missed and timed-out runs.

Mirrors Sentry's monitors consumer (src/sentry/monitors/consumers/monitor_consumer.py):
- a check-in for an unknown slug creates the monitor only when it carries `monitor_config`;
  otherwise it is dropped (`monitor_not_found`); a config given later replaces the stored one;
  a check-in of a monitor turned off (`is_active`, in the admin) is dropped (`monitor_disabled`);
- a check-in whose `check_in_id` exists updates that row while it is `in_progress` (its
  duration, status); a finished one is not changed again (`checkin_finished`);
- a check-in without an id (the nil UUID, as the HTTP check-in API sends when none is given)
  finishes the monitor's latest check-in in progress in its environment, as Sentry's
  `use_latest_checkin` does; when there is none, or when it is itself `in_progress`, it is a
  new check-in with an id of its own;
- every check-in moves the schedule on: `next_checkin` is the first scheduled moment after the
  check-in arrived, `next_checkin_latest` that plus `checkin_margin` minutes (default 1);
- an `in_progress` check-in times out `max_runtime` minutes (default 30) after it began; its
  monitor becomes `timeout` unless a newer check-in already finished (ok or error), as
  Sentry's `mark_checkin_timeout` checks for a newer result;
- crontab aliases (`@daily`, `@hourly`, …) are stored as the 5-field crontab Sentry maps them
  to (NONSTANDARD_CRONTAB_SCHEDULES in src/sentry/monitors/constants.py).
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from django.db import transaction
from django.db.models import Max

from projects.exceptions import CheckInRejectedError
from projects.models import CheckInStatus, Monitor, MonitorCheckIn, MonitorStatus

DEFAULT_CHECKIN_MARGIN_MINUTES = 1
DEFAULT_MAX_RUNTIME_MINUTES = 30
INTERVAL_UNITS = ("minute", "hour", "day", "week", "month", "year")
CHECKIN_STATUSES = (CheckInStatus.IN_PROGRESS, CheckInStatus.OK, CheckInStatus.ERROR)
NIL_CHECK_IN_ID = uuid.UUID(int=0)
# Sentry's monitor statuses after a finished check-in.
_MONITOR_STATUS = {CheckInStatus.OK: MonitorStatus.OK, CheckInStatus.ERROR: MonitorStatus.ERROR}
# Sentry's NONSTANDARD_CRONTAB_SCHEDULES (src/sentry/monitors/constants.py).
CRONTAB_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class CheckIn:
    """A validated check-in, as the SDK sent it (duration in milliseconds)."""

    project_id: int
    monitor_slug: str
    check_in_id: uuid.UUID
    status: str
    received: datetime
    duration_ms: float | None = None
    environment: str = ""
    release: str = ""
    trace_id: str = ""
    config: dict[str, Any] | None = None


def _minutes(config: dict[str, Any], name: str) -> int | None:
    value = config.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 40_320:
        raise CheckInRejectedError("monitor_invalid_config")
    return value


def _schedule(schedule: Any, timezone: str) -> tuple[str, str | list[Any]]:
    if not isinstance(schedule, dict):
        raise CheckInRejectedError("monitor_invalid_config")
    kind, value = schedule.get("type"), schedule.get("value")
    if kind == "crontab" and isinstance(value, str):
        value = CRONTAB_ALIASES.get(value.strip(), value)
        try:
            CronSim(value, datetime.now(ZoneInfo(timezone)))
        except CronSimError:
            raise CheckInRejectedError("monitor_invalid_config") from None
        return kind, value.strip()
    unit = schedule.get("unit")
    is_count = isinstance(value, int) and not isinstance(value, bool)
    if kind == "interval" and is_count and 0 < value <= 10_000 and unit in INTERVAL_UNITS:
        return kind, [value, unit]
    raise CheckInRejectedError("monitor_invalid_config")


def clean_config(config: Any) -> dict[str, Any]:
    """The SDK's `monitor_config` in Sentry's stored (and API) shape, or rejected."""
    if not isinstance(config, dict):
        raise CheckInRejectedError("monitor_invalid_config")
    timezone = config.get("timezone") or "UTC"
    try:
        ZoneInfo(timezone)
    # OSError: a name of the time zone database's folders ("America", "Etc") is opened as
    # a file and is a directory.
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise CheckInRejectedError("monitor_invalid_config") from None
    schedule_type, schedule = _schedule(config.get("schedule"), timezone)
    return {
        "schedule_type": schedule_type,
        "schedule": schedule,
        "checkin_margin": _minutes(config, "checkin_margin"),
        "max_runtime": _minutes(config, "max_runtime"),
        "timezone": timezone,
    }


def _add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def next_scheduled(config: dict[str, Any], after: datetime) -> datetime | None:
    """The first scheduled moment strictly after `after` (crontab in the monitor's zone,
    intervals counted from `after`, as Sentry's `get_next_expected_checkin` does)."""
    schedule = config.get("schedule")
    if config.get("schedule_type") == "crontab":
        local = after.astimezone(ZoneInfo(config.get("timezone") or "UTC"))
        return next(CronSim(schedule, local)).astimezone(UTC)
    if config.get("schedule_type") == "interval":
        count, unit = schedule
        if unit in ("month", "year"):
            return _add_months(after, count * (12 if unit == "year" else 1))
        return after + timedelta(**{f"{unit}s": count})
    return None


def _margin(config: dict[str, Any]) -> timedelta:
    margin = config.get("checkin_margin")
    return timedelta(minutes=DEFAULT_CHECKIN_MARGIN_MINUTES if margin is None else margin)


def _max_runtime(config: dict[str, Any]) -> timedelta:
    runtime = config.get("max_runtime")
    return timedelta(minutes=DEFAULT_MAX_RUNTIME_MINUTES if runtime is None else runtime)


def _schedule_after(monitor: Monitor, moment: datetime) -> None:
    try:
        monitor.next_checkin = next_scheduled(monitor.config, moment)
        monitor.next_checkin_latest = (
            monitor.next_checkin + _margin(monitor.config) if monitor.next_checkin else None
        )
    except (OverflowError, ValueError):
        # An interval that ends past the year 9999 (10,000 years, say): never expected.
        monitor.next_checkin = monitor.next_checkin_latest = None


def _monitor_for(checkin: CheckIn) -> Monitor:
    """The check-in's monitor, locked; created (or its config replaced) from `config`."""
    monitors = Monitor.objects.select_for_update()
    if checkin.config is None:
        monitor = monitors.filter(project_id=checkin.project_id, slug=checkin.monitor_slug).first()
        if monitor is None:
            raise CheckInRejectedError("monitor_not_found")
        return monitor
    monitor, created = monitors.get_or_create(
        project_id=checkin.project_id,
        slug=checkin.monitor_slug,
        defaults={"name": checkin.monitor_slug, "config": checkin.config},
    )
    if not created and monitor.config != checkin.config:
        monitor.config = checkin.config
        monitor.save(update_fields=["config"])
    return monitor


def _active_monitor_for(checkin: CheckIn) -> Monitor:
    monitor = _monitor_for(checkin)
    if not monitor.is_active:
        raise CheckInRejectedError("monitor_disabled")
    return monitor


def _finish(row: MonitorCheckIn, checkin: CheckIn) -> None:
    if row.status != CheckInStatus.IN_PROGRESS:
        raise CheckInRejectedError("checkin_finished")
    row.status = checkin.status
    row.duration_ms = checkin.duration_ms
    if row.duration_ms is None and checkin.status != CheckInStatus.IN_PROGRESS:
        row.duration_ms = (checkin.received - row.date_added).total_seconds() * 1000
    row.date_updated = checkin.received
    row.save(update_fields=["status", "duration_ms", "date_updated"])


def _new_row(monitor: Monitor, checkin: CheckIn) -> MonitorCheckIn:
    in_progress = checkin.status == CheckInStatus.IN_PROGRESS
    return MonitorCheckIn.objects.create(
        monitor=monitor,
        project_id=checkin.project_id,
        check_in_id=checkin.check_in_id,
        status=checkin.status,
        environment=checkin.environment,
        release=checkin.release,
        trace_id=checkin.trace_id,
        duration_ms=checkin.duration_ms,
        expected_time=monitor.next_checkin,
        timeout_at=checkin.received + _max_runtime(monitor.config) if in_progress else None,
        date_added=checkin.received,
        date_updated=checkin.received,
    )


def _existing_row(monitor: Monitor, checkin: CheckIn) -> MonitorCheckIn | None:
    rows = MonitorCheckIn.objects.filter(monitor=monitor)
    if checkin.check_in_id != NIL_CHECK_IN_ID:
        return rows.filter(check_in_id=checkin.check_in_id).first()
    if checkin.status == CheckInStatus.IN_PROGRESS:
        return None
    return (
        rows.filter(environment=checkin.environment, status=CheckInStatus.IN_PROGRESS)
        .order_by("-date_added", "-pk")
        .first()
    )


@transaction.atomic
def record_checkin(*, checkin: CheckIn) -> MonitorCheckIn:
    """Store one check-in and move its monitor's status and schedule on."""
    monitor = _active_monitor_for(checkin)
    row = _existing_row(monitor, checkin)
    if row is None:
        if checkin.check_in_id == NIL_CHECK_IN_ID:
            checkin = replace(checkin, check_in_id=uuid.uuid4())
        row = _new_row(monitor, checkin)
    else:
        _finish(row, checkin)
    monitor.status = _MONITOR_STATUS.get(checkin.status, monitor.status)
    monitor.last_checkin = max(monitor.last_checkin or checkin.received, checkin.received)
    _schedule_after(monitor, checkin.received)
    monitor.save(update_fields=["status", "last_checkin", "next_checkin", "next_checkin_latest"])
    return row


@transaction.atomic
def detect_missed_checkins(*, now: datetime) -> int:
    """Monitors whose check-in is overdue get one `missed` check-in and the next schedule.

    `now` is the moment up to which check-ins have been digested, not the wall clock: the
    caller passes min(now, received time of the oldest `check_in` item still queued), so a
    digest backlog never makes a check-in that arrived in time look missed.

    One missed row per detection, however long the silence: after an outage of a day a
    five-minute monitor shows one missed check-in (for the first moment missed), not 288.
    Rows locked by another worker are skipped (PostgreSQL); SQLite serializes writers.
    """
    overdue = Monitor.objects.select_for_update(skip_locked=True).filter(
        is_active=True, next_checkin_latest__lt=now
    )
    count = 0
    for monitor in overdue:
        MonitorCheckIn.objects.create(
            monitor=monitor,
            project_id=monitor.project_id,
            check_in_id=uuid.uuid4(),
            status=CheckInStatus.MISSED,
            expected_time=monitor.next_checkin,
            date_added=now,
            date_updated=now,
        )
        monitor.status = MonitorStatus.MISSED
        _schedule_after(monitor, now)
        monitor.save(update_fields=["status", "next_checkin", "next_checkin_latest"])
        count += 1
    return count


@transaction.atomic
def detect_timeouts(*, now: datetime) -> int:
    """In-progress check-ins past their `timeout_at` become `timeout`; so does a monitor,
    unless one of its check-ins newer than the timed-out one already finished."""
    expired = list(
        MonitorCheckIn.objects.select_for_update(skip_locked=True).filter(
            status=CheckInStatus.IN_PROGRESS, timeout_at__lt=now
        )
    )
    for row in expired:
        row.status = CheckInStatus.TIMEOUT
        row.date_updated = now
        row.duration_ms = None
    MonitorCheckIn.objects.bulk_update(expired, ["status", "date_updated", "duration_ms"])
    Monitor.objects.filter(pk__in=_without_newer_result(expired)).update(
        status=MonitorStatus.TIMEOUT
    )
    return len(expired)


def _without_newer_result(expired: list[MonitorCheckIn]) -> set[int]:
    """The monitors of `expired` check-ins whose latest finished check-in is not newer than
    their latest timed-out one."""
    timed_out: dict[int, datetime] = {}
    for row in expired:
        timed_out[row.monitor_id] = max(
            timed_out.get(row.monitor_id, row.date_added), row.date_added
        )
    finished = dict(
        MonitorCheckIn.objects.filter(
            monitor_id__in=timed_out, status__in=(CheckInStatus.OK, CheckInStatus.ERROR)
        )
        .values("monitor_id")
        .annotate(latest=Max("date_added"))
        .values_list("monitor_id", "latest")
    )
    return {
        monitor_id
        for monitor_id, moment in timed_out.items()
        if finished.get(monitor_id) is None or finished[monitor_id] <= moment
    }
