"""Fixed-window quotas per client key and per project, counted in the database."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from django.db import connection

from ingest.models import RateLimitWindow
from projects.models import ProjectKey

# Items that a key's own rate limit counts: what Sentry calls events.
KEY_LIMITED_CATEGORIES = frozenset({"error", "default", "transaction", "security"})


@dataclass(frozen=True)
class Quota:
    scope: str
    categories: frozenset[str]
    limit: int
    window_seconds: int
    # Scope name for X-Sentry-Rate-Limits: organization, project or key.
    scope_name: str


@dataclass(frozen=True)
class Exceeded:
    quota: Quota
    retry_after: int


def quotas_for(key: ProjectKey) -> list[Quota]:
    quotas = [
        Quota(
            scope=f"p{quota.project_id}:{quota.category}",
            categories=frozenset({quota.category}),
            limit=quota.count,
            window_seconds=quota.window_seconds,
            scope_name="project",
        )
        for quota in key.project.quotas.all()
    ]
    if key.has_rate_limit:
        quotas.append(
            Quota(
                scope=f"k{key.pk}",
                categories=KEY_LIMITED_CATEGORIES,
                limit=key.rate_limit_count,
                window_seconds=key.rate_limit_window_seconds,
                scope_name="key",
            )
        )
    return quotas


_UPSERT = (
    "INSERT INTO {table} (scope, window_start, count) VALUES (%s, %s, %s) "
    "ON CONFLICT (scope, window_start) DO UPDATE SET count = {table}.count + excluded.count "
    "RETURNING count"
)


def _consume(quota: Quota, quantity: int, now: float) -> int | None:
    """Count `quantity` against the quota; the seconds until the window ends if over."""
    window_start = int(now // quota.window_seconds * quota.window_seconds)
    table = connection.ops.quote_name(RateLimitWindow._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT.format(table=table), [quota.scope, window_start, quantity])
        (count,) = cursor.fetchone()
    if count <= quota.limit:
        return None
    return max(1, int(window_start + quota.window_seconds - now + 0.999))


def enforce(quotas: list[Quota], categories: Counter[str]) -> list[Exceeded]:
    """Count the request's items against each quota they fall under; the quotas exceeded."""
    now = time.time()
    exceeded = []
    for quota in quotas:
        quantity = sum(n for category, n in categories.items() if category in quota.categories)
        if quantity == 0:
            continue
        retry_after = _consume(quota, quantity, now)
        if retry_after is not None:
            exceeded.append(Exceeded(quota, retry_after))
    return exceeded


def rate_limits_header(exceeded: list[Exceeded]) -> str:
    """`X-Sentry-Rate-Limits` in Sentry's grammar, integer seconds (sentry-python needs it)."""
    return ", ".join(
        f"{item.retry_after}:{';'.join(sorted(item.quota.categories))}:{item.quota.scope_name}"
        for item in exceeded
    )


def prune_windows(*, older_than_seconds: int = 86400) -> int:
    """Forget windows that ended long ago."""
    cutoff = int(time.time()) - older_than_seconds
    deleted, _ = RateLimitWindow.objects.filter(window_start__lt=cutoff).delete()
    return deleted
