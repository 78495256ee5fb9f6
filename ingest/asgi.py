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
import functools
import io
import logging
import threading
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

from ingest.exceptions import BadRequest, IngestError, RequestTimeout, ServiceUnavailable
from ingest.queue import DeferredWrites, committer, deferred_writes
from ingest.wsgi import loop_ingest_route

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


# A declared body at most this long (and not chunked) is read before the credentials are
# checked: checking first costs a hand-over to the ingest thread, and reading it costs less.
EARLY_CHECK_BYTES = 64 * 1024


class IngestFrontDoor:
    """The ASGI application of the web processes (config/asgi.py)."""

    def __init__(self, wsgi_application: Any, *, threads: int, ingest_threads: int = 2) -> None:
        self._fallback = WSGIMiddleware(wsgi_application, workers=threads)
        # A few threads per process run the ingest views: they take a fraction of a
        # millisecond of CPU each, and a larger pool would only fight over the interpreter's
        # lock; more than one, so that one large body being parsed does not hold up the
        # rest. They are also where the views' database connections live (Django's are per
        # thread, and refused on a thread running an event loop).
        self._ingest = ThreadPoolExecutor(max_workers=ingest_threads, thread_name_prefix="ingest")
        self._ingest_threads = ingest_threads
        # Body bytes held by this process's requests (only the loop's thread changes it).
        self.buffered = 0
        # The requests being answered (a strong reference: a client that left does not stop
        # one, and shutdown waits for them).
        self._answering: set[asyncio.Future[Any]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        match = loop_ingest_route(_path_info(scope)) if scope["type"] == "http" else None
        if match is None:
            await self._fallback(scope, _as_coroutine(receive), send)
            return
        body = io.BytesIO()
        request = ASGIRequest(scope, body)
        held = _Held(self)
        # A task of its own, shielded: a client that leaves while its rows are committed
        # (gunicorn then cancels this call) does not cut the rest short, the counters of what
        # was filtered included. The task releases what it held when it ends, whenever.
        answering = asyncio.ensure_future(self._answer(match, request, body, receive, held))
        self._answering.add(answering)
        answering.add_done_callback(held.finished)
        try:
            response, complete = await asyncio.shield(answering)
        except asyncio.CancelledError:
            held.orphaned = True
            raise
        except Exception as exc:
            # Ours, after the view ran or instead of it (the rows, if any, may be committed):
            # a JSON 503, never a bare 500.
            logger.exception("ingest front door: %s", exc)
            response = match.func.answer_error(ServiceUnavailable("retry later"))
            complete = False
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        await _send_response(response, send, head=scope["method"] == "HEAD", close=not complete)

    async def _answer(
        self,
        match: ResolverMatch,
        request: ASGIRequest,
        body: io.BytesIO,
        receive: Receive,
        held: _Held,
    ) -> tuple[HttpResponseBase, bool]:
        """The answer, and whether the request's body was read to its end."""
        loop = asyncio.get_running_loop()
        declared = _declared_length(request.scope)
        limit = body_limit(match, request.scope)
        if declared is None or declared > EARLY_CHECK_BYTES:
            refused = await loop.run_in_executor(self._ingest, _refusal, match, request)
            if refused is not None:
                return refused, False
        failure: IngestError | None = None
        try:
            complete = await _read_body(body, receive, limit=limit, declared=declared, held=held)
        except IngestError as exc:
            # Too slow, cut short, or too many bodies held: answered as the view answers
            # its errors.
            failure, complete = exc, False
        response, pending = await loop.run_in_executor(
            self._ingest, _run_view, match, request, failure
        )
        # The view has read it: nothing keeps the body while the rows are committed.
        body.seek(0)
        body.truncate()
        held.release()
        error = await _commit(pending.rows) if pending.rows else None
        if pending.after or error is not None:
            # Back to an ingest thread only when there is something to do there: most
            # envelopes leave nothing for after the write.
            response = await loop.run_in_executor(
                self._ingest, _after_commit, match, request, response, pending, error
            )
        return response, complete

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Let the views still running finish, then write whatever is handed over,
                # and close the ingest threads' connections rather than leave it to the exit.
                loop = asyncio.get_running_loop()
                if self._answering:
                    await asyncio.wait(list(self._answering))
                await self._close_ingest_connections()
                await loop.run_in_executor(None, functools.partial(self._ingest.shutdown, True))
                await loop.run_in_executor(None, committer.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _close_ingest_connections(self) -> None:
        """Close the database connection of every ingest thread: one task per thread, each
        held at a barrier until all have started, so that no thread takes two."""
        barrier = threading.Barrier(self._ingest_threads)

        def close() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)
            connections.close_all()

        loop = asyncio.get_running_loop()
        tasks = [loop.run_in_executor(self._ingest, close) for _ in range(self._ingest_threads)]
        await asyncio.gather(*tasks)


def _as_coroutine(receive: Receive) -> Receive:
    """`receive` as a coroutine function: a2wsgi hands its calls to the loop with
    run_coroutine_threadsafe, which takes coroutines only, and servers may give any
    awaitable (granian's receive returns a future of its own)."""

    async def receive_coroutine() -> dict[str, Any]:
        return await receive()

    return receive_coroutine


class _Held:
    """The body bytes one request holds of its process's INGEST_MAX_BUFFERED_BODY_BYTES."""

    def __init__(self, door: IngestFrontDoor) -> None:
        self._door = door
        self._bytes = 0
        # Set when the client left and nobody awaits the answer any more.
        self.orphaned = False

    def take(self, count: int) -> None:
        """Hold `count` more bytes; the 503 to answer if the process holds too many. A body
        larger than the whole budget is taken when the process holds nothing else, so that
        what the endpoint accepts is accepted some time."""
        held_by_others = self._door.buffered - self._bytes
        total = self._door.buffered + count
        if held_by_others and total > settings.INGEST_MAX_BUFFERED_BODY_BYTES:
            raise _busy()
        self._door.buffered += count
        self._bytes += count

    def release(self) -> None:
        self._door.buffered -= self._bytes
        self._bytes = 0

    def finished(self, answering: asyncio.Future[Any]) -> None:
        """When the request's task ends, however: release, and report a failure nobody
        awaited."""
        self.release()
        self._door._answering.discard(answering)
        if answering.cancelled():
            return
        error = answering.exception()  # retrieved, whether or not anybody awaits it
        if error is not None and self.orphaned:
            logger.error("ingest front door, client gone: %s", error, exc_info=error)


def _busy() -> IngestError:
    seconds = settings.INGEST_BUSY_RETRY_AFTER_SECONDS
    return ServiceUnavailable(
        "too many request bodies in flight; retry later", headers={"Retry-After": str(seconds)}
    )


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


async def _read_body(
    body: io.BytesIO, receive: Receive, *, limit: int, declared: int | None, held: _Held
) -> bool:
    """Read the request's body into `body`, cut after `limit` + 1 bytes, none at all when the
    declared length is over `limit` (the view answers 413 from that); whether it was read
    to its end."""
    if declared is not None:
        if declared > limit:
            return False
        held.take(declared)
    grace = settings.INGEST_BODY_READ_TIMEOUT_SECONDS
    min_rate = settings.INGEST_BODY_MIN_RATE_BYTES_PER_SECOND
    loop = asyncio.get_running_loop()
    started = loop.time()
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
            # Answered all the same: gunicorn drops it if the connection is gone, and would
            # otherwise answer a 500 of its own.
            raise BadRequest("incomplete request body")
        chunk = message.get("body", b"")
        if declared is None:
            held.take(len(chunk))
        body.write(chunk)
        received += len(chunk)
        more = message.get("more_body", False)
        if received > limit or not more:
            body.seek(0)
            return not more


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            with contextlib.suppress(ValueError):
                return int(value)
    return None


def _refusal(match: ResolverMatch, request: ASGIRequest) -> HttpResponseBase | None:
    """In an ingest thread, before the body is read: the answer to credentials the view
    would refuse, or None."""
    signals.request_started.send(sender=IngestFrontDoor, scope=request.scope)
    try:
        match.func.check_credentials(request, *match.args, **match.kwargs)
    except Exception as exc:
        return match.func.answer_error(exc) or response_for_exception(request, exc)
    finally:
        signals.request_finished.send(sender=IngestFrontDoor)
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

    def settle_late() -> None:
        settle(ServiceUnavailable("the accepted items could not be stored in time"))

    def on_written(error: BaseException | None) -> None:
        # From the committer's thread; the loop is gone only if the process is ending.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, error)

    # A timer rather than asyncio.timeout(): the wait is on a future of our own, which
    # nothing else settles, and a timer costs a third of a timeout scope per request.
    late = loop.call_later(settings.INGEST_GROUP_COMMIT_TIMEOUT_SECONDS, settle_late)
    try:
        committer.submit(rows, on_written)
        return await written
    finally:
        late.cancel()


async def _send_response(
    response: HttpResponseBase, send: Send, *, head: bool, close: bool
) -> None:
    body = b"" if head else response.content
    headers = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()
    ]
    if not response.has_header("Content-Length"):
        headers.append((b"content-length", str(len(response.content)).encode()))
    if close:
        # The rest of the body was not read: gunicorn closes the connection rather than read
        # it as the next request, and the client is told so, not to send another on it.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
