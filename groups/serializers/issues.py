"""Sentry's JSON shapes for issues, and the input of issue updates (bulk or single)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from rest_framework import serializers

from groups.models import Group, GroupStatus, Level
from groups.services import StatusChange

JSON = dict[str, Any]

_DATETIME = serializers.DateTimeField()
# Sentry's priority of a new issue follows its level (src/sentry/issues/priority.py).
_PRIORITY = {Level.FATAL: "high", Level.ERROR: "high", Level.WARNING: "medium"}


def iso(moment: datetime | None) -> str | None:
    return _DATETIME.to_representation(moment) if moment is not None else None


def release_of(version: str) -> JSON | None:
    # Only the version: no Release rows are looked up for issues and events.
    return {"version": version} if version else None


def ignore_details(*, count: int | None, until: datetime | None) -> JSON:
    """statusDetails of an ignored issue, with Sentry's keys (unsupported ones null)."""
    if count is None and until is None:
        return {}
    return {
        "ignoreCount": count,
        "ignoreUntil": iso(until),
        "ignoreUserCount": None,
        "ignoreUserWindow": None,
        "ignoreWindow": None,
        "actor": None,
    }


def status_details(group: Group) -> JSON:
    if group.status == GroupStatus.RESOLVED:
        return {"inNextRelease": True} if group.resolved_in_next_release else {}
    if group.status == GroupStatus.IGNORED:
        remaining = None
        if group.ignore_count is not None:
            # Sentry shows how many more events end the ignore, not the original count.
            seen_since = group.times_seen - (group.ignore_times_seen or 0)
            remaining = max(group.ignore_count - seen_since, 0)
        return ignore_details(count=remaining, until=group.ignore_until)
    return {}


class IssueSerializer(serializers.ModelSerializer):
    """An issue as Sentry's GroupSerializer shows it; `stats` when the context has them."""

    id = serializers.CharField(read_only=True)
    shortId = serializers.CharField(source="qualified_short_id", read_only=True)
    permalink = serializers.SerializerMethodField()
    logger = serializers.SerializerMethodField()
    statusDetails = serializers.SerializerMethodField()
    substatus = serializers.SerializerMethodField()
    isPublic = serializers.BooleanField(default=False, read_only=True)
    project = serializers.SerializerMethodField()
    numComments = serializers.IntegerField(default=0, read_only=True)
    assignedTo = serializers.JSONField(default=None, read_only=True)
    isBookmarked = serializers.BooleanField(default=False, read_only=True)
    isSubscribed = serializers.BooleanField(default=False, read_only=True)
    hasSeen = serializers.BooleanField(default=False, read_only=True)
    annotations = serializers.ListField(default=list, read_only=True)
    issueType = serializers.CharField(default="error", read_only=True)
    issueCategory = serializers.CharField(default="error", read_only=True)
    priority = serializers.SerializerMethodField()
    shareId = serializers.JSONField(default=None, read_only=True)
    count = serializers.CharField(source="times_seen", read_only=True)
    userCount = serializers.IntegerField(source="user_count", read_only=True)
    firstSeen = serializers.DateTimeField(source="first_seen", read_only=True)
    lastSeen = serializers.DateTimeField(source="last_seen", read_only=True)
    firstRelease = serializers.SerializerMethodField()
    lastRelease = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = [
            "id",
            "shortId",
            "title",
            "culprit",
            "permalink",
            "logger",
            "level",
            "status",
            "statusDetails",
            "substatus",
            "isPublic",
            "platform",
            "type",
            "project",
            "metadata",
            "numComments",
            "assignedTo",
            "isBookmarked",
            "isSubscribed",
            "hasSeen",
            "annotations",
            "issueType",
            "issueCategory",
            "priority",
            "shareId",
            "count",
            "userCount",
            "firstSeen",
            "lastSeen",
            "firstRelease",
            "lastRelease",
        ]

    def get_permalink(self, group: Group) -> str:
        organization = group.project.organization.slug
        return f"{settings.FAULTLINE_BASE_URL}/organizations/{organization}/issues/{group.pk}/"

    def get_logger(self, group: Group) -> str | None:
        return group.logger or None

    def get_statusDetails(self, group: Group) -> JSON:
        return status_details(group)

    def get_substatus(self, group: Group) -> str | None:
        # Sentry's resolved issues have no substatus.
        return None if group.status == GroupStatus.RESOLVED else group.substatus

    def get_project(self, group: Group) -> JSON:
        project = group.project
        return {
            "id": str(project.pk),
            "name": project.name,
            "slug": project.slug,
            "platform": project.platform or None,
        }

    def get_priority(self, group: Group) -> str:
        return _PRIORITY.get(group.level, "low")

    def get_firstRelease(self, group: Group) -> JSON | None:
        return release_of(group.first_release)

    def get_lastRelease(self, group: Group) -> JSON | None:
        return release_of(group.last_release)

    def to_representation(self, group: Group) -> JSON:
        data = super().to_representation(group)
        stats = self.context.get("stats")
        if stats is not None:
            data["stats"] = stats[group.pk]
        return data


class IssueDetailSerializer(IssueSerializer):
    """The issue page's extra fields, empty where Faultline has no such thing."""

    activity = serializers.ListField(default=list, read_only=True)
    seenBy = serializers.ListField(default=list, read_only=True)
    participants = serializers.ListField(default=list, read_only=True)
    pluginActions = serializers.ListField(default=list, read_only=True)
    pluginIssues = serializers.ListField(default=list, read_only=True)
    pluginContexts = serializers.ListField(default=list, read_only=True)
    userReportCount = serializers.IntegerField(default=0, read_only=True)

    class Meta(IssueSerializer.Meta):
        fields = [
            *IssueSerializer.Meta.fields,
            "activity",
            "seenBy",
            "participants",
            "pluginActions",
            "pluginIssues",
            "pluginContexts",
            "userReportCount",
        ]


class ShortIdSerializer(serializers.ModelSerializer):
    """A short id resolved to its issue (Sentry's ShortIdLookupEndpoint)."""

    organizationSlug = serializers.CharField(source="project.organization.slug", read_only=True)
    projectSlug = serializers.CharField(source="project.slug", read_only=True)
    groupId = serializers.CharField(source="pk", read_only=True)
    shortId = serializers.CharField(source="qualified_short_id", read_only=True)
    group = IssueSerializer(source="*", read_only=True)

    class Meta:
        model = Group
        fields = ["organizationSlug", "projectSlug", "groupId", "shortId", "group"]


# --- Issue updates ----------------------------------------------------------------------

_UNSUPPORTED = {
    "inRelease": "Resolving in a given release is not supported; use inNextRelease.",
    "inCommit": "Resolving in a commit is not supported.",
    "ignoreWindow": "Ignoring until a count within a time window is not supported.",
    "ignoreUserCount": "Ignoring until a number of users is not supported.",
    "ignoreUserWindow": "Ignoring until a number of users is not supported.",
}


# Limits that keep dates and counters representable (a century of minutes; a database integer).
MAX_MINUTES = 100 * 366 * 24 * 60
MAX_COUNT = 2**62


def _optional_int(max_value: int = MAX_COUNT) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=max_value
    )


class StatusDetailsInputSerializer(serializers.Serializer):
    inNextRelease = serializers.BooleanField(required=False, allow_null=True)
    inRelease = serializers.CharField(required=False, allow_null=True)
    inCommit = serializers.JSONField(required=False, allow_null=True)
    ignoreDuration = _optional_int(MAX_MINUTES)
    ignoreCount = _optional_int()
    ignoreUntil = serializers.DateTimeField(required=False, allow_null=True)
    ignoreWindow = _optional_int(MAX_MINUTES)
    ignoreUserCount = _optional_int()
    ignoreUserWindow = _optional_int(MAX_MINUTES)

    def validate(self, attrs: JSON) -> JSON:
        errors = {name: [_UNSUPPORTED[name]] for name in _UNSUPPORTED if attrs.get(name)}
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class IssueUpdateSerializer(StatusDetailsInputSerializer):
    """A bulk or single issue update (Sentry's GroupValidator). Explicit nulls mean "not
    given": sentry-cli sends `{"status": "resolved", "snoozeDuration": null}`."""

    # `muted` is the old name of `ignored`, still sent by sentry-cli's `issues mute`.
    status = serializers.ChoiceField(
        choices=["resolved", "resolvedInNextRelease", "unresolved", "ignored", "muted"],
        required=False,
        allow_null=True,
    )
    statusDetails = StatusDetailsInputSerializer(required=False, allow_null=True)
    # Older spelling of ignoreDuration (sentry-cli's `issues mute`).
    snoozeDuration = _optional_int(MAX_MINUTES)
    merge = serializers.BooleanField(required=False, allow_null=True)
    hasSeen = serializers.BooleanField(required=False, allow_null=True)
    isBookmarked = serializers.BooleanField(required=False, allow_null=True)
    isSubscribed = serializers.BooleanField(required=False, allow_null=True)
    isPublic = serializers.BooleanField(required=False, allow_null=True)
    assignedTo = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    def validate_assignedTo(self, value: str | None) -> str | None:
        if value:
            raise serializers.ValidationError("Assigning issues is not supported.")
        return value

    def validate_isPublic(self, value: bool | None) -> bool | None:
        if value:
            raise serializers.ValidationError("Sharing issues publicly is not supported.")
        return value

    def _details(self) -> JSON:
        # Like Sentry, the details come from `statusDetails`, else from the top level.
        details = self.validated_data.get("statusDetails")
        return details if details is not None else self.validated_data

    def status_change(self, *, now: datetime) -> StatusChange | None:
        status = self.validated_data.get("status")
        details = self._details()
        if status is None:
            return None
        if status in ("resolved", "resolvedInNextRelease"):
            in_next = status == "resolvedInNextRelease" or bool(details.get("inNextRelease"))
            return StatusChange(GroupStatus.RESOLVED, in_next_release=in_next)
        if status == "unresolved":
            return StatusChange(GroupStatus.UNRESOLVED)
        minutes = details.get("ignoreDuration") or self.validated_data.get("snoozeDuration")
        until = details.get("ignoreUntil")
        if minutes:
            until = now + timedelta(minutes=minutes)
        return StatusChange(
            GroupStatus.IGNORED, ignore_until=until, ignore_count=details.get("ignoreCount")
        )

    @property
    def wants_merge(self) -> bool:
        return bool(self.validated_data.get("merge"))

    def applied(self, change: StatusChange | None) -> JSON:
        """The response of a bulk update: what was changed, as Sentry's update_groups says."""
        result: JSON = {}
        if change is not None:
            result["status"] = str(change.status)
            if change.status == GroupStatus.RESOLVED:
                result["statusDetails"] = {"inNextRelease": True} if change.in_next_release else {}
            elif change.status == GroupStatus.IGNORED:
                result["statusDetails"] = ignore_details(
                    count=change.ignore_count, until=change.ignore_until
                )
            else:
                result["statusDetails"] = {}
        for name in ("hasSeen", "isBookmarked", "isSubscribed", "isPublic"):
            if self.validated_data.get(name) is not None:
                result[name] = self.validated_data[name]
        return result
