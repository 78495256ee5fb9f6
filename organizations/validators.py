"""Slug rules shared by organizations, teams and projects (as Sentry enforces them), and ids."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.text import slugify

SLUG_MAX_LENGTH = 50
# Row ids are 64-bit signed integers (DEFAULT_AUTO_FIELD is BigAutoField).
MAX_ID = 2**63 - 1

# Sentry's MIXED_SLUG_PATTERN: lower-case letters, digits, hyphens and underscores, and not
# digits only (a numeric slug would be ambiguous with ids in /api/0/ paths).
validate_sentry_slug = RegexValidator(
    regex=r"^(?![0-9]+$)[a-z0-9_\-]+\Z",
    message=(
        "Enter a valid slug: lower-case letters, numbers, underscores or hyphens, "
        "and not only numbers."
    ),
    code="invalid_slug",
)


def slug_from_name(name: str) -> str:
    """A valid slug derived from a display name (`My Team` → `my-team`, `2024` → `2024-1`)."""
    slug = slugify(name)[: SLUG_MAX_LENGTH - 2].strip("-")
    if not slug:
        raise ValidationError(f"{name!r} has no letters or digits to make a slug from")
    return f"{slug}-1" if slug.isdigit() else slug


def is_number(value: str) -> bool:
    """An id in a URL or parameter: ASCII digits only. str.isdigit() also accepts "²", which
    int() and the ORM refuse."""
    return value.isascii() and value.isdigit()


def is_id(value: str) -> bool:
    """Whether `value` can be a row id: digits, within 64 bits.

    Not only non-numbers are no ids: SQLite refuses an int beyond 64 bits in a query
    (OverflowError) rather than match nothing, and int() refuses a string of over 4300 digits,
    so the length is checked before converting.
    """
    # The length of the text itself: callers convert it with int(), leading zeros and all.
    return is_number(value) and len(value) <= len(str(MAX_ID)) and int(value) <= MAX_ID


def database_ids(values: Iterable[str]) -> list[int]:
    """The values that can be row ids, as ints; the others name no row and are left out."""
    return [int(value) for value in values if is_id(value)]
