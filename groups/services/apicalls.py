"""API calls: stored in bulk from the digest, summarized per route, joined to errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from groups.models import ApiCall, Event
from groups.routes import normalize_route, path_of
from groups.services.aggregates import summarize

JSON = dict[str, Any]

MAX_URI_CHARS = ApiCall._meta.get_field("uri").max_length
# A request or response body is kept up to this many characters of its JSON (or base64) text.
MAX_BODY_CHARS = 64 * 1024
# What a route's error rate counts: server errors, and calls that got no response at all.
FAILED = Q(status__gte=500) | Q(status__isnull=True)


@dataclass
class NewApiCall:
    """One validated, scrubbed API call from the queue, ready to store."""

    project_id: int
    request_time: datetime
    response_time: datetime | None
    status: int | None
    verb: str
    uri: str
    received: datetime
    ip_address: str = ""
    user_id: str = ""
    company_id: str = ""
    session_token: str = ""
    trace_id: str = ""
    transaction_id: str | None = None
    direction: str = ""
    weight: int = 1
    api_version: str = ""
    tags: str = ""
    metadata: JSON = field(default_factory=dict)
    # {"request": {"headers", "body", "transfer_encoding"}, "response": {…} or None}
    data: JSON = field(default_factory=dict)


def duration_ms(request_time: datetime, response_time: datetime | None) -> float | None:
    """Milliseconds from request to response; None without a response or when the
    response came first (clocks of two machines)."""
    if response_time is None:
        return None
    duration = (response_time - request_time) / timedelta(milliseconds=1)
    return duration if duration >= 0 else None


def capped_message(message: JSON | None) -> JSON | None:
    """A request or response with its body cut to MAX_BODY_CHARS (then kept as text)."""
    if message is None:
        return None
    body = message.get("body")
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    if len(text) <= MAX_BODY_CHARS:
        return {**message, "truncated": False}
    return {**message, "body": text[:MAX_BODY_CHARS], "truncated": True}


def _model(call: NewApiCall) -> ApiCall:
    data = {
        "request": capped_message(call.data.get("request")) or {},
        "response": capped_message(call.data.get("response")),
    }
    return ApiCall(
        project_id=call.project_id,
        request_time=call.request_time,
        response_time=call.response_time,
        duration_ms=duration_ms(call.request_time, call.response_time),
        verb=call.verb.upper()[:16],
        uri=call.uri[:MAX_URI_CHARS],
        route=normalize_route(call.uri),
        status=call.status,
        ip_address=call.ip_address[:64],
        user_id=call.user_id[:200],
        company_id=call.company_id[:200],
        session_token=call.session_token[:200],
        trace_id=call.trace_id[:32],
        transaction_id=call.transaction_id,
        direction=call.direction[:16],
        weight=call.weight,
        api_version=call.api_version[:64],
        tags=call.tags[:512],
        metadata=call.metadata,
        data=data,
        received=call.received,
    )


def store_api_calls(*, calls: list[NewApiCall]) -> None:
    """Store API calls in one bulk INSERT; a call whose (project, transaction id) is already
    stored is a client's retry and is skipped."""
    ApiCall.objects.bulk_create([_model(call) for call in calls], ignore_conflicts=True)


def route_summaries(*, calls: QuerySet[ApiCall], limit: int = 100) -> list[JSON]:
    """Per route and verb: count, failures (5xx or no response), p50 and p95 duration."""
    return summarize(
        calls, by={"route": "route", "verb": "verb"}, value="duration_ms", failed=FAILED,
        limit=limit,
    )  # fmt: skip


def _window() -> timedelta:
    return timedelta(seconds=settings.API_CALL_ERROR_WINDOW_SECONDS)


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    """`moment + delta`, or the first or last moment there is: Moesif clients may send any
    time from year 1 to 9999."""
    try:
        return moment + delta
    except OverflowError:
        if delta > timedelta(0):
            return datetime.max.replace(tzinfo=UTC)
        return datetime.min.replace(tzinfo=UTC)


def errors_of_call(*, call: ApiCall, limit: int = 100) -> list[Event]:
    """The project's error events sharing the call's trace id, or within
    API_CALL_ERROR_WINDOW_SECONDS of it either of the call's user (`Event.user_key`
    `id:<user id>`) or in a request to the same URL path."""
    match = Q(pk__in=[])
    if call.trace_id:
        match |= Q(trace_id=call.trace_id)
    window = _window()
    around = Q(
        timestamp__gte=_shifted(call.request_time, -window),
        timestamp__lte=_shifted(call.response_time or call.request_time, window),
    )
    if call.user_id:
        match |= around & Q(user_key=f"id:{call.user_id}"[:200])
    path = path_of(call.uri)[:512]
    if path:
        match |= around & Q(request_path=path)
    events = Event.objects.for_project(call.project_id).filter(match)
    return list(events.select_related("group").order_by("-timestamp", "-id")[:limit])


def _same_path(path: str) -> Q:
    """Calls whose URI has this path: the route (indexed) narrows to URIs of the same shape,
    where a URI ending in the path, or holding it before its query or fragment, has it."""
    return Q(route=normalize_route(path)) & (
        Q(uri__endswith=path) | Q(uri__contains=f"{path}?") | Q(uri__contains=f"{path}#")
    )


def calls_of_event(*, event: Event) -> QuerySet[ApiCall]:
    """The project's API calls around an error: same trace id, or within
    API_CALL_ERROR_WINDOW_SECONDS of it either of the event's user (when the event names one
    by id) or to the URL path of the event's request."""
    match = Q(pk__in=[])
    if event.trace_id:
        match |= Q(trace_id=event.trace_id)
    window = _window()
    around = Q(
        request_time__gte=event.timestamp - window, request_time__lte=event.timestamp + window
    )
    if event.user_key.startswith("id:"):
        match |= around & Q(user_id=event.user_key[3:])
    if event.request_path:
        match |= around & _same_path(event.request_path)
    return ApiCall.objects.for_project(event.project_id).filter(match)
