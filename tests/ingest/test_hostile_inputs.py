"""Inputs found in review that once turned into 500s or stopped the digest: each is answered
with its 4xx, or accepted and then digested without harming the events queued beside it."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.utils import timezone

from groups.models import Event
from ingest.digest import drain
from ingest.management.commands.digest import run_worker
from ingest.models import QueuedItem
from tests.ingest.conftest import auth_header, envelope_bytes, event_envelope

pytestmark = pytest.mark.django_db

FRAME = {"function": "handler", "module": "app.views", "in_app": True, "lineno": 3}


def exception(**extra):
    value = {"type": "ValueError", "value": "boom", "stacktrace": {"frames": [dict(FRAME)]}}
    return {"exception": {"values": [{**value, **extra}]}}


ODD_EVENTS = {
    "mechanism not an object": exception(mechanism="x"),
    "handled is a list": exception(mechanism={"type": "generic", "handled": []}),
    "frame platform is a list": {
        "exception": {
            "values": [{"type": "E", "stacktrace": {"frames": [{**FRAME, "platform": ["python"]}]}}]
        }
    },
    "errors is a string with a bad level": {"errors": "x", "level": "loud", "message": "m"},
    "line number overflows": {
        "exception": {
            "values": [{"type": "E", "stacktrace": {"frames": [{**FRAME, "lineno": 1e400}]}}]
        }
    },
    "synthetic exception with a numeric function": exception(
        type=None,
        mechanism={"type": "x", "synthetic": True},
        stacktrace={"frames": [{**FRAME, "function": 5}]},
    ),
    "native frame with a numeric function": {
        "platform": "native",
        "exception": {
            "values": [
                {"type": "SIGSEGV", "stacktrace": {"frames": [{"function": 5, "in_app": True}]}}
            ]
        },
    },
    "thread frames that are strings": {
        "message": "t",
        "threads": [{"stacktrace": {"frames": ["a", 5]}}],
    },
    "lone surrogate": {"message": "\ud800 boom"},
    "format string bomb": {"logentry": {"message": "%500000000s", "params": ["x"]}},
    "platform is a list": {"platform": ["python"], "message": "p"},
    "frames is a number": {"exception": {"values": [{"type": "E", "stacktrace": {"frames": 5}}]}},
    "far future and far past": {"timestamp": "9999-01-01T00:00:00Z", "message": "t"},
}


@pytest.mark.parametrize("case", list(ODD_EVENTS))
def test_odd_events_are_stored_with_their_neighbours(post_envelope, key, case):
    event_id = uuid.uuid4().hex
    odd = envelope_bytes(
        {"event_id": event_id, "sent_at": "0001-01-02T00:00:00Z"},
        [({"type": "event"}, json.dumps({"event_id": event_id, **ODD_EVENTS[case]}).encode())],
    )
    assert post_envelope(odd).status_code == 200
    assert post_envelope(event_envelope({"message": "a good neighbour"})).status_code == 200
    drain()
    assert not QueuedItem.objects.exists()
    titles = set(Event.objects.values_list("title", flat=True))
    assert "a good neighbour" in titles
    assert Event.objects.filter(event_id=uuid.UUID(event_id)).exists(), titles


def test_format_bomb_is_not_formatted(post_envelope):
    post_envelope(event_envelope({"logentry": {"message": "%999999999s", "params": ["x"]}}))
    drain()
    assert Event.objects.get().title == "%999999999s"


@pytest.mark.parametrize("endpoint", ["store", "envelope"])
def test_deeply_nested_json_is_400(client, key, endpoint):
    nested = b"[" * 100_000 + b"]" * 100_000
    body = nested if endpoint == "store" else b"{}\n" + b'{"type":"event"}\n' + nested + b"\n"
    header_bomb = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    for data in (body, header_bomb + b"\n"):
        response = client.post(
            f"/api/{key.project_id}/{endpoint}/",
            data=data,
            content_type="application/json",
            HTTP_X_SENTRY_AUTH=auth_header(key.public_key),
        )
        assert response.status_code in (200, 400), response.content
        if endpoint == "store":
            assert response.status_code == 400


def test_envelope_dsn_with_a_broken_host_is_401(client, key):
    body = envelope_bytes({"dsn": f"http://{key.public_key}@[::1/{key.project_id}"}, [])
    response = client.post(f"/api/{key.project_id}/envelope/", data=body, content_type="text/plain")
    assert response.status_code == 401, response.content


def test_nul_and_surrogates_in_headers_are_stored(post_envelope, key):
    event_id = uuid.uuid4().hex
    body = envelope_bytes(
        {"event_id": event_id, "sent_at": "\u0000"},
        [
            ({"type": "attachment", "filename": "a\u0000b\ud800"}, b"data"),
            ({"type": "x\u0000y"}, b"?"),
            ({"type": "event"}, {"message": "with odd headers"}),
        ],
    )
    assert post_envelope(body).status_code == 200
    drain()
    assert Event.objects.get().title == "with odd headers"


@pytest.mark.django_db(transaction=True)  # the worker closes its connection after a failure
def test_an_item_that_cannot_be_digested_is_parked_not_blocking(key):
    broken = QueuedItem.objects.create(
        project=key.project,
        key=key,
        type="event",
        event_id=uuid.uuid4(),
        received=timezone.now(),
        payload=b"not zstd at all",
    )
    good = QueuedItem.objects.create(
        project=key.project,
        key=key,
        type="event",
        event_id=uuid.uuid4(),
        received=timezone.now(),
        payload=QueuedItem.pack(b'{"message": "after the broken one"}'),
    )
    stop = threading.Event()
    for _ in range(QueuedItem.MAX_FAILURES + 2):
        run_worker(stop=stop, batch_size=10, until_empty=True)
    broken.refresh_from_db()
    assert broken.failures == QueuedItem.MAX_FAILURES
    assert broken.last_error
    assert not QueuedItem.objects.filter(pk=good.pk).exists()
    assert Event.objects.get().title == "after the broken one"
