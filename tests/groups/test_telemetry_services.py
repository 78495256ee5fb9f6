"""groups.services spans and logs: idempotent storing and bounded retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from groups.models import LogRecord, Span
from groups.services.logs import prune_logs
from groups.services.spans import prune_rows, prune_spans, store_spans
from ingest.digest import run_maintenance
from tests.groups.factories import LogRecordFactory, SpanFactory
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_store_spans_skips_stored_and_repeated_spans():
    stored = SpanFactory()
    again = SpanFactory.build(
        project=stored.project, trace_id=stored.trace_id, span_id=stored.span_id
    )
    new = SpanFactory.build(project=stored.project, trace_id=stored.trace_id)
    twin = SpanFactory.build(project=stored.project, trace_id=new.trace_id, span_id=new.span_id)
    assert store_spans(spans=[again, new, twin]) == [new]
    assert Span.objects.count() == 2


def test_same_ids_in_another_project_are_other_spans():
    stored = SpanFactory()
    elsewhere = SpanFactory.build(
        project=ProjectFactory(), trace_id=stored.trace_id, span_id=stored.span_id
    )
    assert store_spans(spans=[elsewhere]) == [elsewhere]


def test_prune_spans_keeps_the_retention(settings):
    settings.SPAN_RETENTION_DAYS = 7
    now = timezone.now()
    kept = SpanFactory(received=now - timedelta(days=6))
    SpanFactory.create_batch(3, received=now - timedelta(days=8))
    assert prune_spans(now=now) == 3
    assert list(Span.objects.all()) == [kept]


def test_prune_logs_keeps_the_retention(settings):
    settings.LOG_RETENTION_DAYS = 1
    now = timezone.now()
    kept = LogRecordFactory(received=now - timedelta(hours=23))
    LogRecordFactory.create_batch(2, received=now - timedelta(hours=25))
    assert prune_logs(now=now) == 2
    assert list(LogRecord.objects.all()) == [kept]


def test_pruning_is_bounded_per_call():
    LogRecordFactory.create_batch(5)
    queryset = LogRecord.objects.all()
    assert prune_rows(queryset=queryset, chunk=2, max_chunks=2) == 4
    assert LogRecord.objects.count() == 1


def test_maintenance_prunes_spans_and_logs(settings):
    settings.SPAN_RETENTION_DAYS = settings.LOG_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    SpanFactory(received=old)
    LogRecordFactory(received=old)
    fresh = LogRecordFactory()
    run_maintenance()
    assert not Span.objects.exists()
    assert list(LogRecord.objects.all()) == [fresh]
