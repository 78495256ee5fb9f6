"""Transactions, spans and logs from real clients against Faultline under gunicorn: sentry-sdk
and @sentry/node run live, and their captured requests in fixtures/corpus replayed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from groups.models import Event, LogRecord, Span
from ingest.digest import drain
from ingest.models import OutcomeCounter
from projects import services as project_services
from tests.ingest.test_clients import send_captured

CLIENTS = Path(__file__).parent / "clients"
CORPUS = Path(settings.BASE_DIR) / "fixtures" / "corpus"


@pytest.fixture
def key(faultline_server, organization):
    project = project_services.create_project(organization=organization, name="shop")
    return project.keys.get()


def run_json(command: list[str]) -> dict:
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def accepted(category: str) -> int:
    rows = OutcomeCounter.objects.filter(category=category, outcome="accepted")
    return sum(rows.values_list("quantity", flat=True))


def test_sentry_python_transaction_logs_and_error(faultline_server, key):
    sent = run_json(
        [sys.executable, str(CLIENTS / "sentry_python_performance.py"), faultline_server.dsn(key)]
    )
    drain()
    trace_id = sent["traceId"]
    segment = Span.objects.get(is_segment=True)
    assert (segment.trace_id, segment.name, segment.op, segment.status) == (
        trace_id,
        "POST /checkout",
        "http.server",
        "internal_error",
    )
    assert segment.transaction_event_id.hex == sent["transactionId"]
    assert (segment.release, segment.environment) == ("shop@2.4.1", "production")
    children = Span.objects.filter(is_segment=False).order_by("start")
    assert [(span.op, span.name) for span in children] == [
        ("db", "SELECT * FROM carts"),
        ("http.client", "POST https://pay.example.com/charge"),
    ]
    assert {span.segment_id for span in children} == {segment.span_id}

    logs = LogRecord.objects.order_by("timestamp")
    assert [(log.level, log.body) for log in logs] == [
        ("info", "cart C-7 loaded"),
        ("error", "payment declined"),
    ]
    assert {log.trace_id for log in logs} == {trace_id}
    assert logs[0].span_id == children[0].span_id
    assert logs[1].attributes["password"] == "[Filtered]"
    assert logs[0].release == "shop@2.4.1"

    error = Event.objects.get()
    assert (error.event_id.hex, error.trace_id) == (sent["errorId"], trace_id)
    assert (accepted("transaction"), accepted("span"), accepted("log_item")) == (1, 3, 2)


def _node(faultline_server, key, *args: str) -> dict:
    node_dir = CLIENTS / "node"
    if not (node_dir / "node_modules" / "@sentry" / "node").exists():
        pytest.fail("run `make test` (npm ci in tests/ingest/clients/node) first")
    return run_json(["node", str(node_dir / "spans.mjs"), faultline_server.dsn(key), *args])


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
@pytest.mark.parametrize("lifecycle", ["stream", "static"])
def test_sentry_node_spans_and_logs(faultline_server, key, lifecycle):
    """@sentry/node streams span v2 items by default, or sends a classic transaction."""
    sent = _node(faultline_server, key, lifecycle)
    drain()
    spans = {span.name: span for span in Span.objects.filter(trace_id=sent["traceId"])}
    assert set(spans) == {"node checkout", "load cart", "charge card"}
    root = spans["node checkout"]
    assert (root.is_segment, root.op, root.release, root.environment) == (
        True,
        "task",
        "node-client@1.0.0",
        "test",
    )
    assert spans["load cart"].parent_span_id == root.span_id
    assert spans["load cart"].segment_id == root.span_id
    # Span v2 knows only ok/error; a transaction's spans keep Sentry's status names.
    failed = "error" if lifecycle == "stream" else "internal_error"
    assert (spans["load cart"].op, spans["charge card"].status) == ("db", failed)
    log = LogRecord.objects.get()
    assert (log.level, log.body, log.trace_id) == ("warn", "cart is large", sent["traceId"])
    assert log.attributes["items"] == 42
    assert accepted("span") == 3
    assert accepted("transaction") == (1 if lifecycle == "static" else 0)


@pytest.mark.parametrize(
    ("case", "segment_name", "child"),
    [
        ("sentry-python/transaction", "acc-transaction-capture1", ("acc.child", "child work")),
        (
            "sentry-javascript-node/transaction_static",
            "acc-node-transaction-capture1",
            ("acc.child", "child work"),
        ),
        (
            "sentry-javascript-node/transaction_stream",
            "acc-node-transaction-capture1",
            ("acc.child", "child work"),
        ),
    ],
)
def test_corpus_transactions(faultline_server, key, case, segment_name, child):
    captured = json.loads((CORPUS / f"{case}.json").read_text())
    send_captured(faultline_server, key, captured["requests"][0])
    drain()
    segment = Span.objects.get(is_segment=True)
    (span,) = Span.objects.filter(is_segment=False)
    assert segment.name == segment_name
    assert (segment.release, segment.environment) == ("acc-release@capture1", "acceptance")
    assert (span.op, span.name) == child
    assert (span.parent_span_id, span.segment_id) == (segment.span_id, segment.span_id)
    assert 0 < span.duration_ms <= segment.duration_ms
    assert accepted("span") == 2


def test_sentry_python_span_streaming(faultline_server, key):
    sent = run_json(
        [sys.executable, str(CLIENTS / "sentry_python_spans.py"), faultline_server.dsn(key)]
    )
    drain()
    spans = {span.name: span for span in Span.objects.filter(trace_id=sent["traceId"])}
    assert set(spans) == {"nightly export", "write file"}
    root, child = spans["nightly export"], spans["write file"]
    assert (root.is_segment, root.op, root.release, root.environment) == (
        True,
        "task",
        "shop@2.4.1",
        "production",
    )
    assert (child.is_segment, child.op, child.parent_span_id, child.segment_id) == (
        False,
        "file.write",
        root.span_id,
        root.span_id,
    )
    assert accepted("span") == 2
