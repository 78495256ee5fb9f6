"""Organizations, their teams, members and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from django.conf import settings
from django.db import models
from django.utils import timezone

from organizations.managers import ApiKeyQuerySet, OrganizationQuerySet, TeamQuerySet
from organizations.roles import ROLE_SCOPES, Role
from organizations.validators import SLUG_MAX_LENGTH, validate_sentry_slug


class Organization(models.Model):
    slug = models.CharField(
        max_length=SLUG_MAX_LENGTH, unique=True, validators=[validate_sentry_slug]
    )
    name = models.CharField(max_length=64)
    date_created = models.DateTimeField(default=timezone.now, editable=False)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Team(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    slug = models.CharField(max_length=SLUG_MAX_LENGTH, validators=[validate_sentry_slug])
    name = models.CharField(max_length=64)
    date_created = models.DateTimeField(default=timezone.now, editable=False)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"], name="organizations_team_unique_slug"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"


class OrganizationMember(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    date_created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["organization", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="organizations_member_unique_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization.slug} ({self.role})"

    @property
    def scopes(self) -> frozenset[str]:
        return ROLE_SCOPES[self.role]


class ApiKey(models.Model):
    """An organization API key; only a prefix and a SHA-256 of the key are stored."""

    # 64 hex characters: the shape sentry-cli recognises as a token and sends without warning.
    KEY_LENGTH = 64
    PREFIX_LENGTH = 8

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    label = models.CharField(max_length=64)
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    date_created = models.DateTimeField(default=timezone.now, editable=False)
    date_revoked = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["organization", "-date_created"]

    def __str__(self) -> str:
        return f"{self.label} ({self.prefix}…)"

    @classmethod
    def generate(cls) -> str:
        """A new plain key (never stored)."""
        return secrets.token_hex(cls.KEY_LENGTH // 2)

    @staticmethod
    def hash(plain_key: str) -> str:
        return hashlib.sha256(plain_key.encode()).hexdigest()

    @classmethod
    def looks_like_key(cls, plain_key: str) -> bool:
        return len(plain_key) == cls.KEY_LENGTH and all(
            char in string.hexdigits for char in plain_key
        )

    def set_key(self, plain_key: str) -> None:
        self.prefix = plain_key[: self.PREFIX_LENGTH]
        self.hashed_key = self.hash(plain_key)

    def matches(self, plain_key: str) -> bool:
        return hmac.compare_digest(self.hashed_key, self.hash(plain_key))

    @property
    def is_active(self) -> bool:
        return self.date_revoked is None

    def has_scope(self, scope: str) -> bool:
        return self.is_active and scope in self.scopes

    def revoke(self) -> None:
        if self.date_revoked is None:
            self.date_revoked = timezone.now()
            self.save(update_fields=["date_revoked"])


class UserToken(models.Model):
    """A personal auth token (`sntryu_…`, as sentry-cli expects); its scopes are capped by the
    user's role in each organization. Stored as prefix + SHA-256 like ApiKey."""

    PREFIX = "sntryu_"
    # `sntryu_` and 64 hex characters: the user-token shape sentry-cli 2 and 3 recognise.
    KEY_LENGTH = len(PREFIX) + 64
    PREFIX_LENGTH = len(PREFIX) + 8

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    label = models.CharField(max_length=64)
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True, editable=False)
    hashed_token = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    date_created = models.DateTimeField(default=timezone.now, editable=False)
    date_revoked = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "user auth token"
        ordering = ["user", "-date_created"]

    def __str__(self) -> str:
        return f"{self.label} ({self.prefix}…)"

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_hex(32)

    @classmethod
    def looks_like_token(cls, plain: str) -> bool:
        body = plain.removeprefix(cls.PREFIX)
        return (
            plain.startswith(cls.PREFIX)
            and len(body) == 64
            and all(char in string.hexdigits for char in body)
        )

    def set_token(self, plain: str) -> None:
        self.prefix = plain[: self.PREFIX_LENGTH]
        self.hashed_token = ApiKey.hash(plain)

    def matches(self, plain: str) -> bool:
        return hmac.compare_digest(self.hashed_token, ApiKey.hash(plain))

    @property
    def is_active(self) -> bool:
        return self.date_revoked is None
