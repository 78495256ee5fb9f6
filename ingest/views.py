"""The SDK-facing endpoints: `/api/<id>/store/`, `/api/<id>/envelope/`, `/api/store/`, the
browsers' `/api/<id>/security/` (also `/csp-report/`) and `/api/<id>/nel/`, and the cron HTTP
API's `/api/<id>/cron/<monitor slug>/[<key>/]`."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ingest import door, services
from ingest.auth import (
    ClientAuth,
    auth_from_envelope_header,
    auth_from_path,
    auth_from_request,
    envelope_dsn,
)
from ingest.body import read_body
from ingest.digesters.checkins import parse_checkin
from ingest.digesters.values import InvalidItem
from ingest.envelope import Envelope, check_limits, parse_envelope
from ingest.exceptions import (
    DATABASE_UNAVAILABLE,
    BadRequest,
    IngestError,
    Unauthorized,
    UnsupportedMediaType,
    database_unavailable,
)
from ingest.minidump import envelope_from_upload
from ingest.normalize import load_json, otlp
from ingest.normalize.nel import InvalidNelReport, nel_reports
from ingest.normalize.security import InvalidSecurityReport, security_reports
from ingest.store import envelope_from_store
from ingest.unreal import envelope_from_unreal
from organizations.validators import is_number
from projects.crons import NIL_CHECK_IN_ID
from projects.exceptions import CheckInRejectedError
from projects.models import ProjectKey

# Relay's CORS layer (relay-server/src/middlewares/cors.rs), on every answer.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": (
        "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, "
        "content-type, authentication, authorization, content-encoding, transfer-encoding"
    ),
    "Access-Control-Expose-Headers": "x-sentry-error, x-sentry-rate-limits, retry-after",
    "Access-Control-Max-Age": "3600",
    "Cross-Origin-Resource-Policy": "cross-origin",
}
# A transparent 1x1 GIF, the answer to the oldest browser clients' GET /store/.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
ENVELOPE_CONTENT_TYPE = "application/x-sentry-envelope"
# What browsers send security reports as (Relay's security endpoint takes the same, and the
# Reporting API's batches); the retired Expect-CT and Expect-Staple reports are counted only.
SECURITY_CONTENT_TYPES = frozenset(
    {
        "application/json",
        "application/csp-report",
        "application/reports+json",
        "application/expect-ct-report",
        "application/expect-ct-report+json",
        "application/expect-staple-report",
    }
)
NEL_CONTENT_TYPES = frozenset({"application/json", "application/reports+json"})
# OTLP/HTTP's two encodings (https://opentelemetry.io/docs/specs/otlp/#otlphttp).
OTLP_PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
OTLP_CONTENT_TYPES = OTLP_PROTOBUF_TYPES | {"application/json"}
Handler = Callable[..., HttpResponse]


def _with_cors(response: HttpResponse, headers: dict[str, str] | None = None) -> HttpResponse:
    """`response` with the CORS headers every ingest answer carries, and `headers`."""
    for name, value in {**CORS_HEADERS, **(headers or {})}.items():
        response[name] = value
    return response


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    return _with_cors(response, headers)


def _error(exc: IngestError) -> HttpResponse:
    body: dict[str, Any] = {"detail": exc.detail}
    if exc.causes:
        body["causes"] = exc.causes
    headers = {**exc.headers, "X-Sentry-Error": exc.detail}
    return _json(exc.status, body, headers)


def client_ip(request: HttpRequest) -> str:
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            # The proxy appends the address it saw; anything before it is the client's say.
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def answer_error(exc: BaseException) -> HttpResponse | None:
    """The JSON answer to what an ingest handler (or the commit of its rows, under the ASGI
    front door) raised; None for a fault of ours, which Django answers with a 500."""
    if isinstance(exc, IngestError):
        return _error(exc)
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return _error(database_unavailable(exc))
    if isinstance(exc, SuspiciousOperation):
        # Django's own limits (DATA_UPLOAD_MAX_NUMBER_FIELDS on a query string read).
        return _error(BadRequest(str(exc) or "bad request"))
    return None


BodyLimit = Callable[[str], int]


def _endpoint(
    *methods: str, body_limit: BodyLimit = lambda media_type: settings.INGEST_MAX_EVENT_BYTES
) -> Callable[[Handler], Callable[..., HttpResponse]]:
    """CORS, preflight, allowed methods and JSON errors around an ingest handler; for the
    ASGI front door (ingest/asgi.py), the view's `body_limit` (the most body bytes it takes,
    given the request's media type), `answer_error` and `check_credentials`."""

    def decorate(handler: Handler) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest, project_id: str | None = None, **route: str) -> HttpResponse:
            if request.method == "OPTIONS":
                return _json(200, {})
            if request.method not in methods:
                return _json(405, {"detail": "method not allowed"}, {"Allow": ", ".join(methods)})
            try:
                return handler(request, project_id, **route)
            except (IngestError, *DATABASE_UNAVAILABLE, SuspiciousOperation) as exc:
                return answer_error(exc)

        def check_credentials(
            request: HttpRequest, project_id: str | None = None, **route: str
        ) -> None:
            # Before the body is read (ingest/asgi.py): the request's own credentials, if
            # any, refused as the handler would refuse them (an envelope may carry its own).
            if request.method not in methods:
                return
            _check_project_id(project_id)
            if route.get("sentry_key"):
                auth = auth_from_path(request, route["sentry_key"])
            else:
                auth = auth_from_request(request)
            if auth is not None:
                door.authenticate(auth=auth, project_id=project_id)

        view.body_limit = body_limit  # type: ignore[attr-defined]
        view.answer_error = answer_error  # type: ignore[attr-defined]
        view.check_credentials = check_credentials  # type: ignore[attr-defined]
        return view

    return decorate


def is_threaded_server() -> bool:
    """Whether this request may have others running beside it in this process (and so
    share their queue statement). Threaded servers (gunicorn's gthread, runserver) run
    requests off the main thread; gunicorn's `wsgi.multithread` says False even for gthread."""
    return threading.current_thread() is not threading.main_thread()


def _request_meta(request: HttpRequest, client: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"ip": client_ip(request)}
    user_agent = request.META.get("HTTP_USER_AGENT")
    if client or user_agent:
        meta["client"] = client or user_agent
    return meta


def _check_project_id(project_id: str | None) -> None:
    if project_id is not None and not is_number(project_id):
        raise BadRequest("bad project path parameter")


def _accept(
    request: HttpRequest, project_id: str | None, *, envelope_endpoint: bool
) -> HttpResponse:
    _check_project_id(project_id)
    auth = auth_from_request(request)
    is_envelope = envelope_endpoint or (
        request.content_type == ENVELOPE_CONTENT_TYPE and request.method == "POST"
    )
    if auth is None and not is_envelope:
        raise Unauthorized("missing authorization information")
    # With credentials in the request, refuse a bad key before reading any body.
    key = door.authenticate(auth=auth, project_id=project_id) if auth else None
    envelope = _read_envelope(request, is_envelope=is_envelope)
    if auth is None:
        auth = auth_from_envelope_header(envelope.headers)
        key = door.authenticate(auth=auth, project_id=project_id)
    else:
        services.check_envelope_dsn(
            auth=auth, dsn=envelope_dsn(envelope.headers), project_id=project_id
        )
    check_limits(envelope)
    accepted = services.accept_envelope(
        key=key,
        envelope=envelope,
        meta=_request_meta(request, auth.client),
        group_commit=is_threaded_server(),
    )
    body = {"id": accepted.event_id} if accepted.event_id else {}
    headers = {"X-Sentry-Rate-Limits": accepted.rate_limits} if accepted.rate_limits else None
    return _json(200, body, headers)


def _read_envelope(request: HttpRequest, *, is_envelope: bool) -> Envelope:
    if request.method == "GET":
        data = request.GET.get("sentry_data", "").encode()
        return envelope_from_store(data, max_bytes=settings.INGEST_MAX_STORE_BYTES)
    if is_envelope:
        data = read_body(request, max_bytes=settings.INGEST_MAX_ENVELOPE_BYTES)
        return parse_envelope(data)
    data = read_body(request, max_bytes=settings.INGEST_MAX_STORE_BYTES)
    return envelope_from_store(data, max_bytes=settings.INGEST_MAX_STORE_BYTES)


def _store_limit(media_type: str) -> int:
    if media_type == ENVELOPE_CONTENT_TYPE:
        return settings.INGEST_MAX_ENVELOPE_BYTES
    return settings.INGEST_MAX_STORE_BYTES


@_endpoint("POST", body_limit=lambda media_type: settings.INGEST_MAX_ENVELOPE_BYTES)
def envelope(request: HttpRequest, project_id: str | None) -> HttpResponse:
    return _accept(request, project_id, envelope_endpoint=True)


@_endpoint("POST", "GET", body_limit=_store_limit)
def store(request: HttpRequest, project_id: str | None) -> HttpResponse:
    response = _accept(request, project_id, envelope_endpoint=False)
    if request.method == "GET":
        return _with_cors(HttpResponse(PIXEL_GIF, content_type="image/gif"))
    return response


def _required_key(
    request: HttpRequest, project_id: str | None, *, path_key: str | None = None
) -> tuple[ProjectKey, ClientAuth]:
    """The key of an endpoint that takes no envelope header: from the request's credentials,
    or from the URL path (`path_key`, cron check-ins); none is a 401."""
    _check_project_id(project_id)
    auth = auth_from_path(request, path_key) if path_key else auth_from_request(request)
    if auth is None:
        raise Unauthorized("missing authorization information")
    return door.authenticate(auth=auth, project_id=project_id), auth


def _key_for_media(
    request: HttpRequest, project_id: str | None, content_types: frozenset[str]
) -> ProjectKey:
    """The key of a browser's report (in the URL's query string) or of an OTLP export (in a
    header), its media type checked."""
    key, _ = _required_key(request, project_id)
    if request.content_type not in content_types:
        raise UnsupportedMediaType(f"unsupported content type {request.content_type!r}")
    return key


def _browser_body(request: HttpRequest) -> bytes:
    data = read_body(request, max_bytes=settings.INGEST_MAX_EVENT_BYTES)
    if not data.strip():
        raise BadRequest("empty request body")
    return data


@_endpoint("POST")
def security(request: HttpRequest, project_id: str | None) -> HttpResponse:
    """Browser security reports (CSP violations), authenticated by the `sentry_key` in the
    URL that the page's Content-Security-Policy names; `sentry_release` and
    `sentry_environment` there go on every event."""
    key = _key_for_media(request, project_id, SECURITY_CONTENT_TYPES)
    data = _browser_body(request)
    try:
        reports = security_reports(
            data,
            received=timezone.now(),
            release=request.GET.get("sentry_release"),
            environment=request.GET.get("sentry_environment"),
            headers={name: request.headers.get(name, "") for name in ("User-Agent", "Origin")},
            max_events=settings.INGEST_MAX_BROWSER_REPORTS,
        )
    except InvalidSecurityReport as exc:
        raise BadRequest(str(exc)) from None
    accepted = services.accept_security_reports(
        key=key, reports=reports, meta={"ip": client_ip(request)}, group_commit=is_threaded_server()
    )
    return _json(200, {"id": accepted.event_id} if accepted.event_id else {})


def _checkin_payload(request: HttpRequest, monitor_slug: str) -> dict[str, Any]:
    """The check-in of a cron HTTP request: a JSON body (a check-in item's payload), else the
    query string's `status`, `check_in_id`, `environment` and `duration` (seconds)."""
    if request.method == "POST" and request.content_type == "application/json":
        data = read_body(request, max_bytes=settings.INGEST_MAX_EVENT_BYTES)
        payload = load_json(data, error=BadRequest, expect=dict, what="an object")
    else:
        names = ("status", "check_in_id", "environment", "duration")
        payload = {name: request.GET[name] for name in names if name in request.GET}
        if "duration" in payload:
            try:
                payload["duration"] = float(payload["duration"])
            except ValueError:
                raise BadRequest("invalid check-in: duration is not a number") from None
    payload["monitor_slug"] = monitor_slug
    if payload.get("check_in_id") is None:
        payload["check_in_id"] = NIL_CHECK_IN_ID.hex
    try:
        parse_checkin(payload, project_id=0, received=timezone.now())
    except (InvalidItem, CheckInRejectedError) as exc:
        raise BadRequest(f"invalid check-in ({exc.reason})") from None
    return payload


@_endpoint("POST")
def nel(request: HttpRequest, project_id: str | None) -> HttpResponse:
    """Network Error Logging reports (a Reporting API batch) → log records. Like Relay, 200
    also when a quota of the `log_item` category drops them."""
    key = _key_for_media(request, project_id, NEL_CONTENT_TYPES)
    try:
        reports = nel_reports(
            _browser_body(request),
            received=timezone.now(),
            max_records=settings.INGEST_MAX_BROWSER_REPORTS,
        )
    except InvalidNelReport as exc:
        raise BadRequest(str(exc)) from None
    services.accept_nel_reports(
        key=key, reports=reports, meta={"ip": client_ip(request)}, group_commit=is_threaded_server()
    )
    return _json(200, {})


@_endpoint("POST", body_limit=lambda media_type: settings.INGEST_MAX_OTLP_BYTES)
def otlp_export(request: HttpRequest, project_id: str | None, signal: str) -> HttpResponse:
    """OTLP/HTTP export requests of traces or logs, as Sentry's OTLP endpoint takes them; the
    answer is an empty export response in the request's encoding."""
    key = _key_for_media(request, project_id, OTLP_CONTENT_TYPES)
    protobuf = request.content_type in OTLP_PROTOBUF_TYPES
    data = read_body(request, max_bytes=settings.INGEST_MAX_OTLP_BYTES)
    try:
        export = otlp.decode_request(data, signal=signal, protobuf=protobuf)
    except otlp.InvalidOtlp as exc:
        raise BadRequest(str(exc)) from None
    if signal == otlp.TRACES:
        item_type, records = "span", otlp.span_records(export.body)
    else:
        item_type, records = "log", otlp.log_records(export.body)
    rejected = export.total - len(records)
    services.accept_otlp(
        key=key,
        item_type=item_type,
        records=records,
        rejected=rejected,
        meta={"ip": client_ip(request)},
        group_commit=is_threaded_server(),
    )
    body = otlp.export_response(signal, rejected=rejected, protobuf=protobuf)
    return _with_cors(HttpResponse(body, content_type=request.content_type))


@_endpoint("POST", body_limit=lambda media_type: settings.INGEST_MAX_ATTACHMENTS_BYTES)
def minidump(request: HttpRequest, project_id: str | None) -> HttpResponse:
    """Minidump uploads (Crashpad, Breakpad, Electron, sentry-native): an event with the
    minidump attached, answered with its id as text, as Relay does; also when a quota drops
    it (crash reporters retry a 429 over and over), while a full backlog is a 429."""
    key, auth = _required_key(request, project_id)
    body = read_body(request, max_bytes=settings.INGEST_MAX_ATTACHMENTS_BYTES)
    if not body:
        raise BadRequest("empty request body")
    envelope = envelope_from_upload(
        body,
        content_type=request.META.get("CONTENT_TYPE", ""),
        max_bytes=settings.INGEST_MAX_ATTACHMENT_BYTES,
    )
    check_limits(envelope)
    return _accepted_as_text(request, key=key, auth=auth, envelope=envelope)


def _accepted_as_text(
    request: HttpRequest, *, key: ProjectKey, auth: ClientAuth, envelope: Envelope
) -> HttpResponse:
    """Queue a crash reporter's envelope and answer its event id as text, as Relay does;
    also when a quota drops it (crash reporters retry a 429 over and over)."""
    with contextlib.suppress(door.QuotaExceeded):
        services.accept_envelope(
            key=key,
            envelope=envelope,
            meta=_request_meta(request, auth.client),
            group_commit=is_threaded_server(),
        )
    return _with_cors(HttpResponse(envelope.event_id, content_type="text/plain"))


@_endpoint("POST", body_limit=lambda media_type: settings.INGEST_MAX_ATTACHMENTS_BYTES)
def unreal(request: HttpRequest, project_id: str | None, sentry_key: str) -> HttpResponse:
    """Unreal Engine crash reports (CrashReportClient's data router URL is the keys API's
    `dsn.unreal`): the key in the path, answered like minidump uploads (the event id as
    text, also when a quota drops the report, while a full backlog is a 429)."""
    key, auth = _required_key(request, project_id, path_key=sentry_key)
    body = read_body(request, max_bytes=settings.INGEST_MAX_ATTACHMENTS_BYTES)
    if not body:
        raise BadRequest("empty request body")
    envelope = envelope_from_unreal(
        body, user_id=request.GET.get("UserID"), max_bytes=settings.INGEST_MAX_ENVELOPE_BYTES
    )
    check_limits(envelope)
    return _accepted_as_text(request, key=key, auth=auth, envelope=envelope)


# HEAD as well: Relay's router serves it with the GET handler (`curl -I` checks in too).
@_endpoint("POST", "GET", "HEAD")
def cron(
    request: HttpRequest, project_id: str | None, monitor_slug: str, sentry_key: str | None = None
) -> HttpResponse:
    """Sentry's cron HTTP API, as Relay answers it: 202 once the check-in is queued, and 202
    also when a quota of the `monitor` category drops it (cron scripts do not retry)."""
    key, _ = _required_key(request, project_id, path_key=sentry_key)
    payload = _checkin_payload(request, monitor_slug)
    services.accept_checkin(
        key=key, payload=payload, meta={"ip": client_ip(request)}, group_commit=is_threaded_server()
    )
    return _with_cors(HttpResponse(status=202))
