"""Performance and log data: spans (transactions are their segment spans) and log records."""

from __future__ import annotations

from django.db import models

from groups.fields import BulkJSONField
from projects.models import Project


class Span(models.Model):
    """One span: a span v2 item, or a transaction event (its segment span) and its children.

    A transaction is the segment span (`is_segment`) of its trace's local root: what the
    per-transaction aggregates (count, failure rate, p50/p95 duration) are computed from.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    parent_span_id = models.CharField(max_length=16, blank=True)
    segment_id = models.CharField(max_length=16, blank=True)
    is_segment = models.BooleanField(default=False)
    # For a segment: the transaction name; for a child span: its description.
    name = models.CharField(max_length=200)
    op = models.CharField(max_length=64, blank=True)
    # Sentry's span status (`ok`, `internal_error`, …; span v2 sends `ok` or `error`).
    status = models.CharField(max_length=32, blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    duration_ms = models.FloatField()
    release = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    # The transaction event a span came in, when it came in one.
    transaction_event_id = models.UUIDField(null=True, blank=True)
    attributes = BulkJSONField(default=dict)
    received = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "trace_id", "span_id"], name="groups_span_unique"
            )
        ]
        indexes = [
            models.Index(fields=["project", "is_segment", "-start"], name="groups_span_segments"),
            models.Index(fields=["project", "name", "-start"], name="groups_span_name"),
            models.Index(fields=["trace_id"], name="groups_span_trace"),
            # Retention: pruning finds expired spans by when they arrived.
            models.Index(fields=["received"], name="groups_span_received"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.trace_id}/{self.span_id})"


class LogRecord(models.Model):
    """One log line sent by an SDK (`log` / `otel_log` items); kept for LOG_RETENTION_DAYS."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    timestamp = models.DateTimeField()
    # Sentry's levels: trace, debug, info, warn, error, fatal.
    level = models.CharField(max_length=16)
    severity_number = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.TextField()
    trace_id = models.CharField(max_length=32, blank=True)
    span_id = models.CharField(max_length=16, blank=True)
    release = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    attributes = BulkJSONField(default=dict)
    received = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["project", "-timestamp", "-id"], name="groups_log_project_time"),
            models.Index(fields=["trace_id"], name="groups_log_trace"),
            models.Index(fields=["received"], name="groups_log_received"),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.level} {self.body[:60]}"
