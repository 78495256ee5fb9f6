"""Errors answered to SDKs, each with the status and `detail` text Relay uses."""

from __future__ import annotations


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


class PayloadTooLarge(IngestError):
    status = 413


class UnsupportedEncoding(IngestError):
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
