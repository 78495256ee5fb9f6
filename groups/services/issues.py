"""What the API does to issues: status changes, merges, deletion, statistics, tag summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber, TruncDay, TruncHour

from groups.models import (
    Event,
    Group,
    GroupHash,
    GroupStatus,
    GroupSubstatus,
    GroupTagValue,
    GroupUser,
    base32_decode,
)
from groups.services.tagcounts import upsert_tag_counts
from organizations.models import Organization

# --- What the API does to issues ----------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    """A new status and, for `ignored`, the conditions that end it."""

    status: GroupStatus
    in_next_release: bool = False
    ignore_until: datetime | None = None
    ignore_count: int | None = None

    @property
    def has_ignore_condition(self) -> bool:
        return self.ignore_until is not None or self.ignore_count is not None


def change_issue_status(*, groups: QuerySet[Group], change: StatusChange, now: datetime) -> int:
    """Resolve, unresolve or ignore issues in one UPDATE; returns how many were matched.

    The ignore fields are always rewritten, so that they only ever describe the current
    ignore. Unresolving keeps the substatus of issues that were not resolved or ignored.
    """
    values: dict[str, Any] = {
        "status": change.status,
        "resolved_at": now if change.status == GroupStatus.RESOLVED else None,
        "resolved_in_next_release": change.in_next_release,
        "ignore_until": None,
        "ignore_count": None,
        "ignore_times_seen": None,
    }
    if change.status == GroupStatus.UNRESOLVED:
        values["substatus"] = Case(
            When(status=GroupStatus.UNRESOLVED, then=F("substatus")),
            default=Value(GroupSubstatus.ONGOING),
        )
    elif change.status == GroupStatus.IGNORED:
        values["substatus"] = (
            GroupSubstatus.ARCHIVED_UNTIL_CONDITION_MET
            if change.has_ignore_condition
            else GroupSubstatus.ARCHIVED_FOREVER
        )
        values["ignore_until"] = change.ignore_until
        if change.ignore_count is not None:
            values["ignore_count"] = change.ignore_count
            values["ignore_times_seen"] = F("times_seen")
    return groups.update(**values)


def merge_issues(*, groups: list[Group]) -> tuple[Group, list[Group]]:
    """Fold issues into the one with the most events (Sentry's choice of parent); returns the
    parent and the merged (now deleted) children.

    Hashes, events, tag counts and users move to the parent, so future events of any of the
    merged hashes land there too. Rows are locked in id order, as the digest updates them.
    """
    with transaction.atomic():
        locked = list(
            Group.objects.select_for_update()
            .filter(pk__in=[group.pk for group in groups])
            .order_by("pk")
        )
        parent = max(locked, key=lambda group: (group.times_seen, group.pk))
        children = [group for group in locked if group.pk != parent.pk]
        child_ids = [group.pk for group in children]
        GroupHash.objects.filter(group_id__in=child_ids).update(group=parent)
        Event.objects.filter(group_id__in=child_ids).update(group=parent)
        _merge_tag_values(parent.pk, child_ids)
        _merge_users(parent.pk, child_ids)
        first = min(locked, key=lambda group: group.first_seen)
        last = max(locked, key=lambda group: group.last_seen)
        parent.times_seen = sum(group.times_seen for group in locked)
        parent.first_seen = first.first_seen
        parent.last_seen = last.last_seen
        parent.first_release = first.first_release or parent.first_release
        parent.last_release = last.last_release or parent.last_release
        parent.user_count = GroupUser.objects.filter(group=parent).count()
        parent.save(
            update_fields=[
                "times_seen",
                "first_seen",
                "last_seen",
                "first_release",
                "last_release",
                "user_count",
            ]
        )
        Group.objects.filter(pk__in=child_ids).delete()
    return parent, children


def _merge_tag_values(parent_id: int, child_ids: list[int]) -> None:
    """Add the children's tag counts to the parent's with the digest's own upsert."""
    rows = (
        GroupTagValue.objects.filter(group_id__in=child_ids)
        .values_list("key", "value")
        .annotate(Sum("times_seen"), Min("first_seen"), Max("last_seen"))
        .order_by()
    )
    upsert_tag_counts(rows=[(parent_id, *row) for row in rows])


def _merge_users(parent_id: int, child_ids: list[int]) -> None:
    keys = (
        GroupUser.objects.filter(group_id__in=child_ids)
        .values_list("user_key", flat=True)
        .distinct()
    )
    GroupUser.objects.bulk_create(
        [GroupUser(group_id=parent_id, user_key=key) for key in sorted(keys)],
        batch_size=1000,
        ignore_conflicts=True,
    )


def delete_issues(*, group_ids: list[int]) -> int:
    """Delete issues with their events, hashes, tag counts and users; returns how many.

    Synchronous: the related rows go in one DELETE per table (no signals to send).
    """
    with transaction.atomic():
        _, counts = Group.objects.filter(pk__in=group_ids).delete()
    return counts.get(Group._meta.label, 0)


STATS_PERIODS = {
    # period: (bucket width, number of buckets, truncation)
    "24h": (timedelta(hours=1), 24, TruncHour),
    "14d": (timedelta(days=1), 14, TruncDay),
    "30d": (timedelta(days=1), 30, TruncDay),
}


def issue_stats(*, group_ids: list[int], period: str, now: datetime) -> dict[int, list[list[int]]]:
    """Events per hour (24h) or per day (14d) of each issue, oldest bucket first, the last
    one holding `now`: `{group_id: [[unix_ts, count], ...]}`, in one grouped query."""
    width, count, truncate = STATS_PERIODS[period]
    last = truncate_moment(now, width)
    starts = [last - width * (count - 1 - index) for index in range(count)]
    counted = (
        Event.objects.filter(group_id__in=group_ids, timestamp__gte=starts[0])
        .annotate(bucket=truncate("timestamp", tzinfo=UTC))
        .values_list("group_id", "bucket")
        .annotate(events=Count("id"))
        .order_by()
    )
    per_bucket = {(group_id, bucket): events for group_id, bucket, events in counted}
    return {
        group_id: [
            [int(start.timestamp()), per_bucket.get((group_id, start), 0)] for start in starts
        ]
        for group_id in group_ids
    }


def truncate_moment(moment: datetime, width: timedelta) -> datetime:
    """The start of the UTC hour (or, for widths of a day or more, the UTC day) of `moment`."""
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if width >= timedelta(days=1) else moment


def find_issue_by_short_id(*, organization: Organization, short_id: str) -> Group | None:
    """The issue named `PROJECT-SLUG-1A` (any case) in the organization."""
    slug, _, suffix = short_id.rpartition("-")
    number = base32_decode(suffix)
    if not slug or number is None:
        return None
    return (
        Group.objects.for_organization(organization)
        .select_related("project__organization")
        .filter(project__slug=slug.lower(), short_id=number)
        .first()
    )


def adjacent_event_ids(*, event: Event) -> tuple[str | None, str | None]:
    """The ids of the issue's events just before and just after `event` (by time, then id)."""
    siblings = Event.objects.for_group(event.group_id).values_list("event_id", flat=True)
    same_time = Q(timestamp=event.timestamp)
    previous = (
        siblings.filter(Q(timestamp__lt=event.timestamp) | (same_time & Q(pk__lt=event.pk)))
        .order_by("-timestamp", "-id")
        .first()
    )
    following = (
        siblings.filter(Q(timestamp__gt=event.timestamp) | (same_time & Q(pk__gt=event.pk)))
        .order_by("timestamp", "id")
        .first()
    )
    return (
        previous.hex if previous is not None else None,
        following.hex if following is not None else None,
    )


@dataclass
class TagSummary:
    key: str
    unique_values: int
    total_values: int
    top_values: list[GroupTagValue] = field(default_factory=list)


def issue_tag_summaries(*, group: Group, key: str | None = None, top: int = 9) -> list[TagSummary]:
    """Each tag key of the issue with its number of values, of events, and its `top` values
    by count: two queries, whatever the number of keys."""
    rows = GroupTagValue.objects.filter(group=group)
    if key is not None:
        rows = rows.filter(key=key)
    summaries = {
        tag_key: TagSummary(tag_key, unique, total)
        for tag_key, unique, total in rows.values_list("key")
        .annotate(Count("id"), Sum("times_seen"))
        .order_by("key")
    }
    ranked = rows.annotate(
        rank=Window(
            RowNumber(),
            partition_by=F("key"),
            order_by=[F("times_seen").desc(), F("last_seen").desc(), F("id").desc()],
        )
    ).filter(rank__lte=top)
    for value in ranked.order_by("key", "-times_seen", "-last_seen", "-id"):
        summaries[value.key].top_values.append(value)
    return list(summaries.values())


# A new issue is "new" for its first week, then "ongoing" (Sentry's substatus rules).
NEW_ISSUE_DAYS = 7


def maintain_issues(*, now: datetime) -> dict[str, int]:
    """Status changes that depend on time rather than on events; safe to run from several
    workers at once. Returns how many issues each change touched."""
    unignored = Group.objects.filter(
        status=GroupStatus.IGNORED, ignore_until__isnull=False, ignore_until__lte=now
    ).update(
        status=GroupStatus.UNRESOLVED,
        substatus=GroupSubstatus.ONGOING,
        ignore_until=None,
        ignore_count=None,
        ignore_times_seen=None,
    )
    aged = Group.objects.filter(
        status=GroupStatus.UNRESOLVED,
        substatus=GroupSubstatus.NEW,
        first_seen__lt=now - timedelta(days=NEW_ISSUE_DAYS),
    ).update(substatus=GroupSubstatus.ONGOING)
    return {"unignored": unignored, "ongoing": aged}
