"""Outcome counters: how many items of a category were accepted, filtered, rate limited,
found invalid or discarded by the client, per project and hour (what stats and stats_v2 read)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.db import connection
from django.utils import timezone

from groups.bulk import execute_values
from ingest.models import OutcomeCounter
from projects.health import hour_of

_OUTCOME_UPSERT = (
    "INSERT INTO {table} (project_id, hour, category, outcome, reason, quantity) "
    "VALUES {values} ON CONFLICT (project_id, hour, category, outcome, reason) "
    "DO UPDATE SET quantity = {table}.quantity + excluded.quantity"
)


def record_outcomes(
    *,
    project_id: int,
    outcomes: Counter[tuple[str, str, str]],
    moment: datetime | None = None,
) -> None:
    """Add to the hourly outcome counters, in one statement."""
    if not outcomes:
        return
    hour = connection.ops.adapt_datetimefield_value(hour_of(moment or timezone.now()))
    table = connection.ops.quote_name(OutcomeCounter._meta.db_table)
    # In key order: two workers upserting the same counters lock their rows in the same order
    # (no deadlock between two multi-row upserts).
    execute_values(
        _OUTCOME_UPSERT.replace("{table}", table),
        [
            (project_id, hour, category, str(outcome), reason, quantity)
            for (category, outcome, reason), quantity in sorted(outcomes.items())
        ],
    )
