"""Sentry's scope names and the scopes each organization role grants."""

from __future__ import annotations

from django.db import models

# Scope names as Sentry spells them (https://docs.sentry.io/api/permissions/).
SCOPES: tuple[str, ...] = (
    "org:read",
    "org:write",
    "org:admin",
    "org:integrations",
    "member:read",
    "member:write",
    "member:admin",
    "team:read",
    "team:write",
    "team:admin",
    "project:read",
    "project:write",
    "project:admin",
    "project:releases",
    "event:read",
    "event:write",
    "event:admin",
    "alerts:read",
    "alerts:write",
)

SCOPE_CHOICES = [(scope, scope) for scope in SCOPES]


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


_MEMBER_SCOPES = frozenset(
    {
        "org:read",
        "member:read",
        "team:read",
        "project:read",
        "project:releases",
        "event:read",
        "event:write",
        "alerts:read",
    }
)
_ADMIN_SCOPES = _MEMBER_SCOPES | {
    "org:write",
    "org:integrations",
    "member:write",
    "team:write",
    "team:admin",
    "project:write",
    "project:admin",
    "event:admin",
    "alerts:write",
}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.MEMBER: _MEMBER_SCOPES,
    Role.ADMIN: _ADMIN_SCOPES,
    Role.OWNER: frozenset(SCOPES),
}
