"""Sentry's cursor pagination: `value:offset:is_prev` cursors and its two-entry Link header.

Keyset pagination over one integer sort key (the last rows' key value, then the number of rows
with that same value already returned), ties broken by id: a row inserted while a client pages
neither repeats nor hides another one (Sentry src/sentry/api/paginator.py, utils/cursors.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import F, Model, QuerySet
from rest_framework.exceptions import ParseError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 100
# Beyond these a cursor was not made here (and the database would reject the numbers).
MAX_CURSOR_VALUE = 2**62
MAX_CURSOR_OFFSET = 1_000_000


@dataclass(frozen=True)
class Cursor:
    value: int
    offset: int
    is_prev: bool

    def __str__(self) -> str:
        return f"{self.value}:{self.offset}:{int(self.is_prev)}"

    @classmethod
    def parse(cls, raw: str) -> Cursor | None:
        if raw == "":
            return None  # sentry-cli's first request sends `cursor=`
        parts = raw.split(":")
        try:
            value, offset, is_prev = (int(part) for part in parts)
        except ValueError:
            raise ParseError("Invalid cursor parameter.") from None
        if len(parts) != 3 or is_prev not in (0, 1) or abs(value) >= MAX_CURSOR_VALUE:
            raise ParseError("Invalid cursor parameter.")
        if offset > MAX_CURSOR_OFFSET:
            raise ParseError("Invalid cursor parameter.")
        return cls(value, max(offset, 0), bool(is_prev))


def per_page_of(request: Request) -> int:
    raw = request.query_params.get("per_page")
    if raw is None or raw == "":
        return DEFAULT_PER_PAGE
    try:
        value = int(raw)
    except ValueError:
        raise ParseError("Invalid per_page parameter.") from None
    if value > MAX_PER_PAGE:
        raise ParseError(f"Invalid per_page value. Cannot exceed {MAX_PER_PAGE}.")
    if value < 1:
        raise ParseError("Invalid per_page parameter.")
    return value


class SentryCursorPagination(BasePagination):
    """Descending keyset pagination on `key` (an integer expression), then `-id`."""

    def __init__(self, key: str = "id", *, to_cursor: Any = None, from_cursor: Any = None) -> None:
        self.key = key
        # Cursors hold integers; a key of another type (a datetime) converts both ways.
        self.to_cursor = to_cursor or (lambda value: value)
        self.from_cursor = from_cursor or (lambda number: number)

    def key_of(self, row: Model) -> int:
        return self.to_cursor(getattr(row, self.key))

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list:
        self.request = request
        self.per_page = per_page_of(request)
        self.cursor = Cursor.parse(request.query_params.get("cursor", ""))
        self.queryset = queryset
        key = self.key
        if self.cursor is None or not self.cursor.is_prev:
            ordered = queryset.order_by(F(key).desc(), "-id")
            if self.cursor is not None:
                ordered = ordered.filter(**{f"{key}__lte": self.from_cursor(self.cursor.value)})
            start = self.cursor.offset if self.cursor else 0
            rows = list(ordered[start : start + self.per_page + 1])
            self.has_next = len(rows) > self.per_page
            rows = rows[: self.per_page]
            self.has_prev = self.cursor is not None and self._exists_before(queryset, rows)
        else:
            ordered = queryset.order_by(F(key).asc(), "id").filter(
                **{f"{key}__gte": self.from_cursor(self.cursor.value)}
            )
            start = self.cursor.offset
            rows = list(ordered[start : start + self.per_page + 1])
            self.has_prev = len(rows) > self.per_page
            rows = list(reversed(rows[: self.per_page]))
            self.has_next = True
        self.rows = rows
        return rows

    def _exists_before(self, queryset: QuerySet, rows: list[Model]) -> bool:
        if not rows:
            return True
        first = rows[0]
        value = getattr(first, self.key)
        newer = queryset.filter(**{f"{self.key}__gt": value})
        ties = queryset.filter(**{self.key: value, "id__gt": first.pk})
        return newer.exists() or ties.exists()

    def _cursor_after(self, rows: list[Model], *, is_prev: bool) -> Cursor:
        """The cursor pointing past rows[-1] (next) or before rows[0] (previous).

        Its offset counts every row sharing the edge row's key that lies on this side of it,
        whichever way the client came: so ties never repeat or vanish between pages.
        """
        if not rows:
            base = self.cursor or Cursor(0, 0, False)
            return Cursor(base.value, base.offset, is_prev)
        edge = rows[0] if is_prev else rows[-1]
        ties = self.queryset.filter(**{self.key: getattr(edge, self.key)})
        ties = ties.filter(id__lte=edge.pk) if is_prev else ties.filter(id__gte=edge.pk)
        return Cursor(self.key_of(edge), ties.count(), is_prev)

    def _link(self, cursor: Cursor, rel: str, results: bool) -> str:
        params = [(k, v) for k, v in self.request.query_params.lists() if k != "cursor"]
        flat = [(k, item) for k, values in params for item in values]
        query = urlencode(flat)
        url = self.request.build_absolute_uri(self.request.path)
        return (
            f'<{url}?{query}&cursor={cursor}>; rel="{rel}"; '
            f'results="{"true" if results else "false"}"; cursor="{cursor}"'
        )

    def get_paginated_response(self, data: Any) -> Response:
        previous = self._link(
            self._cursor_after(self.rows, is_prev=True), "previous", self.has_prev
        )
        following = self._link(self._cursor_after(self.rows, is_prev=False), "next", self.has_next)
        return Response(data, headers={"Link": f"{previous}, {following}"})

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "Opaque `value:offset:is_prev` cursor from the Link header.",
            },
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                "description": f"Rows per page (default {DEFAULT_PER_PAGE}).",
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema
