"""JSON shapes of API calls: list items, one call with its messages and errors, routes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from groups.models import ApiCall
from groups.serializers.events import EventSerializer

JSON = dict[str, Any]


def _message(message: JSON | None) -> JSON | None:
    if message is None:
        return None
    return {
        "headers": message.get("headers") or {},
        "body": message.get("body"),
        "transferEncoding": message.get("transfer_encoding") or "json",
        "truncated": bool(message.get("truncated")),
    }


class ApiCallSerializer(serializers.ModelSerializer):
    """An API call without its headers and bodies."""

    id = serializers.CharField(read_only=True)
    projectID = serializers.CharField(source="project_id", read_only=True)
    requestTime = serializers.DateTimeField(source="request_time", read_only=True)
    responseTime = serializers.DateTimeField(source="response_time", read_only=True)
    durationMs = serializers.FloatField(source="duration_ms", read_only=True)
    ipAddress = serializers.CharField(source="ip_address", read_only=True)
    userId = serializers.CharField(source="user_id", read_only=True)
    companyId = serializers.CharField(source="company_id", read_only=True)
    sessionToken = serializers.CharField(source="session_token", read_only=True)
    traceId = serializers.CharField(source="trace_id", read_only=True)
    transactionId = serializers.CharField(source="transaction_id", read_only=True)
    apiVersion = serializers.CharField(source="api_version", read_only=True)
    metadata = serializers.JSONField(read_only=True)

    class Meta:
        model = ApiCall
        fields = [
            "id",
            "projectID",
            "requestTime",
            "responseTime",
            "durationMs",
            "verb",
            "uri",
            "route",
            "status",
            "ipAddress",
            "userId",
            "companyId",
            "sessionToken",
            "traceId",
            "transactionId",
            "direction",
            "weight",
            "apiVersion",
            "tags",
            "metadata",
        ]


class ApiCallDetailSerializer(ApiCallSerializer):
    """One API call: its request and response (scrubbed, bodies capped) and the errors
    linked to it (passed in the context as `errors`)."""

    request = serializers.SerializerMethodField()
    response = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()

    class Meta(ApiCallSerializer.Meta):
        fields = [*ApiCallSerializer.Meta.fields, "request", "response", "errors"]

    def get_request(self, call: ApiCall) -> JSON | None:
        return _message(call.data.get("request"))

    def get_response(self, call: ApiCall) -> JSON | None:
        return _message(call.data.get("response"))

    @extend_schema_field(EventSerializer(many=True))
    def get_errors(self, call: ApiCall) -> list[JSON]:
        return EventSerializer(self.context.get("errors", []), many=True).data


class ApiCallRouteSerializer(serializers.Serializer):
    """Per route and verb: calls, failures (5xx or no response), their rate, p50 and p95."""

    route = serializers.CharField()
    verb = serializers.CharField()
    count = serializers.IntegerField()
    failed = serializers.IntegerField()
    errorRate = serializers.SerializerMethodField()
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)

    def get_errorRate(self, row: JSON) -> float:
        return row["failed"] / row["count"] if row["count"] else 0.0
