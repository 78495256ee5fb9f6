"""The /api/0/ router: each app's resources, the OpenAPI schema, and JSON 404s elsewhere."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import ResourceDoesNotExist
from ingest import api as stats


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@permission_classes([AllowAny])
def not_found(request: Request, rest: str = "") -> Response:
    """Unknown /api/0/ paths answer JSON, as sentry-cli needs (it parses nothing else)."""
    raise ResourceDoesNotExist


class _JsonBesidesGet:
    """Only GET and HEAD answer the view's own formats (the schema's YAML, the docs' HTML):
    OPTIONS and errors (a 405 for a POST) answer JSON, as everywhere else under /api/0/."""

    def get_renderers(self) -> list[BaseRenderer]:
        if self.request.method in ("GET", "HEAD"):
            return super().get_renderers()
        return [JSONRenderer()]


class SchemaView(_JsonBesidesGet, SpectacularAPIView):
    """The OpenAPI schema, YAML or JSON by content negotiation (`?format=json`)."""


class SchemaDocsView(_JsonBesidesGet, SpectacularSwaggerView):
    """Swagger UI for the schema."""


urlpatterns = [
    path("schema/", SchemaView.as_view(), name="api-0-schema"),
    path(
        "schema/docs/",
        SchemaDocsView.as_view(url_name="api-0-schema"),
        name="api-0-schema-docs",
    ),
    path("", include("organizations.urls")),
    path("", include("projects.urls")),
    path("", include("groups.urls")),
    # Statistics read ingest's outcome counters; only config may import ingest's API views.
    path(
        "projects/<str:organization_id_or_slug>/<str:project_id_or_slug>/stats/",
        stats.ProjectStatsView.as_view(),
        name="api-0-project-stats",
    ),
    path(
        "organizations/<str:organization_id_or_slug>/stats/",
        stats.OrganizationStatsView.as_view(),
        name="api-0-organization-stats",
    ),
    path(
        "organizations/<str:organization_id_or_slug>/stats_v2/",
        stats.OrganizationStatsV2View.as_view(),
        name="api-0-organization-stats-v2",
    ),
    re_path(r"^(?P<rest>.*)$", not_found, name="api-0-not-found"),
]
