"""The durable queue of accepted items, outcome counters and rate-limit windows."""

from __future__ import annotations

from django.db import models

from groups import zstd
from groups.fields import BulkBinaryField, BulkJSONField
from projects.models import Project, ProjectKey

# The fastest level: the queue keeps a payload for seconds, and the web workers pay for it.
QUEUE_ZSTD_LEVEL = 1


class QueuedItemQuerySet(models.QuerySet):
    def pending(self) -> QueuedItemQuerySet:
        """Items the digest will still take: not parked after QueuedItem.MAX_FAILURES."""
        return self.filter(failures__lt=QueuedItem.MAX_FAILURES)

    def parked(self) -> QueuedItemQuerySet:
        """Items set aside after QueuedItem.MAX_FAILURES failed digests, for an operator."""
        return self.filter(failures__gte=QueuedItem.MAX_FAILURES)


class QueuedItem(models.Model):
    """An accepted envelope item, durable before the SDK gets its 200; drained by `digest`."""

    # No database constraints nor indexes on the two references: every accepted envelope
    # inserts here, and PostgreSQL would check both keys at commit (locking the project's
    # and the key's rows FOR KEY SHARE, which many concurrent inserts turn into multixacts)
    # and update two more indexes. Deleting a project or key through Django still cascades
    # (Django's collector does it); rows queued after it (by an insert racing the deletion,
    # or within INGEST_KEY_CACHE_SECONDS, while web workers still know the project's keys)
    # are dropped by the digest.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    key = models.ForeignKey(
        ProjectKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    type = models.CharField(max_length=32)
    event_id = models.UUIDField(null=True, blank=True)
    received = models.DateTimeField()
    # The item's bytes, zstd-compressed (level 1): a fifth of the write-ahead log to flush
    # before the 200, and nothing for PostgreSQL to compress again. See `body`.
    payload = BulkBinaryField()
    # Item headers and request facts the digest needs (client, sent_at, client IP, …).
    meta = BulkJSONField(default=dict)
    # Failed digests of this item alone; at MAX_FAILURES it is parked here for an operator
    # (shown in the admin) instead of blocking the queue or being thrown away.
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    MAX_FAILURES = 5

    objects = QueuedItemQuerySet.as_manager()

    class Meta:
        indexes = [
            # The per-project attachment cap sums the attachments still queued.
            models.Index(
                fields=["project"],
                condition=models.Q(type="attachment"),
                name="ingest_queue_attachment_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk} for project {self.project_id}"

    @property
    def body(self) -> bytes:
        return zstd.decompress(bytes(self.payload))

    @staticmethod
    def pack(body: bytes) -> bytes:
        return zstd.compress(body, level=QUEUE_ZSTD_LEVEL)


class Outcome(models.TextChoices):
    ACCEPTED = "accepted"
    FILTERED = "filtered"
    RATE_LIMITED = "rate_limited"
    INVALID = "invalid"
    CLIENT_DISCARD = "client_discard"


class OutcomeCounter(models.Model):
    """How many items of a category met an outcome in one project and hour."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    category = models.CharField(max_length=32)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "hour", "category", "outcome", "reason"],
                name="ingest_outcomecounter_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.project_id} {self.hour:%Y-%m-%d %H}h {self.category} {self.outcome}"


class RateLimitWindow(models.Model):
    """Items counted against one quota in one fixed window."""

    scope = models.CharField(max_length=64)
    window_start = models.BigIntegerField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "window_start"], name="ingest_ratelimitwindow_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope}@{self.window_start}: {self.count}"


class DigestJournal(models.Model):
    """PostgreSQL: the batch a digest worker is digesting. Written on a connection of its own,
    outside the batch's transaction, so that it outlives a worker that dies (ingest.journal);
    SQLite's workers keep theirs in files."""

    worker = models.CharField(max_length=100, primary_key=True)
    item_ids = models.TextField()  # comma-separated QueuedItem ids
    started = models.DateTimeField()

    def __str__(self) -> str:
        return f"batch of digest worker {self.worker}"
