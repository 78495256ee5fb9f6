"""Errors answered to SDKs, each with the status and `detail` text Relay uses."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)


class IngestError(Exception):
    """A request Faultline refuses; `status` and `detail` become the HTTP answer."""

    status = 400

    def __init__(
        self,
        detail: str,
        *,
        causes: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.causes = causes or []
        self.headers = headers or {}


class BadRequest(IngestError):
    status = 400


class InvalidEnvelope(BadRequest):
    """Broken envelope framing: Relay answers `invalid event envelope` with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__("invalid event envelope", causes=[reason])


class Unauthorized(IngestError):
    status = 401


class Forbidden(IngestError):
    status = 403


class RequestTimeout(IngestError):
    """The client stopped sending its body; it may send the request again (RFC 9110 §15.5.9)."""

    status = 408


class PayloadTooLarge(IngestError):
    status = 413


class UnsupportedEncoding(IngestError):
    status = 415


class UnsupportedMediaType(IngestError):
    status = 415


class RateLimited(IngestError):
    status = 429

    def __init__(self, detail: str, *, retry_after: int, rate_limits: str) -> None:
        super().__init__(
            detail,
            headers={"Retry-After": str(retry_after), "X-Sentry-Rate-Limits": rate_limits},
        )
        self.retry_after = retry_after


class ServiceUnavailable(IngestError):
    """Accepted items could not be made durable in time: nothing is promised, retry."""

    status = 503


# The database could not be reached or could not serve the statement (down, restarting, a
# dropped connection, SQLite's lock wait running out): the request may succeed if retried.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def database_unavailable(exc: Exception) -> ServiceUnavailable:
    """The 503 for one of DATABASE_UNAVAILABLE, logged with its traceback for the operator."""
    # The connection that failed is dropped at the end of the request (Django's
    # close_old_connections), so the next request of this thread connects again. The error
    # class also holds permanent faults (SQLite without its tables, PostgreSQL's limits):
    # the log says which.
    logger.error("ingest: database error: %s", exc, exc_info=exc)
    return ServiceUnavailable("the database could not take the request; retry later")
