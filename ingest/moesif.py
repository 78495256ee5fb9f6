"""Moesif's collector API, for moesifapi clients and Moesif middlewares: API-call events
(one or a batch), the app config and governance rules they poll, and the user, company,
subscription and action updates they may send (answered 201 and ignored: Faultline keeps no
profiles of API users).

Paths, headers and answers follow the real clients (/work/shared/reference/moesif-events.md):
they post gzip JSON to `<base>/v1/events[/batch]` with `X-Moesif-Application-Id`, and read
`X-Moesif-Config-ETag` from every answer to know when to fetch `/v1/config` again.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from groups import jsoncodec
from ingest import door, services
from ingest.apicalls import API_CALL, InvalidApiCall, parse_api_call
from ingest.body import read_body
from ingest.exceptions import (
    DATABASE_UNAVAILABLE,
    BadRequest,
    IngestError,
    PayloadTooLarge,
    database_unavailable,
)
from ingest.models import Outcome
from ingest.outcomes import record_outcomes
from ingest.views import client_ip, is_threaded_server
from projects.models import ProjectKey

JSON = dict[str, Any]
# Sample everything and apply no rules: what Faultline serves to every client.
APP_CONFIG: JSON = {
    "sample_rate": 100,
    "user_sample_rate": {},
    "company_sample_rate": {},
    "user_rules": {},
    "company_rules": {},
    "regex_config": [],
}
# Changes only when APP_CONFIG does: clients re-fetch /v1/config when it changes.
CONFIG_ETAG = hashlib.sha256(json.dumps(APP_CONFIG, sort_keys=True).encode()).hexdigest()[:32]
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": (
        "x-moesif-application-id, content-type, content-encoding, accept, origin, "
        "x-requested-with, user-agent"
    ),
    "Access-Control-Expose-Headers": "x-moesif-config-etag, retry-after",
    "Access-Control-Max-Age": "3600",
}
Handler = Callable[[HttpRequest], HttpResponse]


class InvalidEvents(BadRequest):
    """A request with invalid events: none of them is stored, every fault is named."""

    def __init__(self, errors: list[JSON]) -> None:
        indexes = sorted({error["index"] for error in errors})
        super().__init__(
            f"{len(indexes)} invalid event(s) at index {', '.join(map(str, indexes))}; "
            "nothing was stored"
        )
        self.errors = errors


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    for name, value in {**CORS_HEADERS, **(headers or {})}.items():
        response[name] = value
    return response


def _error(exc: IngestError) -> HttpResponse:
    body: JSON = {"detail": exc.detail}
    if isinstance(exc, InvalidEvents):
        body["errors"] = exc.errors
    return _json(exc.status, body, exc.headers)


def answer_error(exc: BaseException) -> HttpResponse | None:
    """The JSON answer to what a Moesif handler (or the commit of its rows) raised; None for
    a fault of ours, which Django answers with a 500."""
    if isinstance(exc, IngestError):
        return _error(exc)
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return _error(database_unavailable(exc))
    return None


def _endpoint(
    *methods: str,
    body_limit: Callable[[str], int] = lambda media_type: settings.MOESIF_MAX_EVENT_BYTES,
) -> Callable[[Handler], Callable[..., HttpResponse]]:
    """CORS, preflight, allowed methods and JSON errors around a Moesif handler; its
    `body_limit`, `answer_error` and `check_credentials` for the ASGI front door (see
    ingest.views._endpoint)."""

    def decorate(handler: Handler) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest, **kwargs: str) -> HttpResponse:
            if request.method == "OPTIONS":
                return _json(200, {})
            if request.method not in methods:
                return _json(405, {"detail": "method not allowed"}, {"Allow": ", ".join(methods)})
            try:
                return handler(request)
            except (IngestError, *DATABASE_UNAVAILABLE) as exc:
                return answer_error(exc)

        def check_credentials(request: HttpRequest, **kwargs: str) -> None:
            if request.method in methods:
                _key(request)

        view.body_limit = body_limit  # type: ignore[attr-defined]
        view.answer_error = answer_error  # type: ignore[attr-defined]
        view.check_credentials = check_credentials  # type: ignore[attr-defined]
        return view

    return decorate


def _key(request: HttpRequest) -> ProjectKey:
    application_id = request.META.get("HTTP_X_MOESIF_APPLICATION_ID", "")
    return door.authenticate_application(application_id=application_id)


def _read_json(request: HttpRequest, *, max_bytes: int, too_large: str) -> Any:
    """The decompressed, parsed body; over `max_bytes` once decompressed → 413 `too_large`."""
    try:
        data = read_body(request, max_bytes=max_bytes)
    except PayloadTooLarge:
        raise PayloadTooLarge(too_large) from None
    if not data.strip():
        raise BadRequest("empty request body")
    try:
        return jsoncodec.loads(data)
    except (ValueError, RecursionError):
        raise BadRequest("malformed JSON body") from None


def _accept(request: HttpRequest, key: ProjectKey, events: list[Any]) -> HttpResponse:
    """All or nothing: every event valid and queued durably, or none, before the 201."""
    payloads: list[JSON] = []
    errors: list[JSON] = []
    ip = client_ip(request)
    for index, event in enumerate(events):
        try:
            payloads.append(parse_api_call(event, client_ip=ip))
        except InvalidApiCall as exc:
            errors += [error.at(index) for error in exc.errors]
    if errors:
        invalid = Counter({(API_CALL, Outcome.INVALID, "invalid_api_call"): len(events)})
        record_outcomes(project_id=key.project_id, outcomes=invalid)
        raise InvalidEvents(errors)
    meta = {"ip": ip}
    if request.META.get("HTTP_USER_AGENT"):
        meta["client"] = request.META["HTTP_USER_AGENT"][:200]
    services.accept_api_calls(
        key=key, payloads=payloads, meta=meta, group_commit=is_threaded_server()
    )
    return _json(201, {}, {"X-Moesif-Config-ETag": CONFIG_ETAG})


@_endpoint("POST")
def event(request: HttpRequest) -> HttpResponse:
    """POST one API-call event."""
    key = _key(request)
    limit = settings.MOESIF_MAX_EVENT_BYTES
    body = _read_json(
        request, max_bytes=limit, too_large=f"event larger than {limit} bytes uncompressed"
    )
    if not isinstance(body, dict):
        raise BadRequest("expected one event object; post arrays to /v1/events/batch")
    return _accept(request, key, [body])


@_endpoint("POST", body_limit=lambda media_type: settings.MOESIF_MAX_BATCH_BYTES)
def batch(request: HttpRequest) -> HttpResponse:
    """POST an array of API-call events; a lone object is a batch of one."""
    key = _key(request)
    limit = settings.MOESIF_MAX_BATCH_BYTES
    too_large = f"batch larger than {limit} bytes uncompressed: split it into smaller batches"
    body = _read_json(request, max_bytes=limit, too_large=too_large)
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise BadRequest("expected a JSON array of event objects")
    return _accept(request, key, body)


@_endpoint("GET")
def config(request: HttpRequest) -> HttpResponse:
    """The sampling config: everything, always (the ETag never changes with it)."""
    _key(request)
    return _json(200, APP_CONFIG, {"X-Moesif-Config-ETag": CONFIG_ETAG})


@_endpoint("GET")
def rules(request: HttpRequest) -> HttpResponse:
    """No governance rules: an empty list turns governance off in the clients."""
    _key(request)
    return _json(200, [])


@_endpoint("POST")
def ignored(request: HttpRequest) -> HttpResponse:
    """Users, companies, subscriptions and actions: acknowledged so that middlewares calling
    `update_user` log no errors, and not stored."""
    _key(request)
    return _json(201, {})
