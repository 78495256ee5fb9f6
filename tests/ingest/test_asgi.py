"""The ASGI front door (ingest/asgi.py), driven in this process as the ASGI worker drives it:
the SDK endpoints answered once their rows are committed, bodies bounded and timed, every
other path handed to Django's WSGI handler."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from typing import Any

import pytest
from django.db import connection

from config.asgi import application as asgi_application
from ingest import queue
from ingest.asgi import IngestFrontDoor
from ingest.models import OutcomeCounter, QueuedItem
from tests.ingest.conftest import auth_header, envelope_bytes, event_envelope
from tests.organizations.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Exchange:
    """One request: the body chunks the client sends, and what the application answered."""

    def __init__(self, chunks: list[bytes], *, pause_after: int | None = None) -> None:
        self.chunks = chunks
        self.pause_after = pause_after
        self.read = 0
        self.messages: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.pause_after is not None and self.read >= self.pause_after:
            await asyncio.sleep(3600)
        index, self.read = self.read, self.read + 1
        if index >= len(self.chunks):
            await asyncio.sleep(3600)  # the client has nothing more to send
        return {
            "type": "http.request",
            "body": self.chunks[index],
            "more_body": index < len(self.chunks) - 1,
        }

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return self.messages[0]["status"]

    @property
    def headers(self) -> dict[str, str]:
        return {
            name.decode().lower(): value.decode() for name, value in self.messages[0]["headers"]
        }

    @property
    def json(self) -> Any:
        return json.loads(b"".join(message.get("body", b"") for message in self.messages[1:]))


def _scope(
    path: str, *, method: str = "POST", headers: dict[str, str] | None = None, query: str = ""
) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (name.lower().encode(), value.encode()) for name, value in (headers or {}).items()
        ],
        "client": ("198.51.100.7", 50000),
        "server": ("127.0.0.1", 8000),
    }


def _call(scope: dict, exchange: Exchange, app: Any = asgi_application) -> Exchange:
    async def run() -> None:
        await app(scope, exchange.receive, exchange.send)

    asyncio.run(run())
    return exchange


def _store_scope(key, **headers: str) -> dict:
    """A POST to the project's store endpoint with the key's X-Sentry-Auth, JSON."""
    return _scope(
        f"/api/{key.project_id}/store/",
        headers={
            "X-Sentry-Auth": auth_header(key.public_key),
            "Content-Type": "application/json",
            **headers,
        },
    )


def _envelope_scope(key, **headers: str) -> dict:
    """A POST to the project's envelope endpoint with the key's X-Sentry-Auth."""
    return _scope(
        f"/api/{key.project_id}/envelope/",
        headers={
            "X-Sentry-Auth": auth_header(key.public_key),
            "Content-Type": "application/x-sentry-envelope",
            **headers,
        },
    )


def _post_envelope(key, chunks: list[bytes], **headers: str) -> Exchange:
    return _call(_envelope_scope(key, **headers), Exchange(chunks))


@pytest.fixture(autouse=True)
def _committer_stopped_after(asgi_connections_closed):
    yield
    queue.committer.stop()


def test_an_envelope_is_answered_once_its_items_are_queued(key):
    event_id = uuid.uuid4().hex
    exchange = _post_envelope(key, [event_envelope(event_id=event_id)])
    assert exchange.status == 200
    assert exchange.json == {"id": event_id}
    assert "connection" not in exchange.headers
    assert exchange.headers["access-control-allow-origin"] == "*"
    assert int(exchange.headers["content-length"]) == len(json.dumps({"id": event_id}))
    # Committed by the committer's own connection before the answer was sent.
    item = QueuedItem.objects.get()
    assert item.event_id.hex == event_id
    assert item.meta["ip"] == "198.51.100.7"


def test_a_body_in_many_chunks_is_read_whole(key):
    body = event_envelope()
    exchange = _post_envelope(key, [body[:10], body[10:20], body[20:]])
    assert exchange.status == 200, exchange.json
    assert QueuedItem.objects.count() == 1


def test_what_the_door_filtered_is_counted_after_the_items_are_queued(key):
    body = envelope_bytes(
        {"event_id": uuid.uuid4().hex},
        [({"type": "event"}, {"message": "kept"}), ({"type": "no-such-item"}, b"{}")],
    )
    exchange = _post_envelope(key, [body])
    assert exchange.status == 200
    assert QueuedItem.objects.count() == 1
    counter = OutcomeCounter.objects.get(reason="unknown_item:no-such-item")
    assert counter.quantity == 1


def test_a_chunked_body_over_the_limit_is_413_without_reading_the_rest(key, settings):
    settings.INGEST_MAX_STORE_BYTES = 2048
    exchange = Exchange([b"x" * 1024] * 50)
    scope = _store_scope(key)
    _call(scope, exchange)
    assert exchange.status == 413
    assert exchange.json["detail"]
    assert exchange.read == 3  # 3072 bytes: one chunk past the limit, and no more
    assert exchange.headers["connection"] == "close"
    assert not QueuedItem.objects.exists()


def test_a_declared_length_over_the_limit_is_413_before_any_body_is_read(key, settings):
    settings.INGEST_MAX_STORE_BYTES = 2048
    exchange = Exchange([b"x" * 4096])
    scope = _store_scope(key, **{"Content-Length": "4096"})
    _call(scope, exchange)
    assert exchange.status == 413
    assert exchange.read == 0


def test_a_stalled_body_is_408(key, settings):
    settings.INGEST_BODY_READ_TIMEOUT_SECONDS = 1
    exchange = Exchange([b'{"message": ', b'"never sent"}'], pause_after=1)
    scope = _store_scope(key)
    _call(scope, exchange)
    assert exchange.status == 408
    assert exchange.json == {"detail": "timed out reading the request body"}
    assert exchange.headers["connection"] == "close"
    assert not QueuedItem.objects.exists()


def test_a_client_gone_before_its_body_ended_is_answered_400_and_nothing_is_queued(key):
    class Disconnecting(Exchange):
        async def receive(self) -> dict[str, Any]:
            if self.read:
                return {"type": "http.disconnect"}
            self.read += 1
            return {"type": "http.request", "body": b"{", "more_body": True}

    exchange = Disconnecting([])
    scope = _store_scope(key)
    _call(scope, exchange)
    # gunicorn sends it if the connection is still open (else its own 500), drops it if not.
    assert exchange.status == 400
    assert exchange.json == {"detail": "incomplete request body"}
    assert exchange.headers["connection"] == "close"
    assert not QueuedItem.objects.exists()


@pytest.mark.parametrize("length", [None, "1000000"])
def test_bad_credentials_of_a_large_or_chunked_body_are_refused_before_it_is_read(key, length):
    headers = {"X-Sentry-Auth": auth_header("0" * 32), "Content-Type": "application/json"}
    if length:
        headers["Content-Length"] = length
    exchange = Exchange([b"x" * 1024] * 10)
    _call(_scope(f"/api/{key.project_id}/store/", headers=headers), exchange)
    assert exchange.status == 403
    assert exchange.read == 0
    assert exchange.headers["connection"] == "close"


@pytest.fixture
def front_door():
    from config.wsgi import application as wsgi_application

    return IngestFrontDoor(wsgi_application, threads=1)


def test_bodies_past_the_process_budget_are_503_with_retry_after(key, settings, front_door):
    settings.INGEST_MAX_BUFFERED_BODY_BYTES = 1024 * 1024
    front_door.buffered = 512 * 1024  # what other requests of the process hold
    body = event_envelope()
    scope = _envelope_scope(key, **{"Content-Length": str(768 * 1024)})
    exchange = _call(scope, Exchange([body]), app=front_door)
    assert exchange.status == 503
    assert exchange.json == {"detail": "too many request bodies in flight; retry later"}
    assert exchange.headers["retry-after"] == "5"
    assert exchange.headers["connection"] == "close"
    assert exchange.read == 0
    assert front_door.buffered == 512 * 1024  # nothing of the refused one stays held


def test_a_body_larger_than_the_budget_is_taken_when_nothing_else_is_held(
    key, settings, front_door
):
    settings.INGEST_MAX_BUFFERED_BODY_BYTES = 1024 * 1024
    attachment = b"a" * (1536 * 1024)
    body = envelope_bytes(
        {"event_id": uuid.uuid4().hex},
        [
            ({"type": "event"}, {"message": "with a large file"}),
            ({"type": "attachment", "filename": "big.bin"}, attachment),
        ],
    )
    chunks = [body[start : start + 65536] for start in range(0, len(body), 65536)]
    scope = _envelope_scope(key)
    exchange = _call(scope, Exchange(chunks), app=front_door)
    assert exchange.status == 200, exchange.json
    assert front_door.buffered == 0


def test_an_ingest_path_too_long_for_the_loop_is_served_by_the_thread_pool(key):
    prefix = "/relay" * 180
    body = json.dumps({"message": "through the pool"}).encode()
    exchange = _call(
        _scope(
            f"{prefix}/api/{key.project_id}/store/",
            headers={
                "X-Sentry-Auth": auth_header(key.public_key),
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
            },
        ),
        Exchange([body]),
    )
    assert exchange.status == 200, exchange.json
    assert QueuedItem.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="locks the queue table (PostgreSQL)")
def test_rows_not_committed_in_time_are_a_503_and_written_once_the_table_is_free(key, settings):
    settings.INGEST_GROUP_COMMIT_TIMEOUT_SECONDS = 1
    locked, release = threading.Event(), threading.Event()

    def hold_the_table() -> None:
        from django.db import connections, transaction

        with transaction.atomic():
            with connections["default"].cursor() as cursor:
                cursor.execute(f"LOCK TABLE {QueuedItem._meta.db_table} IN EXCLUSIVE MODE")
            locked.set()
            release.wait(20)
        connections.close_all()

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    try:
        assert locked.wait(10)
        exchange = _post_envelope(key, [event_envelope()])
    finally:
        release.set()
        holder.join()
    assert exchange.status == 503
    assert exchange.json == {"detail": "the accepted items could not be stored in time"}
    assert exchange.headers["x-sentry-error"] == exchange.json["detail"]
    queue.committer.stop()  # the rows handed over are written once the lock is gone
    assert QueuedItem.objects.count() == 1


def test_head_on_a_cron_check_in_has_no_body(key):
    scope = _scope(
        f"/api/{key.project_id}/cron/nightly/{key.public_key}/", method="HEAD", query="status=ok"
    )
    exchange = _call(scope, Exchange([b""]))
    assert exchange.status == 202, exchange.messages
    assert all(not message.get("body") for message in exchange.messages[1:])
    assert QueuedItem.objects.get().type == "check_in"


def test_other_paths_are_served_by_django_in_threads(key):
    exchange = _call(_scope("/api/0/organizations/", method="GET"), Exchange([b""]))
    assert exchange.status == 401
    assert "detail" in exchange.json


def test_a_body_for_django_is_read_when_receive_returns_a_plain_awaitable(organization):
    """granian's receive returns a future, not a coroutine: the thread pool's reads of a
    body (a2wsgi) must take it all the same. It was a 500 on every API POST with a body."""
    api_key = ApiKeyFactory(organization=organization, scopes=["project:releases"])
    body = json.dumps({"version": "web@1.0", "projects": []}).encode()
    exchange = Exchange([body])

    def receive_future() -> asyncio.Future:
        return asyncio.ensure_future(exchange.receive())

    async def app(scope: dict, _receive: Any, send: Any) -> None:
        await asgi_application(scope, receive_future, send)

    scope = _scope(
        f"/api/0/organizations/{organization.slug}/releases/",
        headers={
            "Authorization": f"Bearer {api_key.plain_key}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
        },
    )
    _call(scope, exchange, app=app)
    assert exchange.status == 201, exchange.json
    assert exchange.json["version"] == "web@1.0"


def test_lifespan_is_answered_and_shutdown_writes_what_is_pending():
    app = IngestFrontDoor(lambda environ, start_response: [], threads=1)
    sent: list[str] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_a_request_whose_client_left_is_still_queued_and_counted(key, front_door):
    """gunicorn cancels the application's call when the client leaves: what was read is
    still queued, the filtered item still counted, and nothing stays held."""
    body = envelope_bytes(
        {"event_id": uuid.uuid4().hex},
        [({"type": "event"}, {"message": "kept"}), ({"type": "no-such-item"}, b"{}")],
    )
    scope = _envelope_scope(key)
    exchange = Exchange([body])

    async def leave_at_once() -> None:
        call = asyncio.ensure_future(front_door(scope, exchange.receive, exchange.send))
        await asyncio.sleep(0)
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await call
        while front_door._answering:
            await asyncio.sleep(0.01)

    asyncio.run(leave_at_once())
    assert exchange.messages == []
    assert QueuedItem.objects.count() == 1
    assert OutcomeCounter.objects.get(reason="unknown_item:no-such-item").quantity == 1
    assert front_door.buffered == 0
