"""Serve Faultline in one process tree: the web server (config/server.py) and the digest worker."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from ingest.management.commands.digest import run_worker
from ingest.runtime import PARENT_PID_ENV, tune_gc

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    # System checks would import every URL and view (the API stack) into a process that
    # serves none: about 10 MB for nothing. `manage.py check` runs them.
    requires_system_checks: list[str] = []
    help = (
        "Run the web server (config/server.py, granian) and the digest worker together; stops "
        "both on SIGINT/SIGTERM. For one machine; larger setups run `digest` processes "
        "separately."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--bind", help="host:port to serve on (default: HOST:PORT)")
        parser.add_argument("--workers", type=int, help="web worker processes")
        parser.add_argument(
            "--digest-workers",
            type=int,
            default=None,
            help="digest worker processes (default: DIGEST_WORKERS; one runs in this process)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        command = [sys.executable, "-m", "config.server"]
        if options["bind"]:
            command += ["--bind", options["bind"]]
        if options["workers"]:
            command += ["--workers", str(options["workers"])]
        # Each child is sent SIGTERM when this process dies, even by SIGKILL or a crash.
        child_env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
        web = subprocess.Popen(command, cwd=settings.BASE_DIR, env=child_env)  # noqa: S603
        # Started after the web server, so only the digest (this process and the extra workers it
        # starts) runs at a lower priority: under a burst the CPU answers SDKs first and the
        # queue absorbs the rest; an idle or moderately loaded machine digests at once. Not
        # on SQLite: there a digest batch holds the one write lock that every accepted
        # envelope needs, and a slowed digest would hold it longer.
        if connection.vendor != "sqlite":
            os.nice(settings.DIGEST_NICENESS)
        tune_gc()
        digest_workers = options["digest_workers"] or settings.DIGEST_WORKERS
        extra = [
            subprocess.Popen(
                [sys.executable, "manage.py", "digest"], cwd=settings.BASE_DIR, env=child_env
            )
            for _ in range(digest_workers - 1)
        ]
        stop = threading.Event()

        def shutdown(signum: int, _frame: object) -> None:
            stop.set()
            for child in (web, *extra):
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, shutdown)
        watcher = threading.Thread(target=lambda: (web.wait(), stop.set()), daemon=True)
        watcher.start()
        try:
            run_worker(stop=stop, batch_size=settings.DIGEST_BATCH_SIZE)
        finally:
            # Whatever ends the worker, the web must not go on accepting with nobody digesting.
            for child in (web, *extra):
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in extra:
                child.wait()
        code = web.wait()
        if code not in (0, -signal.SIGTERM):
            sys.exit(code)
