"""Domain errors raised by the projects services."""

from __future__ import annotations


class TeamOrganizationMismatchError(ValueError):
    """A project was given a team of another organization."""


class UnknownProjectError(ValueError):
    """A release named a project its organization does not have."""


class CheckInRejectedError(ValueError):
    """A cron check-in that cannot be stored; `reason` is its outcome reason (Sentry's
    monitors consumer drops such check-ins with a processing error of that name)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
