"""/api/0/ statistics fed by ingest's outcome counters (kept apart from the SDK endpoints).

- GET /projects/{org}/{project}/stats/ and /organizations/{org}/stats/: Sentry's legacy
  time series, `[[unix_ts, count], …]` for stat=received|rejected|blacklisted.
- GET /organizations/{org}/stats_v2/: outcome totals and series grouped by outcome, category,
  reason or project, as Sentry's usage stats page asks for them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.periods import moment_param, period_start_param
from groups.services import truncate_moment
from ingest.models import Outcome, OutcomeCounter
from organizations.api import OrganizationEndpoint
from organizations.validators import database_ids
from projects.api.projects import PROJECT_SCOPES, ProjectEndpoint
from projects.models import Project

# Which outcomes each legacy `stat` counts, for event categories (errors and messages).
LEGACY_STATS = {
    "received": [Outcome.ACCEPTED],
    "rejected": [Outcome.RATE_LIMITED, Outcome.INVALID],
    "blacklisted": [Outcome.FILTERED],
}
EVENT_CATEGORIES = ("error", "default", "security")
# Counts are kept per hour: the finest resolution that can be answered.
RESOLUTIONS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}
GROUP_BY = {
    "outcome": "outcome",
    "category": "category",
    "reason": "reason",
    "project": "project_id",
}


def _timestamp(raw: str | None, name: str) -> datetime | None:
    """`since` or `until` in seconds since the epoch, within the range the API takes."""
    if raw in (None, ""):
        return None
    try:
        moment = datetime.fromtimestamp(float(raw), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise ParseError(f"{name} must be a numeric timestamp") from None
    return moment_param(moment, name)


# Bounds on what one request may ask for: about three months of hours, ten years of days.
MAX_BUCKETS = 3660


def _check_range(start: datetime, end: datetime, step: timedelta) -> None:
    if start >= end:
        raise ParseError("The start of the range must be before its end")
    if (end - start) / step > MAX_BUCKETS:
        raise ParseError(f"Too many intervals: at most {MAX_BUCKETS} per request")


def _buckets(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    first = truncate_moment(start, step)
    points = []
    while first < end:
        points.append(first)
        first += step
    return points


def _series(rows: QuerySet, start: datetime, end: datetime, step: timedelta) -> list[list[int]]:
    points = _buckets(start, end, step)
    counts = dict.fromkeys(points, 0)
    for row in rows:
        bucket = truncate_moment(row["hour"], step)
        if bucket in counts:
            counts[bucket] += row["total"]
    return [[int(point.timestamp()), counts[point]] for point in points]


class LegacyStatsMixin:
    """Sentry's StatsMixin arguments: stat, since, until, resolution."""

    def legacy_series(self, request: Request, projects: QuerySet[Project]) -> Response:
        params = request.query_params
        stat = params.get("stat", "received")
        if stat not in LEGACY_STATS:
            raise ParseError(f"Invalid stat: {stat}")
        resolution = params.get("resolution", "1h")
        if resolution not in RESOLUTIONS:
            raise ParseError("Invalid resolution")
        step = RESOLUTIONS[resolution]
        end = _timestamp(params.get("until"), "until") or timezone.now()
        # A day before an `until` in range cannot overflow, though it may precede EARLIEST.
        start = _timestamp(params.get("since"), "since") or end - timedelta(days=1)
        _check_range(start, end, step)
        rows = (
            OutcomeCounter.objects.filter(
                project__in=projects,
                outcome__in=LEGACY_STATS[stat],
                category__in=EVENT_CATEGORIES,
                hour__gte=truncate_moment(start, step),
                hour__lt=end,
            )
            .values("hour")
            .annotate(total=Sum("quantity"))
        )
        return Response(_series(rows, start, end, step))


@extend_schema_view(get=extend_schema(responses=OpenApiTypes.OBJECT))
class ProjectStatsView(LegacyStatsMixin, ProjectEndpoint):
    """Event counts over time for one project."""

    scope_map = {"GET": PROJECT_SCOPES["GET"]}

    def get(self, request: Request, **kwargs: str) -> Response:
        return self.legacy_series(request, Project.objects.filter(pk=self.project.pk))


@extend_schema_view(get=extend_schema(responses=OpenApiTypes.OBJECT))
class OrganizationStatsView(LegacyStatsMixin, OrganizationEndpoint):
    """Event counts over time for the whole organization."""

    scope_map = {"GET": ("org:read",)}

    def get(self, request: Request, **kwargs: str) -> Response:
        return self.legacy_series(request, Project.objects.for_organization(self.organization))


@extend_schema_view(get=extend_schema(responses=OpenApiTypes.OBJECT))
class OrganizationStatsV2View(OrganizationEndpoint):
    """Outcome totals and series: accepted, filtered, rate limited, invalid, client discards."""

    scope_map = {"GET": ("org:read",)}

    def get(self, request: Request, **kwargs: str) -> Response:
        params = request.query_params
        field = params.get("field", "sum(quantity)")
        if field not in ("sum(quantity)", "sum(times_seen)"):
            raise ParseError("Invalid field: use sum(quantity)")
        group_by = params.getlist("groupBy")
        if any(name not in GROUP_BY for name in group_by):
            raise ParseError(f"Invalid groupBy: choose from {', '.join(GROUP_BY)}")
        interval = params.get("interval", "1h")
        if interval not in RESOLUTIONS:
            raise ParseError("Invalid interval: use 1h or 1d")
        end = self._date(params.get("end"), "end") or timezone.now()
        start = self._date(params.get("start"), "start") or period_start_param(
            params.get("statsPeriod", "14d"), end
        )
        _check_range(start, end, RESOLUTIONS[interval])
        rows = OutcomeCounter.objects.filter(
            project__organization=self.organization, hour__gte=start, hour__lt=end
        )
        for name in ("category", "outcome", "reason"):
            if params.getlist(name):
                rows = rows.filter(**{f"{name}__in": params.getlist(name)})
        if params.getlist("project"):
            # What cannot be an id (not digits, beyond 64 bits) matches nothing, as unknown ids.
            rows = rows.filter(project_id__in=database_ids(params.getlist("project")))
        columns = [GROUP_BY[name] for name in group_by]
        rows = rows.values("hour", *columns).annotate(total=Sum("quantity"))
        return Response(
            self._shape(rows, group_by, columns, field, start, end, RESOLUTIONS[interval])
        )

    @staticmethod
    def _date(raw: str | None, name: str) -> datetime | None:
        """`start` or `end` in UTC (naive ones are UTC), within the range the API takes."""
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ParseError(f"Invalid date: {raw}") from None
        return moment_param(value, name)

    @staticmethod
    def _shape(
        rows: QuerySet,
        group_by: list[str],
        columns: list[str],
        field: str,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> dict[str, Any]:
        points = _buckets(start, end, step)
        index = {point: position for position, point in enumerate(points)}
        groups: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(points))
        for row in rows:
            key = tuple(row[column] for column in columns)
            bucket = truncate_moment(row["hour"], step)
            if bucket in index:
                groups[key][index[bucket]] += row["total"]
        return {
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": end.isoformat().replace("+00:00", "Z"),
            "intervals": [point.isoformat().replace("+00:00", "Z") for point in points],
            "groups": [
                {
                    "by": {
                        name: (str(value) if name == "project" else value)
                        for name, value in zip(group_by, key, strict=True)
                    },
                    "totals": {field: sum(series)},
                    "series": {field: series},
                }
                for key, series in sorted(groups.items(), key=lambda item: str(item[0]))
            ],
        }
