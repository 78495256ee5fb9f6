"""Operations on organizations, teams, members and API keys."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from organizations.exceptions import UnknownScopeError
from organizations.models import ApiKey, Organization, OrganizationMember, Team, UserToken
from organizations.roles import SCOPES, Role
from organizations.validators import slug_from_name, validate_sentry_slug


def checked_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes without repeats, in their order; a name Sentry does not define is an error."""
    wanted = list(dict.fromkeys(scopes))
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown:
        raise UnknownScopeError(f"unknown scope(s): {', '.join(unknown)}")
    return wanted


def create_api_key(
    *, organization: Organization, label: str, scopes: Iterable[str]
) -> tuple[ApiKey, str]:
    """Create a key; the plain key is returned here and nowhere else, ever."""
    wanted = checked_scopes(scopes)
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


def revoke_credentials(*, credentials: QuerySet[ApiKey] | QuerySet[UserToken]) -> int:
    """Revoke every active API key or token in `credentials`; returns how many were revoked.
    A revoked one keeps its first revocation date."""
    return credentials.filter(date_revoked__isnull=True).update(date_revoked=timezone.now())


def create_user_token(
    *, user: AbstractBaseUser, label: str, scopes: Iterable[str]
) -> tuple[UserToken, str]:
    """Create a personal token; the plain token is returned here and nowhere else."""
    wanted = checked_scopes(scopes)
    plain = UserToken.generate()
    token = UserToken(user=user, label=label, scopes=wanted)
    token.set_token(plain)
    token.save()
    return token, plain


def authenticate_user_token(*, plain_token: str) -> UserToken | None:
    """The active token matching `plain_token`, or None."""
    if not UserToken.looks_like_token(plain_token):
        return None
    candidates = UserToken.objects.select_related("user").filter(
        prefix=plain_token[: UserToken.PREFIX_LENGTH], date_revoked__isnull=True
    )
    return next((token for token in candidates if token.matches(plain_token)), None)


def scopes_in(
    *, organization: Organization, auth: object, user: AbstractBaseUser
) -> frozenset[str]:
    """What the request may do in `organization`: an API key's scopes in its own organization;
    a user's role scopes there (capped by the token's scopes for token requests)."""
    if isinstance(auth, ApiKey):
        if auth.organization_id != organization.pk or not auth.is_active:
            return frozenset()
        return frozenset(auth.scopes)
    if not user.is_authenticated:
        return frozenset()
    if user.is_superuser:
        granted = frozenset(SCOPES)
    else:
        member = OrganizationMember.objects.filter(organization=organization, user=user).first()
        granted = member.scopes if member else frozenset()
    if isinstance(auth, UserToken):
        return granted & frozenset(auth.scopes)
    return granted
