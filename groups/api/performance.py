"""/api/0/ transactions (per-name aggregates over a period) and traces (spans, errors, logs)."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import ResourceDoesNotExist
from config.api.pagination import per_page_of
from groups.filters import INVALID_TRACE_ID, TransactionFilterSet, normalized_trace_id
from groups.models import Span
from groups.serializers.performance import TraceSerializer, TransactionSummarySerializer
from groups.services.spans import trace_of, transaction_summaries
from organizations.api import OrganizationEndpoint
from projects.api.projects import PROJECT_SCOPES, ProjectEndpoint
from projects.models import Project

READ_SCOPES = {"GET": PROJECT_SCOPES["GET"]}


class ProjectTransactionListView(ProjectEndpoint):
    """Per transaction name: count, failures (status not ok/cancelled/unknown, as Sentry's
    failure_rate) and p50/p95 duration in ms, over `statsPeriod` (default 24h) or
    `start`/`end`; `per=hour` splits each name per hour. The most frequent first."""

    scope_map = READ_SCOPES
    filter_backends = [DjangoFilterBackend]
    filterset_class = TransactionFilterSet
    # For the schema's filter parameters; get() starts from the resolved project.
    queryset = Span.objects.none()

    @extend_schema(responses=TransactionSummarySerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        segments = self.filter_queryset(Span.objects.filter(project=self.project, is_segment=True))
        rows = transaction_summaries(
            segments=segments,
            per_hour=request.query_params.get("per") == "hour",
            limit=per_page_of(request),
        )
        return Response(TransactionSummarySerializer(rows, many=True).data)


class OrganizationTraceView(OrganizationEndpoint):
    """One trace across the organization's projects: its spans (oldest first, with parent
    ids for a tree), the error events of the same trace, its logs and its API calls."""

    scope_map = READ_SCOPES

    @extend_schema(responses=TraceSerializer)
    def get(self, request: Request, **kwargs: str) -> Response:
        trace_id = normalized_trace_id(kwargs["trace_id"])
        if trace_id is None:
            raise ParseError(INVALID_TRACE_ID)
        projects = Project.objects.for_organization(self.organization).values("pk")
        trace = trace_of(project_ids=projects, trace_id=trace_id)
        if trace.is_empty():
            raise ResourceDoesNotExist
        return Response(TraceSerializer({"traceId": trace_id, "trace": trace}).data)
