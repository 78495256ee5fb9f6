"""Sentry's JSON shapes for events: list items, and whole events with their entries."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from groups.entries import entries_of
from groups.grouping import GROUPING_CONFIG
from groups.models import Event, UserReport
from groups.serializers.attachments import UserReportSerializer
from groups.serializers.issues import release_of

JSON = dict[str, Any]

_USER_STRINGS = ("id", "email", "username", "ip_address")


def event_user(data: JSON) -> JSON | None:
    """The payload's user; sentry-cli reads id, e-mail, user name and IP as strings."""
    user = data.get("user")
    if not isinstance(user, dict) or not user:
        return None
    return {
        **user,
        **{
            name: str(user[name])
            for name in _USER_STRINGS
            if user.get(name) is not None and not isinstance(user[name], str)
        },
    }


class EventSerializer(serializers.ModelSerializer):
    """An event list item (Sentry's SimpleEventSerializer). No `project` key: sentry-cli
    reads one as a number."""

    id = serializers.SerializerMethodField()
    eventID = serializers.SerializerMethodField()
    groupID = serializers.CharField(source="group_id", read_only=True)
    projectID = serializers.CharField(source="project_id", read_only=True)
    location = serializers.SerializerMethodField()
    dateCreated = serializers.DateTimeField(source="timestamp", read_only=True)
    user = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    crashFile = serializers.JSONField(default=None, read_only=True)
    metadata = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id",
            "eventID",
            "groupID",
            "projectID",
            "title",
            "message",
            "platform",
            "culprit",
            "location",
            "dateCreated",
            "user",
            "tags",
            "crashFile",
            "metadata",
        ]

    def get_id(self, event: Event) -> str:
        return event.event_id.hex

    def get_eventID(self, event: Event) -> str:
        return event.event_id.hex

    def get_location(self, event: Event) -> str | None:
        return (event.data.get("metadata") or {}).get("filename")

    def get_user(self, event: Event) -> JSON | None:
        return event_user(event.data)

    def get_tags(self, event: Event) -> list[JSON]:
        return [{"key": key, "value": value} for key, value in event.tags]

    def get_metadata(self, event: Event) -> JSON | None:
        return event.data.get("metadata")

    def to_representation(self, event: Event) -> JSON:
        data = super().to_representation(event)
        data["event.type"] = event.type
        return data


class EventDetailSerializer(EventSerializer):
    """A whole event (Sentry's EventSerializer): entries built from the stored payload.

    nextEventID/previousEventID come from the context (the detail view looks them up).
    """

    dateReceived = serializers.DateTimeField(source="received", read_only=True)
    size = serializers.SerializerMethodField()
    entries = serializers.SerializerMethodField()
    contexts = serializers.SerializerMethodField()
    context = serializers.SerializerMethodField()
    sdk = serializers.SerializerMethodField()
    packages = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()
    dist = serializers.SerializerMethodField()
    release = serializers.SerializerMethodField()
    environment = serializers.SerializerMethodField()
    fingerprints = serializers.SerializerMethodField()
    groupingConfig = serializers.SerializerMethodField()
    userReport = serializers.SerializerMethodField()

    class Meta(EventSerializer.Meta):
        fields = [
            *EventSerializer.Meta.fields,
            "dateReceived",
            "size",
            "entries",
            "contexts",
            "context",
            "sdk",
            "packages",
            "errors",
            "dist",
            "release",
            "environment",
            "fingerprints",
            "groupingConfig",
            "userReport",
            "type",
        ]

    def get_userReport(self, event: Event) -> JSON | None:
        report = (
            UserReport.objects.filter(project_id=event.project_id, event_id=event.event_id)
            .order_by("-date_added")
            .first()
        )
        if report is None:
            return None
        return UserReportSerializer(report, context={"issues": {event.event_id: event.group}}).data

    def get_size(self, event: Event) -> int:
        return len(Event._meta.get_field("data").value_to_string(event))

    def get_entries(self, event: Event) -> list[JSON]:
        return entries_of(event.data)

    def get_contexts(self, event: Event) -> JSON:
        return event.data.get("contexts") or {}

    def get_context(self, event: Event) -> JSON:
        return event.data.get("extra") or {}

    def get_sdk(self, event: Event) -> JSON | None:
        return event.data.get("sdk")

    def get_packages(self, event: Event) -> JSON:
        return event.data.get("modules") or {}

    def get_errors(self, event: Event) -> list[JSON]:
        return [error for error in event.data.get("errors") or [] if isinstance(error, dict)]

    def get_dist(self, event: Event) -> str | None:
        return event.data.get("dist")

    def get_release(self, event: Event) -> JSON | None:
        return release_of(event.release)

    def get_environment(self, event: Event) -> str | None:
        return event.environment or None

    def get_fingerprints(self, event: Event) -> list[str]:
        return list(event.data.get("hashes") or [])

    def get_groupingConfig(self, event: Event) -> JSON:
        return {"id": GROUPING_CONFIG, "enhancements": None}

    def to_representation(self, event: Event) -> JSON:
        data = super().to_representation(event)
        if "adjacent" in self.context:
            previous, following = self.context["adjacent"]
            data["nextEventID"] = following
            data["previousEventID"] = previous
        data["_meta"] = {}
        return data
