"""Moesif's collector endpoints: events one at a time and in batches, config, rules, the
ignored profile updates; auth, limits and the all-or-nothing validation of batches."""

from __future__ import annotations

import copy
import gzip
import json

import pytest

from groups.models import ApiCall
from ingest.digest import drain
from ingest.models import OutcomeCounter, QueuedItem
from ingest.moesif import APP_CONFIG, CONFIG_ETAG

pytestmark = pytest.mark.django_db

EVENT = {
    "request": {
        "time": "2026-11-22T15:15:56.084163",
        "uri": "https://api.acme.com/items/42?x=1&api_key=secret",
        "verb": "post",
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer abc"},
        "api_version": "1.0",
        "ip_address": "61.48.220.123",
        "body": {"a": 1, "password": "hunter2"},
        "transfer_encoding": None,
    },
    "response": {
        "time": "2026-11-22T15:15:56.184163",
        "status": 201,
        "headers": {"Set-Cookie": "sid=1"},
        "body": "eyJvayI6dHJ1ZX0=",
        "ip_address": None,
        "transfer_encoding": "base64",
    },
    "session_token": "tok",
    "tags": None,
    "user_id": "u1",
    "company_id": "c1",
    "metadata": {"k": "v"},
    "direction": "Incoming",
    "weight": 1,
    "blocked_by": None,
    "transaction_id": "2b68a772-9d65-44d0-a208-b1f723867377",
}


def event(**changes) -> dict:
    """EVENT with dotted-path changes; a value of ... deletes the field."""
    data = copy.deepcopy(EVENT)
    data["transaction_id"] = None
    for path, value in changes.items():
        *parents, name = path.split("__")
        target = data
        for parent in parents:
            target = target[parent]
        if value is ...:
            target.pop(name, None)
        else:
            target[name] = value
    return data


@pytest.fixture
def post_moesif(client, key):
    """POST JSON (gzip unless `gzipped=False`) with the key as application id."""
    default = object()

    def post(path: str, body, *, gzipped: bool = True, app_id=default, raw: bytes | None = None):
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {}
        if gzipped:
            data = gzip.compress(data)
            headers["HTTP_CONTENT_ENCODING"] = "gzip"
        if app_id is default:
            app_id = key.public_key
        if app_id is not None:
            headers["HTTP_X_MOESIF_APPLICATION_ID"] = app_id
        return client.post(path, data=data, content_type="application/json", **headers)

    return post


@pytest.mark.parametrize("prefix", ["/v1", "/moesifapi", "/moesifapi/v1"])
def test_single_event_is_queued_then_stored(post_moesif, key, prefix):
    response = post_moesif(f"{prefix}/events", EVENT)
    assert response.status_code == 201, response.content
    assert response.json() == {}
    assert response["X-Moesif-Config-ETag"] == CONFIG_ETAG
    assert response["Access-Control-Allow-Origin"] == "*"
    assert QueuedItem.objects.get().type == "api_call"
    drain()
    call = ApiCall.objects.get()
    assert call.project_id == key.project_id
    assert (call.verb, call.status, call.route) == ("POST", 201, "/items/{id}")
    assert call.duration_ms == pytest.approx(100.0)
    assert call.request_time.isoformat() == "2026-11-22T15:15:56.084163+00:00"
    assert str(call.transaction_id) == EVENT["transaction_id"]
    assert OutcomeCounter.objects.get(category="api_call").outcome == "accepted"
