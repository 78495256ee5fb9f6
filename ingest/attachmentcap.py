"""The cap on each project's attachment storage (ATTACHMENTS_MAX_PROJECT_BYTES), at the door."""

from __future__ import annotations

import threading
import time
from collections import Counter

from django.conf import settings
from django.db.models import BigIntegerField, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Length

from groups.services.attachments import attachment_bytes
from ingest.envelope import Item
from ingest.models import Outcome, QueuedItem

# Queue meta key of an attachment item: its size, for the project's storage cap.
ATTACHMENT_SIZE = "size"


def queued_attachment_bytes(*, project_id: int) -> int:
    """What the project's attachments still in the queue will take once stored: their
    recorded size (items queued before sizes were recorded: their compressed length)."""
    size = Coalesce(
        Cast(KT(f"meta__{ATTACHMENT_SIZE}"), BigIntegerField()),
        Length("payload"),
        output_field=BigIntegerField(),
    )
    queued = QueuedItem.objects.pending().filter(project_id=project_id, type="attachment")
    return queued.aggregate(total=Sum(size))["total"] or 0


class AttachmentUsage:
    """Per process: each project's attachment bytes, stored and queued, summed at most once
    every ATTACHMENTS_USAGE_CACHE_SECONDS (a burst of envelopes costs one SUM), plus what this
    process queued since. What other processes queue meanwhile is seen at the next sum; the
    threads of this process take their share under the project's lock, so they cannot
    overshoot. Projects share LOCKS locks by id: a slow sum holds back only the requests of
    projects on its lock, not every attachment request of the process."""

    MAX_ENTRIES = 10_000
    LOCKS = 64

    def __init__(self) -> None:
        self._entries: dict[int, tuple[int, float]] = {}
        self._locks = [threading.Lock() for _ in range(self.LOCKS)]

    def lock_for(self, project_id: int) -> threading.Lock:
        return self._locks[project_id % self.LOCKS]

    def reserve(self, project_id: int, size: int, limit: int) -> bool:
        """Count `size` more bytes for the project if that keeps it within `limit`."""
        with self.lock_for(project_id):
            used, expires = self._usage(project_id)
            if used + size > limit:
                return False
            self._entries[project_id] = (used + size, expires)
            return True

    def _usage(self, project_id: int) -> tuple[int, float]:
        now = time.monotonic()
        used, expires = self._entries.get(project_id, (0, 0.0))
        if expires > now:
            return used, expires
        # Queued first: an item digested between the two sums is counted twice, never missed.
        used = queued_attachment_bytes(project_id=project_id)
        used += attachment_bytes(project_id=project_id)
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        expires = now + settings.ATTACHMENTS_USAGE_CACHE_SECONDS
        self._entries[project_id] = (used, expires)
        return used, expires


# Swapped for a fresh one by the tests (project ids repeat across them).
usage = AttachmentUsage()


def within_storage(
    *, project_id: int, items: list[Item], outcomes: Counter[tuple[str, str, str]]
) -> tuple[list[Item], str]:
    """Drop the attachments that would take the project past ATTACHMENTS_MAX_PROJECT_BYTES
    (counted as rate limited, and the SDK told to hold attachments back for an hour)."""
    limit = settings.ATTACHMENTS_MAX_PROJECT_BYTES
    incoming = sum(len(item.payload) for item in items if item.type == "attachment")
    if not incoming or not limit:
        return items, ""
    if usage.reserve(project_id, incoming, limit):
        return items, ""
    for item in items:
        if item.type == "attachment":
            outcomes[("attachment", Outcome.RATE_LIMITED, "attachment_storage_full")] += 1
    kept = [item for item in items if item.type != "attachment"]
    return kept, "3600:attachment:project:attachment_storage_full"
