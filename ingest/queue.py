"""Writing accepted items to the durable queue, a statement per request or per group of them."""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from groups.bulk import MAX_PARAMS_PER_STATEMENT, insert_values
from ingest.exceptions import ServiceUnavailable
from ingest.groupcommit import CommitTimeout, GroupCommitter, Rows
from ingest.models import QueuedItem

# The order of the values in the rows that accept_envelope and accept_api_calls build.
QUEUE_FIELDS = (
    "project",
    "key",
    "type",
    "event_id",
    "received",
    "payload",
    "meta",
    "failures",
    "last_error",
)


def write_queue(rows: Rows, *, group_commit: bool) -> None:
    """Make `rows` (values in QUEUE_FIELDS order) durable before returning."""
    # With `group_commit` (a request of a threaded server) and INGEST_GROUP_COMMIT on, the rows
    # go into the statement that this process's committer thread writes for every request
    # waiting at that moment (ingest/groupcommit.py); otherwise into a statement of their own,
    # as they must inside a transaction (the committer's connection is not the caller's).
    shared = group_commit and settings.INGEST_GROUP_COMMIT
    if not shared or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        insert_rows(rows)
        return
    try:
        committer.write(rows, timeout=settings.INGEST_GROUP_COMMIT_TIMEOUT_SECONDS)
    except CommitTimeout:
        raise ServiceUnavailable("the accepted items could not be stored in time") from None


def insert_rows(rows: Rows) -> None:
    """INSERT queue rows, committed before returning, all or none."""
    # One statement, committed on its own (bulk_create would wrap it in BEGIN/COMMIT: two
    # more round trips on the hottest path). Rows past one statement's parameters take a
    # transaction, so that a failure leaves none of them behind for the retry to write again.
    if len(rows) * len(QUEUE_FIELDS) <= MAX_PARAMS_PER_STATEMENT:
        insert_values(QueuedItem, QUEUE_FIELDS, rows)
        return
    with transaction.atomic():
        insert_values(QueuedItem, QUEUE_FIELDS, rows)


# One per process (its thread is started in the process that first writes through it).
committer = GroupCommitter(insert_rows, name="queue-committer")
