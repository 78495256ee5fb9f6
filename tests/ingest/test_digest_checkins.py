"""`check_in` items: stored as monitor check-ins; bad ones invalid without blocking the batch."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from ingest.digest import drain, run_maintenance
from ingest.envelope import parse_envelope
from ingest.models import OutcomeCounter, QueuedItem
from ingest.services import accept_envelope
from projects.models import Monitor, MonitorCheckIn
from tests.ingest.conftest import envelope_bytes
from tests.ingest.test_digest_sessions import send

pytestmark = pytest.mark.django_db

CONFIG = {
    "schedule": {"type": "crontab", "value": "*/5 * * * *"},
    "checkin_margin": 5,
    "max_runtime": 10,
    "timezone": "UTC",
}


def checkin(**fields) -> dict:
    return {
        "check_in_id": uuid.uuid4().hex,
        "monitor_slug": "Nightly Report",
        "status": "ok",
        "duration": 1.5,
        "environment": "acceptance",
        "release": "shop@1.0",
        "monitor_config": CONFIG,
        "contexts": {"trace": {"trace_id": "2e22ea8162cb4133a8fe33e3d865a6b0"}},
        **fields,
    }


def outcomes(key) -> dict[tuple[str, str], int]:
    return {
        (row.outcome, row.reason): row.quantity
        for row in OutcomeCounter.objects.filter(project_id=key.project_id, category="monitor")
    }


def test_a_checkin_creates_its_monitor(key):
    send(key, ("check_in", checkin()))
    monitor = Monitor.objects.get()
    assert (monitor.project_id, monitor.slug, monitor.status) == (
        key.project_id,
        "nightly-report",
        "ok",
    )
    row = MonitorCheckIn.objects.get()
    assert (row.status, row.duration_ms, row.environment, row.release, row.trace_id) == (
        "ok",
        1500.0,
        "acceptance",
        "shop@1.0",
        "2e22ea8162cb4133a8fe33e3d865a6b0",
    )
    assert outcomes(key) == {("accepted", ""): 1}


def test_a_retry_of_a_finished_checkin_is_stored_once(key):
    payload = checkin()
    send(key, ("check_in", payload))
    send(key, ("check_in", payload))
    assert MonitorCheckIn.objects.count() == 1
    assert outcomes(key) == {("accepted", ""): 1, ("invalid", "checkin_finished"): 1}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "invalid_json"),
        (b"[]", "invalid_checkin"),
        (checkin(status="finished"), "invalid_checkin"),
        (checkin(monitor_slug=""), "invalid_checkin"),
        (checkin(monitor_slug=7), "invalid_checkin"),
        (checkin(check_in_id="nope"), "invalid_checkin"),
        (checkin(duration="long"), "invalid_checkin"),
        (checkin(environment=["prod"]), "invalid_checkin"),
        (
            checkin(monitor_config={"schedule": {"type": "crontab", "value": "@often"}}),
            "monitor_invalid_config",
        ),
        (checkin(monitor_slug="never-seen", monitor_config=None), "monitor_not_found"),
        (checkin(monitor_config={**CONFIG, "timezone": "Europe/" * 100}), "monitor_invalid_config"),
        (checkin(monitor_config={**CONFIG, "timezone": ["UTC"]}), "monitor_invalid_config"),
        (checkin(monitor_config={**CONFIG, "timezone": "America"}), "monitor_invalid_config"),
        (checkin(check_in_id=12345), "invalid_checkin"),
        (b'{"monitor_slug": "x", "status": "ok", "duration": Infinity}', "invalid_checkin"),
    ],
)
def test_bad_checkins_are_invalid_and_the_rest_is_stored(key, payload, reason):
    # One check-in per envelope, as Relay allows: two envelopes, digested in one batch.
    for item in (payload, checkin()):
        body = envelope_bytes({}, [({"type": "check_in"}, item)])
        accept_envelope(key=key, envelope=parse_envelope(body), meta={})
    assert drain() == 2
    assert MonitorCheckIn.objects.count() == 1
    assert outcomes(key) == {("accepted", ""): 1, ("invalid", reason): 1}


def test_run_maintenance_marks_overdue_and_hung_runs(key):
    send(key, ("check_in", checkin(status="in_progress")))
    long_ago = timezone.now() - timedelta(hours=2)
    Monitor.objects.update(next_checkin=long_ago, next_checkin_latest=long_ago)
    MonitorCheckIn.objects.update(timeout_at=long_ago)
    run_maintenance()
    statuses = sorted(MonitorCheckIn.objects.values_list("status", flat=True))
    assert statuses == ["missed", "timeout"]
    monitor = Monitor.objects.get()
    assert monitor.status == "timeout"
    assert monitor.next_checkin_latest > timezone.now()


def test_maintenance_waits_for_check_ins_still_queued(key):
    send(key, ("check_in", checkin(status="in_progress")))
    long_ago = timezone.now() - timedelta(hours=2)
    Monitor.objects.update(next_checkin=long_ago, next_checkin_latest=long_ago)
    MonitorCheckIn.objects.update(timeout_at=long_ago)
    # The run's end arrived before the deadlines passed, and waits in the queue (a backlog):
    # the monitor is not judged past the oldest check-in still to be digested.
    envelope = parse_envelope(envelope_bytes({}, [({"type": "check_in"}, checkin())]))
    accept_envelope(key=key, envelope=envelope, meta={})
    QueuedItem.objects.update(received=long_ago - timedelta(minutes=1))
    run_maintenance()
    assert list(MonitorCheckIn.objects.values_list("status", flat=True)) == ["in_progress"]
    drain()
    run_maintenance()
    assert "missed" in set(MonitorCheckIn.objects.values_list("status", flat=True))


def test_nuls_and_lone_surrogates_are_cleaned_from_stored_text(key):
    payload = json.dumps(checkin(environment="ENV", release="REL")).encode()
    payload = payload.replace(b'"ENV"', b'"acc\\u0000eptance"').replace(b'"REL"', b'"shop\\ud800"')
    send(key, ("check_in", payload))
    row = MonitorCheckIn.objects.get()
    assert (row.environment, row.release) == ("acceptance", "shop\ufffd")
    assert outcomes(key) == {("accepted", ""): 1}
