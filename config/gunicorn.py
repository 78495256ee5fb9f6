"""Gunicorn settings, for those who serve Faultline with gunicorn rather than config/server.py
(granian, what `make run` and `serve` use); each can be overridden on the command line.

`gunicorn -c config/gunicorn.py` serves config.asgi with gunicorn's ASGI worker; HOST, PORT,
WEB_CONCURRENCY (workers), WEB_THREADS (threads per worker for the API and the admin) and
WEB_INGEST_THREADS (threads per worker for the SDK endpoints' views) from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from config.env import data_dir
from ingest.runtime import stop_with_parent, tune_gc

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Two processes, each an event loop (gunicorn's ASGI worker, on uvloop): the SDK endpoints are
# served on the loop and their queue inserts committed together (ingest/asgi.py); the API and
# the admin run in a pool of WEB_THREADS threads per process (config/asgi.py). With the digest
# paused, bench/ measured a third less CPU per accepted envelope than gunicorn's threaded
# worker (2 x 8 threads), which itself took more than three sync workers (README, Benchmark).
wsgi_app = "config.asgi:application"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "asgi"
# The ASGI worker has no threads of its own (WEB_THREADS sizes the application's pool).
threads = 1
# Ingest answers in milliseconds; a request stuck this long is a bug, not load.
timeout = 30
graceful_timeout = 20
# Workers fork from a master that has already imported Django and the apps, so they share
# those pages instead of each holding a copy (no connection is opened before the fork).
preload_app = True
accesslog = "-"
# Successful SDK requests are not logged (config/accesslog.py); errors and the rest are.
logger_class = "config.accesslog.AccessLogger"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
# Heartbeat files on tmpfs, so a slow disk cannot make the arbiter kill healthy workers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# gunicorn's control socket (gunicorn >= 25.1, for `gunicornc`) in this instance's data
# directory: the default, $XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl, is one path for every
# gunicorn of the user, and each one started takes it over from the one before.
control_socket = str(data_dir(Path(__file__).resolve().parent.parent) / "gunicorn.ctl")


def pre_fork(server: object, worker: object) -> None:
    # In the master, after the preloaded app was imported: every worker inherits the frozen
    # start-up objects and the thresholds.
    tune_gc()


def on_starting(server: Any) -> None:
    # Under `serve`: gunicorn stops when serve stops, even when serve was killed.
    stop_with_parent()
    app_uri = getattr(server.app, "app_uri", "") or ""
    if server.cfg.worker_class_str == "asgi" and app_uri.startswith("config.wsgi"):
        # The command line of the threaded-worker days: every request would be a 500.
        raise SystemExit(
            "config.wsgi is a WSGI application and this configuration runs gunicorn's ASGI "
            "worker: leave the application out (config.asgi is served), or run config.wsgi "
            "with -k gthread"
        )
