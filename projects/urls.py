"""/api/0/ routes of the projects app (mounted by config/api/urls.py)."""

from __future__ import annotations

from django.urls import path

from projects.api import monitors, releases, sessions
from projects.api import projects as api

ORG = "organizations/<str:organization_id_or_slug>"
PROJECT = "projects/<str:organization_id_or_slug>/<str:project_id_or_slug>"

urlpatterns = [
    path("projects/", api.ProjectListView.as_view(), name="api-0-project-list"),
    path(
        "organizations/<str:organization_id_or_slug>/projects/",
        api.OrganizationProjectListView.as_view(),
        name="api-0-organization-project-list",
    ),
    path(
        "teams/<str:organization_id_or_slug>/<str:team_id_or_slug>/projects/",
        api.TeamProjectCreateView.as_view(),
        name="api-0-team-project-list",
    ),
    path(f"{PROJECT}/", api.ProjectDetailView.as_view(), name="api-0-project-detail"),
    path(f"{PROJECT}/keys/", api.ProjectKeyListView.as_view(), name="api-0-key-list"),
    path(
        f"{PROJECT}/keys/<str:key_id>/",
        api.ProjectKeyDetailView.as_view(),
        name="api-0-key-detail",
    ),
    path(
        f"{PROJECT}/releases/",
        releases.ProjectReleaseListView.as_view(),
        name="api-0-project-release-list",
    ),
    path(
        f"{ORG}/releases/",
        releases.OrganizationReleaseListView.as_view(),
        name="api-0-release-list",
    ),
    path(
        f"{ORG}/releases/<str:version>/",
        releases.ReleaseDetailView.as_view(),
        name="api-0-release-detail",
    ),
    path(
        f"{ORG}/releases/<str:version>/deploys/",
        releases.DeployListView.as_view(),
        name="api-0-deploy-list",
    ),
    path(
        f"{ORG}/sessions/",
        sessions.OrganizationSessionsView.as_view(),
        name="api-0-organization-sessions",
    ),
    path(f"{ORG}/monitors/", monitors.MonitorListView.as_view(), name="api-0-monitor-list"),
    path(
        f"{ORG}/monitors/<str:monitor_id_or_slug>/",
        monitors.MonitorDetailView.as_view(),
        name="api-0-monitor-detail",
    ),
    path(
        f"{ORG}/monitors/<str:monitor_id_or_slug>/checkins/",
        monitors.MonitorCheckInListView.as_view(),
        name="api-0-monitor-checkin-list",
    ),
]
