"""DRF exception handler: every error is JSON, in the shapes Sentry's API answers."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ResourceDoesNotExist(exceptions.NotFound):
    default_detail = "The requested resource does not exist"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A resource with this slug already exists."
    default_code = "conflict"


def handle_exception(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map Django's and our own errors to DRF's, then let DRF render them."""
    if isinstance(exc, Http404):
        exc = ResourceDoesNotExist()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"detail": " ".join(exc.messages)})
    elif isinstance(exc, IntegrityError) and "unique" in str(exc).lower():
        # Two requests creating the same slug at once: the loser gets what a check would say.
        exc = Conflict()
    return exception_handler(exc, context)
