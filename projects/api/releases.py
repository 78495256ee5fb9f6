"""/api/0/ releases and deploys (sentry-cli `releases` and `deploys` commands)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.pagination import SentryCursorPagination
from organizations.api import OrganizationEndpoint
from organizations.validators import database_ids, is_number
from projects import services
from projects.api.projects import ProjectEndpoint
from projects.exceptions import UnknownProjectError
from projects.health_queries import release_health
from projects.models import Deploy, Release, ReleaseProject
from projects.serializers import (
    DeployInputSerializer,
    DeploySerializer,
    ReleaseInputSerializer,
    ReleaseSerializer,
)

RELEASE_SCOPES = {
    "GET": ("project:read", "project:releases", "project:write", "project:admin"),
    "POST": ("project:releases", "project:write", "project:admin"),
    "PUT": ("project:releases", "project:write", "project:admin"),
    "DELETE": ("project:releases", "project:admin"),
}
# 208 Already Reported: Sentry's answer when the release existed (RFC 5842).
ALREADY_REPORTED = 208


def releases(queryset: QuerySet[Release]) -> QuerySet[Release]:
    return queryset.annotate(deploy_count=Count("deploys", distinct=True)).prefetch_related(
        Prefetch("releaseproject_set", queryset=ReleaseProject.objects.select_related("project")),
        Prefetch("deploys", queryset=Deploy.objects.order_by("-date_finished", "-id")),
    )


def _unknown_projects(exc: UnknownProjectError) -> ValidationError:
    return ValidationError({"projects": [str(exc)]})


class ReleaseHealthMixin:
    """With `?health=1`, releases are serialized with Sentry's `healthData` per project,
    looked up once for all the releases serialized."""

    def get_serializer(self, *args: Any, **kwargs: Any) -> ReleaseSerializer:
        if args and self.request.query_params.get("health") == "1":
            rows = list(args[0]) if kwargs.get("many") else [args[0]]
            context = kwargs.setdefault("context", self.get_serializer_context())
            context["health"] = release_health(
                project_ids={
                    link.project_id for row in rows for link in row.releaseproject_set.all()
                },
                versions={row.version for row in rows},
                now=timezone.now(),
            )
        return super().get_serializer(*args, **kwargs)


class OrganizationReleaseListView(ReleaseHealthMixin, OrganizationEndpoint, generics.ListAPIView):
    """The organization's releases; POST creates one (201) or reports it exists (208)."""

    scope_map = RELEASE_SCOPES
    serializer_class = ReleaseSerializer
    pagination_class = SentryCursorPagination

    def get_queryset(self) -> QuerySet[Release]:
        queryset = Release.objects.filter(organization=self.organization)
        if self.request.query_params.get("query"):
            queryset = queryset.filter(version__icontains=self.request.query_params["query"])
        projects = self.request.query_params.getlist("project")
        # -1: every project, as Sentry's clients say it (monitors and issues read it so too).
        if projects and "-1" not in projects:
            if not all(is_number(project) for project in projects):
                raise ValidationError({"project": ["Project ids are numbers."]})
            queryset = queryset.filter(projects__pk__in=database_ids(projects)).distinct()
        return releases(queryset)

    @extend_schema(
        request=ReleaseInputSerializer, responses={201: ReleaseSerializer, 208: ReleaseSerializer}
    )
    def post(self, request: Request, **kwargs: str) -> Response:
        data = ReleaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data.get("version"):
            raise ValidationError({"version": ["This field is required."]})
        try:
            change = services.upsert_release(
                organization=self.organization,
                version=data.validated_data["version"],
                projects=data.validated_data.get("projects", []),
                attributes=data.attributes(),
            )
        except UnknownProjectError as exc:
            raise _unknown_projects(exc) from None
        body = ReleaseSerializer(releases(Release.objects.filter(pk=change.release.pk)).get())
        created = change.created or change.projects_added
        return Response(body.data, status=status.HTTP_201_CREATED if created else ALREADY_REPORTED)


class ReleaseEndpoint(OrganizationEndpoint):
    scope_map = RELEASE_SCOPES
    serializer_class = ReleaseSerializer

    def get_release(self) -> Release:
        return get_object_or_404(
            releases(Release.objects.filter(organization=self.organization)),
            version=self.kwargs["version"],
        )


class ReleaseDetailView(ReleaseHealthMixin, ReleaseEndpoint):
    """One release: GET, PUT (finalize with dateReleased, add projects, ref, url), DELETE."""

    def get(self, request: Request, **kwargs: str) -> Response:
        return Response(self.get_serializer(self.get_release()).data)

    @extend_schema(request=ReleaseInputSerializer)
    def put(self, request: Request, **kwargs: str) -> Response:
        release = self.get_release()
        data = ReleaseInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            services.update_release(
                release=release,
                projects=data.validated_data.get("projects", []),
                attributes=data.attributes(),
            )
        except UnknownProjectError as exc:
            raise _unknown_projects(exc) from None
        return Response(ReleaseSerializer(self.get_release()).data)

    def delete(self, request: Request, **kwargs: str) -> Response:
        self.get_release().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectReleaseListView(ReleaseHealthMixin, ProjectEndpoint, generics.ListAPIView):
    """The project's releases (sentry-cli `releases list -p`)."""

    scope_map = RELEASE_SCOPES
    serializer_class = ReleaseSerializer
    pagination_class = SentryCursorPagination

    def get_queryset(self) -> QuerySet[Release]:
        return releases(Release.objects.filter(projects=self.project))


class DeployListView(ReleaseEndpoint, generics.ListAPIView):
    """A release's deploys; POST records one (sentry-cli `deploys new`)."""

    serializer_class = DeploySerializer
    pagination_class = SentryCursorPagination

    def get_queryset(self) -> QuerySet[Deploy]:
        return Deploy.objects.filter(release=self.get_release())

    @extend_schema(request=DeployInputSerializer, responses={201: DeploySerializer})
    def post(self, request: Request, **kwargs: str) -> Response:
        release = self.get_release()
        data = DeployInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            deploy = services.create_deploy(
                release=release,
                environment=values["environment"],
                name=values.get("name") or "",
                url=values.get("url") or "",
                date_started=values.get("dateStarted"),
                date_finished=values.get("dateFinished"),
                projects=values.get("projects", []),
            )
        except UnknownProjectError as exc:
            raise _unknown_projects(exc) from None
        return Response(DeploySerializer(deploy).data, status=status.HTTP_201_CREATED)
