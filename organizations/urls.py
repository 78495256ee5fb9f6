"""/api/0/ routes of the organizations app (mounted by config/api/urls.py)."""

from __future__ import annotations

from django.urls import path

from organizations import api

ORG = "organizations/<str:organization_id_or_slug>"

urlpatterns = [
    path("", api.IndexView.as_view(), name="api-0-index"),
    path("organizations/", api.OrganizationListView.as_view(), name="api-0-organization-list"),
    path("api-tokens/", api.ApiTokenListView.as_view(), name="api-0-api-token-list"),
    path(
        "api-tokens/<str:token_id>/",
        api.ApiTokenDetailView.as_view(),
        name="api-0-api-token-detail",
    ),
    path(f"{ORG}/", api.OrganizationDetailView.as_view(), name="api-0-organization-detail"),
    path(f"{ORG}/members/", api.MemberListView.as_view(), name="api-0-member-list"),
    path(f"{ORG}/teams/", api.TeamListView.as_view(), name="api-0-team-list"),
    path(
        "teams/<str:organization_id_or_slug>/<str:team_id_or_slug>/",
        api.TeamDetailView.as_view(),
        name="api-0-team-detail",
    ),
]
