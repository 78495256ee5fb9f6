"""/api/0/ routes of the groups app: issues, events, tags, attachments, user feedback,
API calls, transactions, traces and logs (mounted by config/api/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from groups.api import apicalls, attachments, events, issues, logs, performance, tags

ORG = "organizations/<str:organization_id_or_slug>"
PROJECT = "projects/<str:organization_id_or_slug>/<str:project_id_or_slug>"


def _issue_routes(prefix: str) -> list[URLPattern]:
    """An issue's resources, mounted (as Sentry does) under /issues/, /groups/ and both of
    those inside /organizations/{org}/."""
    return [
        path(f"{prefix}/", issues.IssueDetailView.as_view(), name="api-0-issue-detail"),
        path(
            f"{prefix}/events/", events.IssueEventListView.as_view(), name="api-0-issue-event-list"
        ),
        path(
            f"{prefix}/events/<str:event_id>/",
            events.IssueEventDetailView.as_view(),
            name="api-0-issue-event-detail",
        ),
        path(f"{prefix}/tags/", tags.IssueTagListView.as_view(), name="api-0-issue-tag-list"),
        path(
            f"{prefix}/tags/<str:key>/",
            tags.IssueTagDetailView.as_view(),
            name="api-0-issue-tag-detail",
        ),
        path(
            f"{prefix}/tags/<str:key>/values/",
            tags.IssueTagValueListView.as_view(),
            name="api-0-issue-tag-value-list",
        ),
        path(
            f"{prefix}/attachments/",
            attachments.IssueAttachmentListView.as_view(),
            name="api-0-issue-attachment-list",
        ),
        path(
            f"{prefix}/user-reports/",
            attachments.IssueUserReportListView.as_view(),
            name="api-0-issue-user-report-list",
        ),
    ]


urlpatterns = [
    path(
        f"{PROJECT}/issues/", issues.ProjectIssueListView.as_view(), name="api-0-project-issue-list"
    ),
    path(
        f"{ORG}/issues/",
        issues.OrganizationIssueListView.as_view(),
        name="api-0-organization-issue-list",
    ),
    path(
        f"{ORG}/shortids/<str:short_id>/",
        issues.ShortIdView.as_view(),
        name="api-0-organization-shortid-detail",
    ),
    path(
        f"{PROJECT}/events/", events.ProjectEventListView.as_view(), name="api-0-project-event-list"
    ),
    path(
        f"{PROJECT}/events/<str:event_id>/",
        events.ProjectEventDetailView.as_view(),
        name="api-0-project-event-detail",
    ),
    path(
        f"{PROJECT}/events/<str:event_id>/attachments/",
        attachments.EventAttachmentListView.as_view(),
        name="api-0-event-attachment-list",
    ),
    path(
        f"{PROJECT}/events/<str:event_id>/attachments/<str:attachment_id>/",
        attachments.EventAttachmentDetailView.as_view(),
        name="api-0-event-attachment-detail",
    ),
    path(
        f"{PROJECT}/user-feedback/",
        attachments.ProjectUserReportListView.as_view(),
        name="api-0-project-user-report-list",
    ),
    path(
        f"{PROJECT}/events/<str:event_id>/api-calls/",
        apicalls.EventApiCallListView.as_view(),
        name="api-0-project-event-api-call-list",
    ),
    path(
        f"{PROJECT}/api-calls/",
        apicalls.ProjectApiCallListView.as_view(),
        name="api-0-project-api-call-list",
    ),
    path(
        f"{PROJECT}/api-calls/routes/",
        apicalls.ProjectApiCallRouteListView.as_view(),
        name="api-0-project-api-call-route-list",
    ),
    path(
        f"{PROJECT}/api-calls/<str:api_call_id>/",
        apicalls.ProjectApiCallDetailView.as_view(),
        name="api-0-project-api-call-detail",
    ),
    path(
        f"{PROJECT}/events/<str:event_id>/logs/",
        logs.ProjectEventLogListView.as_view(),
        name="api-0-project-event-log-list",
    ),
    path(
        f"{PROJECT}/transactions/",
        performance.ProjectTransactionListView.as_view(),
        name="api-0-project-transaction-list",
    ),
    path(f"{PROJECT}/logs/", logs.ProjectLogListView.as_view(), name="api-0-project-log-list"),
    path(
        f"{ORG}/traces/<str:trace_id>/",
        performance.OrganizationTraceView.as_view(),
        name="api-0-organization-trace-detail",
    ),
    # The unprefixed /issues/ routes last, so that reverse() gives those.
    *_issue_routes(f"{ORG}/groups/<str:issue_id>"),
    *_issue_routes(f"{ORG}/issues/<str:issue_id>"),
    *_issue_routes("groups/<str:issue_id>"),
    *_issue_routes("issues/<str:issue_id>"),
]
