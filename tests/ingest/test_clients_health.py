"""Release health and cron check-ins from real clients against Faultline under gunicorn:
sentry-sdk, @sentry/node, and the captured session/check-in requests replayed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid

import pytest
from django.utils import timezone

from ingest.digest import drain
from ingest.digesters.sessions import SESSION_MAX_AGE
from ingest.models import OutcomeCounter
from ingest.normalize import parse_timestamp
from projects import services as project_services
from projects.models import Monitor, MonitorCheckIn, SessionAggregate, SessionUser
from tests.ingest.test_clients import CLIENTS, CORPUS, send_captured

COUNTERS = ("started", "exited", "errored", "crashed", "abnormal")


@pytest.fixture
def key(faultline_server, organization):
    project = project_services.create_project(organization=organization, name="shop")
    return project.keys.get()


def run(command: list[str]) -> list[str]:
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def session_totals(release: str) -> dict[str, int]:
    rows = SessionAggregate.objects.filter(release=release)
    return {name: sum(getattr(row, name) for row in rows) for name in COUNTERS}


def test_sentry_python_sessions_and_checkins(faultline_server, key):
    [started] = run(
        [sys.executable, str(CLIENTS / "sentry_python_health.py"), faultline_server.dsn(key)]
    )
    drain()
    assert session_totals("shop@3.0.0") == {
        "started": 3,
        "exited": 1,
        "errored": 1,
        "crashed": 1,
        "abnormal": 0,
    }
    users = dict(SessionUser.objects.values_list("distinct_id", "has_crashed"))
    assert users == {"user-1": False, "user-2": False, "user-3": True}
    assert SessionAggregate.objects.get().environment == "production"

    nightly = Monitor.objects.get(slug="nightly-report")
    assert nightly.config["schedule"] == "0 3 * * *"
    assert nightly.config["timezone"] == "Europe/Vienna"
    assert nightly.status == "ok"
    assert nightly.next_checkin.astimezone(nightly.next_checkin.tzinfo).minute == 0
    row = nightly.checkins.get()
    assert (row.check_in_id, row.status, row.duration_ms) == (uuid.UUID(started), "ok", 2500.0)
    sync = Monitor.objects.get(slug="sync-stock")
    assert sync.config["schedule"] == [2, "hour"]
    assert list(sync.checkins.values_list("status", flat=True)) == ["ok"]
    invalid = OutcomeCounter.objects.filter(outcome="invalid", category__in=["session", "monitor"])
    assert not invalid.exists(), list(invalid.values())


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_sentry_node_session_and_checkin(faultline_server, key):
    node_dir = CLIENTS / "node"
    if not (node_dir / "node_modules" / "@sentry" / "node").exists():
        pytest.fail("run `make test` (npm ci in tests/ingest/clients/node) first")
    run(["node", str(node_dir / "send.mjs"), faultline_server.dsn(key)])
    drain()
    totals = session_totals("node-client@1.0.0")
    assert totals["started"] >= 1
    assert totals["exited"] >= 1
    monitor = Monitor.objects.get(slug="node-cleanup")
    assert monitor.config["schedule"] == "*/10 * * * *"
    row = monitor.checkins.get()
    assert (row.status, row.duration_ms) == ("ok", 1500.0)


@pytest.mark.parametrize(
    "case",
    [
        "sentry-python/session",
        "sentry-python/checkin",
        "sentry-javascript-node/session",
        "sentry-javascript-node/checkin",
        "sentry-javascript-node/feedback",
    ],
)
def test_captured_health_requests(faultline_server, key, case):
    requests = json.loads((CORPUS / f"{case}.json").read_text())["requests"]
    for request in requests:
        send_captured(faultline_server, key, request)
    drain()
    outcomes = {
        (row.category, row.outcome, row.reason): row.quantity
        for row in OutcomeCounter.objects.all()
    }
    if case.endswith("checkin"):
        assert outcomes[("monitor", "accepted", "")] == 1
        checkin = MonitorCheckIn.objects.get()
        assert (checkin.status, checkin.duration_ms, checkin.environment) == (
            "ok",
            1500.0,
            "acceptance",
        )
        assert Monitor.objects.get().config["schedule"] == "*/5 * * * *"
        return
    sessions = [
        (item["json"], bool(request["decoded"]["envelope_header"].get("sent_at")))
        for request in requests
        for item in request["decoded"]["items"]
        if item["headers"]["type"] == "session"
    ]
    # Captured on a day of their own: envelopes with `sent_at` are moved to the present by
    # the clock-drift correction; without it, a session started over 5 days ago is dropped
    # as Relay drops it, so the replay checks whichever answer the capture's age calls for.
    fresh = [
        item
        for item, has_sent_at in sessions
        if has_sent_at or parse_timestamp(item["started"]) > timezone.now() - SESSION_MAX_AGE
    ]
    assert outcomes.get(("session", "accepted", ""), 0) == len(fresh)
    assert outcomes.get(("session", "invalid", "timestamp"), 0) == len(sessions) - len(fresh)
    if fresh:
        assert {row.release for row in SessionAggregate.objects.all()} == {"acc-release@capture1"}
        assert session_totals("acc-release@capture1")["started"] == len(fresh)
