"""DRF exception handler: every error is JSON, in the shapes Sentry's API answers."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
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


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


def _refused_request(
    exc: SuspiciousOperation | BadRequest, request: object
) -> exceptions.APIException:
    """Django's refusal of a request (a body or query string past its limits, a malformed
    multipart form) as JSON; left to Django, it is its HTML 400 page."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        refusal = RequestTooLarge(f"Request body too large: at most {limit} bytes.")
    elif isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        refusal = exceptions.ParseError(f"Too many fields or parameters: at most {limit}.")
    elif isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        refusal = exceptions.ParseError(f"Too many files: at most {limit}.")
    else:
        refusal = exceptions.ParseError()
    if isinstance(exc, SuspiciousOperation):
        # Django's handler logs these to django.security.<class>; it no longer sees them.
        logging.getLogger(f"django.security.{type(exc).__name__}").error(
            "%s", exc, extra={"status_code": refusal.status_code, "request": request}
        )
    return refusal


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
    elif isinstance(exc, SuspiciousOperation | BadRequest):
        exc = _refused_request(exc, context.get("request"))
    return exception_handler(exc, context)
