"""Top-level URL map: the admin, the management API under /api/0/, the SDK ingest endpoints."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Faultline administration"
admin.site.site_title = "Faultline"
admin.site.index_title = "Organizations, projects and keys"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/0/", include("config.api.urls")),
    path("", include("ingest.urls")),
]
