"""/api/0/ cron monitors and their check-ins (Sentry's organization monitor paths)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.exceptions import ValidationError

from config.api.exceptions import ResourceDoesNotExist
from config.api.pagination import SentryCursorPagination
from organizations.api import OrganizationEndpoint
from organizations.validators import database_ids, is_number
from projects.models import Monitor, MonitorCheckIn, Project
from projects.serializers import MonitorCheckInSerializer, MonitorSerializer

# Sentry's monitor endpoints read with project scopes (OrganizationMonitorPermission).
MONITOR_SCOPES = {"GET": ("project:read", "project:write", "project:admin")}
PROJECT_PARAMETER = OpenApiParameter(
    "project", int, many=True, description="Only monitors of these project ids."
)


class MonitorEndpoint(OrganizationEndpoint):
    scope_map = MONITOR_SCOPES

    def monitors(self) -> QuerySet[Monitor]:
        """The organization's monitors, narrowed to `?project=` ids when given."""
        projects = Project.objects.for_organization(self.organization)
        ids = self.request.query_params.getlist("project")
        # Sentry's "-1" means every project the caller can see.
        if ids and "-1" not in ids:
            if not all(is_number(value) for value in ids):
                raise ValidationError({"project": ["Project ids are numbers."]})
            projects = projects.filter(pk__in=database_ids(ids))
        return Monitor.objects.for_organization(self.organization).filter(project__in=projects)

    def get_monitor(self) -> Monitor:
        """The monitor named by the URL's slug; slugs are unique per project, so where two
        projects share one, `?project=` picks, else the oldest monitor answers."""
        monitor = (
            self.monitors()
            .select_related("project")
            .filter(slug=self.kwargs["monitor_id_or_slug"])
            .order_by("id")
            .first()
        )
        if monitor is None:
            raise ResourceDoesNotExist
        return monitor


@extend_schema_view(get=extend_schema(parameters=[PROJECT_PARAMETER]))
class MonitorListView(MonitorEndpoint, generics.ListAPIView):
    """The organization's cron monitors, newest first."""

    serializer_class = MonitorSerializer
    pagination_class = SentryCursorPagination

    def get_queryset(self) -> QuerySet[Monitor]:
        return self.monitors().select_related("project")


@extend_schema_view(get=extend_schema(parameters=[PROJECT_PARAMETER]))
class MonitorDetailView(MonitorEndpoint, generics.RetrieveAPIView):
    """One monitor: its schedule, status and when the next check-in is due."""

    serializer_class = MonitorSerializer

    def get_object(self) -> Monitor:
        return self.get_monitor()


@extend_schema_view(get=extend_schema(parameters=[PROJECT_PARAMETER]))
class MonitorCheckInListView(MonitorEndpoint, generics.ListAPIView):
    """A monitor's check-ins, newest first, with Sentry's cursor Link header."""

    serializer_class = MonitorCheckInSerializer
    pagination_class = SentryCursorPagination

    def get_queryset(self) -> QuerySet[MonitorCheckIn]:
        return MonitorCheckIn.objects.for_monitor(self.get_monitor())
