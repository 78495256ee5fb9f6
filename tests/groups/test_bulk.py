"""groups.bulk: multi-row INSERTs of prepared values, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from groups import bulk
from ingest.models import QueuedItem

pytestmark = pytest.mark.django_db

# Every column but the primary key, in the model's order (the order of _rows' values).
FIELDS = tuple(field.name for field in QueuedItem._meta.concrete_fields if not field.primary_key)


def _rows(project_id: int, count: int) -> list[tuple]:
    received = timezone.now()
    return [
        (project_id, None, "event", uuid.uuid4(), received, b"\x00\x01", {"n": n, "s": "é"}, n, "")
        for n in range(count)
    ]


def test_values_are_prepared_by_their_fields_and_read_back(project):
    rows = _rows(project.pk, 3)
    bulk.insert_values(QueuedItem, FIELDS, rows)
    stored = list(QueuedItem.objects.order_by("failures"))
    assert [item.meta for item in stored] == [
        {"n": 0, "s": "é"},
        {"n": 1, "s": "é"},
        {"n": 2, "s": "é"},
    ]
    assert [item.event_id for item in stored] == [row[3] for row in rows]
    assert bytes(stored[0].payload) == b"\x00\x01"
    assert stored[0].received == rows[0][4]


def test_rows_beyond_the_parameter_cap_take_several_statements(project, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_PARAMS_PER_STATEMENT", 2 * len(FIELDS))
    with CaptureQueriesContext(connection) as queries:
        bulk.insert_values(QueuedItem, FIELDS, _rows(project.pk, 5))
    inserts = [query for query in queries if query["sql"].startswith("INSERT")]
    assert len(inserts) == 3  # 2 + 2 + 1 rows, each statement counted by Django
    assert sorted(QueuedItem.objects.values_list("failures", flat=True)) == [0, 1, 2, 3, 4]


def test_rows_beyond_the_parameter_cap_are_all_written_when_nothing_logs_queries(
    project, monkeypatch
):
    # Without query logging, PostgreSQL takes the numbered-placeholder statements.
    monkeypatch.setattr(bulk, "MAX_PARAMS_PER_STATEMENT", 2 * len(FIELDS))
    assert not connection.queries_logged
    bulk.insert_values(QueuedItem, FIELDS, _rows(project.pk, 5))
    assert sorted(QueuedItem.objects.values_list("failures", flat=True)) == [0, 1, 2, 3, 4]


def test_model_instances_go_the_same_way(project):
    items = [
        QueuedItem(project=project, type="event", received=timezone.now(), payload=b"x", meta={})
        for _ in range(2)
    ]
    bulk.insert_rows(QueuedItem, FIELDS, items)
    assert QueuedItem.objects.filter(project=project).count() == 2


def test_nothing_to_insert_runs_nothing(project):
    with CaptureQueriesContext(connection) as queries:
        bulk.insert_values(QueuedItem, FIELDS, [])
    assert not queries.captured_queries
