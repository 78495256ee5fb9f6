"""Top-level URL map: the admin, the SDK ingest endpoints (and /api/0/ once it lands)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Faultline administration"
admin.site.site_title = "Faultline"
admin.site.index_title = "Organizations, projects and keys"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("ingest.urls")),
]
