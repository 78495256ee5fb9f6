"""/api/0/ issues: search and list, bulk and single updates, merges, deletion, short ids."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import ParseError, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import ResourceDoesNotExist
from config.api.pagination import SentryCursorPagination
from groups import services
from groups.models import Event, Group, GroupStatus
from groups.search import InvalidSearchQuery, issue_filter, parse_query, tag_q
from groups.serializers.issues import (
    IssueDetailSerializer,
    IssueSerializer,
    IssueUpdateSerializer,
    ShortIdSerializer,
)
from organizations.api import OrganizationEndpoint, use_query_string_as_body
from organizations.permissions import ScopePermission, request_scopes
from organizations.validators import is_id
from projects.api.projects import ProjectEndpoint
from projects.models import Project

# Sentry's ProjectEventPermission / GroupPermission.
ISSUE_SCOPES = {
    "GET": ("event:read", "event:write", "event:admin"),
    "PUT": ("event:write", "event:admin"),
    "DELETE": ("event:admin",),
}
EVENT_SCOPES = {"GET": ISSUE_SCOPES["GET"]}

# sort= → the column it orders by, newest or largest first.
SORTS = {"date": "last_seen", "new": "first_seen", "freq": "times_seen", "user": "user_count"}
STATS_PERIOD_ERROR = "Invalid stats_period. Valid choices are '', '24h', and '14d'"
# DELETE without ids removes at most this many issues (Sentry's bulk mutation limit).
BULK_DELETE_LIMIT = 1000
_EVENT_ID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F-]{36}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_epoch_micros(value: int) -> datetime:
    """The moment of a cursor's value; one beyond datetime's years was not made here."""
    try:
        return _EPOCH + timedelta(microseconds=value)
    except OverflowError:
        raise ParseError("Invalid cursor parameter.") from None


def time_pagination(key: str) -> SentryCursorPagination:
    """Newest first on a datetime column; cursors carry microseconds since the epoch, while
    filters compare the column itself so that the `(…, -time, -id)` index serves every page."""
    return SentryCursorPagination(key, to_cursor=epoch_micros, from_cursor=from_epoch_micros)


def issue_pagination(sort: str) -> SentryCursorPagination:
    key = SORTS[sort]
    if key in ("last_seen", "first_seen"):
        return time_pagination(key)
    return SentryCursorPagination(key=key)


def _stats_period(request: Request) -> str:
    period = request.query_params.get("statsPeriod", "24h")
    if period not in ("", "24h", "14d"):
        raise ParseError(STATS_PERIOD_ERROR)
    return period


def _sort(request: Request) -> str:
    sort = request.query_params.get("sort") or "date"
    if sort not in SORTS:
        raise ParseError(f"Invalid sort: {sort!r}. Valid choices are {', '.join(SORTS)}.")
    return sort


def _stats_context(groups: list[Group], period: str) -> dict[str, Any]:
    if not period:
        return {}
    stats = services.issue_stats(
        group_ids=[group.pk for group in groups], period=period, now=timezone.now()
    )
    return {"stats": {group_id: {period: points} for group_id, points in stats.items()}}


def event_uuid(value: str) -> uuid.UUID | None:
    if not _EVENT_ID.fullmatch(value):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _status(value: str) -> str:
    # `muted` is the old name of `ignored`, still sent by sentry-cli's `--status muted`.
    status = GroupStatus.IGNORED if value == "muted" else value
    if status not in GroupStatus.values:
        raise ParseError("Invalid status.")
    return status


def _numbers(values: list[str], error: str) -> set[int]:
    """Ids from query parameters; anything but a database integer is a 400."""
    try:
        numbers = {int(value) for value in values}
    except ValueError:
        raise ParseError(error) from None
    if any(not 0 < number < 2**63 for number in numbers):
        raise ParseError(error)
    return numbers


def _ids(request: Request) -> set[int]:
    return _numbers(request.query_params.getlist("id"), "Invalid issue id.")


class IssueListMixin:
    """Search, list, bulk update and bulk delete of the issues in `issue_scope()`."""

    scope_map = ISSUE_SCOPES
    request: Request

    def scope_projects(self) -> QuerySet[Project]:
        raise NotImplementedError

    def issue_scope(self) -> QuerySet[Group]:
        return Group.objects.filter(project__in=self.scope_projects())

    def direct_hit(self, issues: QuerySet[Group], query: str) -> QuerySet[Group] | None:
        """An event id, or a short id with shortIdLookup=1, names one issue (Sentry)."""
        event_id = event_uuid(query)
        if event_id is not None:
            # By project and event id: the unique index on events serves the lookup.
            group_ids = Event.objects.filter(
                project__in=self.scope_projects(), event_id=event_id
            ).values("group_id")
            if group_ids.exists():
                return issues.filter(pk__in=group_ids)
        if self.request.query_params.get("shortIdLookup") in ("1", "true"):
            group = services.find_issue_by_short_id(organization=self.organization, short_id=query)
            if group is not None and issues.filter(pk=group.pk).exists():
                return issues.filter(pk=group.pk)
        return None

    def search(self) -> tuple[QuerySet[Group], bool]:
        """The issues `query` (default `is:unresolved`), `status` and `environment` select;
        and whether the query named one issue directly."""
        params = self.request.query_params
        issues = self.issue_scope()
        query = params.get("query")
        if query is None:
            # The legacy `status` parameter (sentry-cli `--status`) replaces the implied
            # `is:unresolved`, as it overrode the query's status in Sentry.
            query = "" if params.get("status") else "is:unresolved"
        query = query.strip()
        hit = self.direct_hit(issues, query) if query else None
        if hit is not None:
            return hit, True
        try:
            issues = issues.filter(issue_filter(parse_query(query), now=timezone.now()))
        except InvalidSearchQuery as exc:
            raise ParseError(str(exc)) from None
        if params.get("status"):
            issues = issues.filter(status=_status(params["status"]))
        environments = tuple(params.getlist("environment"))
        if environments:
            issues = issues.filter(tag_q("environment", environments))
        return issues, False

    @extend_schema(
        parameters=[
            OpenApiParameter("query", description="Sentry search syntax; default is:unresolved"),
            OpenApiParameter("sort", enum=list(SORTS)),
            OpenApiParameter("statsPeriod", enum=["", "24h", "14d"]),
            OpenApiParameter("cursor"),
        ],
        responses=IssueSerializer(many=True),
    )
    def get(self, request: Request, **kwargs: str) -> Response:
        period = _stats_period(request)
        paginator = issue_pagination(_sort(request))
        issues, hit = self.search()
        page = paginator.paginate_queryset(
            issues.select_related("project__organization"), request, self
        )
        serializer = IssueSerializer(page, many=True, context=_stats_context(page, period))
        response = paginator.get_paginated_response(serializer.data)
        if hit:
            response["X-Sentry-Direct-Hit"] = "1"
        return response

    @extend_schema(
        parameters=[OpenApiParameter("id", int, many=True)],
        request=IssueUpdateSerializer,
        responses={200: OpenApiTypes.OBJECT, 204: None},
    )
    def put(self, request: Request, **kwargs: str) -> Response:
        update = IssueUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        ids = _ids(request)
        issues = self.issue_scope().filter(pk__in=ids) if ids else self.search()[0]
        if not issues.exists():
            # Sentry's update_groups when no issue matched (ids out of scope are ignored).
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(update_issues(issues, update))

    @extend_schema(parameters=[OpenApiParameter("id", int, many=True)], responses={204: None})
    def delete(self, request: Request, **kwargs: str) -> Response:
        ids = _ids(request)
        if ids:
            issues = self.issue_scope().filter(pk__in=ids)
        else:
            issues = self.search()[0].order_by("-last_seen", "-id")[:BULK_DELETE_LIMIT]
        services.delete_issues(group_ids=list(issues.values_list("pk", flat=True)))
        return Response(status=status.HTTP_204_NO_CONTENT)


def update_issues(issues: QuerySet[Group], update: IssueUpdateSerializer) -> dict[str, Any]:
    """Apply a validated update: merge first (then the rest applies to the merged issue)."""
    now = timezone.now()
    change = update.status_change(now=now)
    result = update.applied(change)
    if update.wants_merge:
        groups = list(issues)
        if len(groups) < 2:
            raise ValidationError({"detail": "Merging requires at least two issues."})
        if len({group.project_id for group in groups}) > 1:
            raise ValidationError({"detail": "Merging across multiple projects is not supported"})
        parent, children = services.merge_issues(groups=groups)
        result["merge"] = {
            "parent": str(parent.pk),
            "children": [str(child.pk) for child in children],
        }
        issues = Group.objects.filter(pk=parent.pk)
    if change is not None:
        services.change_issue_status(groups=issues, change=change, now=now)
    return result


def _bulk_operation_ids(prefix: str) -> dict[str, Any]:
    """Operation ids the list's PUT and DELETE would otherwise share with the detail's."""
    return {
        method: extend_schema(operation_id=f"{prefix}_bulk_{name}")
        for method, name in (("put", "update"), ("delete", "destroy"))
    }


@extend_schema_view(**_bulk_operation_ids("projects_issues"))
class ProjectIssueListView(IssueListMixin, ProjectEndpoint):
    """A project's issues: search and list; PUT and DELETE change or remove many at once."""

    def scope_projects(self) -> QuerySet[Project]:
        return Project.objects.filter(pk=self.project.pk)

    def issue_scope(self) -> QuerySet[Group]:
        # An equality on the project, so that the (project, -sort key, -id) indexes order.
        return Group.objects.for_project(self.project)


@extend_schema_view(**_bulk_operation_ids("organizations_issues"))
class OrganizationIssueListView(IssueListMixin, OrganizationEndpoint):
    """The organization's issues, optionally of some projects (`project=<id>`, repeatable)."""

    def scope_projects(self) -> QuerySet[Project]:
        """The organization's projects, or those named by `project` (-1: all, as in Sentry);
        a project of another organization is a 403."""
        projects = Project.objects.for_organization(self.organization)
        raw = [value for value in self.request.query_params.getlist("project") if value != "-1"]
        if not raw:
            return projects
        wanted = _numbers(raw, "Invalid project parameter. Values must be numbers.")
        if projects.filter(pk__in=wanted).count() != len(wanted):
            raise PermissionDenied
        return projects.filter(pk__in=wanted)


class IssueEndpoint(OrganizationEndpoint):
    """Resolves `issue_id`, by id or (with the organization in the path) by short id.

    Without the organization in the path (`/issues/{id}/`) the issue comes first, then the
    caller's scopes in its organization: an unknown id is a 404, an issue of an organization
    the caller cannot act in a 403, as Sentry's GroupEndpoint answers.
    """

    scope_map = ISSUE_SCOPES
    group: Group

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        issue_id = kwargs["issue_id"]
        if "organization_id_or_slug" in kwargs:
            super().initial(request, *args, **kwargs)
            self.group = self.find_issue(issue_id)
            return
        # Authentication and throttles first, so that no credentials is a 401, not a 404.
        super(OrganizationEndpoint, self).initial(request, *args, **kwargs)
        self.group = self.find_issue(issue_id)
        self.organization = self.group.project.organization
        permission = ScopePermission()
        if not request_scopes(request, self.organization) or not (
            permission.has_organization_permission(request, self, self.organization)
        ):
            raise PermissionDenied
        use_query_string_as_body(request)

    def find_issue(self, issue_id: str) -> Group:
        organization = getattr(self, "organization", None)
        if is_id(issue_id):
            issues = Group.objects.select_related("project__organization")
            if organization is not None:
                issues = issues.for_organization(organization)
            group = issues.filter(pk=int(issue_id)).first()
        elif organization is not None:
            group = services.find_issue_by_short_id(organization=organization, short_id=issue_id)
        else:
            group = None
        if group is None:
            raise ResourceDoesNotExist
        return group


class IssueDetailView(IssueEndpoint):
    """One issue: GET; PUT (the bulk update's attributes) answers the whole issue; DELETE."""

    @extend_schema(responses=IssueDetailSerializer)
    def get(self, request: Request, **kwargs: str) -> Response:
        return Response(self.serialize(self.group))

    def serialize(self, group: Group) -> dict[str, Any]:
        now = timezone.now()
        stats = {
            period: services.issue_stats(group_ids=[group.pk], period=period, now=now)[group.pk]
            for period in ("24h", "30d")
        }
        data = IssueDetailSerializer(group).data
        data["stats"] = stats
        return data

    @extend_schema(request=IssueUpdateSerializer, responses=IssueDetailSerializer)
    def put(self, request: Request, **kwargs: str) -> Response:
        update = IssueUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        update_issues(Group.objects.filter(pk=self.group.pk), update)
        group = Group.objects.select_related("project__organization").get(pk=self.group.pk)
        return Response(self.serialize(group))

    @extend_schema(responses={202: None})
    def delete(self, request: Request, **kwargs: str) -> Response:
        # Sentry deletes in the background and answers 202; here it is done on return.
        services.delete_issues(group_ids=[self.group.pk])
        return Response(status=status.HTTP_202_ACCEPTED)


class ShortIdView(OrganizationEndpoint):
    """Resolve a short id (`WEB-1A`, any case) to its issue."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=ShortIdSerializer)
    def get(self, request: Request, **kwargs: str) -> Response:
        group = services.find_issue_by_short_id(
            organization=self.organization, short_id=kwargs["short_id"]
        )
        if group is None:
            raise ResourceDoesNotExist
        return Response(ShortIdSerializer(group).data)
