"""/api/0/organizations/{org}/sessions/: Sentry's release health statistics (a subset)."""

from __future__ import annotations

import shlex
from datetime import datetime, timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.periods import moment_param, period_start_param
from organizations.api import OrganizationEndpoint
from organizations.validators import is_number
from projects.health_queries import FIELDS, GROUP_COLUMNS, SessionQuery, query_sessions
from projects.models import Project

INTERVALS = {"1h": timedelta(hours=1), "60m": timedelta(hours=1), "1d": timedelta(days=1)}
GROUP_BY = (*GROUP_COLUMNS, "session.status")
# Sentry answers at most 10,000 data points; about three months of hours.
MAX_INTERVALS = 2232
_QUERY_KEYS = {"release": "releases", "environment": "environments"}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _date(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError(f"Invalid {name}: {raw}") from None
    return moment_param(value, name)


def _floor(moment: datetime, step: timedelta) -> datetime:
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if step >= timedelta(days=1) else moment


def _range(request: Request, step: timedelta) -> tuple[datetime, datetime]:
    """[start, end) from start/end or statsPeriod (default 24h), widened to whole intervals
    as Sentry rounds them."""
    params = request.query_params
    if params.get("start") or params.get("end"):
        if not (params.get("start") and params.get("end")):
            raise ParseError("start and end are both required")
        start, end = _date(params["start"], "start"), _date(params["end"], "end")
    else:
        end = timezone.now()
        start = period_start_param(params.get("statsPeriod") or "24h", end)
    aligned_end = _floor(end, step)
    if aligned_end < end:
        aligned_end += step
    start = _floor(start, step)
    if start >= aligned_end:
        raise ParseError("The start of the range must be before its end")
    if (aligned_end - start) / step > MAX_INTERVALS:
        raise ParseError(f"Too many intervals: at most {MAX_INTERVALS} per request")
    return start, aligned_end


def _search(raw: str) -> dict[str, list[str]]:
    """`release:1.0 environment:"prod env"`: the only search keys this subset knows."""
    filters: dict[str, list[str]] = {"releases": [], "environments": []}
    try:
        tokens = shlex.split(raw)
    except ValueError:
        raise ParseError(f"Invalid query: {raw}") from None
    for token in tokens:
        key, _, value = token.partition(":")
        if key not in _QUERY_KEYS or not value:
            raise ParseError(f"Invalid query: {token}; use release:<version>")
        filters[_QUERY_KEYS[key]].append(value)
    return filters


def _fields(request: Request) -> tuple[list[str], list[str]]:
    fields = request.query_params.getlist("field")
    if not fields:
        raise ParseError("Request is missing a 'field'")
    for name in fields:
        if name not in FIELDS:
            raise ParseError(f"Invalid field: {name}")
    group_by = request.query_params.getlist("groupBy")
    for name in group_by:
        if name not in GROUP_BY:
            raise ParseError(f"Invalid groupBy: {name}")
    rates = [name for name in fields if "rate" in name]
    if rates and "session.status" in group_by:
        raise ParseError(f"Cannot group field {rates[0]} by session.status")
    return fields, group_by


def _project_ids(request: Request, projects: list[int]) -> list[int]:
    ids = request.query_params.getlist("project")
    if not ids or "-1" in ids:
        return projects
    if not all(is_number(value) for value in ids):
        raise ParseError("Invalid project: ids are numbers")
    return [pk for pk in projects if str(pk) in ids]


@extend_schema(
    parameters=[
        OpenApiParameter("field", str, many=True, enum=FIELDS, required=True),
        OpenApiParameter("groupBy", str, many=True, enum=GROUP_BY),
        OpenApiParameter("statsPeriod", str, description="e.g. 24h, 14d"),
        OpenApiParameter("start", OpenApiTypes.DATETIME),
        OpenApiParameter("end", OpenApiTypes.DATETIME),
        OpenApiParameter("interval", str, enum=list(INTERVALS)),
        OpenApiParameter("project", int, many=True),
        OpenApiParameter("environment", str, many=True),
        OpenApiParameter("query", str, description="release:<version> environment:<name>"),
    ],
    responses=OpenApiTypes.OBJECT,
)
class OrganizationSessionsView(OrganizationEndpoint):
    """Session counts, distinct users and crash-free rates over time, grouped."""

    scope_map = {"GET": ("org:read", "org:write", "org:admin")}

    def get(self, request: Request, **kwargs: str) -> Response:
        query = self.session_query(request)
        return Response(
            {
                "start": _iso(query.start),
                "end": _iso(query.end),
                "intervals": [_iso(point) for point in query.intervals],
                "groups": query_sessions(query=query),
                "query": request.query_params.get("query", ""),
            }
        )

    def session_query(self, request: Request) -> SessionQuery:
        params = request.query_params
        fields, group_by = _fields(request)
        step = INTERVALS.get(params.get("interval") or "1h")
        if step is None:
            raise ParseError("Invalid interval: use 1h or 1d")
        start, end = _range(request, step)
        search = _search(params.get("query", ""))
        projects = Project.objects.for_organization(self.organization)
        return SessionQuery(
            project_ids=_project_ids(request, list(projects.values_list("pk", flat=True))),
            start=start,
            end=end,
            step=step,
            fields=fields,
            group_by=group_by,
            environments=params.getlist("environment") + search["environments"],
            releases=search["releases"],
        )
