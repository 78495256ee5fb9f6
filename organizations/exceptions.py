"""Domain errors raised by the organizations services."""

from __future__ import annotations


class UnknownScopeError(ValueError):
    """An API key was asked for a scope Sentry does not define."""
