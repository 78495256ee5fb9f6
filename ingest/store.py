"""The legacy `/store/` body: one event as JSON, or base64(zlib(JSON)) without a header."""

from __future__ import annotations

import base64
import binascii
import uuid

from ingest.body import inflate_limited
from ingest.envelope import Envelope, Item, normalize_event_id
from ingest.exceptions import BadRequest
from ingest.normalize import load_json


def _decode(data: bytes, *, max_bytes: int) -> bytes:
    # Relay store.rs: JSON if it starts with `{`, else base64, then zlib if still not JSON.
    stripped = data.lstrip()
    if stripped[:1] == b"{":
        return stripped
    try:
        decoded = base64.b64decode(stripped, validate=False)
    except (binascii.Error, ValueError):
        raise BadRequest("invalid request body") from None
    if decoded.lstrip()[:1] == b"{":
        return decoded
    return inflate_limited(decoded, max_bytes=max_bytes)


def envelope_from_store(data: bytes, *, max_bytes: int) -> Envelope:
    """Wrap a store body in an envelope of one `event` (or `transaction`) item."""
    if not data.strip():
        raise BadRequest("empty request body")
    raw = _decode(data, max_bytes=max_bytes)
    event = load_json(raw, error=BadRequest, expect=dict, what="an object")
    if event.get("event_id") is None:
        event_id = uuid.uuid4().hex
    else:
        try:
            event_id = normalize_event_id(event["event_id"])
        except ValueError:
            raise BadRequest("invalid JSON data: event_id is not a valid UUID") from None
    item_type = "transaction" if event.get("type") == "transaction" else "event"
    return Envelope(headers={"event_id": event_id}, items=[Item(item_type, {}, raw)])
