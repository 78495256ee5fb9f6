"""The digest: normalized events in, stored events and updated issues out, a batch at a time."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from groups.bulk import insert_rows
from groups.eventtypes import culprit_of, metadata_of, title_of
from groups.grouping import compute_grouping
from groups.models import Event, Group, GroupHash, ShortIdCounter
from groups.services.eventfields import derived_tags, request_path_of, trace_id_of, user_key_of
from groups.services.tagcounts import count_tags, count_users

JSON = dict[str, Any]


@dataclass
class NormalizedEvent:
    """An event as ingest hands it over: normalized and scrubbed."""

    project_id: int
    data: JSON
    received: datetime

    @property
    def event_id(self) -> str:
        return self.data["event_id"]


@dataclass
class DigestResult:
    events: list[Event] = field(default_factory=list)
    new_groups: list[Group] = field(default_factory=list)
    duplicates: int = 0


@dataclass
class _Prepared:
    source: NormalizedEvent
    hashes: list[str]
    config: str
    timestamp: datetime
    title: str
    culprit: str
    metadata: JSON
    tags: list[list[str]]
    user_key: str
    group_key: object = None


def _prepare(item: NormalizedEvent) -> _Prepared:
    data = item.data
    grouping = compute_grouping(data)
    metadata = metadata_of(data)
    title = title_of(data, metadata)[:256]
    culprit = culprit_of(data)
    user_key = user_key_of(data)
    data.update(
        {"title": title, "culprit": culprit, "metadata": metadata, "hashes": grouping.hashes}
    )
    return _Prepared(
        source=item,
        hashes=grouping.hashes,
        config=grouping.config,
        timestamp=datetime.fromtimestamp(data["timestamp"], tz=UTC),
        title=title,
        culprit=culprit,
        metadata=metadata,
        tags=derived_tags(data, user_key),
        user_key=user_key,
    )


def _drop_duplicates(items: list[NormalizedEvent]) -> tuple[list[NormalizedEvent], int]:
    """Events not stored before and not repeated in the batch (SDK retries)."""
    unique: dict[tuple[int, str], NormalizedEvent] = {}
    for item in items:
        unique.setdefault((item.project_id, item.event_id), item)
    if not unique:
        return [], 0
    stored = set(
        Event.objects.filter(
            project_id__in={project_id for project_id, _ in unique},
            event_id__in=[uuid.UUID(event_id) for _, event_id in unique],
        ).values_list("project_id", "event_id")
    )
    fresh = [
        item
        for (project_id, event_id), item in unique.items()
        if (project_id, uuid.UUID(event_id)) not in stored
    ]
    return fresh, len(items) - len(fresh)


def _assign_groups(prepared: list[_Prepared]) -> tuple[dict[object, list[_Prepared]], list[tuple]]:
    """Route each event to an existing issue (by any of its hashes) or to a new one."""
    known = {
        (project_id, hash_): group_id
        for project_id, hash_, group_id in GroupHash.objects.filter(
            project_id__in={p.source.project_id for p in prepared},
            hash__in={h for p in prepared for h in p.hashes},
        ).values_list("project_id", "hash", "group_id")
    }
    routes: dict[tuple[int, str], object] = {}
    new_hashes: list[tuple[int, str, str, object]] = []
    members: dict[object, list[_Prepared]] = defaultdict(list)
    for item in prepared:
        project_id = item.source.project_id
        target = next(
            (
                routes.get((project_id, h)) or known.get((project_id, h))
                for h in item.hashes
                if (project_id, h) in routes or (project_id, h) in known
            ),
            None,
        )
        if target is None:
            target = ("new", project_id, item.hashes[0])
        for h in item.hashes:
            if (project_id, h) not in known and (project_id, h) not in routes:
                new_hashes.append((project_id, h, item.config, target))
            routes.setdefault((project_id, h), target)
        item.group_key = target
        members[target].append(item)
    return members, new_hashes


def _reserve_short_ids(project_id: int, count: int) -> int:
    """Take `count` short-id numbers for a project; returns the first."""
    table = connection.ops.quote_name(ShortIdCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (project_id, value) VALUES (%s, %s) "  # noqa: S608
            f"ON CONFLICT (project_id) DO UPDATE SET value = {table}.value + excluded.value "
            "RETURNING value",
            [project_id, count],
        )
        (last,) = cursor.fetchone()
    return last - count + 1


def _latest(items: list[_Prepared]) -> _Prepared:
    return max(items, key=lambda item: item.timestamp)


def _create_groups(members: dict[object, list[_Prepared]]) -> dict[object, Group]:
    new_keys = [key for key in members if isinstance(key, tuple)]
    per_project: dict[int, list[object]] = defaultdict(list)
    for key in new_keys:
        per_project[key[1]].append(key)
    groups: dict[object, Group] = {}
    # Projects in id order: concurrent workers take the counters' row locks in one order.
    for project_id, keys in sorted(per_project.items()):
        first_number = _reserve_short_ids(project_id, len(keys))
        for offset, key in enumerate(keys):
            items = members[key]
            first = min(items, key=lambda item: item.timestamp)
            latest = _latest(items)
            data = latest.source.data
            groups[key] = Group(
                project_id=project_id,
                short_id=first_number + offset,
                title=latest.title,
                culprit=latest.culprit,
                type=data.get("type", "default"),
                metadata=latest.metadata,
                level=data.get("level", "error"),
                logger=data.get("logger", ""),
                platform=data.get("platform", ""),
                first_seen=first.timestamp,
                last_seen=latest.timestamp,
                times_seen=len(items),
                first_release=first.source.data.get("release", ""),
                last_release=data.get("release", ""),
            )
    Group.objects.bulk_create(groups.values())
    return groups


_GROUP_UPDATE = """
UPDATE {table} SET
    times_seen = times_seen + %s,
    last_seen = CASE WHEN last_seen < %s THEN %s ELSE last_seen END,
    first_seen = CASE WHEN first_seen > %s THEN %s ELSE first_seen END,
    level = %s, title = %s, culprit = %s, metadata = %s,
    last_release = CASE WHEN %s = '' THEN last_release ELSE %s END,
    first_release = CASE WHEN first_release = '' THEN %s ELSE first_release END,
    substatus = CASE WHEN status = 'resolved' THEN 'regressed'
        WHEN {ignore_over} THEN 'escalating' ELSE substatus END,
    resolved_at = CASE WHEN status = 'resolved' THEN NULL ELSE resolved_at END,
    status = CASE WHEN status = 'resolved' OR {ignore_over} THEN 'unresolved' ELSE status END
WHERE id = %s
"""
# An ignored issue's ignore condition is met: the event arrived after `ignore_until`, or the
# issue's count reaches the count it had when ignored plus `ignoreCount` (Sentry's
# GroupSnooze.is_valid). NULL conditions compare to NULL, which CASE takes as false.
# Parameters: the batch's latest receive time, the number of new events.
_IGNORE_OVER = (
    "(status = 'ignored' AND (ignore_until <= %s "
    "OR times_seen + %s >= ignore_times_seen + ignore_count))"
)


def _update_groups(members: dict[object, list[_Prepared]]) -> None:
    """One UPDATE per existing issue (sent together): counters, times, latest release, and
    regression: a new event on a resolved issue reopens it with substatus `regressed`; one on
    an ignored issue whose ignore condition is met reopens it with substatus `escalating`.

    Right-hand sides see the row as it was, so `status` is tested before it is changed.
    Issues are updated in id order, so that concurrent workers cannot deadlock on them.
    """
    adapt = connection.ops.adapt_datetimefield_value
    metadata_field = Group._meta.get_field("metadata")
    rows = []
    for key in sorted(key for key in members if not isinstance(key, tuple)):
        items = members[key]
        latest = _latest(items)
        first_seen = adapt(min(item.timestamp for item in items))
        last_seen = adapt(latest.timestamp)
        data = latest.source.data
        release = data.get("release", "")
        received = adapt(max(item.source.received for item in items))
        ignore_over = [received, len(items)]
        rows.append(
            [
                len(items),
                last_seen,
                last_seen,
                first_seen,
                first_seen,
                data.get("level", "error"),
                latest.title,
                latest.culprit,
                metadata_field.get_db_prep_save(latest.metadata, connection),
                release,
                release,
                release,
                *ignore_over,
                *ignore_over,
                key,
            ]
        )
    if rows:
        table = connection.ops.quote_name(Group._meta.db_table)
        sql = _GROUP_UPDATE.format(table=table, ignore_over=_IGNORE_OVER)
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


_EVENT_FIELDS = (
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
    "data",
)


def digest_events(*, events: Iterable[NormalizedEvent]) -> DigestResult:
    """Store events and create or update their issues; call inside a transaction.

    Idempotent on (project, event_id): events stored before, or repeated in the batch, are
    skipped and not counted again.
    """
    events = list(events)
    fresh, duplicates = _drop_duplicates(events)
    result = DigestResult(duplicates=duplicates)
    if not fresh:
        return result
    prepared = [_prepare(item) for item in fresh]
    members, new_hashes = _assign_groups(prepared)
    created = _create_groups(members)
    _update_groups(members)
    group_ids = {key: (created[key].pk if key in created else key) for key in members}
    GroupHash.objects.bulk_create(
        [
            GroupHash(project_id=project_id, hash=hash_, config=config, group_id=group_ids[key])
            # Sorted, so that concurrent workers insert (and lock) hashes in the same order.
            for project_id, hash_, config, key in sorted(new_hashes, key=lambda row: row[:2])
        ]
    )
    stored = [
        Event(
            project_id=item.source.project_id,
            group_id=group_ids[item.group_key],
            event_id=uuid.UUID(item.source.event_id),
            timestamp=item.timestamp,
            received=item.source.received,
            level=item.source.data.get("level", "error"),
            type=item.source.data.get("type", "default"),
            platform=item.source.data.get("platform", ""),
            release=item.source.data.get("release", ""),
            environment=item.source.data.get("environment", ""),
            title=item.title,
            message=(item.source.data.get("logentry") or {}).get("formatted") or "",
            culprit=item.culprit,
            user_key=item.user_key,
            trace_id=trace_id_of(item.source.data),
            request_path=request_path_of(item.source.data),
            tags=item.tags,
            data=item.source.data,
        )
        for item in prepared
    ]
    insert_rows(Event, _EVENT_FIELDS, stored)
    result.events = stored
    count_tags([(group_ids[item.group_key], item.tags, item.timestamp) for item in prepared])
    count_users({(group_ids[item.group_key], item.user_key) for item in prepared})
    result.new_groups = list(created.values())
    return result
