"""What each digest worker is digesting, kept where the next worker finds it if this one dies.

A batch that raises is rolled back and retried item by item (ingest.digest). A worker that
dies in a batch (a segfault in a C extension, the OOM killer) rolls back too, but marks
nothing: the same batch, taken again by the restarted worker, would kill it again, forever.
So a worker writes the ids of its batch down before digesting it and clears them after. A
worker starting takes over the batches of dead ones, counts one failure for each item still
queued, and those items are then digested one at a time (ingest.digest._claim), so that the
one that kills is parked after QueuedItem.MAX_FAILURES deaths and the others go through.

On PostgreSQL the batch is a row of ingest_digestjournal, written on a connection of the
worker's own in autocommit, outside the batch's transaction: every worker on every machine
sees it. The worker deletes the row before its batch commits or rolls back, so a row stays
only while its batch's queued rows are locked (its claim holds them FOR UPDATE), or after
its worker died. A row whose items are all free is a dead worker's; one whose items another
worker took meanwhile waits for them to be free again (that worker committed them, and the
row goes, or died as well, and both deaths are counted). A worker that dies between clearing
its row and its commit goes uncounted, the price of never counting a live one.
On SQLite (one machine) the batch is a file in the data directory, locked (flock) while its
worker lives.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import uuid
from contextlib import suppress
from pathlib import Path
from typing import IO, Protocol

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from ingest.models import DigestJournal, QueuedItem

logger = logging.getLogger(__name__)
DIED = "a digest worker died while digesting a batch with this item"
_SUFFIX = ".batch"


class Journal(Protocol):
    def begin(self, ids: list[int]) -> None: ...
    def end(self) -> None: ...
    def close(self) -> None: ...


def _worker_name() -> str:
    """A name no other worker has, even one with the same pid in another container (at most
    81 characters)."""
    return f"{socket.gethostname()[:60]}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def _ids(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip().isdigit()]


def _mark(ids: list[int]) -> int:
    if not ids:
        return 0
    marked = (
        QueuedItem.objects.pending()
        .filter(pk__in=ids)
        .update(failures=F("failures") + 1, last_error=DIED)
    )
    logger.error(
        "a digest worker died digesting items %s..%s; they are retried one by one",
        min(ids),
        max(ids),
    )
    return marked


# PostgreSQL.


def recover_dead_batches_in_database() -> int:
    """Count a failure for each item still queued from the batches of dead workers; returns
    how many items were marked."""
    marked = 0
    with transaction.atomic():
        # Locked, so that two workers starting together do not both count a death.
        journals = list(DigestJournal.objects.select_for_update(skip_locked=True))
        for journal in journals:
            queued = QueuedItem.objects.filter(pk__in=_ids(journal.item_ids))
            present = queued.count()
            free = list(queued.select_for_update(skip_locked=True).values_list("pk", flat=True))
            if len(free) < present:
                continue  # its worker is alive and digesting them (or another took them)
            marked += _mark(free)
            journal.delete()
    return marked


class DatabaseJournal:
    """PostgreSQL: this worker's batch as its row of ingest_digestjournal, on a connection of
    its own (autocommit: committed before the batch is digested), deleted after it."""

    def __init__(self) -> None:
        self.worker = _worker_name()
        self._connection = connections.create_connection(DEFAULT_DB_ALIAS)
        self._table = connection.ops.quote_name(DigestJournal._meta.db_table)
        self._written = False

    def _execute(self, sql: str, params: list[object]) -> bool:
        """Run one statement; False if it failed twice. Never raises: end() runs inside the
        batch's transaction, which a journal failure must neither roll back nor mask."""
        sql = sql.replace("{table}", self._table)
        try:
            self._run(sql, params)
            return True
        except Exception as exc:
            # Once more on a new connection (the server may have closed an idle one).
            logger.warning("batch journal of %s: %s; connecting again", self.worker, exc)
            self._close_connection()
        try:
            self._run(sql, params)
            return True
        except Exception as exc:
            logger.error("batch journal row of %s not written: %s", self.worker, exc)
            self._close_connection()
            return False

    def _run(self, sql: str, params: list[object]) -> None:
        with self._connection.cursor() as cursor:
            cursor.execute(sql, params)

    def _close_connection(self) -> None:
        with suppress(Exception):
            self._connection.close()

    def begin(self, ids: list[int]) -> None:
        self._written = self._execute(
            "INSERT INTO {table} (worker, item_ids, started) VALUES (%s, %s, %s) "
            "ON CONFLICT (worker) DO UPDATE SET item_ids = excluded.item_ids, "
            "started = excluded.started",
            [self.worker, ",".join(map(str, ids)), timezone.now()],
        )

    def end(self) -> None:
        if not self._written:
            return  # an idle poll: nothing to clear
        self._written = False
        self._execute("DELETE FROM {table} WHERE worker = %s", [self.worker])

    def close(self) -> None:
        # Whether or not a batch's row is known to be there: one left behind would be taken
        # for a dead worker's.
        self._written = True
        self.end()
        self._close_connection()


# SQLite.


def journal_directory() -> Path:
    """Per database: ids mean nothing in another one (a test database beside the real one,
    two instances sharing a data directory)."""
    database = connection.settings_dict
    identity = f"{connection.vendor}:{database['HOST']}:{database['PORT']}:{database['NAME']}"
    return Path(settings.DATA_DIR) / "digest" / hashlib.sha256(identity.encode()).hexdigest()[:16]


def recover_dead_batches(directory: Path) -> int:
    """Count a failure for each item still queued from the batches of dead workers; returns
    how many items were marked."""
    marked = 0
    for path in sorted(directory.glob(f"*{_SUFFIX}")):
        try:
            handle = path.open("r+")
        except FileNotFoundError:
            continue  # taken over by another worker meanwhile
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its worker is alive
            try:
                if os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino:
                    continue  # taken over and removed meanwhile; the path names another file
            except FileNotFoundError:
                continue
            marked += _mark(_ids(handle.read()))
            # Emptied before it goes: a worker that opened it meanwhile reads nothing.
            handle.truncate(0)
            path.unlink(missing_ok=True)
    return marked


class BatchJournal:
    """This worker's file: the ids of the batch it is digesting, empty between batches."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # Created, never opened over another worker's file.
        self.path = directory / f"{_worker_name()}{_SUFFIX}"
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        self._file: IO[str] = os.fdopen(descriptor, "w")
        fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._written = False
        self._broken = False

    def begin(self, ids: list[int]) -> None:
        if self._broken:
            return
        # Written to the kernel, not synced to disk: what must outlive is this process.
        try:
            self._file.seek(0)
            self._file.truncate()
            self._file.write(",".join(map(str, ids)))
            self._file.flush()
        except OSError as exc:
            # A full disk must not stop digesting: go on without the journal.
            logger.error("batch journal %s unusable, digesting without it: %s", self.path, exc)
            self._broken = True
            return
        self._written = True

    def end(self) -> None:
        if not self._written:
            return  # an idle poll: nothing to clear
        try:
            self._file.seek(0)
            self._file.truncate()
        except OSError as exc:
            logger.error("batch journal %s unusable, digesting without it: %s", self.path, exc)
            self._broken = True
        self._written = False

    def close(self) -> None:
        self.path.unlink(missing_ok=True)
        self._file.close()


def recover_dead_workers_batches() -> int:
    """Take over the batches of dead workers: at a worker's start and with its maintenance
    (so that a worker that was not restarted, or a database down at start, delays this only
    a minute); returns how many items were marked."""
    if connection.vendor == "postgresql":
        return recover_dead_batches_in_database()
    directory = journal_directory()
    return recover_dead_batches(directory) if directory.is_dir() else 0


def open_journal() -> Journal | None:
    """This worker's journal; on SQLite, None (with a warning) where the data directory is
    not writable. (The worker takes over dead workers' batches with its maintenance, which
    runs before its first batch.)"""
    if connection.vendor == "postgresql":
        return DatabaseJournal()
    directory = journal_directory()
    try:
        return BatchJournal(directory)
    except OSError as exc:
        logger.warning("digesting without a batch journal in %s: %s", directory, exc)
        return None
