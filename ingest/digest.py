"""The worker side of ingest: drain the durable queue in batches into events and issues."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Min
from django.db.models.functions import Length
from django.utils import timezone

from groups.services import DigestResult, NormalizedEvent, digest_events, maintain_issues
from groups.services.logs import prune_logs
from groups.services.spans import prune_spans
from ingest.digesters import DIGESTERS, Outcomes
from ingest.digesters.values import load_payload
from ingest.envelope import ITEM_CATEGORIES
from ingest.journal import Journal
from ingest.models import Outcome, QueuedItem
from ingest.normalize import InvalidEvent, normalize_event
from ingest.outcomes import record_outcomes
from ingest.ratelimits import prune_windows
from ingest.scrubbing import Scrubber, project_scrubber, scrub_event
from projects.crons import detect_missed_checkins, detect_timeouts
from projects.health import prune_session_marks
from projects.models import Project
from projects.services import record_releases

logger = logging.getLogger(__name__)

# Outcome category of a stored event, by its normalized type.
_EVENT_CATEGORIES = {"error": "error", "default": "default", "csp": "security"}


def _normalized(row: QueuedItem, scrubber: Scrubber | None) -> NormalizedEvent:
    meta = row.meta or {}
    data = normalize_event(
        load_payload(row),
        event_id=row.event_id.hex,
        received=row.received,
        sent_at=meta.get("sent_at"),
        client=meta.get("client"),
        client_ip=meta.get("ip"),
        project_id=row.project_id,
    )
    if scrubber is not None:
        scrub_event(data, scrubber)
    return NormalizedEvent(project_id=row.project_id, data=data, received=row.received)


def _releases_seen(result: DigestResult) -> dict[int, dict[str, int]]:
    """Per project, the releases the batch's events named, with the new issues each brought."""
    seen: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in result.events:
        if event.release:
            seen[event.project_id][event.release] += 0
    for group in result.new_groups:
        if group.first_release:
            seen[group.project_id][group.first_release] += 1
    return seen


def digest_batch(*, batch_size: int, journal: Journal | None = None) -> int:
    """Digest up to `batch_size` queued items in one transaction; returns how many.

    The batch's rows stay locked (PostgreSQL: FOR UPDATE SKIP LOCKED, so workers on other
    machines take other rows) until everything derived from them is written and they are
    deleted, all in one commit: a worker killed mid-batch leaves the rows for the next one.
    A batch that fails is raised to the caller, who retries item by item; an item failing
    alone is marked, and parked after QueuedItem.MAX_FAILURES attempts. `journal` keeps the
    batch's ids while it is digested, for the case where the worker dies (ingest.journal).
    """
    if connection.vendor == "sqlite" and not QueuedItem.objects.pending().exists():
        # An idle worker looks at the queue 20 times a second: on SQLite with a plain read,
        # since a transaction there takes the database's one write lock (IMMEDIATE), which
        # every accepted envelope needs.
        return 0
    with transaction.atomic():
        rows = _claim(batch_size=batch_size)
        if not rows:
            return 0
        if journal is not None:
            journal.begin([row.pk for row in rows])
        try:
            _digest_claimed(rows)
        finally:
            # Cleared while the rows are still locked: once they are free, another worker
            # takes a journal left behind for a dead worker's (ingest.journal).
            if journal is not None:
                journal.end()
    return len(rows)


def _digest_claimed(rows: list[QueuedItem]) -> None:
    try:
        with transaction.atomic():
            _digest_rows(rows)
    except Exception as exc:
        # Any failure, not only the database's: one malformed item must not stop the
        # worker. A batch is retried item by item; a lone item is marked and, after
        # MAX_FAILURES, parked for an operator.
        if len(rows) > 1 or isinstance(exc, InterfaceError | OperationalError):
            raise  # a lost connection is not the item's fault
        logger.exception("digest of queued item %s failed", rows[0].pk)
        QueuedItem.objects.filter(pk=rows[0].pk).update(
            failures=F("failures") + 1, last_error=str(exc)[:2000]
        )


def _claim(*, batch_size: int) -> list[QueuedItem]:
    """Lock up to `batch_size` queued items and load the payloads of the first ones that fit
    in DIGEST_BATCH_MAX_BYTES (at least one): a run of large attachments is digested a few at
    a time rather than all in memory at once. An item that failed before (or was in the batch
    of a worker that died) is digested alone. Locked rows left out wait for the next batch."""
    candidates = list(
        QueuedItem.objects.pending()
        .select_for_update(skip_locked=True)
        .defer("payload")
        .annotate(size=Length("payload"))
        .order_by("id")[:batch_size]
    )
    budget = settings.DIGEST_BATCH_MAX_BYTES
    rows: list[QueuedItem] = []
    for row in candidates:
        if rows and (budget < row.size or row.failures):
            break
        budget -= row.size
        rows.append(row)
        if row.failures:
            break
    payloads = dict(
        QueuedItem.objects.filter(pk__in=[row.pk for row in rows]).values_list("pk", "payload")
    )
    for row in rows:
        row.payload = payloads[row.pk]
    return rows


def _digest_rows(rows: list[QueuedItem]) -> None:
    projects = Project.objects.in_bulk({row.project_id for row in rows})
    outcomes: Outcomes = defaultdict(Counter)
    by_type: dict[str, list[QueuedItem]] = defaultdict(list)
    orphans: Counter[int] = Counter()
    for row in rows:
        if row.project_id in projects:
            by_type[row.type].append(row)
        else:
            orphans[row.project_id] += 1
    for project_id, count in orphans.items():
        # Queued for a deleted project (the queue has no foreign keys): by a request that
        # raced the deletion, or within INGEST_KEY_CACHE_SECONDS of it, while web workers
        # still knew the project's keys.
        logger.info("dropping %d queued items of deleted project %s", count, project_id)
    for item_type, typed_rows in by_type.items():
        digester = _digest_events if item_type == "event" else DIGESTERS.get(item_type)
        if digester is None:
            # Queued by a version that stored this type, digested by one that does not:
            # counted as ingest counts a type it does not keep, not mistaken for an event.
            category = ITEM_CATEGORIES.get(item_type, "default")
            for row in typed_rows:
                outcomes[row.project_id][(category, Outcome.FILTERED, "not_stored")] += 1
            continue
        for project_id, counts in digester(typed_rows, projects).items():
            outcomes[project_id].update(counts)
    for project_id, counts in outcomes.items():
        record_outcomes(project_id=project_id, outcomes=counts)
    QueuedItem.objects.filter(pk__in=[row.pk for row in rows]).delete()


def _digest_events(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    scrubbers = {pk: project_scrubber(project) for pk, project in projects.items()}
    events: list[NormalizedEvent] = []
    outcomes: Outcomes = defaultdict(Counter)
    for row in rows:
        try:
            event = _normalized(row, scrubbers[row.project_id])
        except (InvalidEvent, ValueError, TypeError, RecursionError) as exc:
            logger.warning("dropping invalid event %s: %s", row.event_id, exc)
            outcomes[row.project_id][("error", Outcome.INVALID, "invalid_event")] += 1
            continue
        events.append(event)
    result = digest_events(events=events)
    record_releases(seen=_releases_seen(result))
    for event in result.events:
        category = _EVENT_CATEGORIES.get(event.type, "error")
        outcomes[event.project_id][(category, Outcome.ACCEPTED, "")] += 1
    return outcomes


def drain(*, batch_size: int = 500) -> int:
    """Digest until the queue is empty; returns how many items were taken."""
    total = 0
    while taken := digest_batch(batch_size=batch_size):
        total += taken
    return total


# Rows each maintenance run deletes at most per table (in chunks of 1000): a worker that
# comes back to a large backlog of expired spans or logs catches up over a few runs.
PRUNE_MAX_CHUNKS = 20


def run_maintenance() -> None:
    """Periodic work of the digest workers: issues whose ignore window passed are reopened,
    week-old new issues become ongoing, spent rate-limit windows are forgotten, cron monitors
    overdue or running too long are marked missed or timed out, and spans, logs and session
    marks past their retention are deleted."""
    now = timezone.now()
    changed = maintain_issues(now=now)
    # Check-ins still queued have not been seen yet: judge monitors as of the oldest of them,
    # so that a backlog does not make runs that did check in look missed.
    queued_checkin = (
        QueuedItem.objects.pending()
        .filter(type="check_in")
        .aggregate(oldest=Min("received"))["oldest"]
    )
    checked_until = min(now, queued_checkin) if queued_checkin else now
    pruned = prune_windows()
    done = {
        "checkins_missed": detect_missed_checkins(now=checked_until),
        "checkins_timed_out": detect_timeouts(now=checked_until),
        "spans_pruned": prune_spans(now=now, max_chunks=PRUNE_MAX_CHUNKS),
        "logs_pruned": prune_logs(now=now, max_chunks=PRUNE_MAX_CHUNKS),
        "session_marks_pruned": prune_session_marks(now=now),
    }
    if any(changed.values()) or pruned or any(done.values()):
        logger.info("maintenance", extra={**changed, **done, "rate_limit_windows_pruned": pruned})
