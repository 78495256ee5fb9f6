"""The sample events under fixtures/events, made fresh (new ids, current times) as envelopes."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings

SAMPLES_DIR = Path(settings.BASE_DIR) / "fixtures" / "events"
_TIMESTAMP_KEYS = ("timestamp", "start_timestamp")


def _shift(holder: dict[str, Any], delta: float) -> None:
    for key in _TIMESTAMP_KEYS:
        if isinstance(holder.get(key), int | float):
            holder[key] += delta


def fresh_sample(payload: dict[str, Any], *, now: float) -> dict[str, Any]:
    """A copy with a new event id and every timestamp moved so that the event happens now."""
    event = json.loads(json.dumps(payload))
    event["event_id"] = uuid.uuid4().hex
    delta = now - float(event.get("timestamp", now))
    _shift(event, delta)
    crumbs = event.get("breadcrumbs")
    for crumb in crumbs.get("values", []) if isinstance(crumbs, dict) else crumbs or []:
        _shift(crumb, delta)
    for span in event.get("spans") or []:
        _shift(span, delta)
    return event


def sample_envelopes(*, now: float | None = None) -> list[tuple[str, bytes]]:
    """(file name, envelope bytes) for every sample, as an SDK would frame them."""
    now = time.time() if now is None else now
    envelopes = []
    for path in sorted(SAMPLES_DIR.glob("*.json")):
        event = fresh_sample(json.loads(path.read_text()), now=now)
        item_type = "transaction" if event.get("type") == "transaction" else "event"
        payload = json.dumps(event).encode()
        header = {"event_id": event["event_id"], "sent_at": _iso(now)}
        item = {"type": item_type, "content_type": "application/json", "length": len(payload)}
        body = b"\n".join([json.dumps(header).encode(), json.dumps(item).encode(), payload])
        envelopes.append((path.name, body + b"\n"))
    return envelopes


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
