"""Model fields for large values written in bulk."""

from __future__ import annotations

from typing import Any

from django.db import models

from groups import jsoncodec, zstd

# The fastest level: about 9:1 on the benchmark's normalized events (17 KB), within 1 % of
# level 3's size, in 18 µs instead of 30.
ZSTD_LEVEL = 1


class PlainBulkInsertMixin:
    """Opts a field out of Django 5.2's UNNEST bulk insert on PostgreSQL.

    UNNEST passes each column as one array parameter; psycopg encodes arrays of large
    values in text form, escaping every byte that needs it in Python, which for event
    payloads cost more CPU than the rest of the digest. A field with `get_placeholder`
    makes Django fall back to a plain multi-row VALUES list
    (django/db/backends/postgresql/compiler.py).
    """

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"


class BulkJSONField(PlainBulkInsertMixin, models.JSONField):
    pass


class CompressedJSONField(PlainBulkInsertMixin, models.BinaryField):
    """A JSON document stored zstd-compressed, as Sentry's nodestore keeps event payloads.

    Not queryable in SQL (what is queried lives in columns of its own); in exchange the
    database neither parses nor re-compresses each ~16 KB event, and stores a fifth of it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return jsoncodec.loads(zstd.decompress(bytes(value)))

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        packed = zstd.compress(jsoncodec.dumps(value), level=ZSTD_LEVEL)
        return super().get_db_prep_value(packed, connection, prepared)

    def to_python(self, value: Any) -> Any:
        return value

    def value_to_string(self, obj: models.Model) -> str:
        return jsoncodec.dumps(self.value_from_object(obj)).decode()


class BulkBinaryField(PlainBulkInsertMixin, models.BinaryField):
    pass
