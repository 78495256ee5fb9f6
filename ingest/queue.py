"""Writing accepted items to the durable queue, a statement per request or per group of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from groups import jsoncodec
from groups.bulk import MAX_PARAMS_PER_STATEMENT, insert_values, raw_cursor
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


@dataclass
class DeferredWrites:
    """The queue rows of one request served by the ASGI front door (ingest/asgi.py), and
    what is to run once they are committed; the front door writes them and only then
    answers."""

    rows: list[Any] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)


_deferred: ContextVar[DeferredWrites | None] = ContextVar("deferred_queue_writes", default=None)


@contextmanager
def deferred_writes() -> Iterator[DeferredWrites]:
    """Within it, write_queue collects the rows instead of writing them, and after_queued
    keeps its callbacks: the caller must commit the rows, then run the callbacks, before
    the client hears that they were accepted."""
    token = _deferred.set(DeferredWrites())
    try:
        yield _deferred.get()
    finally:
        _deferred.reset(token)


def after_queued(callback: Callable[[], None]) -> None:
    """Run `callback` once the rows written so far are durable: now, or, for a request of the
    ASGI front door, after its rows are committed (and not at all if they were not)."""
    pending = _deferred.get()
    if pending is None:
        callback()
    else:
        pending.after.append(callback)


def write_queue(rows: Rows, *, group_commit: bool) -> None:
    """Make `rows` (values in QUEUE_FIELDS order) durable before returning; inside
    deferred_writes, collect them for the caller to write."""
    pending = _deferred.get()
    if pending is not None and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
        pending.rows.extend(rows)
        return
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
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql" and not connection.queries_logged:
        _copy_rows(connection, rows)
        return
    # One statement, committed on its own (bulk_create would wrap it in BEGIN/COMMIT: two
    # more round trips on the hottest path). Rows past one statement's parameters take a
    # transaction, so that a failure leaves none of them behind for the retry to write again.
    if len(rows) * len(QUEUE_FIELDS) <= MAX_PARAMS_PER_STATEMENT:
        insert_values(QueuedItem, QUEUE_FIELDS, rows)
        return
    with transaction.atomic():
        insert_values(QueuedItem, QUEUE_FIELDS, rows)


@lru_cache(maxsize=1)
def _copy_sql() -> str:
    ops = connections[DEFAULT_DB_ALIAS].ops
    columns = ", ".join(
        ops.quote_name(QueuedItem._meta.get_field(name).column) for name in QUEUE_FIELDS
    )
    return f"COPY {ops.quote_name(QueuedItem._meta.db_table)} ({columns}) FROM STDIN"


def _copy_rows(connection: BaseDatabaseWrapper, rows: Rows) -> None:
    """The rows in one COPY: a single statement however many they are (committed on its own
    outside a transaction, all or none), its values formatted by psycopg's C code. A
    multi-row INSERT prepares every value through its Django field and psycopg adapts each
    parameter in Python: in bench/ that took about twice the CPU per row of the COPY."""
    # The values are the ones accept_envelope and accept_api_calls build (QUEUE_FIELDS):
    # only `meta` needs preparing, as JSON text for the jsonb column. Unlike UUIDField, the
    # COPY takes an event id only in PostgreSQL's forms (every path normalizes it to hex).
    prepared = [
        (project, key, kind, event_id, received, payload, jsoncodec.dumps(meta).decode(), *rest)
        for project, key, kind, event_id, received, payload, meta, *rest in rows
    ]
    with (
        connection.wrap_database_errors,
        raw_cursor(connection) as cursor,
        cursor.copy(_copy_sql()) as copy,
    ):
        for row in prepared:
            copy.write_row(row)


# One per process (its thread is started in the process that first writes through it).
committer = GroupCommitter(
    insert_rows, name="queue-committer", share=lambda: settings.INGEST_GROUP_COMMIT
)
