"""Cron monitors: schedules, check-in upserts, missed and timed-out runs (explicit `now`)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from projects.crons import (
    CheckIn,
    clean_config,
    detect_missed_checkins,
    detect_timeouts,
    next_scheduled,
    record_checkin,
)
from projects.exceptions import CheckInRejectedError
from projects.models import CheckInStatus, Monitor, MonitorCheckIn, MonitorStatus
from tests.projects.factories import MonitorCheckInFactory, MonitorFactory, ProjectFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 22, 10, 3, 20, tzinfo=UTC)
CRON = {"schedule": {"type": "crontab", "value": "*/5 * * * *"}, "checkin_margin": 2}


def checkin(project, status="ok", *, check_in_id=None, at=T0, config=CRON, **fields) -> CheckIn:
    return CheckIn(
        project_id=project.pk,
        monitor_slug="nightly",
        check_in_id=check_in_id or uuid.uuid4(),
        status=status,
        received=at,
        config=None if config is None else clean_config(config),
        **fields,
    )


@pytest.mark.parametrize(
    ("schedule", "timezone", "expected"),
    [
        ({"type": "crontab", "value": "*/5 * * * *"}, "UTC", "2026-11-22T10:05:00+00:00"),
        ({"type": "crontab", "value": "0 9 * * *"}, "Europe/Berlin", "2026-11-23T08:00:00+00:00"),
        ({"type": "interval", "value": 2, "unit": "hour"}, "UTC", "2026-11-22T12:03:20+00:00"),
        ({"type": "interval", "value": 3, "unit": "month"}, "UTC", "2027-02-22T10:03:20+00:00"),
        ({"type": "interval", "value": 1, "unit": "year"}, "UTC", "2027-11-22T10:03:20+00:00"),
    ],
)
def test_next_scheduled(schedule, timezone, expected):
    config = clean_config({"schedule": schedule, "timezone": timezone})
    assert next_scheduled(config, T0).isoformat() == expected


def test_interval_months_clamp_to_the_month_end():
    config = clean_config({"schedule": {"type": "interval", "value": 1, "unit": "month"}})
    assert next_scheduled(config, datetime(2027, 1, 31, tzinfo=UTC)).day == 28


@pytest.mark.parametrize(
    "config",
    [
        "*/5 * * * *",
        {"schedule": {"type": "crontab", "value": "every minute"}},
        {"schedule": {"type": "crontab", "value": 5}},
        {"schedule": {"type": "crontab", "value": "@fortnightly"}},
        {"schedule": {"type": "interval", "value": 0, "unit": "minute"}},
        {"schedule": {"type": "interval", "value": 5, "unit": "fortnight"}},
        {"schedule": {"type": "interval", "value": True, "unit": "day"}},
        {"schedule": {"type": "solar"}},
        {"schedule": {"type": "crontab", "value": "* * * * *"}, "timezone": "Mars/Olympus"},
        # Folders of the time zone database, not zones.
        {"schedule": {"type": "crontab", "value": "* * * * *"}, "timezone": "America"},
        {"schedule": {"type": "crontab", "value": "* * * * *"}, "timezone": "Etc"},
        {"schedule": {"type": "crontab", "value": "* * * * *"}, "checkin_margin": "5"},
        {"schedule": {"type": "crontab", "value": "* * * * *"}, "max_runtime": -1},
    ],
)
def test_bad_configs_are_rejected(config):
    with pytest.raises(CheckInRejectedError, match="monitor_invalid_config"):
        clean_config(config)


def test_first_checkin_creates_the_monitor_and_schedules_the_next():
    project = ProjectFactory()
    row = record_checkin(checkin=checkin(project, duration_ms=1500.0))
    monitor = Monitor.objects.get()
    assert (monitor.slug, monitor.status, monitor.last_checkin) == ("nightly", "ok", T0)
    assert monitor.config == {
        "schedule_type": "crontab",
        "schedule": "*/5 * * * *",
        "checkin_margin": 2,
        "max_runtime": None,
        "timezone": "UTC",
    }
    assert monitor.next_checkin == datetime(2026, 11, 22, 10, 5, tzinfo=UTC)
    assert monitor.next_checkin_latest == datetime(2026, 11, 22, 10, 7, tzinfo=UTC)
    assert (row.status, row.duration_ms, row.timeout_at) == ("ok", 1500.0, None)


def test_unknown_monitor_without_config_is_rejected():
    with pytest.raises(CheckInRejectedError, match="monitor_not_found"):
        record_checkin(checkin=checkin(ProjectFactory(), config=None))
    assert not Monitor.objects.exists()


def test_in_progress_then_ok_updates_one_row_and_a_new_config_replaces_the_old():
    project = ProjectFactory()
    check_in_id = uuid.uuid4()
    started = record_checkin(checkin=checkin(project, "in_progress", check_in_id=check_in_id))
    assert started.timeout_at == T0 + timedelta(minutes=30)
    assert Monitor.objects.get().status == MonitorStatus.NEW
    later = T0 + timedelta(minutes=3)
    new_config = {"schedule": {"type": "interval", "value": 1, "unit": "hour"}}
    record_checkin(
        checkin=checkin(project, "error", check_in_id=check_in_id, at=later, config=new_config)
    )
    row = MonitorCheckIn.objects.get()
    assert (row.status, row.duration_ms, row.date_updated) == ("error", 180_000.0, later)
    monitor = Monitor.objects.get()
    assert (monitor.status, monitor.config["schedule"]) == ("error", [1, "hour"])
    assert monitor.next_checkin == later + timedelta(hours=1)
    with pytest.raises(CheckInRejectedError, match="checkin_finished"):
        record_checkin(checkin=checkin(project, "ok", check_in_id=check_in_id, config=None))


def test_missed_checkins_one_row_per_detection_and_idempotent():
    monitor = MonitorFactory(
        next_checkin=T0, next_checkin_latest=T0 + timedelta(minutes=1), status="ok"
    )
    now = T0 + timedelta(hours=5, minutes=1)
    assert detect_missed_checkins(now=T0) == 0
    assert detect_missed_checkins(now=now) == 1
    assert detect_missed_checkins(now=now) == 0
    missed = MonitorCheckIn.objects.get()
    assert (missed.status, missed.expected_time, missed.date_added) == ("missed", T0, now)
    monitor.refresh_from_db()
    assert monitor.status == MonitorStatus.MISSED
    assert monitor.next_checkin == datetime(2026, 11, 22, 15, 5, tzinfo=UTC)
    assert monitor.next_checkin_latest == monitor.next_checkin + timedelta(minutes=1)


def test_inactive_monitors_are_not_missed():
    MonitorFactory(is_active=False, next_checkin=T0, next_checkin_latest=T0)
    assert detect_missed_checkins(now=T0 + timedelta(days=1)) == 0


def test_in_progress_past_max_runtime_times_out():
    running = MonitorCheckInFactory(
        status=CheckInStatus.IN_PROGRESS, timeout_at=T0, duration_ms=None
    )
    finished = MonitorCheckInFactory(
        monitor=running.monitor, timeout_at=T0, date_added=running.date_added - timedelta(hours=1)
    )
    assert detect_timeouts(now=T0) == 0
    assert detect_timeouts(now=T0 + timedelta(seconds=1)) == 1
    assert detect_timeouts(now=T0 + timedelta(seconds=1)) == 0
    running.refresh_from_db()
    finished.refresh_from_db()
    assert (running.status, finished.status) == ("timeout", "ok")
    assert Monitor.objects.get().status == MonitorStatus.TIMEOUT


def test_a_timeout_older_than_a_finished_run_leaves_the_monitor_alone():
    monitor = MonitorFactory(status=MonitorStatus.ERROR)
    running = MonitorCheckInFactory(
        monitor=monitor, status=CheckInStatus.IN_PROGRESS, timeout_at=T0, date_added=T0
    )
    MonitorCheckInFactory(
        monitor=monitor, status=CheckInStatus.ERROR, date_added=T0 + timedelta(minutes=5)
    )
    assert detect_timeouts(now=T0 + timedelta(minutes=10)) == 1
    running.refresh_from_db()
    monitor.refresh_from_db()
    assert (running.status, monitor.status) == (CheckInStatus.TIMEOUT, MonitorStatus.ERROR)


@pytest.mark.parametrize(
    ("alias", "crontab"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_crontab_aliases_become_sentrys_crontabs(alias, crontab):
    config = clean_config({"schedule": {"type": "crontab", "value": alias}})
    assert config["schedule"] == crontab
    assert next_scheduled(config, T0) > T0


@pytest.mark.django_db(transaction=True)
def test_workers_detecting_at_once_write_one_missed_checkin():
    MonitorFactory(next_checkin=T0, next_checkin_latest=T0)

    def detect(_: int) -> int:
        try:
            return detect_missed_checkins(now=T0 + timedelta(hours=1))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(detect, range(8)))
    assert sum(found) == 1
    assert MonitorCheckIn.objects.filter(status="missed").count() == 1


def test_checkins_of_a_disabled_monitor_are_rejected():
    monitor = MonitorFactory(slug="nightly", is_active=False)
    with pytest.raises(CheckInRejectedError, match="monitor_disabled"):
        record_checkin(checkin=checkin(monitor.project))
    assert not MonitorCheckIn.objects.exists()


def test_checkins_without_an_id_finish_the_latest_run_in_their_environment():
    project = ProjectFactory()
    nil = uuid.UUID(int=0)
    first = record_checkin(checkin=checkin(project, "in_progress", check_in_id=nil))
    second = record_checkin(
        checkin=checkin(project, "in_progress", check_in_id=nil, at=T0 + timedelta(minutes=1))
    )
    staging = record_checkin(
        checkin=checkin(project, "in_progress", check_in_id=nil, environment="staging")
    )
    assert len({first.check_in_id, second.check_in_id, staging.check_in_id, nil}) == 4

    done = record_checkin(
        checkin=checkin(project, "ok", check_in_id=nil, at=T0 + timedelta(minutes=2))
    )
    assert done.pk == second.pk
    done.refresh_from_db()
    assert (done.status, done.duration_ms) == (CheckInStatus.OK, 60_000)
    first.refresh_from_db()
    staging.refresh_from_db()
    assert first.status == staging.status == CheckInStatus.IN_PROGRESS

    failed = record_checkin(checkin=checkin(project, "error", check_in_id=nil))
    assert failed.pk == first.pk
    # Nothing left in progress in production: a finished check-in of its own.
    alone = record_checkin(checkin=checkin(project, "ok", check_in_id=nil))
    assert alone.pk not in (first.pk, second.pk, staging.pk)
    assert alone.check_in_id != nil
    assert alone.status == CheckInStatus.OK
    assert MonitorCheckIn.objects.count() == 4
