"""QuerySets for organizations and their API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from organizations.models import ApiKey


class OrganizationQuerySet(models.QuerySet):
    def for_user(self, user: object) -> OrganizationQuerySet:
        """Organizations the user is a member of."""
        return self.filter(members__user=user).distinct()


class TeamQuerySet(models.QuerySet):
    def for_organization(self, organization: object) -> TeamQuerySet:
        return self.filter(organization=organization)


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(date_revoked__isnull=True)

    def find(self, plain_key: str) -> ApiKey | None:
        """The key whose hash matches `plain_key` (revoked or not), or None."""
        from organizations.models import ApiKey

        if not ApiKey.looks_like_key(plain_key):
            return None
        for candidate in self.filter(prefix=plain_key[: ApiKey.PREFIX_LENGTH]):
            if candidate.matches(plain_key):
                return candidate
        return None
