"""/api/0/ events of an issue or a project, as lists and one at a time."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import ResourceDoesNotExist
from groups import services
from groups.api.issues import EVENT_SCOPES, IssueEndpoint, event_uuid, time_pagination
from groups.models import Event
from groups.serializers.events import EventDetailSerializer, EventSerializer
from projects.api.projects import ProjectEndpoint


def _event_page(view: generics.GenericAPIView, events: QuerySet[Event]) -> Response:
    """A page of events, newest first; `full=true` for whole events."""
    request = view.request
    paginator = time_pagination("timestamp")
    page = paginator.paginate_queryset(events, request, view)
    full = request.query_params.get("full") in ("1", "true")
    serializer = EventDetailSerializer if full else EventSerializer
    return paginator.get_paginated_response(serializer(page, many=True).data)


def _event_detail(events: QuerySet[Event], event_id: str) -> Response:
    """`latest`, `oldest`, `recommended` (the latest) or an event id, with its neighbours
    in its issue."""
    if event_id in ("latest", "recommended"):
        event = events.order_by("-timestamp", "-id").first()
    elif event_id == "oldest":
        event = events.order_by("timestamp", "id").first()
    else:
        parsed = event_uuid(event_id)
        event = events.filter(event_id=parsed).first() if parsed is not None else None
    if event is None:
        raise ResourceDoesNotExist
    context = {"adjacent": services.adjacent_event_ids(event=event)}
    return Response(EventDetailSerializer(event, context=context).data)


class IssueEventListView(IssueEndpoint):
    """The issue's events, newest first (`environment=` filters, repeatable)."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=EventSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        events = Event.objects.for_group(self.group)
        environments = request.query_params.getlist("environment")
        if environments:
            events = events.filter(environment__in=environments)
        return _event_page(self, events)


class IssueEventDetailView(IssueEndpoint):
    """One event of the issue."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=EventDetailSerializer)
    def get(self, request: Request, **kwargs: str) -> Response:
        return _event_detail(Event.objects.for_group(self.group), kwargs["event_id"])


class ProjectEventListView(ProjectEndpoint):
    """The project's events, newest first (sentry-cli `events list`)."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=EventSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        return _event_page(self, Event.objects.for_project(self.project))


class ProjectEventDetailView(ProjectEndpoint):
    """One event of the project."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=EventDetailSerializer)
    def get(self, request: Request, **kwargs: str) -> Response:
        return _event_detail(Event.objects.for_project(self.project), kwargs["event_id"])
