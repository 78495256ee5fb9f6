"""Sentry's JSON shapes for event attachments and user feedback."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from groups.models import Attachment, UserReport


class AttachmentSerializer(serializers.ModelSerializer):
    """Sentry's EventAttachmentSerializer."""

    id = serializers.CharField(read_only=True)
    event_id = serializers.SerializerMethodField()
    type = serializers.CharField(source="attachment_type")
    mimetype = serializers.SerializerMethodField()
    headers = serializers.SerializerMethodField()
    dateCreated = serializers.DateTimeField(source="date_added")

    class Meta:
        model = Attachment
        fields = [
            "id",
            "event_id",
            "type",
            "name",
            "mimetype",
            "dateCreated",
            "size",
            "headers",
            "sha1",
        ]

    def get_event_id(self, attachment: Attachment) -> str:
        return attachment.event_id.hex

    def get_mimetype(self, attachment: Attachment) -> str:
        return attachment.content_type or "application/octet-stream"

    def get_headers(self, attachment: Attachment) -> dict[str, str]:
        return {"Content-Type": self.get_mimetype(attachment)}


class UserReportSerializer(serializers.ModelSerializer):
    """Sentry's UserReportSerializer; `issue` is the issue of the event, once it is stored
    (context `issues`: {event_id: Group})."""

    id = serializers.CharField(read_only=True)
    eventID = serializers.SerializerMethodField()
    dateCreated = serializers.DateTimeField(source="date_added")
    event = serializers.SerializerMethodField()
    issue = serializers.SerializerMethodField()
    user = serializers.SerializerMethodField()

    class Meta:
        model = UserReport
        fields = [
            "id",
            "eventID",
            "name",
            "email",
            "comments",
            "dateCreated",
            "user",
            "event",
            "issue",
            "source",
            "url",
            "environment",
            "release",
        ]

    def get_eventID(self, report: UserReport) -> str | None:
        return report.event_id.hex if report.event_id else None

    def get_event(self, report: UserReport) -> dict[str, str] | None:
        if report.event_id is None:
            return None
        return {"id": report.event_id.hex, "eventID": report.event_id.hex}

    def get_issue(self, report: UserReport) -> dict[str, Any] | None:
        group = self.context.get("issues", {}).get(report.event_id)
        if group is None:
            return None
        return {"id": str(group.pk), "shortId": group.qualified_short_id, "title": group.title}

    def get_user(self, report: UserReport) -> None:
        return None


class UserReportCreateSerializer(serializers.Serializer):
    """`POST …/user-feedback/`: Sentry's body (event_id, name, email, comments)."""

    event_id = serializers.RegexField(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F-]{36})$")
    name = serializers.CharField(max_length=128, allow_blank=True, required=False, default="")
    email = serializers.EmailField(max_length=128, allow_blank=True, required=False, default="")
    comments = serializers.CharField(max_length=10_000)
