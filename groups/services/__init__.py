"""Services of the groups app, one module per concern; the public names are re-exported here."""

from groups.services.digest import DigestResult, NormalizedEvent, digest_events
from groups.services.eventfields import derived_tags, trace_id_of, user_key_of
from groups.services.issues import (
    StatusChange,
    TagSummary,
    adjacent_event_ids,
    change_issue_status,
    delete_issues,
    find_issue_by_short_id,
    issue_stats,
    issue_tag_summaries,
    maintain_issues,
    merge_issues,
    truncate_moment,
)
from groups.services.logs import prune_logs, store_logs
from groups.services.spans import (
    Trace,
    prune_spans,
    store_spans,
    trace_of,
    transaction_summaries,
)

__all__ = [
    "DigestResult",
    "NormalizedEvent",
    "StatusChange",
    "TagSummary",
    "Trace",
    "adjacent_event_ids",
    "change_issue_status",
    "delete_issues",
    "derived_tags",
    "digest_events",
    "find_issue_by_short_id",
    "issue_stats",
    "issue_tag_summaries",
    "maintain_issues",
    "merge_issues",
    "prune_logs",
    "prune_spans",
    "store_logs",
    "store_spans",
    "trace_id_of",
    "trace_of",
    "transaction_summaries",
    "truncate_moment",
    "user_key_of",
]
