"""Client reports: what the SDK itself discarded, counted beside Faultline's own outcomes."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from groups import jsoncodec
from ingest.digesters import Outcomes, digests
from ingest.models import Outcome, QueuedItem
from projects.models import Project

_LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_QUANTITY = 10**9


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
        if not isinstance(category, str) or not _LABEL.match(category):
            return None
        if not isinstance(reason, str) or not _LABEL.match(reason):
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
            report = jsoncodec.loads(row.body)
        except (ValueError, RecursionError):
            report = None
        counts = _discards(report) if isinstance(report, dict) else None
        if counts is None:
            outcomes[row.project_id][("internal", Outcome.INVALID, "invalid_client_report")] += 1
            continue
        outcomes[row.project_id].update(counts)
    return outcomes
