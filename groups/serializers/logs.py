"""JSON shape of log records (camelCase, ids as strings)."""

from __future__ import annotations

from rest_framework import serializers

from groups.models import LogRecord


class LogRecordSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    projectID = serializers.CharField(source="project_id", read_only=True)
    severityNumber = serializers.IntegerField(source="severity_number", read_only=True)
    traceId = serializers.SerializerMethodField()
    spanId = serializers.SerializerMethodField()
    dateReceived = serializers.DateTimeField(source="received", read_only=True)

    class Meta:
        model = LogRecord
        fields = [
            "id",
            "projectID",
            "timestamp",
            "level",
            "severityNumber",
            "body",
            "traceId",
            "spanId",
            "release",
            "environment",
            "attributes",
            "dateReceived",
        ]

    def get_traceId(self, record: LogRecord) -> str | None:
        return record.trace_id or None

    def get_spanId(self, record: LogRecord) -> str | None:
        return record.span_id or None
