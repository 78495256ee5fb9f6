"""What each digest worker is digesting, kept where the next worker finds it if this one dies.

A batch that raises is rolled back and retried item by item (ingest.digest). A worker that
dies in a batch (a segfault in a C extension, the OOM killer) rolls back too, but marks
nothing: the same batch, taken again by the restarted worker, would kill it again, forever.
So a worker writes the ids of its batch to a file of its own before digesting it and
empties the file after. The file stays locked (flock) while the worker lives; a worker
starting with the same data directory (on this machine, or in a container sharing its
volume) takes over the files of dead ones, counts one failure for each
item still queued, and those items are then digested one at a time (ingest.digest._claim),
so that the one that kills is parked after QueuedItem.MAX_FAILURES deaths and the others
go through.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import uuid
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import connection
from django.db.models import F

from ingest.models import QueuedItem

logger = logging.getLogger(__name__)
DIED = "a digest worker died while digesting a batch with this item"
_SUFFIX = ".batch"


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
            ids = [int(part) for part in handle.read().split(",") if part.strip().isdigit()]
            if ids:
                marked += (
                    QueuedItem.objects.pending()
                    .filter(pk__in=ids)
                    .update(failures=F("failures") + 1, last_error=DIED)
                )
                logger.error(
                    "a digest worker died digesting items %s..%s; they are retried one by one",
                    min(ids),
                    max(ids),
                )
            # Emptied before it goes: a worker that opened it meanwhile reads nothing.
            handle.truncate(0)
            path.unlink(missing_ok=True)
    return marked


class BatchJournal:
    """This worker's file: the ids of the batch it is digesting, empty between batches."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # A name no other worker has, even one with the same pid in another container that
        # shares the data directory: created, never opened over another worker's file.
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}{_SUFFIX}"
        self.path = directory / name
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


def open_journal() -> BatchJournal | None:
    """Take over the batches of dead workers, then open this worker's journal; None (with a
    warning) where the data directory is not writable."""
    directory = journal_directory()
    try:
        if directory.is_dir():
            recover_dead_batches(directory)
        return BatchJournal(directory)
    except OSError as exc:
        logger.warning("digesting without a batch journal in %s: %s", directory, exc)
        return None
