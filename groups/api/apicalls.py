"""/api/0/ API calls of a project (Moesif events): lists, one call with its errors, per-route
aggregates, and the calls around an error event."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import ResourceDoesNotExist
from groups.api.issues import event_uuid, time_pagination
from groups.filters import ApiCallFilter, ApiCallRouteFilter
from groups.models import ApiCall, Event
from groups.serializers.apicalls import (
    ApiCallDetailSerializer,
    ApiCallRouteSerializer,
    ApiCallSerializer,
)
from groups.services import apicalls as services
from organizations.validators import is_id
from projects.api.projects import PROJECT_SCOPES, ProjectEndpoint

API_CALL_SCOPES = {"GET": PROJECT_SCOPES["GET"]}
FILTER_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATETIME),
    OpenApiParameter("end", OpenApiTypes.DATETIME),
    OpenApiParameter("statsPeriod", str, description="`24h`, `14d`, `90m`, …"),
    OpenApiParameter("verb", str),
    OpenApiParameter("status", str, description="`2xx`, `4xx`, `5xx` or a status code"),
    OpenApiParameter("route", str),
    OpenApiParameter("user", str, description="The calls' user id"),
    OpenApiParameter("query", str, description="Part of the URI"),
]


def filtered(
    request: Request,
    calls: QuerySet[ApiCall],
    filter_class: type[ApiCallFilter] = ApiCallFilter,
) -> QuerySet[ApiCall]:
    """The calls that the query parameters select; a bad parameter is a 400."""
    calls_filter = filter_class(request.query_params, queryset=calls)
    if not calls_filter.is_valid():
        raise ValidationError(calls_filter.errors)
    return calls_filter.qs


class ApiCallEndpoint(ProjectEndpoint):
    scope_map = API_CALL_SCOPES

    def page_of(self, calls: QuerySet[ApiCall]) -> Response:
        """A page of calls, newest first, without their stored headers and bodies."""
        paginator = time_pagination("request_time")
        page = paginator.paginate_queryset(calls.defer("data"), self.request, self)
        return paginator.get_paginated_response(ApiCallSerializer(page, many=True).data)


class ProjectApiCallListView(ApiCallEndpoint):
    """The project's API calls, newest first."""

    @extend_schema(parameters=FILTER_PARAMETERS, responses=ApiCallSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        return self.page_of(filtered(request, ApiCall.objects.for_project(self.project)))


class ProjectApiCallDetailView(ApiCallEndpoint):
    """One API call with its headers, bodies and linked errors."""

    @extend_schema(responses=ApiCallDetailSerializer)
    def get(self, request: Request, **kwargs: str) -> Response:
        value = kwargs["api_call_id"]
        calls = ApiCall.objects.for_project(self.project)
        call = calls.filter(pk=int(value)).first() if is_id(value) else None
        if call is None:
            raise ResourceDoesNotExist
        context = {"errors": services.errors_of_call(call=call)}
        return Response(ApiCallDetailSerializer(call, context=context).data)


class ProjectApiCallRouteListView(ApiCallEndpoint):
    """Per route and verb, the 100 busiest: calls, failures (5xx or no response), error rate,
    p50 and p95 duration in milliseconds; over the last 24 hours unless a range is given."""

    @extend_schema(parameters=FILTER_PARAMETERS, responses=ApiCallRouteSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        calls = ApiCall.objects.for_project(self.project)
        calls = filtered(request, calls, ApiCallRouteFilter)
        rows = services.route_summaries(calls=calls)
        return Response(ApiCallRouteSerializer(rows, many=True).data)


class EventApiCallListView(ApiCallEndpoint):
    """The API calls around an error event: same trace, or its user within
    API_CALL_ERROR_WINDOW_SECONDS."""

    @extend_schema(responses=ApiCallSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        parsed = event_uuid(kwargs["event_id"])
        events = Event.objects.for_project(self.project)
        event = events.filter(event_id=parsed).first() if parsed is not None else None
        if event is None:
            raise ResourceDoesNotExist
        return self.page_of(services.calls_of_event(event=event))
