"""The web server of `manage.py serve` and production: granian serving config.asgi.

    python -m config.server [--bind HOST:PORT] [--workers N]

granian parses HTTP and manages connections in Rust, in threads of its own, and calls the
application (config.asgi, the ingest front door and Django) on each worker's event loop:
against gunicorn's ASGI worker, whose HTTP handling is Python on that same loop, bench/
measured about a fifth less CPU per accepted envelope in the web processes (README,
Benchmark). HOST, PORT and WEB_CONCURRENCY (worker processes) come from the environment;
WEB_THREADS and WEB_INGEST_THREADS size the application's thread pools (config/asgi.py).

The master imports Django and the apps before it starts the workers, which fork from it and
so share those pages (gunicorn's preload). Under `serve` the master stops when serve dies,
and each worker when the master dies, however either dies. Access lines are written by
`AccessLog` below, as JSON log records, without the SDK requests that went well.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

# First: Django and every app are imported here, in the master, before the workers fork.
from config.asgi import application as front_door  # isort: skip

import logging

from django.conf import settings

from config.env import env_bool, env_int
from ingest.runtime import PARENT_PID_ENV, stop_with_parent, tune_gc
from ingest.wsgi import loop_ingest_route

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# Set by the master for its workers: the pid they must not outlive.
MASTER_PID_ENV = "FAULTLINE_WEB_MASTER_PID"
# How long a stopping worker may take to finish its requests and lifespan shutdown.
GRACEFUL_SECONDS = 20

access_logger = logging.getLogger("faultline.access")


class AccessLog:
    """A log record per request (client, request line, status, bytes, milliseconds, user
    agent), except SDK requests answered below 400: SDKs post thousands a second, and
    their outcomes are counted (stats_v2). ACCESS_LOG_INGEST=1 logs those too. Each worker
    also asks, as it starts, to be stopped when the master dies."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self._app = app
        self._log_ingest = env_bool("ACCESS_LOG_INGEST", default=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            stop_with_parent(MASTER_PID_ENV)
            await self._app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.monotonic()
        answer = {"status": 0, "bytes": 0}

        async def send_noted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self._app(scope, receive, send_noted)
        finally:
            status = answer["status"]
            if status >= 400 or not status or self._log_ingest or not _is_ingest(scope):
                _log_access(scope, status, answer["bytes"], time.monotonic() - started)


def _is_ingest(scope: Scope) -> bool:
    return loop_ingest_route(scope.get("path", "")) is not None


def _log_access(scope: Scope, status: int, sent: int, seconds: float) -> None:
    """At the level Django logs answers at (5xx or none: error, 4xx: warning, else info), so
    that LOG_LEVEL=warning still keeps the failed requests' lines."""
    client = scope.get("client") or ("-", 0)
    query = scope.get("query_string", b"").decode("latin-1")
    target = scope.get("path", "") + (f"?{query}" if query else "")
    agent = next((v for k, v in scope.get("headers", ()) if k == b"user-agent"), b"-")
    if status >= 500 or not status:
        level = logging.ERROR
    else:
        level = logging.WARNING if status >= 400 else logging.INFO
    access_logger.log(
        level,
        '%s "%s %s HTTP/%s" %s %s %sms "%s"',
        client[0],
        scope.get("method", "-"),
        target,
        scope.get("http_version", "1.1"),
        status or "-",
        sent,
        round(seconds * 1000),
        agent.decode("latin-1"),
    )


application = AccessLog(front_door)


def _logging_config() -> dict[str, Any]:
    """Django's logging, and granian's own messages through the same handler: granian
    configures logging in the master and in each worker, replacing what was there."""
    config = dict(settings.LOGGING)
    level = config["root"]["level"]
    config["loggers"] = {
        **config["loggers"],
        # granian's own messages (worker starts and stops, their failures), at LOG_LEVEL.
        "_granian": {"handlers": ["stdout"], "level": level, "propagate": False},
    }
    return config


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
    parser.add_argument("--bind", default=default_bind, help="HOST:PORT (default: from env)")
    parser.add_argument("--workers", type=int, help="worker processes (WEB_CONCURRENCY)")
    arguments = parser.parse_args(argv)
    host, _, port = arguments.bind.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--bind must be HOST:PORT, not {arguments.bind!r}")
    arguments.host, arguments.port = host.strip("[]"), int(port)
    return arguments


def main(argv: list[str] | None = None) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    arguments = _arguments(argv)
    workers = arguments.workers or env_int("WEB_CONCURRENCY", default=2, minimum=1)
    # Under serve: stop when serve dies. The workers, in turn, stop when this process dies.
    stop_with_parent(PARENT_PID_ENV)
    os.environ[MASTER_PID_ENV] = str(os.getpid())
    tune_gc()
    try:
        import uvloop  # noqa: F401

        loop = Loops.uvloop
    except ImportError:  # not on Windows
        loop = Loops.asyncio
    Granian(
        "config.server:application",
        address=arguments.host,
        port=arguments.port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=loop,
        websockets=False,
        respawn_failed_workers=True,
        workers_kill_timeout=GRACEFUL_SECONDS,
        log_level=LogLevels(settings.LOGGING["root"]["level"].lower()),
        log_dictconfig=_logging_config(),
        log_access=False,
    ).serve()


if __name__ == "__main__":
    main()
