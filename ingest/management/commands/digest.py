"""Run the digest worker: drain the ingest queue into events and issues, forever."""

from __future__ import annotations

import logging
import signal
import threading
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from ingest.digest import digest_batch, run_maintenance
from ingest.journal import Journal, open_journal, recover_dead_workers_batches
from ingest.runtime import stop_with_parent, tune_gc

logger = logging.getLogger(__name__)
# How often a worker reopens expired ignores and prunes rate-limit windows.
MAINTENANCE_INTERVAL_SECONDS = 60


class Command(BaseCommand):
    # System checks would import every URL and view (the API stack) into a process that
    # serves none: about 10 MB for nothing. `manage.py check` runs them.
    requires_system_checks: list[str] = []
    help = "Digest queued events into issues (run one or more beside the web server)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument(
            "--until-empty", action="store_true", help="stop once the queue is empty"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        stop_with_parent()
        tune_gc()
        run_worker(
            stop=stop,
            batch_size=options["batch_size"] or settings.DIGEST_BATCH_SIZE,
            until_empty=options["until_empty"],
        )


def run_worker(*, stop: threading.Event, batch_size: int, until_empty: bool = False) -> None:
    """Take batches until `stop` is set; sleep briefly whenever the queue is empty."""
    logger.info("digest worker started", extra={"batch_size": batch_size})
    journal = open_journal()
    try:
        _run(stop=stop, batch_size=batch_size, until_empty=until_empty, journal=journal)
    finally:
        if journal is not None:
            journal.close()
    logger.info("digest worker stopped")


def _run(
    *, stop: threading.Event, batch_size: int, until_empty: bool, journal: Journal | None
) -> None:
    idle_seconds = settings.DIGEST_IDLE_SLEEP_MILLISECONDS / 1000
    gather_seconds = settings.DIGEST_BATCH_WAIT_MILLISECONDS / 1000
    # After a failed batch, items are taken one at a time for a while, so that one bad item
    # is found (and marked) without holding back the others.
    single_items_left = 0
    next_maintenance = time.monotonic()
    while not stop.is_set():
        if time.monotonic() >= next_maintenance:
            next_maintenance = time.monotonic() + MAINTENANCE_INTERVAL_SECONDS
            # Each on its own: one failing (a database down at start) skips not the other.
            for job in (run_maintenance, recover_dead_workers_batches):
                try:
                    job()
                except Exception:
                    logger.exception("%s failed; digesting goes on", job.__name__)
                    connection.close()
        size = 1 if single_items_left else batch_size
        try:
            taken = digest_batch(batch_size=size, journal=journal)
        except Exception:
            # Nothing was committed; the rows are still queued. Fresh connection, then retry
            # item by item, so that an item that cannot be digested is found and set aside.
            logger.exception("digest batch failed; retrying item by item")
            connection.close()
            single_items_left = batch_size
            stop.wait(0.5)
            continue
        single_items_left = max(0, single_items_left - taken)
        if taken:
            logger.debug("digested %d items", taken)
            # A lone event is digested at once; a partial batch under load waits for company.
            if 1 < taken < size and not single_items_left:
                stop.wait(gather_seconds)
            continue
        if until_empty:
            return
        stop.wait(idle_seconds)
