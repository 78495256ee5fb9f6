"""Issues (groups), the hashes that route events to them, and the events themselves."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from groups.fields import BulkJSONField, CompressedJSONField
from groups.managers import EventQuerySet, GroupQuerySet
from projects.models import Project

# Sentry's base-32 alphabet for short ids (src/sentry/utils/numbers.py): no I, L, O, U.
SHORT_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def base32_encode(number: int) -> str:
    digits = []
    while True:
        number, remainder = divmod(number, 32)
        digits.append(SHORT_ID_ALPHABET[remainder])
        if number == 0:
            return "".join(reversed(digits))


def base32_decode(text: str) -> int | None:
    """The number of a short id's suffix, case-insensitive; None if not base 32."""
    number = 0
    for char in text.upper():
        digit = SHORT_ID_ALPHABET.find(char)
        if digit < 0:
            return None
        number = number * 32 + digit
    return number if text else None


class Level(models.TextChoices):
    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


class GroupStatus(models.TextChoices):
    UNRESOLVED = "unresolved"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class GroupSubstatus(models.TextChoices):
    NEW = "new"
    ONGOING = "ongoing"
    REGRESSED = "regressed"
    # An ignored issue whose ignore condition (time or event count) was met by a new event.
    ESCALATING = "escalating"
    # An ignored issue: until when/how often (filled by the API's ignore actions).
    ARCHIVED_UNTIL_ESCALATING = "archived_until_escalating"
    ARCHIVED_UNTIL_CONDITION_MET = "archived_until_condition_met"
    ARCHIVED_FOREVER = "archived_forever"


class ShortIdCounter(models.Model):
    """The last short-id number handed out in a project (`PROJECT-1A`)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.project} at {self.value}"


class Group(models.Model):
    """An issue: events that share a grouping hash."""

    # No index of its own: the composite indexes below begin with it.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="groups", db_index=False
    )
    short_id = models.PositiveBigIntegerField()
    title = models.CharField(max_length=256)
    culprit = models.CharField(max_length=200, blank=True)
    type = models.CharField(max_length=32, default="error")
    metadata = models.JSONField(default=dict)
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.ERROR)
    logger = models.CharField(max_length=64, blank=True)
    platform = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=GroupStatus.choices, default=GroupStatus.UNRESOLVED
    )
    substatus = models.CharField(
        max_length=32, choices=GroupSubstatus.choices, default=GroupSubstatus.NEW
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    times_seen = models.PositiveBigIntegerField(default=0)
    user_count = models.PositiveBigIntegerField(default=0)
    first_release = models.CharField(max_length=200, blank=True)
    last_release = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # No release is known at resolve time (no Release model here), so "resolved in the next
    # release" is a plain resolve that remembers how it was asked for, for statusDetails.
    resolved_in_next_release = models.BooleanField(default=False)
    # The ignore conditions (Sentry's GroupSnooze), meaningful while status is `ignored`:
    # the digest reopens the issue when a new event arrives after `ignore_until`, or when
    # `times_seen` reaches `ignore_times_seen + ignore_count`.
    ignore_until = models.DateTimeField(null=True, blank=True)
    ignore_count = models.PositiveBigIntegerField(null=True, blank=True)
    ignore_times_seen = models.PositiveBigIntegerField(null=True, blank=True)
    date_created = models.DateTimeField(default=timezone.now, editable=False)

    objects = GroupQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "short_id"], name="groups_group_unique_short_id"
            )
        ]
        indexes = [
            models.Index(fields=["project", "-last_seen", "-id"], name="groups_project_last_seen"),
            models.Index(fields=["project", "status"], name="groups_project_status"),
            # Behind the issue list's other sort orders (new, freq, user).
            models.Index(
                fields=["project", "-first_seen", "-id"], name="groups_project_first_seen"
            ),
            models.Index(
                fields=["project", "-times_seen", "-id"], name="groups_project_times_seen"
            ),
            models.Index(
                fields=["project", "-user_count", "-id"], name="groups_project_user_count"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.qualified_short_id}: {self.title}"

    @property
    def qualified_short_id(self) -> str:
        """`PROJECT-SLUG-1A`, as Sentry shows it."""
        return f"{self.project.slug.upper()}-{base32_encode(self.short_id)}"


class GroupHash(models.Model):
    """A grouping hash pointing at its issue; several per issue after merges or new configs."""

    # No index of its own: the unique (project, hash) begins with it.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    hash = models.CharField(max_length=32)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="hashes")
    # The grouping configuration that produced the hash; a new configuration can compute old
    # and new hashes side by side, so that existing issues keep their events.
    config = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "hash"], name="groups_grouphash_unique")
        ]

    def __str__(self) -> str:
        return self.hash


class Event(models.Model):
    """One stored error or message event, normalized."""

    # Every index on this table is paid by each stored event: the references have none of
    # their own, since the composite indexes below begin with them. (A lone project index
    # also misled the planner into scanning a project's events for the digest's duplicate
    # check while the table's statistics lagged behind a burst.)
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    group = models.ForeignKey(
        Group, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    event_id = models.UUIDField()
    timestamp = models.DateTimeField()
    received = models.DateTimeField()
    level = models.CharField(max_length=16, choices=Level.choices)
    type = models.CharField(max_length=32)
    platform = models.CharField(max_length=64, blank=True)
    release = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=256)
    message = models.TextField(blank=True)
    culprit = models.CharField(max_length=200, blank=True)
    # The user as counted for the user count (id, e-mail, user name or IP address).
    user_key = models.CharField(max_length=200, blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    # The path of the request the error happened in (`request.url`, no host or query): joins
    # the error to the API calls of the same URL.
    request_path = models.CharField(max_length=512, blank=True)
    tags = BulkJSONField(default=list)
    data = CompressedJSONField()

    objects = EventQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "event_id"], name="groups_event_unique_id")
        ]
        indexes = [
            models.Index(fields=["group", "-timestamp", "-id"], name="groups_event_group_time"),
            models.Index(fields=["project", "-timestamp", "-id"], name="groups_event_project_time"),
            models.Index(
                fields=["project", "request_path", "-timestamp"],
                name="groups_event_request_path",
                condition=~models.Q(request_path=""),
            ),
            # Matched exactly, never with LIKE: no varchar_pattern_ops twin, as db_index adds.
            models.Index(fields=["trace_id"], name="groups_event_trace_id"),
        ]

    def __str__(self) -> str:
        return self.event_id.hex


class GroupTagValue(models.Model):
    """How often a tag value was seen on an issue."""

    # No index of its own: the unique (group, key, value) begins with it.
    group = models.ForeignKey(
        Group, on_delete=models.CASCADE, related_name="tag_values", db_index=False
    )
    key = models.CharField(max_length=200)
    value = models.CharField(max_length=200)
    times_seen = models.PositiveBigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "key", "value"], name="groups_grouptagvalue_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class GroupUser(models.Model):
    """A distinct user seen on an issue; the issue's `user_count` counts these rows."""

    # No index of its own: the unique (group, user_key) begins with it.
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+", db_index=False)
    user_key = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user_key"], name="groups_groupuser_unique")
        ]

    def __str__(self) -> str:
        return self.user_key
