"""JSON for event payloads: orjson where it can, the standard library where it cannot."""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(raw: bytes) -> Any:
    """Parse JSON, also the NaN/Infinity tokens that Python SDKs may send (orjson refuses
    those, the standard library takes them)."""
    return loads_noting_non_finite(raw)[0]


def loads_noting_non_finite(raw: bytes) -> tuple[Any, bool]:
    """As `loads`, and whether the JSON may hold NaN or Infinity: False when orjson, which
    refuses them, could parse it."""
    try:
        return orjson.loads(raw), False
    except orjson.JSONDecodeError:
        return json.loads(raw), True


def dumps(value: Any) -> bytes:
    """Compact JSON bytes; NaN and ±Infinity become null."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        # Integers beyond 64 bits, for one: orjson has no arbitrary precision.
        return json.dumps(value, separators=(",", ":"), default=str).encode()
