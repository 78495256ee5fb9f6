"""Attachments, user reports, feedback and client reports: from real SDKs to the API."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import uuid

import pytest

from groups.models import Attachment, Event, UserReport
from groups.services.attachments import attachments_of_issue
from ingest.digest import drain
from ingest.models import OutcomeCounter, QueuedItem
from tests.ingest.conftest import envelope_bytes, event_envelope
from tests.ingest.test_clients import CLIENTS
from tests.ingest.test_views import assert_status

pytestmark = pytest.mark.django_db


def run_script(command: list[str]) -> dict:
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_sentry_python_attachments_user_report_and_client_report(faultline_server, key, api_client):
    script = CLIENTS / "sentry_python_attachments.py"
    sent = run_script([sys.executable, str(script), faultline_server.dsn(key)])
    drain()
    event = Event.objects.get(event_id=uuid.UUID(sent["event_id"]))
    files = {a.name: a for a in Attachment.objects.filter(event_id=event.event_id)}
    assert set(files) == {"log.txt", "dump.bin"}
    assert files["log.txt"].file.read() == b"line one\nline two\n"
    assert files["dump.bin"].size == 256 * 64
    report = UserReport.objects.get(event_id=event.event_id)
    assert (report.name, report.email) == ("Ada", "ada@example.com")
    discarded = OutcomeCounter.objects.get(project=key.project, outcome="client_discard")
    assert (discarded.category, discarded.reason, discarded.quantity) == ("error", "before_send", 1)
    stats = api_client.get(
        f"/api/0/organizations/{key.project.organization.slug}/stats_v2/",
        {"groupBy": ["outcome", "reason"], "category": "error", "statsPeriod": "1h"},
    ).json()
    totals = {
        (group["by"]["outcome"], group["by"]["reason"]): group["totals"]["sum(quantity)"]
        for group in stats["groups"]
    }
    # The message event stored is in category "default"; the discarded one was an "error".
    assert totals == {("client_discard", "before_send"): 1}

    base = f"/api/0/projects/{key.project.organization.slug}/{key.project.slug}"
    listed = api_client.get(f"{base}/events/{event.event_id.hex}/attachments/").json()
    assert sorted(item["name"] for item in listed) == ["dump.bin", "log.txt"]
    text = next(item for item in listed if item["name"] == "log.txt")
    assert text["mimetype"] == "text/plain"
    download = api_client.get(
        f"{base}/events/{event.event_id.hex}/attachments/{text['id']}/?download=1"
    )
    assert b"".join(download.streaming_content) == b"line one\nline two\n"
    assert 'filename="log.txt"' in download["Content-Disposition"]
    reports = api_client.get(f"/api/0/issues/{event.group_id}/user-reports/").json()
    assert [r["comments"] for r in reports] == ["It broke when I uploaded the file."]
    assert reports[0]["issue"]["id"] == str(event.group_id)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_sentry_node_feedback_is_linked_to_its_error(faultline_server, key, api_client):
    sent = run_script(["node", str(CLIENTS / "node" / "feedback.mjs"), faultline_server.dsn(key)])
    drain()
    event = Event.objects.get(event_id=uuid.UUID(sent["event_id"]))
    feedback = UserReport.objects.get(report_id=uuid.UUID(sent["feedback_id"]))
    assert feedback.source == "feedback"
    assert feedback.event_id == event.event_id
    assert (feedback.name, feedback.email) == ("Grace", "grace@example.com")
    assert feedback.comments == "The pay button did nothing."
    assert feedback.url == "https://shop.example.com/cart"

    base = f"/api/0/projects/{key.project.organization.slug}/{key.project.slug}"
    listed = api_client.get(f"{base}/user-feedback/").json()
    assert [(r["eventID"], r["issue"]["id"]) for r in listed] == [
        (event.event_id.hex, str(event.group_id))
    ]


def _attachment(name: str, content: bytes, **headers) -> tuple[dict, bytes]:
    return ({"type": "attachment", "filename": name, **headers}, content)


def test_an_attachment_arriving_before_its_event_is_linked_to_it(post_envelope, key):
    event_id = uuid.uuid4().hex
    early = envelope_bytes({"event_id": event_id}, [_attachment("early.txt", b"first")])
    assert_status(post_envelope(early), 200)
    drain()
    assert_status(post_envelope(event_envelope(event_id=event_id)), 200)
    drain()
    event = Event.objects.get(event_id=event_id)
    assert [a.name for a in attachments_of_issue(group=event.group)] == ["early.txt"]


def test_an_sdk_retry_stores_the_attachment_once(post_envelope, key):
    event_id = uuid.uuid4().hex
    body = envelope_bytes(
        {"event_id": event_id},
        [({"type": "event"}, {"message": "m"}), _attachment("a.bin", b"\x00" * 10)],
    )
    for _ in range(2):
        assert_status(post_envelope(body), 200)
        drain()
    attachment = Attachment.objects.get()
    assert (attachment.size, attachment.attachment_type) == (10, "event.attachment")


def test_attachments_past_the_project_storage_cap_are_refused(post_envelope, key, settings):
    settings.ATTACHMENTS_MAX_PROJECT_BYTES = 15
    event_id = uuid.uuid4().hex
    first = envelope_bytes({"event_id": event_id}, [_attachment("a", b"0123456789")])
    assert_status(post_envelope(first), 200)
    drain()
    second = envelope_bytes(
        {"event_id": event_id},
        [({"type": "event"}, {"message": "kept"}), _attachment("b", b"0123456789")],
    )
    response = post_envelope(second)
    assert_status(response, 200)
    assert "3600:attachment:project:attachment_storage_full" in response["X-Sentry-Rate-Limits"]
    assert list(QueuedItem.objects.values_list("type", flat=True)) == ["event"]
    limited = OutcomeCounter.objects.get(category="attachment", outcome="rate_limited")
    assert (limited.reason, limited.quantity) == ("attachment_storage_full", 1)


@pytest.mark.parametrize(
    ("items", "category", "reason"),
    [
        ([_attachment("orphan.txt", b"x")], "attachment", "missing_event_id"),
        ([({"type": "user_report"}, b"not json")], "user_report_v2", "invalid_user_report"),
        (
            [({"type": "user_report"}, {"event_id": "nope", "comments": "x"})],
            "user_report_v2",
            "invalid_user_report",
        ),
        (
            [({"type": "user_report"}, {"event_id": uuid.uuid4().hex, "comments": "  "})],
            "user_report_v2",
            "invalid_user_report",
        ),
        (
            [({"type": "feedback"}, {"contexts": {"feedback": {"message": 5}}})],
            "feedback",
            "invalid_feedback",
        ),
        ([({"type": "feedback"}, [1, 2])], "feedback", "invalid_feedback"),
        (
            [({"type": "client_report"}, {"discarded_events": "lots"})],
            "internal",
            "invalid_client_report",
        ),
        (
            [
                (
                    {"type": "client_report"},
                    {"discarded_events": [{"reason": "x y", "category": "error", "quantity": 1}]},
                )
            ],
            "internal",
            "invalid_client_report",
        ),
        (
            [
                (
                    {"type": "client_report"},
                    {"discarded_events": [{"reason": "r", "category": "error", "quantity": -1}]},
                )
            ],
            "internal",
            "invalid_client_report",
        ),
    ],
)
def test_unusable_items_are_counted_invalid_and_the_rest_kept(
    post_envelope, key, items, category, reason
):
    good = {"discarded_events": [{"reason": "r", "category": "error", "quantity": 4}]}
    body = envelope_bytes({}, [*items, ({"type": "client_report"}, good)])
    assert_status(post_envelope(body), 200)
    drain()
    assert not QueuedItem.objects.exists()
    assert OutcomeCounter.objects.get(outcome="client_discard").quantity == 4
    invalid = OutcomeCounter.objects.get(outcome="invalid")
    assert (invalid.category, invalid.reason, invalid.quantity) == (category, reason, 1)


def test_a_second_user_report_for_an_event_replaces_the_first(post_envelope, key):
    event_id = uuid.uuid4().hex
    for comments in ("first words", "second thoughts"):
        report = {"event_id": event_id, "name": "Ada", "comments": comments}
        assert_status(post_envelope(envelope_bytes({}, [({"type": "user_report"}, report)])), 200)
        drain()
    assert list(UserReport.objects.values_list("comments", flat=True)) == ["second thoughts"]


def test_client_report_quantities_add_up_per_reason(post_envelope, key):
    report = {
        "timestamp": 1795361229.49,
        "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": 3},
            {"reason": "queue_overflow", "category": "error", "quantity": 2},
            {"reason": "sample_rate", "category": "transaction", "quantity": 7},
        ],
    }
    for _ in range(2):
        body = envelope_bytes({}, [({"type": "client_report"}, report)])
        assert_status(post_envelope(body), 200)
    drain()
    counts = {
        (row.category, row.reason): row.quantity
        for row in OutcomeCounter.objects.filter(outcome="client_discard")
    }
    assert counts == {("error", "queue_overflow"): 10, ("transaction", "sample_rate"): 14}


@pytest.mark.parametrize(
    ("headers", "stored"),
    [
        (
            {"attachment_type": ["x"], "filename": ["f"], "content_type": {"a": 1}},
            ("attachment", "", "event.attachment"),
        ),
        (
            {"filename": "lo\u0000g\ud800.txt", "content_type": "text/pl\u0000ain"},
            ("log\ufffd.txt", "text/plain", "event.attachment"),
        ),
        (
            {"filename": 5, "attachment_type": "event.minidump"},
            ("attachment", "", "event.minidump"),
        ),
    ],
)
def test_odd_attachment_headers_are_read_as_strings(post_envelope, key, headers, stored):
    event_id = uuid.uuid4().hex
    body = envelope_bytes(
        {"event_id": event_id}, [({"type": "attachment", **headers}, b"content")]
    ).replace(b"\\ud800", b"\\ud800")
    assert_status(post_envelope(body), 200)
    drain()
    assert not QueuedItem.objects.exists()
    attachment = Attachment.objects.get()
    assert (attachment.name, attachment.content_type, attachment.attachment_type) == stored


@pytest.mark.parametrize("cache_seconds", [0, 5])
def test_queued_attachments_count_toward_the_storage_cap(
    post_envelope, key, settings, cache_seconds
):
    settings.ATTACHMENTS_MAX_PROJECT_BYTES = 15
    settings.ATTACHMENTS_USAGE_CACHE_SECONDS = cache_seconds
    for name in ("a", "b"):
        body = envelope_bytes({"event_id": uuid.uuid4().hex}, [_attachment(name, b"0123456789")])
        assert_status(post_envelope(body), 200)
    # The first is still queued, undigested: the second would take the project past 15 bytes.
    assert QueuedItem.objects.count() == 1
    limited = OutcomeCounter.objects.get(category="attachment", outcome="rate_limited")
    assert (limited.reason, limited.quantity) == ("attachment_storage_full", 1)


def test_a_burst_of_attachments_sums_the_usage_once(post_envelope, key, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.ATTACHMENTS_MAX_PROJECT_BYTES = 10_000
    with CaptureQueriesContext(connection) as queries:
        for name in ("a", "b", "c"):
            body = envelope_bytes({"event_id": uuid.uuid4().hex}, [_attachment(name, b"x" * 10)])
            assert_status(post_envelope(body), 200)
    sums = [query["sql"] for query in queries if "SUM(" in query["sql"].upper()]
    assert len(sums) == 2, sums  # queued, then stored: once for the burst
    assert QueuedItem.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_threads_of_one_process_cannot_overshoot_the_storage_cap(key):
    # Under gunicorn's threaded workers, requests of one process check the cap at once, and a
    # thread summing the usage in the database gives way to the others.
    from django.db import connection

    from ingest import attachmentcap

    threads_count, size, limit = 12, 10, 45
    start = threading.Barrier(threads_count)
    granted: list[bool] = []

    def reserve() -> None:
        try:
            start.wait(timeout=10)
            granted.append(attachmentcap.usage.reserve(key.project_id, size, limit))
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(granted) == [False] * (threads_count - 4) + [True] * 4


@pytest.mark.django_db(transaction=True)
def test_a_project_summing_its_usage_does_not_hold_back_another(key):
    from django.db import connection

    from ingest import attachmentcap
    from tests.projects.factories import ProjectFactory

    usage = attachmentcap.usage
    other = ProjectFactory(organization=key.project.organization)
    assert usage.lock_for(other.pk) is not usage.lock_for(key.project_id)
    granted: list[bool] = []

    def reserve() -> None:
        try:
            granted.append(usage.reserve(other.pk, 10, 100))
        finally:
            connection.close()

    # As if a request of the key's project were stuck in its sum.
    with usage.lock_for(key.project_id):
        thread = threading.Thread(target=reserve)
        thread.start()
        thread.join(timeout=10)
        assert granted == [True]
