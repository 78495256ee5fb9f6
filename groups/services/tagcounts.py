"""Per-issue counts of tag values and of distinct users, added a batch at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, Subquery

from groups.bulk import execute_values
from groups.models import Group, GroupTagValue, GroupUser

TAG_UPSERT_ROWS = 500


TAG_UPSERT = (
    "INSERT INTO {table} (group_id, key, value, times_seen, first_seen, last_seen) "
    "VALUES {values} ON CONFLICT (group_id, key, value) DO UPDATE SET "
    "times_seen = {table}.times_seen + excluded.times_seen, "
    "first_seen = CASE WHEN excluded.first_seen < {table}.first_seen "
    "THEN excluded.first_seen ELSE {table}.first_seen END, "
    "last_seen = CASE WHEN excluded.last_seen > {table}.last_seen "
    "THEN excluded.last_seen ELSE {table}.last_seen END"
)


def count_tags(events: list[tuple[int, list[list[str]], datetime]]) -> None:
    """Add the (group id, tags, timestamp) of a batch's events to their issues' tag counts."""
    counts: dict[tuple[int, str, str], list[Any]] = {}
    for group_id, tags, timestamp in events:
        for key, value in tags:
            row = counts.get((group_id, key, value))
            if row is None:
                counts[(group_id, key, value)] = [1, timestamp, timestamp]
            else:
                row[0] += 1
                row[1] = min(row[1], timestamp)
                row[2] = max(row[2], timestamp)
    upsert_tag_counts(
        rows=[(*tag, seen, first, last) for tag, (seen, first, last) in counts.items()]
    )


def upsert_tag_counts(*, rows: list[tuple[int, str, str, int, datetime, datetime]]) -> None:
    """Add (group_id, key, value, times_seen, first_seen, last_seen) rows to the issues' tag
    counts, TAG_UPSERT_ROWS per statement, in key order so that concurrent upserts cannot
    deadlock."""
    table = connection.ops.quote_name(GroupTagValue._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    execute_values(
        TAG_UPSERT.replace("{table}", table),
        [
            (group_id, key, value, seen, adapt(first), adapt(last))
            for group_id, key, value, seen, first, last in sorted(rows)
        ],
        rows_per_statement=TAG_UPSERT_ROWS,
    )


def count_users(pairs: set[tuple[int, str]]) -> None:
    """Record the (group id, user key) pairs of a batch and recount those issues' users."""
    pairs = {(group_id, user_key) for group_id, user_key in pairs if user_key}
    if not pairs:
        return
    GroupUser.objects.bulk_create(
        [GroupUser(group_id=group_id, user_key=key) for group_id, key in sorted(pairs)],
        ignore_conflicts=True,
    )
    counted = (
        GroupUser.objects.filter(group=OuterRef("pk"))
        .values("group")
        .annotate(total=Count("*"))
        .values("total")
    )
    Group.objects.filter(pk__in={group_id for group_id, _ in pairs}).update(
        user_count=Subquery(counted)
    )
