"""DRF authentication for /api/0/: organization API keys and personal user tokens.

As Sentry does (src/sentry/api/authentication.py): an API key as HTTP Basic user name with an
empty password, or any key or token as `Authorization: Bearer`. Other schemes are left to the
next authenticator (sessions, for the web UI).
"""

from __future__ import annotations

import base64
from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from organizations.models import ApiKey, UserToken
from organizations.services import authenticate_user_token


def _api_key(plain: str) -> ApiKey | None:
    return ApiKey.objects.select_related("organization").find(plain)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Basic base64("<key>:")` or `Bearer <key-or-token>`."""

    def authenticate(self, request: Request) -> tuple[object, object] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return self._basic(credentials.strip())
        if scheme == "bearer":
            return self._bearer(credentials.strip())
        return None

    def _basic(self, credentials: str) -> tuple[object, object] | None:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except ValueError:  # binascii.Error, UnicodeDecodeError, and text that is not ASCII
            raise exceptions.AuthenticationFailed("Invalid basic header.") from None
        key, _, password = decoded.partition(":")
        if password:
            return None  # Sentry: a password means this is not an API key
        return self._key(key)

    def _bearer(self, credentials: str) -> tuple[object, object]:
        if not credentials:
            raise exceptions.AuthenticationFailed("Invalid token header. No credentials provided.")
        if credentials.startswith(UserToken.PREFIX):
            token = authenticate_user_token(plain_token=credentials)
            if token is None:
                raise exceptions.AuthenticationFailed("Invalid token")
            if not token.user.is_active:
                raise exceptions.AuthenticationFailed("User inactive or deleted.")
            return token.user, token
        return self._key(credentials)

    def _key(self, plain: str) -> tuple[object, object]:
        api_key = _api_key(plain)
        if api_key is None:
            raise exceptions.AuthenticationFailed("API key is not valid")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("Key is disabled")
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        # Not "Basic": browsers would pop up a login dialog (Sentry's QuietBasicAuthentication).
        return 'xBasic realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the API key/token authentication in the OpenAPI schema."""

    target_class = "organizations.authentication.ApiKeyAuthentication"
    name = ["BearerToken", "ApiKeyBasic"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "An organization API key or a personal token (sntryu_…).",
            },
            {
                "type": "http",
                "scheme": "basic",
                "description": "An organization API key as user name, empty password.",
            },
        ]
