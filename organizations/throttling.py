"""Rate limits for /api/0/, per credential (DRF throttling; 429 with Retry-After)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

from organizations.models import ApiKey, UserToken


class CredentialRateThrottle(ScopedRateThrottle):
    """Sentry-style rate limits per credential: the API key or token, else the user, else IP."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey | UserToken):
            ident = f"{type(request.auth).__name__}:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
