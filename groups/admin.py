"""Admin for issues and events, read mostly: operators look, the API and UI act."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from groups.models import Event, Group


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = [
        "short_id_display",
        "title",
        "project",
        "status",
        "substatus",
        "level",
        "times_seen",
        "user_count",
        "last_seen",
    ]
    list_filter = ["status", "substatus", "level", "project"]
    search_fields = ["title", "culprit"]
    list_select_related = ["project__organization"]
    date_hierarchy = "last_seen"
    readonly_fields = [
        "project",
        "short_id",
        "type",
        "metadata",
        "first_seen",
        "last_seen",
        "times_seen",
        "user_count",
        "first_release",
        "last_release",
        "resolved_at",
        "date_created",
    ]
    fields = [
        "project",
        "short_id",
        "title",
        "culprit",
        "type",
        "level",
        "status",
        "substatus",
        "metadata",
        "first_seen",
        "last_seen",
        "times_seen",
        "user_count",
        "first_release",
        "last_release",
        "resolved_at",
        "date_created",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Short id", ordering="short_id")
    def short_id_display(self, group: Group) -> str:
        return group.qualified_short_id


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "title", "project", "level", "release", "environment", "timestamp"]
    list_filter = ["level", "project", "environment"]
    search_fields = ["=event_id", "title"]
    list_select_related = ["project__organization"]
    date_hierarchy = "timestamp"
    exclude = ["data"]
    readonly_fields = [
        "project",
        "group",
        "event_id",
        "timestamp",
        "received",
        "level",
        "type",
        "platform",
        "release",
        "environment",
        "title",
        "message",
        "culprit",
        "user_key",
        "trace_id",
        "request_path",
        "tags",
        "payload",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Stored payload")
    def payload(self, event: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.data, indent=2)[:200_000])
