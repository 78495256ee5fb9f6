"""/api/0/ attachments of an event or an issue, and user feedback of a project or an issue."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import ResourceDoesNotExist
from groups.api.issues import EVENT_SCOPES, IssueEndpoint, event_uuid, time_pagination
from groups.models import Attachment, UserReport
from groups.serializers.attachments import (
    AttachmentSerializer,
    UserReportCreateSerializer,
    UserReportSerializer,
)
from groups.services.attachments import (
    NewUserReport,
    attachments_of_issue,
    issues_of_reports,
    store_user_reports,
    user_reports_of_issue,
)
from organizations.validators import is_id
from projects.api.projects import ProjectEndpoint

# Sentry's ProjectUserReportsEndpoint: reading needs project:read, submitting too.
USER_REPORT_SCOPES = {
    "GET": ("project:read", "project:write", "project:admin"),
    "POST": ("project:read", "project:write", "project:admin"),
}


class EventAttachmentListView(ProjectEndpoint):
    """The attachments of one event of the project (stored before or after the event)."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=AttachmentSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        event_id = event_uuid(kwargs["event_id"])
        if event_id is None:
            raise ResourceDoesNotExist
        attachments = Attachment.objects.filter(project=self.project, event_id=event_id)
        return Response(AttachmentSerializer(attachments.order_by("id"), many=True).data)


class EventAttachmentDetailView(ProjectEndpoint):
    """One attachment; `?download=1` answers the file itself."""

    scope_map = EVENT_SCOPES

    @extend_schema(
        responses=AttachmentSerializer,
        parameters=[OpenApiParameter("download", bool, description="Answer the file's bytes")],
    )
    def get(self, request: Request, **kwargs: str) -> Response | FileResponse:
        event_id = event_uuid(kwargs["event_id"])
        attachment_id = kwargs["attachment_id"]
        attachment = (
            Attachment.objects.filter(
                project=self.project, event_id=event_id, pk=attachment_id
            ).first()
            if event_id is not None and is_id(attachment_id)
            else None
        )
        if attachment is None:
            raise ResourceDoesNotExist
        if request.query_params.get("download") in ("1", "true"):
            return FileResponse(
                attachment.file.open("rb"),
                as_attachment=True,
                filename=attachment.name,
                content_type=attachment.content_type or "application/octet-stream",
            )
        return Response(AttachmentSerializer(attachment).data)


class IssueAttachmentListView(IssueEndpoint):
    """Attachments of the issue's events, newest first (cursor-paginated)."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=AttachmentSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        paginator = time_pagination("date_added")
        page = paginator.paginate_queryset(attachments_of_issue(group=self.group), request, self)
        return paginator.get_paginated_response(AttachmentSerializer(page, many=True).data)


def _report_page(view: ProjectEndpoint | IssueEndpoint, reports: QuerySet[UserReport]) -> Response:
    paginator = time_pagination("date_added")
    page = paginator.paginate_queryset(reports, view.request, view)
    context = {"issues": issues_of_reports(reports=page)}
    return paginator.get_paginated_response(
        UserReportSerializer(page, many=True, context=context).data
    )


class ProjectUserReportListView(ProjectEndpoint):
    """User feedback of the project, newest first; POST submits a report for an event."""

    scope_map = USER_REPORT_SCOPES

    @extend_schema(responses=UserReportSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        return _report_page(self, UserReport.objects.filter(project=self.project))

    @extend_schema(request=UserReportCreateSerializer, responses=UserReportSerializer)
    def post(self, request: Request, **kwargs: str) -> Response:
        serializer = UserReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        event_id = event_uuid(data["event_id"])
        if event_id is None:
            raise ValidationError({"event_id": ["Invalid event id."]})
        store_user_reports(
            reports=[
                NewUserReport(
                    project_id=self.project.pk,
                    report_id=event_id,
                    event_id=event_id,
                    name=data["name"],
                    email=data["email"],
                    comments=data["comments"],
                    source="api",
                    received=timezone.now(),
                )
            ]
        )
        report = UserReport.objects.get(project=self.project, report_id=event_id)
        context = {"issues": issues_of_reports(reports=[report])}
        return Response(UserReportSerializer(report, context=context).data)


class IssueUserReportListView(IssueEndpoint):
    """User feedback about the issue's events, newest first."""

    scope_map = EVENT_SCOPES

    @extend_schema(responses=UserReportSerializer(many=True))
    def get(self, request: Request, **kwargs: str) -> Response:
        return _report_page(self, user_reports_of_issue(group=self.group))
