"""/api/0/ resources for the root, organizations, their members and teams (Sentry's paths)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.exceptions import Conflict, ResourceDoesNotExist
from config.api.pagination import SentryCursorPagination
from organizations import services
from organizations.models import ApiKey, Organization, OrganizationMember, Team, UserToken
from organizations.permissions import ScopePermission, request_scopes
from organizations.roles import ROLE_SCOPES
from organizations.serializers import (
    ApiTokenInputSerializer,
    ApiTokenSerializer,
    MemberSerializer,
    OrganizationSerializer,
    OrganizationUpdateSerializer,
    TeamInputSerializer,
    TeamSerializer,
    serialize_user,
)
from organizations.validators import is_id, slug_from_name

_NOT_PARAMETERS = frozenset({"cursor", "per_page", "id", "format"})


def use_query_string_as_body(request: Request) -> None:
    """Sentry's API takes a write's parameters from the query string too (`POST …?name=x`):
    with no body, they become the request's data. A repeated key gives a list."""
    if request.method not in ("POST", "PUT", "DELETE", "PATCH") or request.data:
        return
    params = {
        key: values if len(values) > 1 else values[0]
        for key, values in request.query_params.lists()
        if key not in _NOT_PARAMETERS
    }
    if params:
        # DRF keeps parsed data here; `request.data` has been read (and found empty) above.
        request._full_data = params


def find_organization(value: str) -> Organization:
    organization = Organization.objects.filter(slug=value).first()
    if organization is None and is_id(value):
        organization = Organization.objects.filter(pk=int(value)).first()
    if organization is None:
        raise ResourceDoesNotExist
    return organization


class OrganizationEndpoint(generics.GenericAPIView):
    """Resolves `organization_id_or_slug` once: unknown → 404; no access or missing scope → 403."""

    permission_classes = [ScopePermission]
    scope_map: dict[str, tuple[str, ...]] = {}
    throttle_scope = "default"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.organization = find_organization(kwargs["organization_id_or_slug"])
        if not request_scopes(request, self.organization):
            raise PermissionDenied
        permission = ScopePermission()
        if not permission.has_organization_permission(request, self, self.organization):
            raise PermissionDenied
        use_query_string_as_body(request)


@extend_schema_view(get=extend_schema(responses=OpenApiTypes.OBJECT))
class IndexView(APIView):
    """The API root: who is asking and with which scopes (sentry-cli `info`)."""

    permission_classes = [AllowAny]
    throttle_scope = "default"

    def get(self, request: Request) -> Response:
        auth = request.auth
        scopes = list(auth.scopes) if isinstance(auth, ApiKey | UserToken) else None
        user = request.user if request.user and request.user.is_authenticated else None
        return Response(
            {
                "version": "0",
                "auth": {"scopes": scopes} if scopes is not None else None,
                "user": serialize_user(user) if user is not None else None,
            }
        )


def visible_organizations(request: Request, scope: str = "org:read") -> QuerySet[Organization]:
    """Organizations in which the request holds `scope` (the key's, the token's, the role's)."""
    if isinstance(request.auth, ApiKey):
        if scope not in request.auth.scopes:
            return Organization.objects.none()
        return Organization.objects.filter(pk=request.auth.organization_id)
    if isinstance(request.auth, UserToken) and scope not in request.auth.scopes:
        return Organization.objects.none()
    if request.user.is_superuser:
        return Organization.objects.all()
    roles = [role for role, scopes in ROLE_SCOPES.items() if scope in scopes]
    return Organization.objects.filter(
        members__user=request.user, members__role__in=roles
    ).distinct()


class OrganizationListView(generics.ListAPIView):
    """Organizations the caller belongs to (an API key: its own)."""

    permission_classes = [ScopePermission]
    serializer_class = OrganizationSerializer
    pagination_class = SentryCursorPagination
    throttle_scope = "default"

    def get_queryset(self) -> QuerySet[Organization]:
        return visible_organizations(self.request)


class OrganizationDetailView(OrganizationEndpoint):
    """An organization; PUT changes its name or slug."""

    serializer_class = OrganizationSerializer

    scope_map = {"GET": ("org:read",), "PUT": ("org:write", "org:admin")}

    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        return Response(OrganizationSerializer(self.organization).data)

    @extend_schema(request=OrganizationUpdateSerializer)
    def put(self, request: Request, organization_id_or_slug: str) -> Response:
        serializer = OrganizationUpdateSerializer(
            self.organization, data=request.data, partial=True
        )
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(OrganizationSerializer(self.organization).data)


class MemberListView(OrganizationEndpoint, generics.ListAPIView):
    """Members of the organization."""

    scope_map = {"GET": ("member:read", "org:read")}
    serializer_class = MemberSerializer
    pagination_class = SentryCursorPagination

    def get_queryset(self) -> QuerySet[OrganizationMember]:
        return OrganizationMember.objects.filter(organization=self.organization).select_related(
            "user"
        )


def _teams(organization: Organization) -> QuerySet[Team]:
    return Team.objects.for_organization(organization).annotate(
        member_count=Count("organization__members", distinct=True)
    )


class TeamListView(OrganizationEndpoint, generics.ListAPIView):
    """Teams of the organization; POST creates one."""

    scope_map = {"GET": ("team:read",), "POST": ("team:write", "team:admin")}
    serializer_class = TeamSerializer
    pagination_class = SentryCursorPagination

    def get_queryset(self) -> QuerySet[Team]:
        return _teams(self.organization)

    @extend_schema(request=TeamInputSerializer, responses={201: TeamSerializer})
    def post(self, request: Request, organization_id_or_slug: str) -> Response:
        data = TeamInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        name = data.validated_data.get("name") or data.validated_data["slug"]
        slug = data.validated_data.get("slug") or slug_from_name(name)
        # get_or_create: of concurrent requests for one slug, exactly one creates it.
        team, created = services.ensure_team(organization=self.organization, slug=slug, name=name)
        if not created:
            raise Conflict("A team with this slug already exists.")
        return Response(
            TeamSerializer(_teams(self.organization).get(pk=team.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class TeamDetailView(OrganizationEndpoint):
    """One team: GET, PUT (name, slug), DELETE."""

    serializer_class = TeamSerializer

    scope_map = {
        "GET": ("team:read",),
        "PUT": ("team:write", "team:admin"),
        "DELETE": ("team:admin",),
    }

    def get_object(self) -> Team:
        return get_object_or_404(_teams(self.organization), slug=self.kwargs["team_id_or_slug"])

    def get(self, request: Request, **kwargs: str) -> Response:
        return Response(TeamSerializer(self.get_object()).data)

    @extend_schema(request=TeamInputSerializer)
    def put(self, request: Request, **kwargs: str) -> Response:
        team = self.get_object()
        data = TeamInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        slug = data.validated_data.get("slug")
        if slug and slug != team.slug:
            if Team.objects.filter(organization=self.organization, slug=slug).exists():
                raise Conflict("A team with this slug already exists.")
            team.slug = slug
        team.name = data.validated_data.get("name", team.name)
        team.save(update_fields=["slug", "name"])
        return Response(TeamSerializer(_teams(self.organization).get(pk=team.pk)).data)

    def delete(self, request: Request, **kwargs: str) -> Response:
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenListView(generics.ListAPIView):
    """The caller's personal tokens; POST creates one (the token is in that answer only)."""

    permission_classes = [ScopePermission]
    serializer_class = ApiTokenSerializer
    pagination_class = SentryCursorPagination
    throttle_scope = "default"

    def get_queryset(self) -> QuerySet[UserToken]:
        self._require_user()
        return UserToken.objects.filter(user=self.request.user, date_revoked__isnull=True)

    def _require_user(self) -> None:
        # Tokens belong to people: an organization API key has no tokens to manage.
        if not (self.request.user and self.request.user.is_authenticated):
            raise PermissionDenied

    @extend_schema(request=ApiTokenInputSerializer, responses={201: ApiTokenSerializer})
    def post(self, request: Request) -> Response:
        self._require_user()
        data = ApiTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if isinstance(request.auth, UserToken):
            # A token cannot mint a token with more than it holds itself.
            excess = set(data.validated_data["scopes"]) - set(request.auth.scopes)
            if excess:
                raise PermissionDenied(
                    f"Scopes not held by this token: {', '.join(sorted(excess))}"
                )
        token, plain = services.create_user_token(
            user=request.user,
            label=data.validated_data.get("name") or "API token",
            scopes=data.validated_data["scopes"],
        )
        body = {**ApiTokenSerializer(token).data, "token": plain}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiTokenDetailView(generics.GenericAPIView):
    """DELETE revokes one of the caller's tokens."""

    permission_classes = [ScopePermission]
    serializer_class = ApiTokenSerializer
    throttle_scope = "default"

    def delete(self, request: Request, token_id: str) -> Response:
        if not (request.user and request.user.is_authenticated):
            raise PermissionDenied
        tokens = UserToken.objects.filter(pk=token_id if is_id(token_id) else 0, user=request.user)
        if not services.revoke_credentials(credentials=tokens):
            raise ResourceDoesNotExist
        return Response(status=status.HTTP_204_NO_CONTENT)
