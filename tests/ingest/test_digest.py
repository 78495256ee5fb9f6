"""The digest worker: batches, idempotence, a worker killed mid-batch, concurrent workers."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import zstandard
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from groups.models import Event, Group
from ingest.digest import digest_batch, drain
from ingest.envelope import parse_envelope
from ingest.journal import (
    DIED,
    BatchJournal,
    DatabaseJournal,
    journal_directory,
    recover_dead_batches,
    recover_dead_batches_in_database,
)
from ingest.management.commands.digest import run_worker
from ingest.models import DigestJournal, QueuedItem
from ingest.services import accept_envelope
from projects import services as project_services
from tests.conftest import _server_environment
from tests.ingest.conftest import auth_header, event_envelope, queue_undigestible

SAME_ISSUE = {
    "exception": {
        "values": [
            {
                "type": "TimeoutError",
                "value": "upstream timed out",
                "stacktrace": {
                    "frames": [
                        {
                            "module": "shop.api",
                            "function": "fetch",
                            "in_app": True,
                            "lineno": 10,
                            "filename": "shop/api.py",
                        }
                    ]
                },
            }
        ]
    }
}


def queue_events(key, count: int, event: dict | None = None) -> list[str]:
    ids = []
    for _ in range(count):
        event_id = uuid.uuid4().hex
        envelope = parse_envelope(event_envelope(event or SAME_ISSUE, event_id=event_id))
        accept_envelope(key=key, envelope=envelope, meta={"ip": "127.0.0.1"})
        ids.append(event_id)
    return ids


@pytest.fixture
def key(organization):
    return project_services.create_project(organization=organization, name="api").keys.get()


@pytest.mark.django_db
def test_batches_respect_size(key):
    queue_events(key, 5)
    assert digest_batch(batch_size=2) == 2
    assert QueuedItem.objects.count() == 3
    assert Event.objects.count() == 2
    assert drain(batch_size=2) == 3
    assert Group.objects.get().times_seen == 5


@pytest.mark.django_db
def test_batches_respect_a_byte_budget(key, settings):
    queue_events(key, 3)
    size = max(len(row.payload) for row in QueuedItem.objects.all())
    settings.DIGEST_BATCH_MAX_BYTES = 2 * size
    assert digest_batch(batch_size=10) == 2
    settings.DIGEST_BATCH_MAX_BYTES = 1024  # below any one item: still one at a time
    assert digest_batch(batch_size=10) == 1
    assert Group.objects.get().times_seen == 3


@pytest.mark.django_db
def test_one_batch_many_issues_and_repeats(key):
    queue_events(key, 3)
    queue_events(key, 2, {"message": "Disk /data is 91% full"})
    queue_events(key, 2, {"message": "Disk /data is 97% full"})
    drain()
    counts = sorted(Group.objects.values_list("times_seen", flat=True))
    assert counts == [3, 4]
    short_ids = sorted(group.qualified_short_id for group in Group.objects.all())
    assert short_ids == ["API-1", "API-2"]


@pytest.mark.django_db
def test_the_request_path_is_kept_for_joins_with_api_calls(key):
    queue_events(key, 1, {"message": "m", "request": {"url": "https://shop.test/cart/7?x=1"}})
    queue_events(key, 1, {"message": "no request"})
    drain()
    paths = sorted(Event.objects.values_list("request_path", flat=True))
    assert paths == ["", "/cart/7"]


@pytest.mark.django_db
def test_digest_command_until_empty(key):
    queue_events(key, 3)
    call_command("digest", "--until-empty", "--batch-size", "2")
    assert not QueuedItem.objects.exists()
    assert Event.objects.count() == 3


@pytest.mark.django_db
def test_invalid_event_payload_is_counted_not_stored(key):
    envelope = parse_envelope(
        b'{"event_id": "%s"}\n{"type":"event"}\n[1, 2]\n' % uuid.uuid4().hex.encode()
    )
    accept_envelope(key=key, envelope=envelope, meta={})
    drain()
    assert not QueuedItem.objects.exists()
    assert not Event.objects.exists()


def _digest_process(batch_size: int) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "digest", "--batch-size", str(batch_size)],
        env={**_server_environment("http://127.0.0.1:9"), "LOG_LEVEL": "warning"},
        stdout=subprocess.DEVNULL,
    )


def batch_in_progress() -> bool:
    """Whether another process holds the queue: its rows locked (PostgreSQL) or the write
    lock taken (SQLite), as a digest batch does from its first query to its commit."""
    if connection.vendor == "sqlite":
        probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
        return False
    # Locking rows gives a PostgreSQL transaction an id (probing the locks would take some).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        return cursor.fetchone()[0] > 0


def wait_for_batch_in_progress(worker: subprocess.Popen, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.poll() is None:
        if batch_in_progress():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_loses_and_double_counts_nothing(key):
    ids = queue_events(key, 2000)
    worker = _digest_process(batch_size=2000)
    assert wait_for_batch_in_progress(worker), "the worker never started its batch"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    connection.close()
    stored, queued = Event.objects.count(), QueuedItem.objects.count()
    # Killed inside its transaction: nothing of the batch was committed.
    assert (stored, queued) == (0, 2000)
    drain()
    assert sorted(e.hex for e in Event.objects.values_list("event_id", flat=True)) == sorted(ids)
    assert Group.objects.get().times_seen == 2000


class _WorkerJournal:
    """Where a digest process keeps its batch: a row on PostgreSQL, a file on SQLite."""

    def __init__(self, settings) -> None:
        environment = _server_environment("http://127.0.0.1:9")
        settings.DATA_DIR = Path(environment.get("FAULTLINE_DATA_DIR", settings.DATA_DIR))
        self.directory = journal_directory()

    def batch_of(self, pid: int) -> list[int]:
        if connection.vendor == "postgresql":
            row = DigestJournal.objects.filter(worker__contains=f"-{pid}-").first()
            text = row.item_ids if row else ""
        else:
            files = list(self.directory.glob(f"*-{pid}-*.batch"))
            text = files[0].read_text() if files else ""
        return [int(pk) for pk in text.split(",") if pk]

    def recover(self) -> int:
        if connection.vendor == "sqlite":
            return recover_dead_batches(self.directory)
        # The server ends the dead worker's transaction once it sees its connection closed.
        deadline = time.monotonic() + 10
        while not (marked := recover_dead_batches_in_database()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return marked

    def is_empty(self) -> bool:
        if connection.vendor == "postgresql":
            return not DigestJournal.objects.exists()
        return not list(self.directory.glob("*.batch"))


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_killed_its_worker_is_retried_item_by_item(key, settings):
    # A worker that dies in a batch (segfault, OOM killer) marks nothing itself; without its
    # journal the restarted worker would take the same batch and die again, forever.
    journal = _WorkerJournal(settings)
    queue_events(key, 1000)
    worker = _digest_process(batch_size=400)
    deadline = time.monotonic() + 30
    while True:
        assert time.monotonic() < deadline, "never caught the worker inside a batch"
        assert worker.poll() is None
        if journal.batch_of(worker.pid):
            # Frozen, then checked: between its commit and clearing the journal, the ids
            # would be of rows already digested.
            worker.send_signal(signal.SIGSTOP)
            batch = journal.batch_of(worker.pid)
            if batch and QueuedItem.objects.filter(pk__in=batch).count() == len(batch):
                break
            worker.send_signal(signal.SIGCONT)
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    connection.close()
    in_batch = QueuedItem.objects.filter(pk__in=batch)
    assert in_batch.count() == len(batch)  # rolled back with the worker
    assert journal.recover() == len(batch)
    assert journal.is_empty()
    assert set(in_batch.values_list("failures", flat=True)) == {1}
    # Suspects go one at a time (the one that kills would be parked after MAX_FAILURES
    # deaths); the batch that the next claim takes stops before them.
    first = min(batch)
    before = QueuedItem.objects.filter(pk__lt=first).count()
    assert digest_batch(batch_size=1000) == (before or 1)
    run_worker(stop=threading.Event(), batch_size=400, until_empty=True)
    assert not QueuedItem.objects.exists()
    assert Group.objects.get().times_seen == 1000
    assert journal.is_empty()


@pytest.mark.django_db(transaction=True)
def test_the_database_journal_of_a_live_worker_is_not_taken_over(key):
    """PostgreSQL: a worker is alive while its batch's rows are locked, whatever machine or
    data directory it runs with; once its transaction ends with it, its batch is taken over."""
    if connection.vendor != "postgresql":
        pytest.skip("the journal in the database is PostgreSQL's")
    queue_events(key, 3)
    ids = sorted(QueuedItem.objects.values_list("pk", flat=True))
    live = DatabaseJournal()
    batch = connections.create_connection("default")  # the live worker's batch transaction
    try:
        batch.set_autocommit(False)
        with batch.cursor() as cursor:
            cursor.execute("SELECT id FROM ingest_queueditem WHERE id = ANY(%s) FOR UPDATE", [ids])
        live.begin(ids)
        assert recover_dead_batches_in_database() == 0
        assert DigestJournal.objects.get().item_ids == ",".join(map(str, ids))
        batch.rollback()  # as when its worker dies: the transaction ends, the row stays
        assert recover_dead_batches_in_database() == 3
        assert not DigestJournal.objects.exists()
        assert set(QueuedItem.objects.values_list("failures", flat=True)) == {1}
    finally:
        batch.close()
        live._connection.close()  # (close() would delete a row: the worker is dead)


@pytest.mark.django_db(transaction=True)
def test_a_database_journal_holds_the_batch_until_it_ends(key):
    if connection.vendor != "postgresql":
        pytest.skip("the journal in the database is PostgreSQL's")
    queue_events(key, 5)
    journal = DatabaseJournal()
    try:
        journal.begin([3, 1, 2])
        # Committed on the journal's own connection: another connection sees it.
        assert DigestJournal.objects.get(worker=journal.worker).item_ids == "3,1,2"
        journal.end()
        assert not DigestJournal.objects.exists()
        assert digest_batch(batch_size=10, journal=journal) == 5
        assert not DigestJournal.objects.exists()
    finally:
        journal.close()


class _RecoveryJustBeforeEnd(DatabaseJournal):
    """A live worker's journal; another worker's recovery (at its start, or once a minute)
    runs just as this one clears its batch."""

    def __init__(self) -> None:
        super().__init__()
        self.recovered: list[int] = []

    def end(self) -> None:
        def other_worker() -> None:
            try:
                self.recovered.append(recover_dead_batches_in_database())
            finally:
                connections.close_all()

        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(30)
        super().end()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("batch", [1, 3])
def test_a_live_workers_failed_batch_is_not_taken_for_a_dead_workers(key, batch):
    """The journal is cleared while the batch's rows are still locked: a batch that failed
    (rolled back, to be retried item by item) or an item that failed alone (marked by its
    worker) is not also counted as a death by a recovery landing in between."""
    if connection.vendor != "postgresql":
        pytest.skip("the journal in the database is PostgreSQL's")
    broken = queue_undigestible(key)
    if batch == 1:
        QueuedItem.objects.filter(pk=broken.pk).update(failures=1)  # a suspect: alone
    else:
        queue_events(key, batch - 1)
    journal = _RecoveryJustBeforeEnd()
    try:
        if batch == 1:
            assert digest_batch(batch_size=10, journal=journal) == 1
        else:
            with pytest.raises(zstandard.ZstdError):
                digest_batch(batch_size=10, journal=journal)
    finally:
        journal.close()
    assert journal.recovered[:1] == [0]  # (close() clears again: another 0)
    assert set(journal.recovered) == {0}
    broken.refresh_from_db()
    assert broken.failures == (2 if batch == 1 else 0)
    assert DIED not in broken.last_error
    assert set(QueuedItem.objects.exclude(pk=broken.pk).values_list("failures", flat=True)) <= {0}


class _RecoveryHoldingTheRow(DatabaseJournal):
    """A live worker's journal whose row another worker's recovery locks (as it does each row
    it looks at) right after it is written, and holds for half a second."""

    def __init__(self) -> None:
        super().__init__()
        self.recovered: list[int] = []
        self._other: threading.Thread | None = None

    def begin(self, ids: list[int]) -> None:
        super().begin(ids)
        held = threading.Event()

        def other_worker() -> None:
            try:
                with transaction.atomic():
                    rows = list(DigestJournal.objects.select_for_update())
                    assert len(rows) == 1
                    held.set()
                    time.sleep(0.5)  # the worker's clear waits meanwhile
                self.recovered.append(recover_dead_batches_in_database())
            finally:
                connections.close_all()

        self._other = threading.Thread(target=other_worker)
        self._other.start()
        assert held.wait(10)

    def join(self) -> None:
        if self._other is not None:
            self._other.join(30)


@pytest.mark.django_db(transaction=True)
def test_a_worker_clearing_its_journal_waits_out_a_recovery_holding_it(key):
    """The clear, inside the batch, waits for the lock (no deadlock: the batch never touches
    the journal), and the recovery that follows, the batch committed, counts nothing."""
    if connection.vendor != "postgresql":
        pytest.skip("the journal in the database is PostgreSQL's")
    queue_events(key, 3)
    journal = _RecoveryHoldingTheRow()
    try:
        assert digest_batch(batch_size=10, journal=journal) == 3
    finally:
        journal.join()
        journal.close()
    assert journal.recovered == [0]
    assert not QueuedItem.objects.exists()
    assert not DigestJournal.objects.exists()
    assert Group.objects.get().times_seen == 3


def test_the_journal_of_a_live_worker_is_not_taken_over(tmp_path):
    live = BatchJournal(tmp_path)
    live.begin([1, 2, 3])
    # Another worker with the same pid (a container sharing the data directory) gets a file
    # of its own: it neither empties this one nor goes without.
    same_pid = BatchJournal(tmp_path)
    assert same_pid.path != live.path
    same_pid.close()
    assert recover_dead_batches(tmp_path) == 0
    assert live.path.read_text() == "1,2,3"
    live.end()
    assert live.path.read_text() == ""
    live.close()
    assert not live.path.exists()


@pytest.mark.django_db
def test_items_that_failed_before_are_digested_alone(key):
    queue_events(key, 4)
    second = QueuedItem.objects.order_by("id")[1]
    QueuedItem.objects.filter(pk=second.pk).update(failures=1)
    assert [digest_batch(batch_size=10) for _ in range(4)] == [1, 1, 2, 0]
    assert Group.objects.get().times_seen == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_and_workers_count_exactly(faultline_server, organization):
    key = project_services.create_project(organization=organization, name="busy").keys.get()
    workers = [_digest_process(batch_size=50) for _ in range(2)]
    total = 240
    url = f"{faultline_server.url}/api/{key.project_id}/envelope/"

    def send(_: int) -> int:
        request = urllib.request.Request(  # noqa: S310
            url,
            data=event_envelope(SAME_ISSUE),
            headers={"X-Sentry-Auth": auth_header(key.public_key)},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            json.loads(response.read())
            return response.status

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(send, range(total)))
        assert statuses == [200] * total
        deadline = time.monotonic() + 60
        while QueuedItem.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=20)
    assert not QueuedItem.objects.exists()
    assert Event.objects.count() == total
    group = Group.objects.get()
    assert group.times_seen == total
    assert group.tag_values.get(key="level").times_seen == total


@pytest.mark.django_db
def test_releases_are_created_from_events_with_new_issue_counts(key):
    from projects.models import Release, ReleaseProject

    queue_events(key, 2, {**SAME_ISSUE, "release": "api@2.0.0"})
    queue_events(key, 1, {"message": "another issue", "release": "api@2.0.0"})
    queue_events(key, 1, {"message": "old issue, new release", "release": "api@2.0.1"})
    drain()
    assert sorted(Release.objects.values_list("version", flat=True)) == ["api@2.0.0", "api@2.0.1"]
    link = ReleaseProject.objects.get(release__version="api@2.0.0")
    assert (link.project_id, link.new_groups) == (key.project_id, 2)
    queue_events(key, 1, {"message": "another issue", "release": "api@2.0.1"})
    drain()
    assert ReleaseProject.objects.get(release__version="api@2.0.1").new_groups == 1


@pytest.mark.django_db
def test_maintenance_reopens_expired_ignores_ages_new_issues_and_prunes_windows(key):
    from datetime import timedelta

    from groups.models import GroupStatus, GroupSubstatus
    from ingest.digest import run_maintenance
    from ingest.models import RateLimitWindow
    from tests.groups.factories import GroupFactory

    now = timezone.now()
    expired = GroupFactory(
        project=key.project,
        status=GroupStatus.IGNORED,
        substatus=GroupSubstatus.ARCHIVED_UNTIL_CONDITION_MET,
        ignore_until=now - timedelta(minutes=1),
    )
    still_ignored = GroupFactory(
        project=key.project, status=GroupStatus.IGNORED, ignore_until=now + timedelta(hours=1)
    )
    old_new = GroupFactory(project=key.project, first_seen=now - timedelta(days=8))
    fresh = GroupFactory(project=key.project)
    RateLimitWindow.objects.create(scope="k1", window_start=0, count=5)
    RateLimitWindow.objects.create(scope="k1", window_start=int(now.timestamp()), count=5)

    run_maintenance()

    for group in (expired, still_ignored, old_new, fresh):
        group.refresh_from_db()
    assert (expired.status, expired.substatus, expired.ignore_until) == (
        "unresolved",
        "ongoing",
        None,
    )
    assert still_ignored.status == "ignored"
    assert old_new.substatus == "ongoing"
    assert fresh.substatus == "new"
    assert list(RateLimitWindow.objects.values_list("window_start", flat=True)) == [
        int(now.timestamp())
    ]


@pytest.mark.django_db
def test_deleting_a_project_deletes_its_queued_items(key, organization):
    other = project_services.create_project(organization=organization, name="kept").keys.get()
    queue_events(key, 2)
    queue_events(other, 1)
    key.project.delete()
    assert list(QueuedItem.objects.values_list("project_id", flat=True)) == [other.project_id]


@pytest.mark.django_db
def test_items_queued_for_a_project_deleted_meanwhile_are_dropped(key):
    """The queue has no foreign keys (inserts stay cheap): an item that raced its project's
    deletion is dropped by the digest, and the rest of the batch goes on."""
    queue_events(key, 2)
    gone = QueuedItem.objects.first()
    QueuedItem.objects.filter(pk=gone.pk).update(project_id=key.project_id + 10_000)
    assert drain() == 2
    assert not QueuedItem.objects.exists()
    assert Event.objects.count() == 1
    assert Group.objects.get().times_seen == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's single write lock")
def test_an_idle_worker_on_sqlite_polls_without_taking_the_write_lock(key):
    with CaptureQueriesContext(connection) as queries:
        assert digest_batch(batch_size=10) == 0
    statements = [query["sql"] for query in queries]
    assert len(statements) == 1
    assert statements[0].startswith("SELECT")
    queue_events(key, 1)
    with CaptureQueriesContext(connection) as queries:
        assert digest_batch(batch_size=10) == 1
    assert any(query["sql"].startswith("BEGIN") for query in queries)
