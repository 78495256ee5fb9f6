"""Group commit: concurrent requests' queue rows written together, each durable on return."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
from django.db import (
    DataError,
    IntegrityError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.utils import timezone

from groups.bulk import MAX_PARAMS_PER_STATEMENT
from ingest import queue
from ingest.groupcommit import CommitTimeout, GroupCommitter
from ingest.models import OutcomeCounter, QueuedItem
from tests.ingest.conftest import auth_header, envelope_bytes, event_envelope

pytestmark = pytest.mark.django_db(transaction=True)


def _row(key, event_id: str, *, project_id: int | None = None) -> tuple:
    return (
        key.project_id if project_id is None else project_id,
        key.pk,
        "event",
        event_id,
        timezone.now(),
        QueuedItem.pack(b'{"message": "grouped"}'),
        {},
        0,
        "",
    )


def _queued_ids() -> set[str]:
    return {value.hex for value in QueuedItem.objects.values_list("event_id", flat=True)}


def _wait_for(condition: Callable[[], bool], *, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


class _HeldFirstStatement:
    """A write that holds its first statement until released, so that the rows handed over
    meanwhile form the next batch; records each statement's row count."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches: list[int] = []

    def __call__(self, rows) -> None:
        if not self.batches:
            self.entered.set()
            self.release.wait(10)
        self.batches.append(len(rows))
        queue.insert_rows(rows)


@pytest.fixture
def make_committer():
    """GroupCommitters whose threads are ended (and their connections closed) afterwards."""
    made: list[GroupCommitter] = []

    def make(write) -> GroupCommitter:
        made.append(GroupCommitter(write, name="test-committer"))
        return made[-1]

    yield make
    for committer in made:
        committer.stop()


@pytest.fixture
def _stop_the_ingest_committer():
    yield
    queue.committer.stop()


def _write_in_thread(committer: GroupCommitter, rows, outcomes: dict, name: str):
    def run() -> None:
        try:
            committer.write(rows, timeout=10)
            outcomes[name] = "ok"
        except Exception as exc:
            outcomes[name] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_rows_are_committed_when_write_returns(key, make_committer):
    committer = make_committer(queue.insert_rows)
    event_id = uuid.uuid4().hex
    committer.write([_row(key, event_id)], timeout=10)
    assert _queued_ids() == {event_id}


def test_requests_waiting_together_share_one_statement(key, make_committer):
    write = _HeldFirstStatement()
    committer = make_committer(write)
    outcomes: dict = {}
    ids = [uuid.uuid4().hex for _ in range(5)]
    threads = [_write_in_thread(committer, [_row(key, ids[0])], outcomes, ids[0])]
    assert write.entered.wait(10)
    threads += [_write_in_thread(committer, [_row(key, i)], outcomes, i) for i in ids[1:]]
    _wait_for(lambda: len(committer._pending) == 4)
    assert not outcomes, "no request may return before its rows are committed"
    write.release.set()
    for thread in threads:
        thread.join(10)
    assert outcomes == dict.fromkeys(ids, "ok")
    assert write.batches == [1, 4]
    assert _queued_ids() == set(ids)


def test_a_refused_row_fails_only_its_own_request(key, make_committer):
    write = _HeldFirstStatement()
    committer = make_committer(write)
    outcomes: dict = {}
    first, good, other = (uuid.uuid4().hex for _ in range(3))
    # project_id is NOT NULL: the database refuses this row, and the statement it shares.
    refused = (None, *_row(key, uuid.uuid4().hex)[1:])
    threads = [_write_in_thread(committer, [_row(key, first)], outcomes, "first")]
    assert write.entered.wait(10)
    threads += [
        _write_in_thread(committer, [_row(key, good)], outcomes, "good"),
        _write_in_thread(committer, [refused], outcomes, "refused"),
        _write_in_thread(committer, [_row(key, other)], outcomes, "other"),
    ]
    _wait_for(lambda: len(committer._pending) == 3)
    write.release.set()
    for thread in threads:
        thread.join(10)
    assert outcomes["first"] == outcomes["good"] == outcomes["other"] == "ok", outcomes
    assert isinstance(outcomes["refused"], IntegrityError), outcomes
    # The shared statement failed whole; then each request's rows were written on their own.
    assert write.batches == [1, 3, 1, 1, 1]
    assert _queued_ids() == {first, good, other}


def test_submitted_rows_are_reported_once_committed_or_refused(key, make_committer):
    write = _HeldFirstStatement()
    committer = make_committer(write)
    reported: dict[str, object] = {}
    done = threading.Event()

    def report(name: str):
        def on_written(error) -> None:
            # Called from the committer's thread, after the statement committed or failed.
            reported[name] = error if error is not None else _queued_ids()
            if len(reported) == 3:
                done.set()

        return on_written

    first, other = uuid.uuid4().hex, uuid.uuid4().hex
    committer.submit([_row(key, first)], report("first"))
    assert write.entered.wait(10)
    assert not reported, "nothing is reported before the statement commits"
    committer.submit([_row(key, other)], report("other"))
    committer.submit([(None, *_row(key, uuid.uuid4().hex)[1:])], report("refused"))
    write.release.set()
    assert done.wait(10)
    assert first in reported["first"]
    assert other in reported["other"]
    assert isinstance(reported["refused"], IntegrityError)


def test_with_sharing_off_each_request_gets_a_statement_of_its_own(key):
    write = _HeldFirstStatement()
    committer = GroupCommitter(write, name="test-committer", share=lambda: False)
    try:
        outcomes: dict = {}
        ids = [uuid.uuid4().hex for _ in range(3)]
        threads = [_write_in_thread(committer, [_row(key, ids[0])], outcomes, ids[0])]
        assert write.entered.wait(10)
        threads += [_write_in_thread(committer, [_row(key, i)], outcomes, i) for i in ids[1:]]
        _wait_for(lambda: len(committer._pending) == 2)
        write.release.set()
        for thread in threads:
            thread.join(10)
        assert outcomes == dict.fromkeys(ids, "ok")
        assert write.batches == [1, 1, 1]
    finally:
        committer.stop()


def test_a_request_not_committed_in_time_is_told_so(key, make_committer):
    write = _HeldFirstStatement()
    committer = make_committer(write)
    event_id = uuid.uuid4().hex
    with pytest.raises(CommitTimeout):
        committer.write([_row(key, event_id)], timeout=0.2)
    # What was handed over is still written; the SDK's retry is deduplicated by event id.
    write.release.set()
    _wait_for(lambda: _queued_ids() == {event_id})


def test_stop_writes_what_is_pending_and_a_later_write_starts_again(key, make_committer):
    write = _HeldFirstStatement()
    committer = make_committer(write)
    outcomes: dict = {}
    ids = [uuid.uuid4().hex for _ in range(3)]
    threads = [_write_in_thread(committer, [_row(key, ids[0])], outcomes, ids[0])]
    assert write.entered.wait(10)
    first_thread = committer._thread
    threads.append(_write_in_thread(committer, [_row(key, ids[1])], outcomes, ids[1]))
    _wait_for(lambda: len(committer._pending) == 1)
    stopper = threading.Thread(target=committer.stop)
    stopper.start()
    write.release.set()
    stopper.join(10)
    for thread in threads:
        thread.join(10)
    assert outcomes == dict.fromkeys(ids[:2], "ok")
    assert not first_thread.is_alive()
    committer.write([_row(key, ids[2])], timeout=10)
    assert committer._thread is not first_thread
    assert _queued_ids() == set(ids)


def test_a_lost_connection_fails_the_whole_batch_without_writing_it_twice(key, make_committer):
    """The shared statement may have been committed before the connection broke: no request's
    rows are written again on their own; each request gets the error (a 503 at the view)."""
    write = _HeldFirstStatement()
    calls = []

    def write_or_lose_connection(rows) -> None:
        calls.append(len(rows))
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        write(rows)

    committer = make_committer(write_or_lose_connection)
    outcomes: dict = {}
    ids = [uuid.uuid4().hex for _ in range(4)]
    threads = [_write_in_thread(committer, [_row(key, ids[0])], outcomes, ids[0])]
    assert write.entered.wait(10)
    threads += [_write_in_thread(committer, [_row(key, i)], outcomes, i) for i in ids[1:]]
    _wait_for(lambda: len(committer._pending) == 3)
    write.release.set()
    for thread in threads:
        thread.join(10)
    assert calls == [1, 3]
    assert outcomes[ids[0]] == "ok"
    assert all(isinstance(outcomes[i], OperationalError) for i in ids[1:]), outcomes
    assert _queued_ids() == {ids[0]}


class _Escaped(BaseException):
    """Not an Exception: what the committer's own handling does not catch."""


# The thread's death is the point: pytest reports its exception as a warning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_committer_thread_that_dies_fails_its_batch_and_is_replaced(key, make_committer):
    calls = []

    def write_or_die(rows) -> None:
        calls.append(len(rows))
        if len(calls) == 1:
            raise _Escaped
        queue.insert_rows(rows)

    committer = make_committer(write_or_die)
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    with pytest.raises(_Escaped):
        committer.write([_row(key, first)], timeout=10)
    _wait_for(lambda: committer._thread is None)
    committer.write([_row(key, second)], timeout=10)
    assert _queued_ids() == {second}


def test_inside_a_transaction_the_rows_join_it_not_the_committer(key):
    """A caller's transaction must hold its rows (the committer has its own connection)."""

    with transaction.atomic():
        queue.write_queue([_row(key, uuid.uuid4().hex)], group_commit=True)
        assert QueuedItem.objects.count() == 1
        transaction.set_rollback(True)
    assert not QueuedItem.objects.exists()
    assert queue.committer._thread is None


def _hold_queue_table(connection) -> None:
    """Hold off writes to the queue table (reads go on) in an open transaction."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        connection.set_autocommit(False)
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE ingest_queueditem IN SHARE MODE")
    else:
        connection.connection.execute("BEGIN IMMEDIATE")


def _post_while_the_queue_is_held(client, key, body: bytes):
    """POST `body` on a server thread (so group commit) while another transaction holds the
    queue's table; the response, and the table let go."""
    blocker = connections.create_connection("default")
    responses = []

    def post() -> None:
        try:
            responses.append(
                client.post(
                    f"/api/{key.project_id}/envelope/",
                    data=body,
                    content_type="application/x-sentry-envelope",
                    HTTP_X_SENTRY_AUTH=auth_header(key.public_key),
                )
            )
        finally:
            connections.close_all()

    try:
        _hold_queue_table(blocker)
        thread = threading.Thread(target=post)
        thread.start()
        thread.join(30)
    finally:
        blocker.connection.rollback()
        blocker.close()
    (response,) = responses
    return response


@pytest.mark.usefixtures("_stop_the_ingest_committer")
def test_a_threaded_server_request_gets_503_when_the_queue_cannot_be_written(client, key, settings):
    """A 503 with a JSON detail after the timeout, not a hang, not a 500."""
    settings.INGEST_GROUP_COMMIT_TIMEOUT_SECONDS = 1
    event_id = uuid.uuid4().hex
    body = event_envelope({"message": "held"}, event_id=event_id)
    response = _post_while_the_queue_is_held(client, key, body)
    assert response.status_code == 503, response.content
    assert response.json() == {"detail": "the accepted items could not be stored in time"}
    assert response["X-Sentry-Error"] == response.json()["detail"]
    # Written once the table is free: the SDK's retry would be deduplicated by event id.
    _wait_for(lambda: _queued_ids() == {event_id}, seconds=30)


@pytest.mark.usefixtures("_stop_the_ingest_committer")
def test_an_envelope_sent_again_after_a_503_counts_its_filtered_items_once(client, key, settings):
    settings.INGEST_GROUP_COMMIT_TIMEOUT_SECONDS = 1
    event_id = uuid.uuid4().hex
    body = envelope_bytes(
        {"event_id": event_id},
        [({"type": "future_thing"}, b"whatever"), ({"type": "event"}, {"message": "held"})],
    )
    assert _post_while_the_queue_is_held(client, key, body).status_code == 503
    _wait_for(lambda: _queued_ids() == {event_id}, seconds=30)
    assert not OutcomeCounter.objects.exists()

    response = client.post(
        f"/api/{key.project_id}/envelope/",
        data=body,
        content_type="application/x-sentry-envelope",
        HTTP_X_SENTRY_AUTH=auth_header(key.public_key),
    )
    assert response.status_code == 200, response.content
    assert list(OutcomeCounter.objects.values_list("reason", "quantity")) == [
        ("unknown_item:future_thing", 1)
    ]


def test_main_thread_requests_write_their_own_statement(post_envelope):
    """Sync workers and the test client run requests on the main thread: no committer."""
    response = post_envelope(event_envelope({"message": "direct"}))
    assert response.status_code == 200, response.content
    assert QueuedItem.objects.count() == 1
    assert queue.committer._thread is None


def test_rows_past_one_statement_are_written_all_or_none(key):
    """A Moesif batch can hold more rows than one statement's parameters: if one of them is
    refused, none of the others is left in the queue for the client's retry to write again."""
    per_statement = MAX_PARAMS_PER_STATEMENT // len(queue.QUEUE_FIELDS)
    rows = [_row(key, uuid.uuid4().hex) for _ in range(per_statement + 1)]
    with pytest.raises(IntegrityError):
        queue.insert_rows([*rows, (None, *rows[0][1:])])
    assert not QueuedItem.objects.exists()
    queue.insert_rows(rows)
    assert QueuedItem.objects.count() == per_statement + 1


def test_queue_rows_read_back_exactly_as_written(key):
    """On PostgreSQL the rows go in by COPY, whose text format escapes tabs, newlines and
    backslashes: values holding them, and every byte value, come back unchanged."""
    payload = bytes(range(256)) + b"\\.\n\t\r"
    meta = {"client": "sentry.python/2.75.0\t\\N", "lines": "one\ntwo\\.\r", "ünï": ["€", 1.5]}
    event_id = uuid.uuid4().hex
    received = timezone.now()
    queue.insert_rows(
        [(key.project_id, key.pk, "event", event_id, received, payload, meta, 3, "a\tb")]
    )
    item = QueuedItem.objects.get()
    assert (item.project_id, item.key_id, item.type) == (key.project_id, key.pk, "event")
    assert (item.event_id.hex, item.received, bytes(item.payload)) == (event_id, received, payload)
    assert (item.meta, item.failures, item.last_error) == (meta, 3, "a\tb")


def test_a_queue_row_without_event_id_or_key_is_written(key):
    queue.insert_rows(
        [(key.project_id, None, "client_report", None, timezone.now(), b"x", {}, 0, "")]
    )
    item = QueuedItem.objects.get()
    assert (item.key_id, item.event_id) == (None, None)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL refuses the value")
def test_a_value_postgresql_refuses_in_the_copy_is_a_django_error_and_writes_nothing(key):
    """jsonb takes no \\u0000: the COPY fails whole, as Django's DataError, which the
    committer knows as one request's refused rows."""
    good = _row(key, uuid.uuid4().hex)
    refused = (*good[:6], {"x": "nul \x00 inside"}, 0, "")
    with pytest.raises(DataError):
        queue.insert_rows([good, refused])
    assert not QueuedItem.objects.exists()
