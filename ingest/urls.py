"""Ingest routes. Any path prefix before `/api/` is accepted, so that a DSN with a path
(`https://key@host/faultline/42`) works without the proxy stripping it; repeated slashes
are folded as Relay does."""

from __future__ import annotations

from django.urls import re_path

from ingest import views

_PREFIX = r"^(?:[^/]+/+)*?/*"

urlpatterns = [
    re_path(
        _PREFIX + r"api/+(?P<project_id>[^/]+)/+envelope/*$", views.envelope, name="ingest-envelope"
    ),
    re_path(_PREFIX + r"api/+store/*$", views.store, name="ingest-store-legacy"),
    re_path(_PREFIX + r"api/+(?P<project_id>[^/]+)/+store/*$", views.store, name="ingest-store"),
]
