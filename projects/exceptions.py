"""Domain errors raised by the projects services."""

from __future__ import annotations


class TeamOrganizationMismatchError(ValueError):
    """A project was given a team of another organization."""


class UnknownProjectError(ValueError):
    """A release named a project its organization does not have."""
