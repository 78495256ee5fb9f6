"""projects.health: session counts and users upserted in bulk, and release health data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.health import COUNT_MAX, SessionCounts, SessionUserSeen, record_sessions
from projects.health_queries import release_health
from projects.models import SessionAggregate, SessionUser
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db

HOUR = datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_counts_of_one_key_merge_and_add_to_stored_ones():
    project = ProjectFactory()
    where = {"project_id": project.pk, "release": "a@1", "environment": "prod", "hour": HOUR}
    record_sessions(counts=[SessionCounts(**where, started=1), SessionCounts(**where, crashed=1)])
    record_sessions(counts=[SessionCounts(**where, started=2, exited=2)])
    row = SessionAggregate.objects.get()
    assert (row.started, row.exited, row.crashed) == (3, 2, 1)


def test_rows_are_upserted_in_key_order_so_workers_lock_alike():
    project = ProjectFactory()
    where = {"project_id": project.pk, "environment": "prod", "hour": HOUR}
    counts = [
        SessionCounts(**where, release="b", started=1),
        SessionCounts(**{**where, "hour": HOUR - timedelta(hours=1)}, release="b", started=2),
        SessionCounts(**where, release="a", started=3),
    ]
    users = [
        SessionUserSeen(
            project_id=project.pk, release="a", environment="", distinct_id=name, seen=HOUR
        )
        for name in ("z", "m", "a")
    ]
    with CaptureQueriesContext(connection) as queries:
        record_sessions(counts=counts, users=users)
    inserts = [query["sql"] for query in queries.captured_queries if "INSERT" in query["sql"]]
    assert len(inserts) == 2, inserts
    assert inserts[0].index("'a'") < inserts[0].index("'b'"), inserts[0]
    assert inserts[1].index("'m'") < inserts[1].index("'z'"), inserts[1]
    assert SessionAggregate.objects.count() == 3


def test_counts_saturate_at_the_u32_maximum():
    project = ProjectFactory()
    where = {"project_id": project.pk, "release": "a@1", "environment": "", "hour": HOUR}
    record_sessions(counts=[SessionCounts(**where, exited=COUNT_MAX, started=1)])
    record_sessions(counts=[SessionCounts(**where, exited=COUNT_MAX, started=1)] * 2)
    row = SessionAggregate.objects.get()
    assert (row.exited, row.started) == (COUNT_MAX, 3)


def test_a_user_is_crashed_once_any_session_crashed_and_keeps_first_seen():
    project = ProjectFactory()
    where = {"project_id": project.pk, "release": "a@1", "environment": "", "distinct_id": "u"}
    record_sessions(counts=[], users=[SessionUserSeen(**where, seen=HOUR)])
    later = HOUR + timedelta(hours=1)
    record_sessions(counts=[], users=[SessionUserSeen(**where, seen=later, has_crashed=True)])
    record_sessions(counts=[], users=[SessionUserSeen(**where, seen=later)])
    user = SessionUser.objects.get()
    assert (user.first_seen, user.has_crashed) == (HOUR, True)


def test_batches_larger_than_one_statement_are_split():
    project = ProjectFactory()
    users = [
        SessionUserSeen(
            project_id=project.pk, release="a@1", environment="", distinct_id=f"u{n}", seen=HOUR
        )
        for n in range(6_000)
    ]
    record_sessions(counts=[], users=users)
    assert SessionUser.objects.count() == 6_000


def test_release_health_for_pairs_without_sessions_is_empty():
    project = ProjectFactory()
    assert release_health(project_ids=[project.pk], versions=["x"], now=HOUR) == {}
