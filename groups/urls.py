"""/api/0/ routes of the groups app: issues, events, tags (mounted by config/api/urls.py)."""

from __future__ import annotations

urlpatterns: list = []
