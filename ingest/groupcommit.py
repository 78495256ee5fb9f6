"""Group commit: the queue inserts of concurrent requests of one web process, written together.

Under a threaded server (gunicorn's gthread workers) each request thread hands the rows it
accepted to one committer thread per process and waits. The committer writes every row
handed over since its last statement in one INSERT, committed on its own, then wakes the
waiting requests: each one's items are durable before its answer, as with a statement of
its own, but PostgreSQL flushes its write-ahead log and pays a transaction's fixed costs
once for all of them. There is no timer: a lone request is written at once, and rows gather
only while the previous statement runs, so batches grow with the load and with nothing else.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

Rows = Sequence[Sequence[Any]]


class CommitTimeout(Exception):
    """The committer did not answer in time; the rows may still be written later."""


@dataclass
class _Handover:
    rows: Rows
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommitter:
    """One thread per process that writes the rows of many requests, a batch per statement."""

    def __init__(self, write: Callable[[Rows], None], *, name: str) -> None:
        self._write = write
        self._name = name
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._pending: list[_Handover] = []
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stopping = False

    def write(self, rows: Rows, *, timeout: float) -> None:
        """Return once `rows` are committed; raise what writing them raised, or CommitTimeout."""
        handover = _Handover(rows)
        with self._lock:
            self._ensure_thread()
            self._pending.append(handover)
            self._ready.notify()
        if not handover.done.wait(timeout):
            raise CommitTimeout(f"{self._name}: no commit within {timeout:g} s")
        if handover.error is not None:
            raise handover.error

    def _ensure_thread(self) -> None:
        # Started in the process that writes: no thread survives the fork of gunicorn's
        # workers from the master that imported the app.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = 30) -> None:
        """Write what is pending, then end the thread and close its database connection
        (a later write starts another)."""
        with self._lock:
            thread = self._thread
            if thread is None or self._pid != os.getpid():
                return
            self._stopping = True
            self._ready.notify()
        thread.join(timeout)
        with self._lock:
            self._thread = None
            self._stopping = False

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    while not self._pending and not self._stopping:
                        self._ready.wait()
                    if not self._pending:
                        return
                    batch, self._pending = self._pending, []
                self._commit(batch)
        finally:
            connections.close_all()

    def _commit(self, batch: list[_Handover]) -> None:
        try:
            error = self._attempt([row for handover in batch for row in handover.rows])
            if error is not None and len(batch) == 1:
                batch[0].error = error
            elif error is not None:
                # What the database refused may be one request's rows: each request's rows
                # again on their own, so that only the faulty one fails.
                for handover in batch:
                    handover.error = self._attempt(handover.rows)
        finally:
            for handover in batch:
                handover.done.set()

    def _attempt(self, rows: Rows) -> Exception | None:
        """Write `rows`; what it raised, if anything."""
        # What a request's end does for its thread's connection: drop one that broke or
        # outlived CONN_MAX_AGE, so the next statement reconnects.
        connections[DEFAULT_DB_ALIAS].close_if_unusable_or_obsolete()
        try:
            self._write(rows)
        except Exception as exc:
            return exc
        return None
