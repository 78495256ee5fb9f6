"""Counts, failure rates and duration percentiles per group of rows, in one query.

Shared by the per-transaction (spans) and per-route (API calls) summaries. Percentiles are
exact nearest-rank values, computed with CUME_DIST() over the filtered rows, so the same SQL
runs on PostgreSQL and SQLite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Expression,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import CumeDist


def summarize(
    queryset: QuerySet,
    *,
    by: Mapping[str, str | Expression],
    value: str,
    failed: Q,
    percentiles: Sequence[int] = (50, 95),
    limit: int = 100,
) -> list[dict[str, Any]]:
    """One row per distinct `by` key: {**keys, "count", "failed", "p50", "p95", …}.

    `value` is the measured field (a duration); rows where it is NULL are counted but take
    no part in the percentiles. At most `limit` groups, the most frequent first.
    """
    keys = {
        f"k{index}": F(key) if isinstance(key, str) else key
        for index, key in enumerate(by.values())
    }
    has_value = ExpressionWrapper(Q(**{f"{value}__isnull": False}), output_field=BooleanField())
    inner = (
        queryset.order_by()
        .annotate(
            **keys,
            v=F(value),
            failed_row=Case(
                When(failed, then=Value(1)), default=Value(0), output_field=IntegerField()
            ),
            rank=Window(
                CumeDist(), partition_by=[*keys.values(), has_value], order_by=F(value).asc()
            ),
        )
        .values(*keys, "v", "failed_row", "rank")
    )
    sql, params = inner.query.sql_with_params()
    connection = connections[queryset.db]
    quote = connection.ops.quote_name
    key_columns = ", ".join(quote(alias) for alias in keys)
    percentile_columns = "".join(
        f", MIN(CASE WHEN v IS NOT NULL AND rank >= %s THEN v END) AS {quote(f'p{p}')}"
        for p in percentiles
    )
    # Only quoted aliases and Django's own compiled SQL are interpolated; values are parameters.
    query = (
        f"SELECT {key_columns}, COUNT(*) AS {quote('count')}, SUM(failed_row) AS {quote('failed')}"  # noqa: S608
        f"{percentile_columns} FROM ({sql}) AS summarized GROUP BY {key_columns} "
        f"ORDER BY COUNT(*) DESC, {key_columns} LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [*(p / 100 for p in percentiles), *params, limit])
        names = [*by, "count", "failed", *(f"p{p}" for p in percentiles)]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
