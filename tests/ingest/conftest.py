"""Fixtures for ingest tests: a project with its key, and envelope builders."""

from __future__ import annotations

import copy
import gzip
import json
import uuid

import pytest
from django.utils import timezone

from ingest.models import QueuedItem
from projects import services as project_services


def auth_header(public_key: str, *, version: int = 7, client: str = "test/1.0") -> str:
    return f"Sentry sentry_key={public_key}, sentry_version={version}, sentry_client={client}"


def envelope_bytes(header: dict, items: list[tuple[dict, bytes | dict]], *, lengths=True) -> bytes:
    """Frame an envelope: a header line, then each item header and payload."""
    parts = [json.dumps(header).encode()]
    for item_header, payload in items:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        item_header = dict(item_header)
        if lengths:
            item_header["length"] = len(body)
        parts += [json.dumps(item_header).encode(), body]
    return b"\n".join(parts) + b"\n"


def queue_undigestible(key) -> QueuedItem:
    """A queued event whose payload is no zstd: every digest of it fails."""
    return QueuedItem.objects.create(
        project=key.project,
        key=key,
        type="event",
        event_id=uuid.uuid4(),
        received=timezone.now(),
        payload=b"not zstd at all",
    )


def event_envelope(event: dict | None = None, *, event_id: str | None = None) -> bytes:
    event_id = event_id or uuid.uuid4().hex
    event = {"event_id": event_id, "message": "hello", **(event or {})}
    return envelope_bytes({"event_id": event_id}, [({"type": "event"}, event)])


@pytest.fixture
def project(organization):
    return project_services.create_project(organization=organization, name="web")


@pytest.fixture
def key(project):
    return project.keys.get()


@pytest.fixture
def post_envelope(client, key):
    """POST bytes to the project's envelope endpoint with X-Sentry-Auth; returns the response."""

    def post(body: bytes, *, encoding: str | None = None, path: str | None = None, **headers):
        if encoding == "gzip":
            body = gzip.compress(body)
        extra = {"HTTP_X_SENTRY_AUTH": auth_header(key.public_key), **headers}
        if encoding:
            extra["HTTP_CONTENT_ENCODING"] = encoding
        return client.post(
            path or f"/api/{key.project_id}/envelope/",
            data=body,
            content_type="application/x-sentry-envelope",
            **extra,
        )

    return post


@pytest.fixture
def post_store(client, key):
    """POST a body to the project's store endpoint, with X-Sentry-Auth for its key unless
    `auth` says otherwise (None: no credentials)."""
    default = object()

    def post(body, *, content_type="application/json", auth=default, **headers):
        if auth is default:
            auth = auth_header(key.public_key)
        if auth is not None:
            headers["HTTP_X_SENTRY_AUTH"] = auth
        return client.post(
            f"/api/{key.project_id}/store/", data=body, content_type=content_type, **headers
        )

    return post


# Moesif API-call events, as moesifapi-python sends them (every field, nulls included).
MOESIF_EVENT = {
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


def moesif_event(**changes) -> dict:
    """MOESIF_EVENT without its transaction id, with `a__b=value` changes (`...` deletes)."""
    data = copy.deepcopy(MOESIF_EVENT)
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

    def post(
        path: str,
        body,
        *,
        gzipped: bool = True,
        app_id=default,
        raw: bytes | None = None,
        **extra,
    ):
        data = raw if raw is not None else json.dumps(body).encode()
        headers = dict(extra)
        if gzipped:
            data = gzip.compress(data)
            headers["HTTP_CONTENT_ENCODING"] = "gzip"
        if app_id is default:
            app_id = key.public_key
        if app_id is not None:
            headers["HTTP_X_MOESIF_APPLICATION_ID"] = app_id
        return client.post(path, data=data, content_type="application/json", **headers)

    return post
