"""Storing log records and forgetting them after LOG_RETENTION_DAYS."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings

from groups.models import LogRecord
from groups.services.spans import prune_rows


def store_logs(*, records: Sequence[LogRecord]) -> list[LogRecord]:
    """Insert the log records in bulk; returns them.

    Log records carry no id of their own, so an SDK's retry of a log envelope stores its
    records twice (sentry-python and @sentry/node do not resend envelopes the server
    answered).
    """
    LogRecord.objects.bulk_create(records, batch_size=500)
    return list(records)


def prune_logs(*, now: datetime, max_chunks: int | None = None) -> int:
    """Log records received more than LOG_RETENTION_DAYS ago are deleted."""
    cutoff = now - timedelta(days=settings.LOG_RETENTION_DAYS)
    return prune_rows(queryset=LogRecord.objects.filter(received__lt=cutoff), max_chunks=max_chunks)
