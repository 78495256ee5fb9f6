"""/api/0/ resources for projects and their client keys (Sentry's paths and fields)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import Conflict, ResourceDoesNotExist
from config.api.pagination import SentryCursorPagination
from organizations.api import OrganizationEndpoint, visible_organizations
from organizations.models import Team
from organizations.permissions import ScopePermission
from organizations.validators import is_id, slug_from_name
from projects import services
from projects.models import Project, ProjectKey, ProjectRedirect
from projects.serializers import (
    ProjectDetailSerializer,
    ProjectInputSerializer,
    ProjectKeyInputSerializer,
    ProjectKeySerializer,
    ProjectSerializer,
)

PROJECT_SCOPES = {
    "GET": ("project:read", "project:write", "project:admin"),
    "POST": ("project:write", "project:admin"),
    "PUT": ("project:write", "project:admin"),
    "DELETE": ("project:admin",),
}


class ProjectMoved(Exception):
    """The slug in the URL belonged to a project that was renamed."""

    def __init__(self, project: Project) -> None:
        self.project = project


class ProjectEndpoint(OrganizationEndpoint):
    """Resolves `project_id_or_slug` inside the organization (after the organization)."""

    scope_map = PROJECT_SCOPES

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.project = self.find_project(kwargs["project_id_or_slug"])

    def find_project(self, value: str) -> Project:
        projects = Project.objects.for_organization(self.organization)
        project = projects.filter(slug=value).first()
        if project is None and is_id(value):
            project = projects.filter(pk=int(value)).first()
        if project is None:
            redirect = ProjectRedirect.objects.filter(
                organization=self.organization, slug=value
            ).first()
            if redirect is not None:
                raise ProjectMoved(redirect.project)
            raise ResourceDoesNotExist
        return project

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ProjectMoved):
            # sentry-cli reads 301/302 with {"slug": new} as "project renamed".
            detail = {
                "code": "resource-moved",
                "message": "Resource has been moved",
                "extra": {"slug": exc.project.slug},
            }
            return Response(
                {"slug": exc.project.slug, "detail": detail}, status=status.HTTP_302_FOUND
            )
        return super().handle_exception(exc)


def _projects(queryset: QuerySet[Project]) -> QuerySet[Project]:
    return queryset.select_related("organization").prefetch_related("teams")


class OrganizationProjectListView(OrganizationEndpoint, generics.ListAPIView):
    """The organization's projects (sentry-cli `projects list`)."""

    scope_map = {"GET": PROJECT_SCOPES["GET"]}
    serializer_class = ProjectSerializer
    pagination_class = SentryCursorPagination

    def get_queryset(self) -> QuerySet[Project]:
        return _projects(Project.objects.for_organization(self.organization))


class ProjectListView(generics.ListAPIView):
    """Every project the caller can see."""

    permission_classes = [ScopePermission]
    serializer_class = ProjectSerializer
    pagination_class = SentryCursorPagination
    throttle_scope = "default"

    def get_queryset(self) -> QuerySet[Project]:
        organizations = visible_organizations(self.request, "project:read")
        return _projects(Project.objects.filter(organization__in=organizations))


class TeamProjectCreateView(OrganizationEndpoint):
    """Create a project owned by a team: POST /teams/{org}/{team}/projects/."""

    scope_map = {"POST": PROJECT_SCOPES["POST"], "GET": PROJECT_SCOPES["GET"]}
    serializer_class = ProjectSerializer

    def get(self, request: Request, **kwargs: str) -> Response:
        team = get_object_or_404(
            Team, organization=self.organization, slug=kwargs["team_id_or_slug"]
        )
        projects = _projects(team.projects.all()).order_by("-id")
        return Response(ProjectSerializer(projects, many=True).data)

    @extend_schema(request=ProjectInputSerializer, responses={201: ProjectDetailSerializer})
    def post(self, request: Request, **kwargs: str) -> Response:
        team = get_object_or_404(
            Team, organization=self.organization, slug=kwargs["team_id_or_slug"]
        )
        data = ProjectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        name = data.validated_data["name"]
        slug = data.validated_data.get("slug") or slug_from_name(name)
        taken = Project.objects.filter(organization=self.organization, slug=slug)
        if taken.exists():
            raise Conflict("A project with this slug already exists.")
        try:
            with transaction.atomic():
                project = services.create_project(
                    organization=self.organization,
                    name=name,
                    slug=slug,
                    platform=data.validated_data.get("platform", ""),
                    teams=[team],
                )
        except (IntegrityError, DjangoValidationError):
            # A concurrent request took the slug between the check and the insert.
            if taken.exists():
                raise Conflict("A project with this slug already exists.") from None
            raise
        project = _projects(Project.objects.filter(pk=project.pk)).get()
        return Response(ProjectDetailSerializer(project).data, status=status.HTTP_201_CREATED)


_OPTION_FIELDS = {
    "dataScrubber": "scrub_data",
    "dataScrubberDefaults": "scrub_defaults",
    "sensitiveFields": "sensitive_fields",
    "safeFields": "safe_fields",
    "scrubIPAddresses": "scrub_ip_addresses",
}


class ProjectDetailView(ProjectEndpoint):
    """One project: GET, PUT (name, slug, platform, scrubbing options), DELETE."""

    serializer_class = ProjectDetailSerializer

    def get(self, request: Request, **kwargs: str) -> Response:
        project = _projects(Project.objects.filter(pk=self.project.pk)).get()
        return Response(ProjectDetailSerializer(project).data)

    @extend_schema(request=ProjectInputSerializer)
    def put(self, request: Request, **kwargs: str) -> Response:
        data = ProjectInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        project = self.project
        slug = values.get("slug")
        if slug and slug != project.slug:
            taken = Project.objects.filter(organization=self.organization, slug=slug)
            if taken.exclude(pk=project.pk).exists():
                raise Conflict("A project with this slug already exists.")
            services.rename_project(project=project, slug=slug)
        project.name = values.get("name", project.name)
        project.platform = values.get("platform", project.platform)
        for wire, field in _OPTION_FIELDS.items():
            if wire in values:
                setattr(project, field, values[wire])
        project.full_clean()
        project.save()
        return self.get(request)

    def delete(self, request: Request, **kwargs: str) -> Response:
        self.project.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectKeyListView(ProjectEndpoint, generics.ListAPIView):
    """The project's client keys; POST creates one."""

    serializer_class = ProjectKeySerializer
    pagination_class = SentryCursorPagination

    def get_queryset(self) -> QuerySet[ProjectKey]:
        return ProjectKey.objects.for_project(self.project)

    @extend_schema(request=ProjectKeyInputSerializer, responses={201: ProjectKeySerializer})
    def post(self, request: Request, **kwargs: str) -> Response:
        data = ProjectKeyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rate_limit = data.validated_data.get("rateLimit")
        key = services.create_key(
            project=self.project,
            label=data.validated_data.get("name") or "Default",
            rate_limit=(rate_limit["count"], rate_limit["window"]) if rate_limit else None,
        )
        return Response(ProjectKeySerializer(key).data, status=status.HTTP_201_CREATED)


class ProjectKeyDetailView(ProjectEndpoint):
    """One client key, by its public key: GET, PUT (name, isActive, rateLimit), DELETE."""

    serializer_class = ProjectKeySerializer

    def get_object(self) -> ProjectKey:
        return get_object_or_404(
            ProjectKey.objects.for_project(self.project), public_key=self.kwargs["key_id"]
        )

    def get(self, request: Request, **kwargs: str) -> Response:
        return Response(ProjectKeySerializer(self.get_object()).data)

    @extend_schema(request=ProjectKeyInputSerializer)
    def put(self, request: Request, **kwargs: str) -> Response:
        key = self.get_object()
        data = ProjectKeyInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "name" in values:
            key.label = values["name"] or key.label
        if "isActive" in values:
            key.is_active = values["isActive"]
        if "rateLimit" in values:
            limit = values["rateLimit"]
            key.rate_limit_count = limit["count"] if limit else None
            key.rate_limit_window_seconds = limit["window"] if limit else None
        key.full_clean()
        key.save()
        return Response(ProjectKeySerializer(key).data)

    def delete(self, request: Request, **kwargs: str) -> Response:
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
