"""JSON shapes of transactions summaries, spans and traces (camelCase, ids as strings)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from groups.models import Event, Span
from groups.serializers.apicalls import ApiCallSerializer
from groups.serializers.logs import LogRecordSerializer


class TransactionSummarySerializer(serializers.Serializer):
    """One transaction name (and hour, with `per=hour`) over the period."""

    transaction = serializers.CharField()
    hour = serializers.DateTimeField(required=False)
    count = serializers.IntegerField()
    failureCount = serializers.IntegerField(source="failed")
    failureRate = serializers.SerializerMethodField()
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)

    def get_failureRate(self, row: dict[str, Any]) -> float:
        return row["failed"] / row["count"] if row["count"] else 0.0


class SpanSerializer(serializers.ModelSerializer):
    """A span of a trace, with what a tree view needs."""

    projectID = serializers.CharField(source="project_id", read_only=True)
    traceId = serializers.CharField(source="trace_id", read_only=True)
    spanId = serializers.CharField(source="span_id", read_only=True)
    parentSpanId = serializers.SerializerMethodField()
    segmentId = serializers.SerializerMethodField()
    isSegment = serializers.BooleanField(source="is_segment", read_only=True)
    duration = serializers.FloatField(source="duration_ms", read_only=True)
    transactionEventId = serializers.SerializerMethodField()

    class Meta:
        model = Span
        fields = [
            "projectID",
            "traceId",
            "spanId",
            "parentSpanId",
            "segmentId",
            "isSegment",
            "name",
            "op",
            "status",
            "start",
            "end",
            "duration",
            "release",
            "environment",
            "transactionEventId",
            "attributes",
        ]

    def get_parentSpanId(self, span: Span) -> str | None:
        return span.parent_span_id or None

    def get_segmentId(self, span: Span) -> str | None:
        return span.segment_id or (span.span_id if span.is_segment else None)

    def get_transactionEventId(self, span: Span) -> str | None:
        event_id = span.transaction_event_id
        return event_id.hex if event_id else None


class TraceEventSerializer(serializers.ModelSerializer):
    """An error event of the trace: enough to link to its issue."""

    eventID = serializers.SerializerMethodField()
    groupID = serializers.CharField(source="group_id", read_only=True)
    projectID = serializers.CharField(source="project_id", read_only=True)

    class Meta:
        model = Event
        fields = ["eventID", "groupID", "projectID", "title", "level", "timestamp"]

    def get_eventID(self, event: Event) -> str:
        return event.event_id.hex


class TraceSerializer(serializers.Serializer):
    """A trace: its spans (oldest first), the error events, logs and API calls of the same
    trace."""

    traceId = serializers.CharField()
    spans = SpanSerializer(many=True, source="trace.spans")
    errors = TraceEventSerializer(many=True, source="trace.events")
    logs = LogRecordSerializer(many=True, source="trace.logs")
    apiCalls = ApiCallSerializer(many=True, source="trace.api_calls")
