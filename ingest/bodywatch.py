"""A minimum rate for request bodies read under gunicorn, enforced by one thread per process.

The socket's read timeout (INGEST_BODY_READ_TIMEOUT_SECONDS) frees a thread from a client
that goes silent, but a client that trickles a byte now and then renews it at every byte.
As Apache's mod_reqtimeout does (`body=20,MinRate=500`), a body must be read within the
timeout plus one second per INGEST_BODY_MIN_RATE_BYTES_PER_SECOND bytes received; past that,
the watcher shuts the socket's reading side down, which wakes the thread from its wait, and
ingest answers 408 and has gunicorn close the connection. Progress is seen a read of
READ_CHUNK_BYTES at a time, so the rate must let one read finish within the timeout (16 KiB
at 1000 bytes/s: 16.4 s of 20)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

CHECK_SECONDS = 0.5


class BodyRead:
    """One body being read: its socket, start, bytes received so far, and whether it ran
    out of time."""

    __slots__ = ("expired", "grace", "min_rate", "received", "sock", "started")

    def __init__(self, sock: socket.socket, *, grace: float, min_rate: float) -> None:
        self.sock = sock
        self.started = time.monotonic()
        self.grace = grace
        self.min_rate = min_rate
        self.received = 0
        self.expired = False

    def overdue(self, now: float) -> bool:
        return now > self.started + self.grace + self.received / self.min_rate


class BodyWatcher:
    """The reads of this process's request threads, checked every CHECK_SECONDS by a thread
    that runs only while there are reads to watch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._reads: set[BodyRead] = set()
        self._thread: threading.Thread | None = None
        self._pid = 0

    @contextmanager
    def watching(self, sock: socket.socket, *, grace: float, min_rate: float) -> Iterator[BodyRead]:
        read = BodyRead(sock, grace=grace, min_rate=min_rate)
        with self._lock:
            if self._pid != os.getpid():
                # A forked worker: the parent's thread and reads did not come along.
                self._reads, self._thread, self._pid = set(), None, os.getpid()
            self._reads.add(read)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="body-watch", daemon=True)
                self._thread.start()
            elif len(self._reads) == 1:
                self._wake.notify()
        try:
            yield read
        finally:
            with self._lock:
                self._reads.discard(read)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._reads:
                    self._wake.wait()
                # Under the lock: a read that ended meanwhile is no longer here, so the
                # socket shut down is never one whose body was read (a kept-alive connection).
                now = time.monotonic()
                for read in self._reads:
                    if not read.expired and read.overdue(now):
                        read.expired = True
                        _stop_reading(read.sock)
            time.sleep(CHECK_SECONDS)


def _stop_reading(sock: socket.socket) -> None:
    """Shut the connection's reading side at the descriptor, under any TLS layer:
    SSLSocket.shutdown drops the TLS session first, and the answer would then go out in
    clear text. The request thread's wait for bytes ends as if the client had closed. (Under
    gunicorn's own TLS, the session breaks on the cut record: the client sees the connection
    closed, not the 408.)"""
    with suppress(OSError):
        raw = socket.socket(fileno=os.dup(sock.fileno()))
        try:
            raw.shutdown(socket.SHUT_RD)
        finally:
            raw.close()


watcher = BodyWatcher()
