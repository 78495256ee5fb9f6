"""Operations on organizations, teams, members and API keys."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from organizations.exceptions import UnknownScopeError
from organizations.models import ApiKey, Organization, OrganizationMember, Team
from organizations.roles import SCOPES, Role
from organizations.validators import slug_from_name, validate_sentry_slug


def create_api_key(
    *, organization: Organization, label: str, scopes: Iterable[str]
) -> tuple[ApiKey, str]:
    """Create a key; the plain key is returned here and nowhere else, ever."""
    wanted = list(dict.fromkeys(scopes))
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown:
        raise UnknownScopeError(f"unknown scope(s): {', '.join(unknown)}")
    plain = ApiKey.generate()
    api_key = ApiKey(organization=organization, label=label, scopes=wanted)
    api_key.set_key(plain)
    api_key.full_clean()
    api_key.save()
    return api_key, plain


def authenticate_api_key(*, plain_key: str) -> ApiKey | None:
    """The active key matching `plain_key`, or None (revoked and unknown keys alike)."""
    api_key = ApiKey.objects.select_related("organization").find(plain_key)
    if api_key is None or not api_key.is_active:
        return None
    return api_key


def ensure_organization(*, slug: str | None = None, name: str) -> tuple[Organization, bool]:
    """The organization with this slug (derived from `name` if absent), created if missing."""
    slug = slug or slug_from_name(name)
    validate_sentry_slug(slug)
    return Organization.objects.get_or_create(slug=slug, defaults={"name": name[:64]})


def ensure_team(
    *, organization: Organization, slug: str | None = None, name: str
) -> tuple[Team, bool]:
    """The organization's team with this slug, created if missing."""
    slug = slug or slug_from_name(name)
    validate_sentry_slug(slug)
    return Team.objects.get_or_create(
        organization=organization, slug=slug, defaults={"name": name[:64]}
    )


def add_member(
    *, organization: Organization, user: AbstractBaseUser, role: Role = Role.MEMBER
) -> OrganizationMember:
    """Make `user` a member with `role`; an existing membership keeps its role."""
    member, _ = OrganizationMember.objects.get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return member


def revoke_api_keys(*, keys: QuerySet[ApiKey]) -> int:
    """Revoke every active key in `keys`; returns how many were revoked."""
    return keys.filter(date_revoked__isnull=True).update(date_revoked=timezone.now())
