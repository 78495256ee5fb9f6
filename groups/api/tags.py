"""/api/0/ tags of an issue: each key with its top values, and all values of one key."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import ResourceDoesNotExist
from config.api.pagination import SentryCursorPagination
from groups import services
from groups.api.issues import EVENT_SCOPES, IssueEndpoint
from groups.models import GroupTagValue
from groups.serializers.tags import TagSerializer, TagValueSerializer


class IssueTagListView(IssueEndpoint):
    """The issue's tag keys, each with its top values."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=TagSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        summaries = services.issue_tag_summaries(group=self.group)
        return Response(TagSerializer(summaries, many=True).data)


class IssueTagDetailView(IssueEndpoint):
    """One tag key of the issue."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=TagSerializer)
    def get(self, request: Request, **kwargs: str) -> Response:
        summaries = services.issue_tag_summaries(group=self.group, key=kwargs["key"])
        if not summaries:
            raise ResourceDoesNotExist
        return Response(TagSerializer(summaries[0]).data)


class IssueTagValueListView(IssueEndpoint):
    """Every value of one tag key of the issue, most frequent first."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=TagValueSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        values = GroupTagValue.objects.filter(group=self.group, key=kwargs["key"])
        paginator = SentryCursorPagination(key="times_seen")
        page = paginator.paginate_queryset(values, request, self)
        if not page and not values.exists():
            raise ResourceDoesNotExist
        return paginator.get_paginated_response(TagValueSerializer(page, many=True).data)
