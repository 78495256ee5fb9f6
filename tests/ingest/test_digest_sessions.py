"""`session` and `sessions` items: counted per release, environment and hour; bad ones invalid."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from ingest.digest import drain
from ingest.envelope import parse_envelope
from ingest.models import OutcomeCounter
from ingest.services import accept_envelope
from projects.health import COUNT_MAX, prune_session_marks
from projects.models import SessionAggregate, SessionMark, SessionUser
from tests.ingest.conftest import envelope_bytes

pytestmark = pytest.mark.django_db


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def send(key, *items: tuple[str, dict | bytes]) -> None:
    body = envelope_bytes({}, [({"type": item_type}, payload) for item_type, payload in items])
    accept_envelope(key=key, envelope=parse_envelope(body), meta={})
    drain()


def session(**fields) -> dict:
    now = iso(timezone.now())
    return {
        "sid": "0aed9cdc-462e-4ee8-a133-3134c1c0a654",
        "did": "user-1",
        "init": True,
        "started": now,
        "timestamp": now,
        "status": "ok",
        "errors": 0,
        "attrs": {"release": "shop@1.0", "environment": "production"},
        **fields,
    }


def outcomes(key) -> dict[tuple[str, str], int]:
    return {
        (row.outcome, row.reason): row.quantity
        for row in OutcomeCounter.objects.filter(project_id=key.project_id, category="session")
    }


def totals() -> dict[str, int]:
    row = SessionAggregate.objects.get()
    return {
        name: getattr(row, name) for name in ("started", "exited", "errored", "crashed", "abnormal")
    }


def test_a_session_counts_its_start_then_its_end(key):
    send(key, ("session", session()), ("session", session(init=False, status="exited")))
    send(key, ("session", session(sid=str(uuid.uuid4()), did="user-2", status="crashed")))
    assert totals() == {"started": 2, "exited": 1, "errored": 0, "crashed": 1, "abnormal": 0}
    row = SessionAggregate.objects.get()
    assert (row.release, row.environment) == ("shop@1.0", "production")
    assert row.hour == timezone.now().replace(minute=0, second=0, microsecond=0)
    users = dict(SessionUser.objects.values_list("distinct_id", "has_crashed"))
    assert users == {"user-1": False, "user-2": True}
    assert outcomes(key) == {("accepted", ""): 3}


@pytest.mark.parametrize(
    ("update", "counter"),
    [
        ({"status": "exited", "errors": 2}, "errored"),
        ({"status": "errored", "errors": 1}, "errored"),
        ({"status": "abnormal"}, "abnormal"),
        ({"status": "crashed"}, "crashed"),
        ({"status": "exited"}, "exited"),
    ],
)
def test_terminal_updates_count_once_each(key, update, counter):
    send(key, ("session", session(**update)))
    assert totals()[counter] == 1
    assert sum(totals().values()) == 2


def test_an_ok_update_after_the_start_counts_nothing(key):
    send(key, ("session", session(init=False, status="ok", errors=0)))
    assert sum(totals().values()) == 0


def test_a_browser_session_with_errors_is_errored_once(key):
    send(key, ("session", session()), ("session", session(init=False, errors=1)))
    send(
        key, ("session", session(init=False, errors=2)), ("session", session(init=False, errors=3))
    )
    assert totals() == {"started": 1, "exited": 0, "errored": 1, "crashed": 0, "abnormal": 0}


@pytest.mark.parametrize("status", ["exited", "crashed", "abnormal"])
def test_a_retried_terminal_update_counts_once(key, status):
    send(key, ("session", session(status=status)), ("session", session(init=False, status=status)))
    send(key, ("session", session(init=False, status=status)))
    assert totals()[status] == 1
    assert sum(totals().values()) == 2


def test_a_session_that_crashes_after_erroring_moves_from_errored_to_crashed(key):
    send(key, ("session", session(errors=1)))
    assert totals()["errored"] == 1
    send(key, ("session", session(init=False, status="crashed", errors=2)))
    assert totals() == {"started": 1, "exited": 0, "errored": 0, "crashed": 1, "abnormal": 0}


def test_an_invalid_update_leaves_its_session_unmarked(key):
    send(key, ("session", session(status="exited", did=["not", "text"])))
    send(key, ("session", session(status="exited")))
    assert totals()["exited"] == 1
    assert outcomes(key) == {("accepted", ""): 1, ("invalid", "invalid_session"): 1}


def test_sessions_without_a_sid_are_counted_as_they_come(key):
    payload = {name: value for name, value in session(status="exited").items() if name != "sid"}
    send(key, ("session", payload), ("session", payload))
    assert totals()["exited"] == 2
    assert not SessionMark.objects.exists()


def test_marks_are_kept_per_sid_and_pruned_after_the_horizon(key):
    send(key, ("session", session(errors=1)))
    mark = SessionMark.objects.get()
    assert (str(mark.sid), mark.is_errored, mark.is_terminal) == (session()["sid"], True, False)
    assert prune_session_marks(now=timezone.now() + timedelta(days=4)) == 0
    assert prune_session_marks(now=timezone.now() + timedelta(days=5, minutes=1)) == 1


def test_strings_postgresql_cannot_store_are_cleaned(key):
    body = envelope_bytes(
        {},
        [
            (
                {"type": "session"},
                session(did="u\ud800", attrs={"release": "a\u0000b\ud800", "environment": "p"}),
            )
        ],
    )
    accept_envelope(key=key, envelope=parse_envelope(body), meta={})
    drain()
    assert SessionAggregate.objects.get().release == "ab\ufffd"
    assert SessionUser.objects.get().distinct_id == "u\ufffd"
    assert outcomes(key) == {("accepted", ""): 1}


def test_huge_aggregate_counts_are_capped_and_saturate(key):
    started = iso(timezone.now())
    payload = {"aggregates": [{"started": started, "exited": 2**63}], "attrs": {"release": "a"}}
    send(key, ("sessions", payload), ("sessions", payload))
    send(key, ("sessions", payload))
    assert totals()["exited"] == COUNT_MAX
    assert totals()["started"] == COUNT_MAX
    assert outcomes(key) == {("accepted", ""): 3}


def test_aggregates_count_every_ended_session_as_started(key):
    started = iso(timezone.now() - timedelta(hours=2))
    payload = {
        "aggregates": [
            {"started": started, "exited": 5, "errored": 2, "crashed": 1},
            {"started": started, "did": "u1", "abnormal": 1, "crashed": 1},
        ],
        "attrs": {"release": "api@2", "environment": "staging"},
    }
    send(key, ("sessions", payload))
    assert totals() == {"started": 10, "exited": 5, "errored": 2, "crashed": 2, "abnormal": 1}
    assert SessionUser.objects.get().has_crashed
    assert outcomes(key) == {("accepted", ""): 1}


@pytest.mark.parametrize(
    ("item_type", "payload", "reason"),
    [
        ("session", b"{not json", "invalid_json"),
        ("session", [1, 2], "invalid_session"),
        ("session", {"attrs": {"environment": "production"}}, "missing_release"),
        ("session", {"sid": "x", "status": "exited"}, "missing_release"),
        ("session", {"status": "weird"}, "invalid_session"),
        ("session", {"status": [], "attrs": {"release": "1"}}, "invalid_session"),
        ("session", {"status": {}}, "invalid_session"),
        ("session", {"started": "yesterday-ish"}, "invalid_session"),
        ("session", {"errors": "many", "status": "exited"}, "invalid_session"),
        ("session", {"init": "yes"}, "invalid_session"),
        ("session", {"attrs": {"release": 42}}, "invalid_session"),
        ("session", {"started": "2020-01-01T00:00:00Z"}, "timestamp"),
        ("session", {"timestamp": "2999-01-01T00:00:00Z"}, "timestamp"),
        ("sessions", {"aggregates": "x", "attrs": {"release": "a"}}, "invalid_session"),
        (
            "sessions",
            {"aggregates": [{"started": "x"}], "attrs": {"release": "a"}},
            "invalid_session",
        ),
        (
            "sessions",
            {"aggregates": [{"exited": -1}], "attrs": {"release": "a"}},
            "invalid_session",
        ),
        ("sessions", {"aggregates": [{"started": 1}]}, "missing_release"),
    ],
)
def test_bad_items_are_invalid_and_the_rest_is_stored(key, item_type, payload, reason):
    if isinstance(payload, dict) and item_type == "session":
        base = session()
        if "attrs" not in payload and "sid" not in payload:
            payload = {**base, **payload}
        elif "sid" in payload:
            payload = {key_: value for key_, value in base.items() if key_ != "attrs"}
    send(key, (item_type, payload), ("session", session()))
    assert totals()["started"] == 1
    assert outcomes(key) == {("accepted", ""): 1, ("invalid", reason): 1}


@pytest.mark.parametrize("sid", [7, ["a"], ""])
def test_a_sid_that_is_not_a_string_is_invalid(key, sid):
    send(key, ("session", session(sid=sid)), ("session", session()))
    assert outcomes(key) == {("accepted", ""): 1, ("invalid", "invalid_session"): 1}


def test_a_sid_that_is_not_a_uuid_still_tells_its_session_apart(key):
    send(key, ("session", session(sid="a", status="exited")))
    send(key, ("session", session(sid="a", init=False, status="exited")))
    send(key, ("session", session(sid="b", status="exited")))
    assert totals()["exited"] == 2
    assert outcomes(key) == {("accepted", ""): 3}


def test_a_drifting_clock_is_corrected_by_sent_at(key):
    skewed = timezone.now() - timedelta(days=10)
    body = envelope_bytes(
        {"sent_at": iso(skewed)},
        [({"type": "session"}, session(started=iso(skewed), timestamp=iso(skewed)))],
    )
    accept_envelope(key=key, envelope=parse_envelope(body), meta={})
    drain()
    row = SessionAggregate.objects.get()
    assert timezone.now() - row.hour < timedelta(hours=1, minutes=1)
    assert outcomes(key) == {("accepted", ""): 1}
