"""What every ingest path checks before it queues: the key (cached), the backlog bound and the
quotas, and the queue rows of paths that take items of one kind."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from groups import jsoncodec
from ingest import ratelimits
from ingest.auth import ClientAuth
from ingest.exceptions import Forbidden, RateLimited, Unauthorized
from ingest.models import Outcome, QueuedItem
from ingest.outcomes import record_outcomes
from projects.models import ProjectKey

REJECTED = "event submission rejected with_reason: ProjectId"
BACKLOG_CHECK_SECONDS = 1.0


class QuotaExceeded(RateLimited):
    """A quota of the project or key refused the items (not the backlog)."""


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


def backlog_full() -> bool:
    """Whether the queue holds more than INGEST_MAX_BACKLOG_ITEMS (as of the last second)."""
    return _backlog.full()


def backlogged() -> RateLimited:
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


def known_key(public_key: str) -> _KnownKey:
    """The key of this public key (None if there is none) and its quotas, cached."""
    return _keys.get(public_key)


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


def refuse_over_quota(*, key: ProjectKey, category: str, count: int, detail: str) -> None:
    """For door paths that take items of one category: RateLimited when the backlog or a
    quota of `category` refuses all `count` of them (the quota's refusal counted)."""
    if _backlog.full():
        raise backlogged()
    enforce_quota(key=key, category=category, count=count, detail=detail)


def within_quota(*, key: ProjectKey, category: str, count: int, detail: str) -> bool:
    """For paths that answer a quota's refusal with a 2xx, as Relay does (cron check-ins,
    NEL reports): False when a quota of `category` refuses the items (counted);
    RateLimited when the backlog refuses them."""
    if _backlog.full():
        raise backlogged()
    try:
        enforce_quota(key=key, category=category, count=count, detail=detail)
    except QuotaExceeded:
        return False
    return True


def enforce_quota(*, key: ProjectKey, category: str, count: int, detail: str) -> None:
    """QuotaExceeded when a quota of `category` refuses `count` items (counted as such)."""
    quotas = _keys.get(key.public_key).quotas
    exceeded = ratelimits.enforce(quotas, Counter({category: count}))
    if exceeded:
        record_outcomes(
            project_id=key.project_id,
            outcomes=Counter({(category, Outcome.RATE_LIMITED, "quota"): count}),
        )
        raise QuotaExceeded(
            detail,
            retry_after=max(hit.retry_after for hit in exceeded),
            rate_limits=ratelimits.rate_limits_header(exceeded),
        )


def queue_rows(
    *,
    key: ProjectKey,
    item_type: str,
    payloads: list[tuple[str | None, Any]],
    meta: dict[str, Any],
) -> list[tuple[Any, ...]]:
    """Queue rows of (id, JSON payload) pairs of one type, received now."""
    received = timezone.now()
    return [
        (
            key.project_id,
            key.pk,
            item_type,
            item_id,
            received,
            QueuedItem.pack(jsoncodec.dumps(payload)),
            meta,
            0,
            "",
        )
        for item_id, payload in payloads
    ]
