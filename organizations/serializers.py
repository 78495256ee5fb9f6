"""Sentry's JSON shapes for organizations, teams and members (ids as strings, camelCase)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from organizations.models import Organization, OrganizationMember, Team, UserToken
from organizations.roles import SCOPES
from organizations.validators import SLUG_MAX_LENGTH, validate_sentry_slug


def letter_avatar() -> dict[str, Any]:
    return {"avatarType": "letter_avatar", "avatarUuid": None}


class OrganizationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    dateCreated = serializers.DateTimeField(source="date_created", read_only=True)
    status = serializers.SerializerMethodField()
    avatar = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    # Fields sentry-cli's Organization requires; Faultline has no such features to offer.
    isEarlyAdopter = serializers.BooleanField(default=False, read_only=True)
    require2FA = serializers.BooleanField(default=False, read_only=True)
    requireEmailVerification = serializers.BooleanField(default=False, read_only=True)
    features = serializers.ListField(default=list, read_only=True)
    hasAuthProvider = serializers.BooleanField(default=False, read_only=True)

    class Meta:
        model = Organization
        fields = [
            "id",
            "slug",
            "name",
            "dateCreated",
            "status",
            "isEarlyAdopter",
            "require2FA",
            "requireEmailVerification",
            "features",
            "hasAuthProvider",
            "avatar",
            "links",
        ]
        extra_kwargs = {"slug": {"validators": [validate_sentry_slug]}}

    def get_status(self, organization: Organization) -> dict[str, str]:
        return {"id": "active", "name": "active"}

    def get_avatar(self, organization: Organization) -> dict[str, Any]:
        return letter_avatar()

    def get_links(self, organization: Organization) -> dict[str, str]:
        return {
            "organizationUrl": settings.FAULTLINE_BASE_URL,
            "regionUrl": settings.FAULTLINE_BASE_URL,
        }


class OrganizationUpdateSerializer(serializers.ModelSerializer):
    slug = serializers.CharField(max_length=SLUG_MAX_LENGTH, validators=[validate_sentry_slug])

    class Meta:
        model = Organization
        fields = ["slug", "name"]

    def validate_slug(self, slug: str) -> str:
        taken = Organization.objects.filter(slug=slug).exclude(pk=self.instance.pk).exists()
        if taken:
            raise serializers.ValidationError("An organization with this slug already exists.")
        return slug


class TeamSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    dateCreated = serializers.DateTimeField(source="date_created", read_only=True)
    memberCount = serializers.IntegerField(source="member_count", read_only=True, default=0)
    avatar = serializers.SerializerMethodField()
    isMember = serializers.BooleanField(default=True, read_only=True)
    hasAccess = serializers.BooleanField(default=True, read_only=True)
    isPending = serializers.BooleanField(default=False, read_only=True)

    class Meta:
        model = Team
        fields = [
            "id",
            "slug",
            "name",
            "dateCreated",
            "isMember",
            "hasAccess",
            "isPending",
            "memberCount",
            "avatar",
        ]

    def get_avatar(self, team: Team) -> dict[str, Any]:
        return letter_avatar()


class TeamInputSerializer(serializers.Serializer):
    slug = serializers.CharField(
        max_length=SLUG_MAX_LENGTH, validators=[validate_sentry_slug], required=False
    )
    name = serializers.CharField(max_length=64, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not self.partial and not attrs.get("slug") and not attrs.get("name"):
            raise serializers.ValidationError({"name": ["A name or slug is required."]})
        return attrs


class MemberSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.SerializerMethodField()
    dateCreated = serializers.DateTimeField(source="date_created", read_only=True)
    orgRole = serializers.CharField(source="role", read_only=True)
    user = serializers.SerializerMethodField()
    pending = serializers.BooleanField(default=False, read_only=True)
    expired = serializers.BooleanField(default=False, read_only=True)

    class Meta:
        model = OrganizationMember
        fields = [
            "id",
            "email",
            "name",
            "role",
            "orgRole",
            "pending",
            "expired",
            "dateCreated",
            "user",
        ]

    def get_name(self, member: OrganizationMember) -> str:
        return member.user.get_full_name() or member.user.get_username()

    def get_user(self, member: OrganizationMember) -> dict[str, Any]:
        return serialize_user(member.user)


def serialize_user(user: Any) -> dict[str, Any]:
    """Sentry's user shape; sentry-cli `info` needs `id` and `email` as strings."""
    return {
        "id": str(user.pk),
        "name": user.get_full_name() or user.get_username(),
        "username": user.get_username(),
        "email": user.email or "",
        "isActive": user.is_active,
        "isSuperuser": user.is_superuser,
        "dateJoined": user.date_joined.isoformat().replace("+00:00", "Z"),
        "avatar": letter_avatar(),
    }


class ApiTokenSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    name = serializers.CharField(source="label", read_only=True)
    dateCreated = serializers.DateTimeField(source="date_created", read_only=True)

    class Meta:
        model = UserToken
        fields = ["id", "name", "scopes", "dateCreated"]


class ApiTokenInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPES), allow_empty=False)
