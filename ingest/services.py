"""Accepting envelopes durably, and the outcome counters beside them."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from groups import jsoncodec
from ingest import attachmentcap, ratelimits
from ingest.apicalls import API_CALL
from ingest.auth import ClientAuth
from ingest.digesters import stored_types
from ingest.envelope import EVENT_TYPES, ITEM_CATEGORIES, Envelope, Item, normalize_event_id
from ingest.exceptions import BadRequest, Forbidden, RateLimited, Unauthorized
from ingest.models import Outcome, QueuedItem
from ingest.normalize import clean_json
from ingest.outcomes import record_outcomes
from ingest.queue import write_queue
from projects.models import ProjectKey

logger = logging.getLogger(__name__)

REJECTED = "event submission rejected with_reason: ProjectId"
# Item types the digest stores; the others are counted at the door and not queued.
STORED_TYPES = stored_types()
_SAFE_LABEL = re.compile(r"[^A-Za-z0-9_.:-]")
BACKLOG_CHECK_SECONDS = 1.0


@dataclass
class Accepted:
    event_id: str | None
    # Set when some items were dropped by a quota: tells the SDK to back off those categories.
    rate_limits: str = ""
    queued: int = 0


@dataclass
class _BacklogProbe:
    """The queue's length, looked up at most once a second per process."""

    checked_at: float = 0.0
    is_full: bool = False

    def full(self) -> bool:
        now = time.monotonic()
        if now - self.checked_at >= BACKLOG_CHECK_SECONDS:
            bound = settings.INGEST_MAX_BACKLOG_ITEMS
            self.is_full = QueuedItem.objects.pending()[: bound + 1].count() > bound
            self.checked_at = now
        return self.is_full


_backlog = _BacklogProbe()


def _backlogged() -> RateLimited:
    return RateLimited(
        "Faultline is digesting a backlog; retry later",
        retry_after=settings.INGEST_BACKLOG_RETRY_AFTER_SECONDS,
        rate_limits=f"{settings.INGEST_BACKLOG_RETRY_AFTER_SECONDS}::organization",
    )


@dataclass
class _KnownKey:
    key: ProjectKey | None
    quotas: list[ratelimits.Quota]
    expires: float


class _KeyCache:
    """Keys (and their quotas) looked up in the last INGEST_KEY_CACHE_SECONDS, per process.

    Saves two queries on every request; like Relay's project-config cache, a deactivated
    key or a changed quota takes effect within that many seconds.
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, _KnownKey] = {}

    def get(self, public_key: str) -> _KnownKey:
        now = time.monotonic()
        known = self._entries.get(public_key)
        if known is not None and known.expires > now:
            return known
        key = (
            ProjectKey.objects.select_related("project")
            .prefetch_related("project__quotas")
            .filter(public_key=public_key)
            .first()
        )
        quotas = ratelimits.quotas_for(key) if key is not None else []
        known = _KnownKey(key, quotas, now + settings.INGEST_KEY_CACHE_SECONDS)
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[public_key] = known
        return known


_keys = _KeyCache()


def authenticate(*, auth: ClientAuth, project_id: str | None) -> ProjectKey:
    """The active key named by `auth`, belonging to the project in the URL (if any)."""
    key = _keys.get(auth.public_key).key
    if key is None or not key.is_active:
        raise Forbidden(REJECTED)
    if project_id is not None and str(key.project_id) != project_id:
        raise Forbidden(REJECTED)
    if auth.dsn_project_id is not None and auth.dsn_project_id != str(key.project_id):
        raise Forbidden(REJECTED)
    return key


def authenticate_application(*, application_id: str) -> ProjectKey:
    """The active key whose public key is this Moesif `X-Moesif-Application-Id`.

    Moesif answers 401 to a missing or wrong application id (its docs' _errors.md), so both
    are 401 here, unlike the Sentry endpoints' 403 for an unknown key.
    """
    public_key = application_id.strip().lower()
    if not public_key:
        raise Unauthorized("missing X-Moesif-Application-Id header")
    key = _keys.get(public_key).key if len(public_key) == 32 and public_key.isascii() else None
    if key is None or not key.is_active:
        raise Unauthorized("unknown or disabled application id")
    return key


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
    if _backlog.full():
        raise _backlogged()
    quotas = _keys.get(key.public_key).quotas
    exceeded = ratelimits.enforce(quotas, Counter({API_CALL: len(payloads)}))
    if exceeded:
        record_outcomes(
            project_id=key.project_id,
            outcomes=Counter({(API_CALL, Outcome.RATE_LIMITED, "quota"): len(payloads)}),
        )
        raise RateLimited(
            "API calls dropped: a quota of this project was reached",
            retry_after=max(hit.retry_after for hit in exceeded),
            rate_limits=ratelimits.rate_limits_header(exceeded),
        )
    received = timezone.now()
    rows = [
        (
            key.project_id,
            key.pk,
            API_CALL,
            payload["transaction_id"],
            received,
            QueuedItem.pack(jsoncodec.dumps(payload)),
            meta,
            0,
            "",
        )
        for payload in payloads
    ]
    write_queue(rows, group_commit=group_commit)


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
    """Queue the envelope's items durably; raise RateLimited when nothing may be taken.
    `group_commit`: see ingest.queue.write_queue."""
    project = key.project
    known = [item for item in envelope.items if item.type in ITEM_CATEGORIES]
    outcomes: Counter[tuple[str, str, str]] = Counter(
        ("default", Outcome.FILTERED, "unknown_item:" + _SAFE_LABEL.sub("_", item.type)[:50])
        for item in envelope.items
        if item.type not in ITEM_CATEGORIES
    )
    event_id = _assign_event_id(envelope)
    if known and _backlog.full():
        record_outcomes(project_id=project.pk, outcomes=outcomes)
        raise _backlogged()

    exceeded = ratelimits.enforce(
        _keys.get(key.public_key).quotas, Counter(item.category for item in known)
    )
    limited = {category for hit in exceeded for category in hit.quota.categories}
    kept = [item for item in known if item.category not in limited]
    for item in known:
        if item.category in limited:
            outcomes[(item.category, Outcome.RATE_LIMITED, "quota")] += 1
    header = ratelimits.rate_limits_header(exceeded)
    if known and not kept:
        record_outcomes(project_id=project.pk, outcomes=outcomes)
        raise RateLimited(
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
    """Count what the door filtered out of an accepted envelope. The items are already
    queued: a database failure now loses these counts, not the SDK's 200 (a 503 would make
    it send the envelope again, and items without an event id would be stored twice)."""
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
