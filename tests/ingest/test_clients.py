"""Real clients against Faultline under gunicorn: sentry-sdk, raven, @sentry/node, and the
requests captured from real clients in fixtures/corpus replayed byte for byte."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from groups.models import Event, Group
from ingest.digest import drain
from ingest.models import QueuedItem
from ingest.services import STORED_TYPES
from projects import services as project_services

CLIENTS = Path(__file__).parent / "clients"
CORPUS = Path(settings.BASE_DIR) / "fixtures" / "corpus"
PLACEHOLDER_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


@pytest.fixture
def key(faultline_server, organization):
    project = project_services.create_project(organization=organization, name="shop")
    return project.keys.get()


def run_client(command: list[str]) -> list[str]:
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return [uuid.UUID(event_id).hex for event_id in json.loads(result.stdout.splitlines()[-1])]


def test_sentry_python(faultline_server, key):
    sent = run_client(
        [sys.executable, str(CLIENTS / "sentry_python_client.py"), faultline_server.dsn(key)]
    )
    assert len(sent) == 7
    drain()
    events = {event.event_id.hex: event for event in Event.objects.all()}
    assert set(events) == set(sent)

    first_key_error, second_key_error, value_error, chained, miss1, miss2, logged = (
        events[event_id] for event_id in sent
    )
    assert first_key_error.group_id == second_key_error.group_id
    assert first_key_error.group.times_seen == 2
    assert first_key_error.title == "KeyError: 'A-1'"
    assert first_key_error.culprit == "__main__ in load_order"
    assert value_error.title == "ValueError: amount must be positive, got -5"
    assert value_error.group_id != first_key_error.group_id

    assert chained.title == "RuntimeError: payment failed"
    types = [exc["type"] for exc in chained.data["exception"]["values"]]
    assert types == ["ValueError", "RuntimeError"]

    assert miss1.group_id == miss2.group_id, "messages differing in a number group together"
    assert miss1.title == "Cache miss for user 1234"
    assert logged.title == "Gateway timeout after 30 seconds"
    assert logged.data["logger"] == "shop.payments"

    assert first_key_error.release == "shop@2.4.1"
    assert first_key_error.environment == "production"
    tags = dict(first_key_error.tags)
    assert tags["checkout.step"] == "payment"
    assert tags["user"] == "id:user-42"
    group = first_key_error.group
    assert (group.first_release, group.user_count, group.level) == ("shop@2.4.1", 1, "error")
    assert group.tag_values.get(key="checkout.step").times_seen == 2
    assert Group.objects.count() == 5


def test_sentry_python_retry_is_stored_once(faultline_server, key):
    """An SDK retry sends the same envelope again; it is acknowledged and counted once."""
    replay = json.loads((CORPUS / "sentry-python" / "exception.json").read_text())["requests"][0]
    first = send_captured(faultline_server, key, replay)
    second = send_captured(faultline_server, key, replay)
    assert first == second
    drain()
    assert Event.objects.count() == 1
    assert Group.objects.get().times_seen == 1


def test_raven_python(faultline_server, key):
    scheme, _, host = faultline_server.url.partition("://")
    dsn = f"{scheme}://{key.public_key}:{key.secret_key}@{host}/{key.project_id}"
    sent = run_client([sys.executable, str(CLIENTS / "raven_client.py"), dsn])
    drain()
    events = {event.event_id.hex: event for event in Event.objects.all()}
    assert set(events) == set(sent)
    message, exception = (events[event_id] for event_id in sent)
    assert message.title == "raven says 'hello'"
    assert message.level == "error"  # raven sends the numeric level 40
    assert exception.title == "KeyError: 'missing'"
    assert exception.data["sdk"]["name"] == "raven-python"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_sentry_node(faultline_server, key):
    node_dir = CLIENTS / "node"
    if not (node_dir / "node_modules" / "@sentry" / "node").exists():
        pytest.fail("run `make test` (npm ci in tests/ingest/clients/node) first")
    sent = run_client(["node", str(node_dir / "send.mjs"), faultline_server.dsn(key)])
    assert len(sent) == 3
    drain()
    events = {event.event_id.hex: event for event in Event.objects.all()}
    assert set(sent) <= set(events)
    # @sentry/node processes events asynchronously: match them by what they are, not order.
    by_kind = {event.title.split(":")[0]: event for event in events.values()}
    syntax_error, wrapped = by_kind["SyntaxError"], by_kind["Error"]
    message = next(e for e in events.values() if e.title.startswith("node message"))
    assert syntax_error.title.startswith("SyntaxError: ")
    assert syntax_error.data["platform"] == "node"
    assert wrapped.title == "Error: could not load the cart"
    assert len(wrapped.data["exception"]["values"]) == 2
    # Over 32 KiB: @sentry/node gzips it, chunked, with no Content-Length.
    assert message.title.startswith("node message with padding xxx")
    assert message.level == "warning"
    assert message.release == "node-client@1.0.0"


def _corpus_requests() -> list[tuple[str, dict]]:
    cases = []
    for path in sorted(CORPUS.glob("*/*.json")):
        for index, request in enumerate(json.loads(path.read_text())["requests"]):
            if "/api/0/" not in request["path"] and request["path"].startswith("/api/"):
                cases.append((f"{path.parent.name}/{path.stem}#{index}", request))
    return cases


def send_captured(faultline_server, key, request: dict) -> dict:
    """Send one captured request as it was sent: same headers, body bytes and framing."""
    import base64

    path = request["path"].replace("/42/", f"/{key.project_id}/")
    if request.get("query"):
        path += "?" + request["query"].replace(PLACEHOLDER_KEY, key.public_key)
    headers = {
        name: value.replace(PLACEHOLDER_KEY, key.public_key)
        for name, value in request["headers"]
        if name.lower() not in ("host", "content-length", "transfer-encoding", "connection")
    }
    body = base64.b64decode(request["body_b64"])
    chunked = any(
        name.lower() == "transfer-encoding" and "chunked" in value.lower()
        for name, value in request["headers"]
    )
    connection = http.client.HTTPConnection(urlsplit(faultline_server.url).netloc, timeout=30)
    try:
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
            pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)] or [b""]
            connection.request(
                request["method"], path, body=iter(pieces), headers=headers, encode_chunked=True
            )
        else:
            connection.request(request["method"], path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    assert response.status == 200, payload
    return json.loads(payload)


@pytest.mark.parametrize(
    ("case", "request_data"), _corpus_requests(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_corpus_replay(faultline_server, key, case, request_data):
    answer = send_captured(faultline_server, key, request_data)
    decoded = request_data["decoded"]
    item_types = decoded.get("item_types") or ["event"]
    event_id = (decoded.get("envelope_header") or {}).get("event_id") or (
        decoded.get("json") or {}
    ).get("event_id")
    if event_id:
        assert answer == {"id": uuid.UUID(event_id).hex}
    # Stored types are queued; the others are counted at the door.
    assert QueuedItem.objects.count() == sum(item in STORED_TYPES for item in item_types)
    drain()
    assert not QueuedItem.objects.exists()
    if "event" in item_types:
        event = Event.objects.get()
        assert event.event_id.hex == answer["id"]
        assert event.title
