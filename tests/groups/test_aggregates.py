from __future__ import annotations

from django.db.models import Q
from django.db.models.functions import TruncHour

from groups.models import ApiCall, Span
from groups.services.aggregates import summarize
from tests.groups.factories import ApiCallFactory, SpanFactory
from tests.projects.factories import ProjectFactory


def _route_summary(project):
    return summarize(
        ApiCall.objects.filter(project=project),
        by={"route": "route"},
        value="duration_ms",
        failed=Q(status__gte=500),
    )


def test_counts_failures_and_nearest_rank_percentiles_per_group(db):
    project = ProjectFactory()
    for duration in range(1, 21):  # 1 … 20 ms
        ApiCallFactory(project=project, route="/a", duration_ms=float(duration))
    ApiCallFactory(project=project, route="/b", duration_ms=7.0, status=503)
    ApiCallFactory(project=project, route="/b", duration_ms=None, status=None)
    ApiCallFactory(route="/a", duration_ms=999.0)  # another project

    rows = _route_summary(project)

    assert rows == [
        {"route": "/a", "count": 20, "failed": 0, "p50": 10.0, "p95": 19.0},
        {"route": "/b", "count": 2, "failed": 1, "p50": 7.0, "p95": 7.0},
    ]


def test_a_group_without_measured_rows_has_no_percentiles(db):
    project = ProjectFactory()
    ApiCallFactory(project=project, route="/timeout", duration_ms=None, status=None)

    assert _route_summary(project) == [
        {"route": "/timeout", "count": 1, "failed": 0, "p50": None, "p95": None}
    ]


def test_groups_by_expressions_and_limits_to_the_most_frequent(db):
    project = ProjectFactory()
    first = SpanFactory(project=project, name="checkout", duration_ms=5.0)
    SpanFactory(project=project, name="checkout", duration_ms=15.0, start=first.start)
    SpanFactory(project=project, name="home", duration_ms=1.0, status="internal_error")

    rows = summarize(
        Span.objects.filter(project=project, is_segment=True),
        by={"name": "name", "hour": TruncHour("start")},
        value="duration_ms",
        failed=~Q(status__in=["ok", "cancelled", "unknown"]),
        limit=1,
    )

    assert len(rows) == 1
    assert rows[0]["name"] == "checkout"
    assert (rows[0]["count"], rows[0]["failed"], rows[0]["p50"], rows[0]["p95"]) == (
        2,
        0,
        5.0,
        15.0,
    )
