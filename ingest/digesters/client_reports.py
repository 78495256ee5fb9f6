"""Client reports: what the SDK itself discarded, counted beside Faultline's own outcomes."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from ingest.digesters import Outcomes, digests
from ingest.digesters.values import InvalidItem, load_object
from ingest.models import Outcome, OutcomeCounter, QueuedItem
from projects.models import Project

_LABEL = re.compile(r"[A-Za-z0-9_.:-]+")
MAX_QUANTITY = 10**9


def _is_label(value: Any, column: str) -> bool:
    """A label that fits its OutcomeCounter column (category 32, reason 64 characters)."""
    limit = OutcomeCounter._meta.get_field(column).max_length
    return isinstance(value, str) and len(value) <= limit and bool(_LABEL.fullmatch(value))


def _discards(report: dict[str, Any]) -> Counter[tuple[str, str, str]] | None:
    """(category, client_discard, reason) → quantity; None when the report is malformed."""
    entries = report.get("discarded_events") or []
    if not isinstance(entries, list):
        return None
    counts: Counter[tuple[str, str, str]] = Counter()
    for entry in entries:
        if not isinstance(entry, dict):
            return None
        category, reason, quantity = (
            entry.get("category"),
            entry.get("reason"),
            entry.get("quantity"),
        )
        if not _is_label(category, "category") or not _is_label(reason, "reason"):
            return None
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            return None
        counts[(category, Outcome.CLIENT_DISCARD, reason)] += min(quantity, MAX_QUANTITY)
    return +counts


@digests("client_report")
def digest_client_reports(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    outcomes: Outcomes = defaultdict(Counter)
    for row in rows:
        try:
            counts = _discards(load_object(row, "invalid_client_report"))
        except InvalidItem:
            counts = None
        if counts is None:
            outcomes[row.project_id][("internal", Outcome.INVALID, "invalid_client_report")] += 1
            continue
        outcomes[row.project_id].update(counts)
    return outcomes
