"""The ASGI front door: SDK requests served on an event loop, the rest by Django in threads.

Under gunicorn's ASGI worker (config/gunicorn.py) each web process runs one event loop. For a
request to an ingest endpoint the loop reads the body (bounded by the endpoint's limit and by
INGEST_BODY_READ_TIMEOUT_SECONDS and INGEST_BODY_MIN_RATE_BYTES_PER_SECOND), then hands the
request to the process's ingest thread, which runs the endpoint's view as under WSGI, except
that the view's queue rows are collected (ingest.queue.deferred_writes) instead of written.
The loop hands those rows to the process's committer (ingest/groupcommit.py), which writes the
rows of every request waiting at that moment in one statement, and answers once they are
committed: nothing is promised before it is durable. What the view left for after the write
(outcome counters) runs then, in the ingest thread.

No thread waits for a client or for a commit, and the views run one at a time, so the Python
interpreter's lock is not fought over by a pool of request threads: against gunicorn's threaded
worker this took a third less CPU per accepted envelope in bench/ (README, Benchmark).

Every other request (the API, the admin, static files) goes to Django's WSGI handler in a pool
of WEB_THREADS threads (a2wsgi), exactly as under a threaded WSGI server.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi import WSGIMiddleware
from django.conf import settings
from django.core import signals
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.exception import response_for_exception
from django.db import close_old_connections, connections
from django.http import HttpResponseBase
from django.urls import ResolverMatch, set_urlconf
from django.utils.log import log_response

from ingest.exceptions import IngestError, RequestTimeout, ServiceUnavailable
from ingest.queue import DeferredWrites, committer, deferred_writes
from ingest.wsgi import ingest_route

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ClientGone(Exception):
    """The client closed the connection before its body was read: nobody to answer."""


class IngestFrontDoor:
    """The ASGI application of the web processes (config/asgi.py)."""

    def __init__(self, wsgi_application: Any, *, threads: int) -> None:
        self._fallback = WSGIMiddleware(wsgi_application, workers=threads)
        # One thread per process runs the ingest views: they take a fraction of a millisecond
        # of CPU each, and a pool would only fight over the interpreter's lock. It is also
        # where the views' database connection lives (Django's are per thread, and refused
        # on a thread running an event loop).
        self._ingest = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        match = ingest_route(_path_info(scope)) if scope["type"] == "http" else None
        if match is None:
            await self._fallback(scope, receive, send)
            return
        with contextlib.suppress(ClientGone):
            await self._serve(match, scope, receive, send)

    async def _serve(
        self, match: ResolverMatch, scope: Scope, receive: Receive, send: Send
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            body = await _read_body(scope, receive, limit=body_limit(match, scope))
        except IngestError as exc:
            # A body that came too slowly: answered as the view answers its errors.
            body, failure = b"", exc
        else:
            failure = None
        request = ASGIRequest(scope, io.BytesIO(body))
        response, pending = await loop.run_in_executor(
            self._ingest, _run_view, match, request, failure
        )
        if pending.rows or pending.after:
            error = await _commit(pending.rows) if pending.rows else None
            response = await loop.run_in_executor(
                self._ingest, _after_commit, match, request, response, pending, error
            )
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        await _send_response(response, send, head=scope["method"] == "HEAD")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # The requests have been answered: write whatever is still handed over, and
                # close the ingest thread's connection rather than leave it to the exit.
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, committer.stop)
                await loop.run_in_executor(self._ingest, connections.close_all)
                self._ingest.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _path_info(scope: Scope) -> str:
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def body_limit(match: ResolverMatch, scope: Scope) -> int:
    """The most body bytes the endpoint takes (its view's `body_limit`, given the request's
    media type): the loop reads one more at most, for the view to answer 413."""
    content_type = b""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            content_type = value
    media_type = content_type.decode("latin-1").partition(";")[0].strip().lower()
    return match.func.body_limit(media_type)


async def _read_body(scope: Scope, receive: Receive, *, limit: int) -> bytes:
    """The request's body, as received, cut after `limit` + 1 bytes; none at all when the
    declared length is over `limit` (the view answers 413 from that)."""
    declared = _declared_length(scope)
    if declared is not None and declared > limit:
        return b""
    grace = settings.INGEST_BODY_READ_TIMEOUT_SECONDS
    min_rate = settings.INGEST_BODY_MIN_RATE_BYTES_PER_SECOND
    loop = asyncio.get_running_loop()
    started = loop.time()
    chunks: list[bytes] = []
    received = 0
    while True:
        # As bodywatch does for threads: each wait at most `grace`, and the whole body within
        # `grace` plus a second per `min_rate` bytes received.
        wait = grace
        if min_rate:
            wait = min(wait, started + grace + received / min_rate - loop.time())
        try:
            async with asyncio.timeout(max(wait, 0)):
                message = await receive()
        except TimeoutError:
            raise RequestTimeout("timed out reading the request body") from None
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            received += len(chunk)
        if received > limit or not message.get("more_body", False):
            return b"".join(chunks)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            with contextlib.suppress(ValueError):
                return int(value)
    return None


def _run_view(
    match: ResolverMatch, request: ASGIRequest, failure: IngestError | None
) -> tuple[HttpResponseBase, DeferredWrites]:
    """In the ingest thread: the view's answer and the queue rows it left to write."""
    signals.request_started.send(sender=IngestFrontDoor, scope=request.scope)
    set_urlconf(settings.ROOT_URLCONF)
    request.resolver_match = match
    try:
        with deferred_writes() as pending:
            if failure is not None:
                response = match.func.answer_error(failure)
            else:
                try:
                    response = match.func(request, *match.args, **match.kwargs)
                except Exception as exc:
                    response = response_for_exception(request, exc)
        return response, pending
    finally:
        signals.request_finished.send(sender=IngestFrontDoor)


def _after_commit(
    match: ResolverMatch,
    request: ASGIRequest,
    response: HttpResponseBase,
    pending: DeferredWrites,
    error: BaseException | None,
) -> HttpResponseBase:
    """In the ingest thread, once the rows are written (`error` None) or not: the answer."""
    close_old_connections()
    try:
        if error is None:
            for callback in pending.after:
                callback()
            return response
        return match.func.answer_error(error) or response_for_exception(request, error)
    except Exception as exc:
        return response_for_exception(request, exc)
    finally:
        close_old_connections()


async def _commit(rows: list[Any]) -> BaseException | None:
    """Hand the rows to the committer; None once committed, else why they were not."""
    loop = asyncio.get_running_loop()
    written: asyncio.Future[BaseException | None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if not written.done():
            written.set_result(error)

    def on_written(error: BaseException | None) -> None:
        # From the committer's thread; the loop is gone only if the process is ending.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, error)

    committer.submit(rows, on_written)
    try:
        async with asyncio.timeout(settings.INGEST_GROUP_COMMIT_TIMEOUT_SECONDS):
            return await written
    except TimeoutError:
        return ServiceUnavailable("the accepted items could not be stored in time")


async def _send_response(response: HttpResponseBase, send: Send, *, head: bool) -> None:
    body = b"" if head else response.content
    headers = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()
    ]
    if not response.has_header("Content-Length"):
        headers.append((b"content-length", str(len(response.content)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
