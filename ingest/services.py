"""Accepting envelopes durably, and the outcome counters beside them."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from ingest import attachmentcap, door, ratelimits
from ingest.apicalls import API_CALL
from ingest.auth import ClientAuth
from ingest.digesters import stored_types
from ingest.envelope import EVENT_TYPES, ITEM_CATEGORIES, Envelope, Item, normalize_event_id
from ingest.exceptions import BadRequest, RateLimited
from ingest.models import Outcome, QueuedItem
from ingest.normalize import clean_json
from ingest.normalize.nel import NelReports
from ingest.normalize.security import SecurityReports
from ingest.outcomes import record_outcomes
from ingest.queue import after_queued, write_queue
from projects.models import ProjectKey

logger = logging.getLogger(__name__)

# Item types the digest stores; the others are counted at the door and not queued.
STORED_TYPES = stored_types()
_SAFE_LABEL = re.compile(r"[^A-Za-z0-9_.:-]")
SECURITY = ITEM_CATEGORIES["security"]
MONITOR = ITEM_CATEGORIES["check_in"]
LOG_ITEM = ITEM_CATEGORIES["log"]
# Records per queued item from one OTLP request (the digest takes up to 2000 per item).
OTLP_RECORDS_PER_ITEM = 1000
JSON = dict[str, Any]


@dataclass
class Accepted:
    event_id: str | None
    # Set when some items were dropped by a quota: tells the SDK to back off those categories.
    rate_limits: str = ""
    queued: int = 0


def accept_api_calls(
    *,
    key: ProjectKey,
    payloads: list[dict[str, Any]],
    meta: dict[str, Any],
    group_commit: bool = False,
) -> None:
    """Queue validated API calls durably, in one INSERT; RateLimited when a quota of the
    `api_call` category, or the backlog, refuses them all.
    `group_commit`: see ingest.queue.write_queue."""
    door.refuse_over_quota(
        key=key,
        category=API_CALL,
        count=len(payloads),
        detail="API calls dropped: a quota of this project was reached",
    )
    pairs = [(payload["transaction_id"], payload) for payload in payloads]
    rows = door.queue_rows(key=key, item_type=API_CALL, payloads=pairs, meta=meta)
    write_queue(rows, group_commit=group_commit)


def accept_security_reports(
    *,
    key: ProjectKey,
    reports: SecurityReports,
    meta: dict[str, Any],
    group_commit: bool = False,
) -> Accepted:
    """Queue a security endpoint's events durably (as events: the digest types them `csp`),
    counting the reports not kept; RateLimited when the backlog or a quota of the `security`
    category refuses them. `group_commit`: see ingest.queue.write_queue."""
    outcomes = _reports_not_kept(SECURITY, "security", reports)
    events = reports.events
    if events:
        try:
            door.refuse_over_quota(
                key=key,
                category=SECURITY,
                count=len(events),
                detail="security reports dropped: a quota of this project was reached",
            )
        except RateLimited:
            record_outcomes(project_id=key.project_id, outcomes=outcomes)
            raise
        pairs = [(event["event_id"], event) for event in events]
        rows = door.queue_rows(key=key, item_type="event", payloads=pairs, meta=meta)
        write_queue(rows, group_commit=group_commit)
    _record_after_accept(project_id=key.project_id, outcomes=outcomes)
    return Accepted(event_id=events[-1]["event_id"] if events else None, queued=len(events))


def _reports_not_kept(
    category: str, kind: str, reports: SecurityReports | NelReports
) -> Counter[tuple[str, str, str]]:
    """The outcomes of a browser endpoint's reports that are not kept: other report types
    (filtered), malformed ones (invalid) and those past the request's limit (filtered)."""
    not_kept = {
        (Outcome.FILTERED, f"unsupported_{kind}_report"): reports.unsupported,
        (Outcome.INVALID, f"invalid_{kind}_report"): reports.invalid,
        (Outcome.FILTERED, "too_many_reports"): reports.over_limit,
    }
    return Counter({(category, *label): count for label, count in not_kept.items() if count})


def accept_nel_reports(
    *, key: ProjectKey, reports: NelReports, meta: dict[str, Any], group_commit: bool = False
) -> None:
    """Queue a NEL endpoint's log records durably as one `log` item, counting the reports not
    kept; a quota of the `log_item` category drops them (counted), as Relay ignores it in its
    answer; RateLimited when the backlog refuses them."""
    outcomes = _reports_not_kept(LOG_ITEM, "nel", reports)
    if reports.records and door.within_quota(
        key=key,
        category=LOG_ITEM,
        count=len(reports.records),
        detail="network error reports dropped by a quota",
    ):
        rows = door.queue_rows(
            key=key, item_type="log", payloads=[(None, {"items": reports.records})], meta=meta
        )
        write_queue(rows, group_commit=group_commit)
    _record_after_accept(project_id=key.project_id, outcomes=outcomes)


def accept_otlp(
    *,
    key: ProjectKey,
    item_type: str,
    records: list[JSON],
    rejected: int = 0,
    meta: dict[str, Any],
    group_commit: bool = False,
) -> None:
    """Queue the records of an OTLP export request durably, as `span` or `log` items of at
    most OTLP_RECORDS_PER_ITEM records, and count the `rejected` ones left out; RateLimited
    when the backlog or a quota of their category refuses them (OTLP exporters retry after
    a 429's Retry-After)."""
    category = ITEM_CATEGORIES[item_type]
    if not records:
        return
    outcomes = Counter({(category, Outcome.INVALID, "too_many_items"): rejected})
    door.refuse_over_quota(
        key=key,
        category=category,
        count=len(records),
        detail=f"OTLP {category} dropped: a quota of this project was reached",
    )
    containers = [
        (None, {"items": records[start : start + OTLP_RECORDS_PER_ITEM]})
        for start in range(0, len(records), OTLP_RECORDS_PER_ITEM)
    ]
    rows = door.queue_rows(key=key, item_type=item_type, payloads=containers, meta=meta)
    write_queue(rows, group_commit=group_commit)
    if rejected:
        _record_after_accept(project_id=key.project_id, outcomes=outcomes)


def accept_checkin(
    *, key: ProjectKey, payload: dict[str, Any], meta: dict[str, Any], group_commit: bool = False
) -> bool:
    """Queue one check-in of the cron HTTP API durably; False when a quota of the `monitor`
    category dropped it (counted), RateLimited when the backlog refuses it.
    `group_commit`: see ingest.queue.write_queue."""
    if not door.within_quota(
        key=key, category=MONITOR, count=1, detail="check-in dropped by a quota"
    ):
        return False
    rows = door.queue_rows(key=key, item_type="check_in", payloads=[(None, payload)], meta=meta)
    write_queue(rows, group_commit=group_commit)
    return True


def _event_id_of(item: Item) -> str | None:
    try:
        value = json.loads(item.payload).get("event_id")
        return normalize_event_id(value) if value else None
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        return None


def _assign_event_id(envelope: Envelope) -> str | None:
    """The envelope's event id: its header, else the event item's own, else a new one."""
    if envelope.event_id:
        return envelope.event_id
    for item in envelope.items:
        if item.type in EVENT_TYPES:
            envelope.headers["event_id"] = _event_id_of(item) or uuid.uuid4().hex
            return envelope.headers["event_id"]
    return None


def accept_envelope(
    *, key: ProjectKey, envelope: Envelope, meta: dict[str, Any], group_commit: bool = False
) -> Accepted:
    """Queue the envelope's items durably; raise RateLimited when nothing may be taken (its
    subclass QuotaExceeded when quotas refused it all, not the backlog).
    `group_commit`: see ingest.queue.write_queue."""
    project = key.project
    known = [item for item in envelope.items if item.type in ITEM_CATEGORIES]
    outcomes: Counter[tuple[str, str, str]] = Counter(
        ("default", Outcome.FILTERED, "unknown_item:" + _SAFE_LABEL.sub("_", item.type)[:50])
        for item in envelope.items
        if item.type not in ITEM_CATEGORIES
    )
    event_id = _assign_event_id(envelope)
    if known and door.backlog_full():
        record_outcomes(project_id=project.pk, outcomes=outcomes)
        raise door.backlogged()

    exceeded = ratelimits.enforce(
        door.known_key(key.public_key).quotas, Counter(item.category for item in known)
    )
    limited = {category for hit in exceeded for category in hit.quota.categories}
    # Relay's EnvelopeLimiter: the attachments of an event that a quota drops go with it.
    event_dropped = any(item.type in EVENT_TYPES and item.category in limited for item in known)

    def is_dropped(item: Item) -> bool:
        return item.category in limited or (event_dropped and item.type == "attachment")

    kept = [item for item in known if not is_dropped(item)]
    for item in known:
        if is_dropped(item):
            outcomes[(item.category, Outcome.RATE_LIMITED, "quota")] += 1
    header = ratelimits.rate_limits_header(exceeded)
    if known and not kept:
        record_outcomes(project_id=project.pk, outcomes=outcomes)
        raise door.QuotaExceeded(
            "Sentry dropped data due to a quota or internal rate limit being reached. "
            "This will not affect your application.",
            retry_after=max(hit.retry_after for hit in exceeded),
            rate_limits=header,
        )
    kept, full_header = attachmentcap.within_storage(
        project_id=project.pk, items=kept, outcomes=outcomes
    )
    stored = [item for item in kept if item.type in STORED_TYPES]
    for item in kept:
        if item.type not in STORED_TYPES:
            outcomes[(item.category, Outcome.FILTERED, "not_stored")] += 1
    _enqueue(
        key=key,
        items=stored,
        event_id=event_id,
        meta=meta,
        envelope=envelope,
        group_commit=group_commit,
    )
    # Only once the items are queued: an envelope refused with a 503 is sent again, and its
    # filtered items would be counted once per attempt.
    _record_after_accept(project_id=project.pk, outcomes=outcomes)
    header = ", ".join(filter(None, [header, full_header, not_stored_header()]))
    return Accepted(event_id=event_id, rate_limits=header, queued=len(stored))


def _record_after_accept(*, project_id: int, outcomes: Counter[tuple[str, str, str]]) -> None:
    """Count what the door filtered out of an accepted envelope, once its items are queued
    (ingest.queue.after_queued)."""
    if outcomes:
        after_queued(lambda: _record_filtered(project_id=project_id, outcomes=outcomes))


def _record_filtered(*, project_id: int, outcomes: Counter[tuple[str, str, str]]) -> None:
    """The items are already queued: a database failure now loses these counts, not the
    SDK's 200 (a 503 would make it send the envelope again, and items without an event id
    would be stored twice)."""
    try:
        record_outcomes(project_id=project_id, outcomes=outcomes)
    except DatabaseError:
        if connection.in_atomic_block:
            raise
        logger.exception("outcome counters of an accepted envelope not recorded: %s", outcomes)


# Categories of the item types that Faultline counts but does not store (fixed at start-up:
# STORED_TYPES follows the digesters registered on import).
_NOT_STORED_CATEGORIES = ";".join(
    sorted(
        set(ITEM_CATEGORIES.values())
        - {ITEM_CATEGORIES[item_type] for item_type in STORED_TYPES if item_type in ITEM_CATEGORIES}
        - {"internal"}
    )
)


def not_stored_header() -> str:
    """Relay's way of telling an SDK to stop sending what would not be kept: a rate limit on
    the categories of item types that Faultline counts but does not store."""
    if not _NOT_STORED_CATEGORIES:
        return ""
    seconds = settings.INGEST_NOT_STORED_RETRY_AFTER_SECONDS
    return f"{seconds}:{_NOT_STORED_CATEGORIES}:project:feature_disabled"


def _enqueue(
    *,
    key: ProjectKey,
    items: list[Item],
    event_id: str | None,
    meta: dict[str, Any],
    envelope: Envelope,
    group_commit: bool,
) -> None:
    if not items:
        return
    received = timezone.now()
    sent_at = envelope.headers.get("sent_at")
    base_meta = clean_json({**meta, "sent_at": sent_at}) if sent_at else meta
    trace = _trace_meta(envelope.headers.get("trace"))
    if trace:
        base_meta = {**base_meta, "trace": trace}
    rows = [
        (
            key.project_id,
            key.pk,
            item.type,
            event_id,
            received,
            QueuedItem.pack(item.payload),
            _item_meta(base_meta, item),
            0,
            "",
        )
        for item in items
    ]
    write_queue(rows, group_commit=group_commit)


def _trace_meta(trace: Any) -> dict[str, str]:
    """What span and log items take from the envelope's trace header (the dynamic sampling
    context) when their own attributes lack it."""
    if not isinstance(trace, dict):
        return {}
    return {
        key: clean_json(trace[key])[:200]
        for key in ("release", "environment")
        if isinstance(trace.get(key), str)
    }


def _item_meta(meta: dict[str, Any], item: Item) -> dict[str, Any]:
    if item.type == "attachment":
        meta = {**meta, attachmentcap.ATTACHMENT_SIZE: len(item.payload)}
    extra = {key: value for key, value in item.headers.items() if key not in ("type", "length")}
    # Headers are client JSON: no NULs or lone surrogates in what PostgreSQL must store.
    return clean_json({**meta, "item": extra}) if extra else meta


def check_envelope_dsn(
    *, auth: ClientAuth, dsn: tuple[str, str] | None, project_id: str | None
) -> None:
    """Relay: a `dsn` header beside request credentials must name the same key and project."""
    if dsn is None:
        return
    public_key, dsn_project_id = dsn
    if public_key != auth.public_key:
        raise BadRequest(
            "invalid event envelope",
            causes=["public key header mismatch between envelope and request"],
        )
    if project_id is not None and dsn_project_id != project_id:
        raise BadRequest(
            "invalid event envelope",
            causes=["project id header mismatch between envelope and request"],
        )
