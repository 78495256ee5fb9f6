"""Multi-row INSERTs and upserts without Django's per-row compiler overhead, for the hot paths."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

# PostgreSQL and SQLite both take far more parameters per statement than this.
MAX_PARAMS_PER_STATEMENT = 30_000


@lru_cache(maxsize=64)
def _fields(model: type[models.Model], field_names: tuple[str, ...]) -> tuple[models.Field, ...]:
    return tuple(model._meta.get_field(name) for name in field_names)


@lru_cache(maxsize=256)
def _insert_sql(model: type[models.Model], field_names: tuple[str, ...]) -> str:
    ops = connections[DEFAULT_DB_ALIAS].ops
    table = ops.quote_name(model._meta.db_table)
    columns = ", ".join(ops.quote_name(field.column) for field in _fields(model, field_names))
    return f"INSERT INTO {table} ({columns}) VALUES {{values}}"  # noqa: S608


@lru_cache(maxsize=256)
def _values_list(numbered: bool, width: int, rows: int) -> str:
    """`rows` groups of `width` placeholders, made once per shape: numbered ($1, $2, …) for
    psycopg's raw cursor, else %s."""
    if numbered:
        return ", ".join(
            "(" + ", ".join(f"${row * width + column + 1}" for column in range(width)) + ")"
            for row in range(rows)
        )
    return ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * rows)


def _cursor(connection: BaseDatabaseWrapper, *, numbered: bool) -> Any:
    """A cursor for the statements of execute_values. Numbered: psycopg's RawCursor, which
    sends them as they are (its usual %s conversion parses again every statement of more
    than 50 parameters, which for the digest's batches of events cost more than the rest
    of their insert), in Django's wrapper all the same (database errors translated)."""
    if not numbered:
        return connection.cursor()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(raw_cursor(connection))


def raw_cursor(connection: BaseDatabaseWrapper) -> psycopg.RawCursor:
    """psycopg's own RawCursor on the connection (PostgreSQL), after what Django's cursor()
    does first: connect, and the health check of DATABASE_CONN_HEALTH_CHECKS. Its errors
    are psycopg's: wrap its use in `connection.wrap_database_errors`."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    return psycopg.RawCursor(connection.connection)


def insert_rows(
    model: type[models.Model], field_names: Sequence[str], objects: Sequence[Any]
) -> None:
    """INSERT `objects` (model instances, not saved) in as few statements as fit.

    Values are prepared by each field exactly as `save()` would prepare them. Nothing is read
    back: use bulk_create where primary keys are needed.
    """
    attnames = [field.attname for field in _fields(model, tuple(field_names))]
    insert_values(
        model, field_names, [[getattr(obj, name) for name in attnames] for obj in objects]
    )


def insert_values(
    model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT rows given as values in `field_names` order (model values, before the fields
    prepare them for the database), without building model instances."""
    if not rows:
        return
    names = tuple(field_names)
    fields = _fields(model, names)
    # The connection itself, not django.db.connection: every attribute read through that
    # proxy is a thread-local lookup, and preparing values reads several per field.
    connection = connections[DEFAULT_DB_ALIAS]
    prepared = [
        [
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, row, strict=True)
        ]
        for row in rows
    ]
    execute_values(_insert_sql(model, names), prepared)


def execute_values(
    sql: str, rows: Sequence[Sequence[Any]], *, rows_per_statement: int | None = None
) -> None:
    """Run `sql`, its `{values}` replaced by a VALUES list of the rows (values ready for the
    database, all rows of one width), in as few statements as the rows fit in."""
    if not rows:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    width = len(rows[0])
    per_statement = max(1, MAX_PARAMS_PER_STATEMENT // width)
    if rows_per_statement is not None:
        per_statement = min(per_statement, rows_per_statement)
    # Django logs queries (DEBUG, assertNumQueries) by rendering them with %s placeholders:
    # the numbered form only when nothing logs.
    numbered = connection.vendor == "postgresql" and not connection.queries_logged
    with _cursor(connection, numbered=numbered) as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = _values_list(numbered, width, len(chunk))
            cursor.execute(sql.replace("{values}", values), [v for row in chunk for v in row])
