"""Fixtures for ingest tests: a project with its key, and envelope builders."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

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
