"""Sentry's JSON shapes for an issue's tags and their values."""

from __future__ import annotations

from rest_framework import serializers

from groups.models import GroupTagValue
from groups.services import TagSummary

# Sentry's labels for its well-known tag keys (src/sentry/tagstore/base.py TAG_LABELS);
# others are title-cased.
_TAG_LABELS = {
    "exc_type": "Exception Type",
    "user": "User",
    "release": "Release",
    "dist": "Distribution",
    "os": "OS",
    "url": "URL",
    "server_name": "Server",
}


def tag_label(key: str) -> str:
    return _TAG_LABELS.get(key) or key.replace("_", " ").title()


class TagValueSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="value", read_only=True)
    count = serializers.IntegerField(source="times_seen", read_only=True)
    firstSeen = serializers.DateTimeField(source="first_seen", read_only=True)
    lastSeen = serializers.DateTimeField(source="last_seen", read_only=True)

    class Meta:
        model = GroupTagValue
        fields = ["key", "name", "value", "count", "firstSeen", "lastSeen"]


class TagSerializer(serializers.Serializer):
    """A tag key of an issue with its counts and top values (a services.TagSummary)."""

    key = serializers.CharField(read_only=True)
    name = serializers.SerializerMethodField()
    uniqueValues = serializers.IntegerField(source="unique_values", read_only=True)
    totalValues = serializers.IntegerField(source="total_values", read_only=True)
    topValues = TagValueSerializer(source="top_values", many=True, read_only=True)

    def get_name(self, summary: TagSummary) -> str:
        return tag_label(summary.key)
