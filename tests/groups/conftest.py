"""Fixtures for the issue and event API tests: a project, and real events sent to it."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from ingest.digest import drain
from ingest.envelope import parse_envelope
from ingest.services import accept_envelope
from projects import services as project_services
from tests.ingest.conftest import envelope_bytes

FIXTURES = Path(settings.BASE_DIR) / "fixtures" / "events"


def fixture_event(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def project(organization):
    return project_services.create_project(organization=organization, name="web")


@pytest.fixture
def send(project):
    """Send events to `project` through ingest and the digest, as an SDK would.

    `send(payload, minutes_ago=…)` returns the event id; `drain=False` leaves it queued.
    """

    def send_event(
        event: dict | None = None,
        *,
        key=None,
        minutes_ago: float = 0,
        event_id: str | None = None,
        drain_queue: bool = True,
    ) -> str:
        event_id = event_id or uuid.uuid4().hex
        payload = {"event_id": event_id, **copy.deepcopy(event or {"message": "hello"})}
        payload["timestamp"] = (timezone.now() - timedelta(minutes=minutes_ago)).timestamp()
        body = envelope_bytes({"event_id": event_id}, [({"type": "event"}, payload)])
        envelope = parse_envelope(body)
        accept_envelope(key=key or project.keys.get(), envelope=envelope, meta={})
        if drain_queue:
            drain()
        return event_id

    return send_event


def error(kind: str = "ValueError", value: str = "bad value", **extra) -> dict:
    """A minimal exception event; `kind` decides its issue."""
    return {
        "exception": {
            "values": [
                {
                    "type": kind,
                    "value": value,
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "shop.views",
                                "function": "checkout",
                                "filename": "shop/views.py",
                                "lineno": 12,
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
        **extra,
    }
