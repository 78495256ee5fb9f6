"""A multi-row INSERT without Django's per-row compiler overhead, for the digest's hot paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# PostgreSQL and SQLite both take far more parameters per statement than this.
MAX_PARAMS_PER_STATEMENT = 30_000


def insert_rows(
    model: type[models.Model], field_names: Sequence[str], objects: Sequence[Any]
) -> None:
    """INSERT `objects` (model instances, not saved) in as few statements as fit.

    Values are prepared by each field exactly as `save()` would prepare them. Nothing is read
    back: use bulk_create where primary keys are needed.
    """
    if not objects:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = max(1, MAX_PARAMS_PER_STATEMENT // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(objects), per_statement):
            chunk = objects[start : start + per_statement]
            params: list[Any] = []
            for obj in chunk:
                params += [
                    field.get_db_prep_save(getattr(obj, field.attname), connection)
                    for field in fields
                ]
            values = ", ".join([row_sql] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", params)  # noqa: S608
