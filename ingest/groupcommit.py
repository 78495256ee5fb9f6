"""Group commit: the queue inserts of concurrent requests of one web process, written together."""

# Under a threaded server (gunicorn's gthread workers) each request thread hands the rows it
# accepted to one committer thread per process and waits. The committer writes every row
# handed over since its last statement in one INSERT, committed on its own, then wakes the
# waiting requests: each one's items are durable before its answer, as with a statement of
# its own, but PostgreSQL flushes its write-ahead log and pays a transaction's fixed costs
# once for all of them. There is no timer: a lone request is written at once, and rows gather
# only while the previous statement runs, so batches grow with the load and nothing else.
# Under the ASGI front door (ingest/asgi.py) requests do not wait in a thread: they hand their
# rows over with `submit` and are told on their event loop when the statement has committed.

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DataError, IntegrityError, connections

Rows = Sequence[Sequence[Any]]
# Errors that one request's rows can cause (a value the database refuses); any other failure
# of a shared statement (a lost connection, say) is every request's, and is not retried: the
# statement may have been committed before the connection broke.
_ROWS_REFUSED = (IntegrityError, DataError)


class CommitTimeout(Exception):
    """The committer did not answer in time; the rows may still be written later."""


class NotWritten(Exception):
    """What a request is told if its rows were not written and nothing else was raised."""


Written = Callable[[BaseException | None], None]
# The error of rows not (yet) written: a marker, never raised itself (see _Handover.outcome).
_NOT_WRITTEN = NotWritten("rows not written")


class _Handover:
    """One request's rows, and how it is told that they are written. A plain class with
    slots, made once per request: `submit` makes no Event nor exception for it."""

    __slots__ = ("done", "error", "on_written", "rows")

    def __init__(self, rows: Rows, *, on_written: Written | None = None) -> None:
        self.rows = rows
        # Set for a request thread that waits (`write`); `submit` is called back instead.
        self.done = threading.Event() if on_written is None else None
        # Until the rows are written, a waiter woken for any reason must not take it as
        # success.
        self.error: BaseException | None = _NOT_WRITTEN
        # Called from the committer's thread once the rows are written or failed.
        self.on_written = on_written

    def outcome(self) -> BaseException | None:
        """None once written, else the error to raise or report (a new one for each)."""
        return NotWritten("rows not written") if self.error is _NOT_WRITTEN else self.error

    def finish(self) -> None:
        if self.done is not None:
            self.done.set()
        if self.on_written is not None:
            self.on_written(self.outcome())


class GroupCommitter:
    """One thread per process that writes the rows of many requests, a batch per statement."""

    def __init__(
        self,
        write: Callable[[Rows], None],
        *,
        name: str,
        share: Callable[[], bool] | None = None,
    ) -> None:
        self._write = write
        self._name = name
        # Asked before each batch: False writes each request's rows in a statement of its own.
        self._share = share or (lambda: True)
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._pending: list[_Handover] = []
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stopping = False

    def write(self, rows: Rows, *, timeout: float) -> None:
        """Return once `rows` are committed; raise what writing them raised, or CommitTimeout."""
        handover = _Handover(rows)
        self._hand_over(handover)
        if not handover.done.wait(timeout):
            raise CommitTimeout(f"{self._name}: no commit within {timeout:g} s")
        error = handover.outcome()
        if error is not None:
            raise error

    def submit(self, rows: Rows, on_written: Written) -> None:
        """Hand `rows` over without waiting: `on_written(None)` is called, from the
        committer's thread, once they are committed, or `on_written(error)` if they were not."""
        self._hand_over(_Handover(rows, on_written=on_written))

    def _hand_over(self, handover: _Handover) -> None:
        with self._lock:
            if self._pid != os.getpid():
                # A process forked from one that wrote: its thread did not come along, nor
                # must the rows the parent's requests were waiting for.
                self._pending, self._thread, self._stopping = [], None, False
                self._pid = os.getpid()
            self._pending.append(handover)
            self._start_thread()
            self._ready.notify()

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

    def _start_thread(self) -> None:
        """Under the lock: a thread to take the pending rows, unless one is running."""
        if self._thread is not None or self._stopping:
            return
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

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
            with self._lock:
                self._thread = None
                self._stopping = False
                # Rows handed over while this thread was ending: another one takes them.
                if self._pending:
                    self._start_thread()

    def _commit(self, batch: list[_Handover]) -> None:
        try:
            if len(batch) > 1 and not self._share():
                for handover in batch:
                    handover.error = self._attempt(handover.rows)
                return
            error = self._attempt([row for handover in batch for row in handover.rows])
            if error is None or not isinstance(error, _ROWS_REFUSED) or len(batch) == 1:
                for handover in batch:
                    handover.error = error
            else:
                # The refused value may be one request's: each request's rows again on their
                # own, so that only the faulty one fails.
                for handover in batch:
                    handover.error = self._attempt(handover.rows)
        except BaseException as exc:
            # Whatever escaped (the thread is ending): no waiter may take it for success.
            for handover in batch:
                if handover.error is not None:
                    handover.error = exc
            raise
        finally:
            for handover in batch:
                handover.finish()

    def _attempt(self, rows: Rows) -> Exception | None:
        """Write `rows`; what it raised, if anything (for the waiting request to raise)."""
        try:
            # What a request's end does for its thread's connection: drop one that broke or
            # outlived CONN_MAX_AGE, so that this statement connects again.
            connections[DEFAULT_DB_ALIAS].close_if_unusable_or_obsolete()
            self._write(rows)
        except Exception as exc:
            return exc
        return None
