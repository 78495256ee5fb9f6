"""Top-level URL map: the admin now; ingest and /api/0/ mount here as they land."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

admin.site.site_header = "Faultline administration"
admin.site.site_title = "Faultline"
admin.site.index_title = "Organizations, projects and keys"

urlpatterns = [
    path("admin/", admin.site.urls),
]
