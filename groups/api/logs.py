"""/api/0/ log records of a project, and the logs of an event's trace."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import ResourceDoesNotExist
from groups.api.issues import event_uuid, time_pagination
from groups.api.performance import READ_SCOPES
from groups.filters import LogFilterSet
from groups.models import Event, LogRecord
from groups.serializers.logs import LogRecordSerializer
from projects.api.projects import ProjectEndpoint
from projects.models import Project


def _log_page(view: generics.GenericAPIView, records: QuerySet[LogRecord]) -> Response:
    paginator = time_pagination("timestamp")
    page = paginator.paginate_queryset(records, view.request, view)
    return paginator.get_paginated_response(LogRecordSerializer(page, many=True).data)


class ProjectLogListView(ProjectEndpoint):
    """The project's log records, newest first: `level` (repeatable), `trace`, `query` (in
    the body), `environment`, `release`, `statsPeriod` or `start`/`end`."""

    scope_map = READ_SCOPES
    filter_backends = [DjangoFilterBackend]
    filterset_class = LogFilterSet
    # For the schema's filter parameters; get() starts from the resolved project.
    queryset = LogRecord.objects.none()

    @extend_schema(responses=LogRecordSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        return _log_page(self, self.filter_queryset(LogRecord.objects.filter(project=self.project)))


class ProjectEventLogListView(ProjectEndpoint):
    """The logs of an event's trace (in any project of the organization), newest first."""

    scope_map = READ_SCOPES

    @extend_schema(responses=LogRecordSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        event_id = event_uuid(kwargs["event_id"])
        event = (
            Event.objects.for_project(self.project).filter(event_id=event_id).first()
            if event_id is not None
            else None
        )
        if event is None:
            raise ResourceDoesNotExist
        projects = Project.objects.for_organization(self.organization).values("pk")
        records = LogRecord.objects.filter(trace_id=event.trace_id, project_id__in=projects)
        return _log_page(self, records if event.trace_id else records.none())
