"""The WSGI handler that gunicorn serves: SDK endpoints skip the middleware, the rest not."""

from __future__ import annotations

import io
import json

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from ingest.models import QueuedItem
from tests.ingest.conftest import auth_header, event_envelope

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(_plain_static_storage):
    """Call gunicorn's WSGI application (built once the tests' static directory exists)."""
    from config.wsgi import application

    def send(path: str, *, body: bytes = b"", method: str = "POST", **headers):
        return _call(application, path, body=body, method=method, **headers)

    return send


def _call(application, path: str, *, body: bytes, method: str, **headers) -> tuple[int, dict]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-sentry-envelope",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1:8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        **headers,
    }
    answer = {}

    def start_response(status, response_headers):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    # As Django's test client does: the test's database connection must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, start_response)
        answer["body"] = b"".join(response)
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer


def test_an_envelope_skips_the_middleware_and_keeps_the_request_signals(call, key):
    seen = []

    def started(**kwargs):
        seen.append("started")

    def finished(**kwargs):
        seen.append("finished")

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        status, answer = call(
            f"/api/{key.project_id}/envelope/",
            body=event_envelope(),
            HTTP_X_SENTRY_AUTH=auth_header(key.public_key),
        )
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    assert status == 200, answer["body"]
    assert QueuedItem.objects.count() == 1
    assert "X-Frame-Options" not in answer["headers"]  # no middleware ran
    assert "x-sentry-rate-limits" in answer["headers"]["Access-Control-Expose-Headers"]
    assert seen == ["started", "finished"]  # connections are looked after as for any request


def test_ingest_errors_are_answered_by_the_view(call, key):
    status, answer = call(f"/api/{key.project_id}/envelope/", body=b"{not json\n")
    assert status == 400
    assert "detail" in json.loads(answer["body"])
    assert answer["headers"]["Access-Control-Allow-Origin"] == "*"


def test_a_path_prefix_and_moesif_take_the_same_way(call, key):
    status, _ = call(
        f"/errors//api/{key.project_id}/envelope/",
        body=event_envelope(),
        HTTP_X_SENTRY_AUTH=auth_header(key.public_key),
    )
    assert status == 200
    status, answer = call("/v1/config", method="GET", HTTP_X_MOESIF_APPLICATION_ID=key.public_key)
    assert status == 200
    assert "X-Moesif-Config-ETag" in answer["headers"]


@pytest.mark.parametrize("path", ["/api/0/", "/api/0/envelope/", "/admin/login/"])
def test_everything_else_goes_through_django(call, path):
    status, answer = call(path, method="GET")
    assert status in (200, 401, 404)
    assert answer["headers"]["X-Frame-Options"] == "DENY"  # the middleware ran


def test_long_paths_are_routed_but_not_remembered(call, key):
    from ingest.wsgi import _resolve, ingest_route

    prefix = "/deep" * 60  # a DSN path prefix longer than what the route cache keeps
    before = _resolve.cache_info().currsize
    match = ingest_route(f"{prefix}/api/{key.project_id}/envelope/")
    assert match is not None
    assert match.kwargs == {"project_id": str(key.project_id)}
    assert _resolve.cache_info().currsize == before
    assert ingest_route(f"/api/{key.project_id}/envelope/") is ingest_route(
        f"/api/{key.project_id}/envelope/"
    )
