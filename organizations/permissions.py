"""Scope permissions for /api/0/: each view declares the Sentry scopes each method needs."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from organizations.models import Organization
from organizations.services import scopes_in


def request_scopes(request: Request, organization: Organization) -> frozenset[str]:
    cache = request.__dict__.setdefault("_faultline_scopes", {})
    if organization.pk not in cache:
        cache[organization.pk] = scopes_in(
            organization=organization, auth=request.auth, user=request.user
        )
    return cache[organization.pk]


class ScopePermission(BasePermission):
    """Any one of `view.scope_map[method]` in the organization the view resolved."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated) or request.auth is not None

    def has_organization_permission(
        self, request: Request, view: Any, organization: Organization
    ) -> bool:
        # HEAD and OPTIONS read what GET reads; a method the view does not map is refused.
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        needed = view.scope_map.get(method)
        if needed is None:
            return False
        return bool(request_scopes(request, organization) & set(needed))
