"""Field-level normalization shared by events, spans, logs and API calls: what PostgreSQL
cannot store, timestamps, levels, tags, message formatting and the trimming of free-form data
to Relay's limits."""

from __future__ import annotations

import json
import math
import re
import string
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from organizations.validators import is_number

LEVELS = ("fatal", "error", "warning", "info", "debug")
_LEVEL_ALIASES = {"log": "info", "critical": "fatal"}
# Python logging levels, as raven sends them ("level": 40).
_NUMERIC_LEVELS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "fatal"}
_REMOVED_TAG_KEYS = frozenset({"release", "dist", "user", "filename", "function"})
_TAG_KEY_BAD_CHARS = re.compile(r"[^a-zA-Z0-9_.:-]")
MAX_MESSAGE_CHARS = 8192
MAX_STRING_CHARS = 16384
MAX_DATABAG_DEPTH = 7
# Levels of log records (Sentry's logs protocol) and the other words for them that are taken.
LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
LOG_LEVEL_ALIASES = {"warning": "warn", "critical": "fatal", "err": "error", "information": "info"}
LOG_LEVEL_WORDS = frozenset({*LOG_LEVELS, *LOG_LEVEL_ALIASES})
# Values kept of one array in span and log attributes.
MAX_ARRAY_VALUES = 100
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
# JSON escapes that can decode to a NUL or to a lone surrogate half.
NEEDS_CLEANING = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]")


def clean_text(text: str) -> str:
    # Lone surrogate halves cannot be encoded as UTF-8 (nor stored); NULs not in PostgreSQL.
    if text.isascii():
        # No surrogates in ASCII; the usual case answered without a regex substitution.
        return text.replace("\x00", "") if "\x00" in text else text
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def clean_json(value: Any) -> Any:
    """What PostgreSQL's jsonb cannot hold, made storable: NaN and ±Infinity (which raven and
    sentry-python may emit) become None, NUL characters are removed from strings and keys,
    and lone surrogate halves become U+FFFD."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


def load_json(
    data: bytes, *, error: Callable[[str], Exception], expect: type | None = None, what: str = ""
) -> Any:
    """The JSON of a request body; `error(message)` is raised for bytes that are not JSON (with
    Python's NaN and Infinity, which raven and sentry-python may send), or not an `expect`."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise error(f"invalid JSON data: {exc}") from None
    if expect is not None and not isinstance(value, expect):
        raise error(f"invalid JSON data: expected {what}")
    return value


def parse_timestamp(value: Any) -> datetime | None:
    """An aware UTC datetime from unix seconds or an ISO 8601 string (no zone = UTC); None for
    anything else, also for moments that do not fit Python's datetime once in UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            try:
                return datetime.fromtimestamp(float(value), tz=UTC)
            except (ValueError, OverflowError, OSError):
                return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        try:
            # In UTC here, or year 1 / 9999 with an offset would overflow when saved.
            return parsed.astimezone(UTC)
        except OverflowError:
            return None
    return None


def normalize_level(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return _NUMERIC_LEVELS.get(value)
    if isinstance(value, str):
        if is_number(value):
            # No level has more digits; Python refuses to read past 4,300.
            return _NUMERIC_LEVELS.get(int(value)) if len(value) <= 3 else None
        value = _LEVEL_ALIASES.get(value, value)
        return value if value in LEVELS else None
    return None


def string_field(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] if value else None


def normalize_tags(tags: Any) -> list[list[str]]:
    """A list of [key, value] pairs, from an object or pairs, cleaned as Relay does."""
    if isinstance(tags, dict):
        pairs = list(tags.items())
    elif isinstance(tags, list):
        pairs = [tuple(pair) for pair in tags if isinstance(pair, list | tuple) and len(pair) == 2]
    else:
        return []
    seen = set()
    result = []
    for raw_key, raw_value in pairs:
        key = string_field(raw_key, 200)
        value = string_field(raw_value, 200)
        if not key or value is None or "\n" in value:
            continue
        key = _TAG_KEY_BAD_CHARS.sub("", key.replace(" ", "-"))
        if not key or key in seen or key in _REMOVED_TAG_KEYS:
            continue
        seen.add(key)
        result.append([key, value])
    return result


# One %-conversion: an optional mapping key, flags, width, precision, length modifier, type.
_PERCENT = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?(?P<flags>[-+ #0]*)(?P<width>\d+|\*)?"
    r"(?:\.(?P<precision>\d+|\*))?[hlL]?(?P<type>.?)",
    re.DOTALL,
)
_PERCENT_TYPES = frozenset("diouxXeEfFgGcrsa")
_BRACE_CONVERSIONS = {None: str, "s": str, "r": repr, "a": ascii}
_FORMATTER = string.Formatter()


class _Unformattable(Exception):
    """The template and its params do not make a message: the template is kept as it is."""


class _Capped:
    """Formatted pieces, cut at `limit` characters: repeated conversions of a long param
    (`"%(a)s" * 2000`) cannot make more text than one message holds."""

    def __init__(self, limit: int) -> None:
        self.pieces: list[str] = []
        self.room = limit

    def add(self, text: str) -> bool:
        """False once the limit is reached: nothing more needs formatting."""
        self.pieces.append(text[: self.room])
        self.room -= len(self.pieces[-1])
        return self.room > 0

    def text(self) -> str:
        return "".join(self.pieces)


def format_logentry(message: str, params: Any, *, max_chars: int = MAX_MESSAGE_CHARS) -> str:
    """`%s`-style (Python) or `{}`-style (Java) formatting with the SDK's params, at most
    `max_chars` long. Templates with widths, precisions, format specs, attribute or index
    lookups, or params that do not fit them, are left as they are: the text is the SDK's, the
    params its data, and neither may make the server build a gigabyte or read attributes."""
    try:
        if isinstance(params, list | tuple) and params:
            if "%" in message:
                return _format_percent(message, list(params), max_chars)
            if "{" in message:
                return _format_braces(message, list(params), max_chars)
        if isinstance(params, dict) and params and "%(" in message:
            return _format_percent(message, params, max_chars)
    except (_Unformattable, RecursionError):  # RecursionError: str() of a param nested ~1000 deep
        pass
    return message[:max_chars]


def _format_percent(message: str, params: list[Any] | dict[str, Any], max_chars: int) -> str:
    out = _Capped(max_chars)
    position = 0
    used = 0
    for match in _PERCENT.finditer(message):
        if not out.add(message[position : match.start()]):
            return out.text()
        position = match.end()
        kind, name = match["type"], match["name"]
        if kind == "%" and name is None and match.group() == "%%":
            if not out.add("%"):
                return out.text()
            continue
        if kind not in _PERCENT_TYPES or match["width"] or match["precision"]:
            raise _Unformattable
        if isinstance(params, dict):
            if name is None or name not in params:
                raise _Unformattable
            value = params[name]
        else:
            if name is not None or used >= len(params):
                raise _Unformattable
            value = params[used]
            used += 1
        try:
            text = ("%" + match["flags"] + kind) % (value,)
        except (TypeError, ValueError, OverflowError):
            raise _Unformattable from None
        if not out.add(text):
            return out.text()
    if isinstance(params, list) and used != len(params):
        raise _Unformattable  # as Python's "not all arguments converted"
    out.add(message[position:])
    return out.text()


def _format_braces(message: str, params: list[Any], max_chars: int) -> str:
    out = _Capped(max_chars)
    automatic = None
    next_index = 0
    try:
        parsed = list(_FORMATTER.parse(message))
    except ValueError:
        raise _Unformattable from None
    for literal, field, spec, conversion in parsed:
        if not out.add(literal):
            return out.text()
        if field is None:
            continue
        if spec or conversion not in _BRACE_CONVERSIONS:
            raise _Unformattable
        if field == "":
            if automatic is False:
                raise _Unformattable
            automatic, index = True, next_index
            next_index += 1
        elif field.isdecimal() and field.isascii() and len(field) < 5:
            if automatic is True:
                raise _Unformattable
            automatic, index = False, int(field)
        else:
            raise _Unformattable  # named fields, attribute and index lookups
        if index >= len(params):
            raise _Unformattable
        if not out.add(_BRACE_CONVERSIONS[conversion](params[index])):
            return out.text()
    return out.text()


# What JSON decodes to that never needs trimming (nor scrubbing, but for a sensitive key).
SCALAR_TYPES = frozenset({int, float, bool, type(None)})


def trim_databag(value: Any, depth: int = 0, *, max_chars: int | None = MAX_STRING_CHARS) -> Any:
    """Cut free-form data (extra, vars, request bodies) to Relay-like depth and length
    (strings are left whole with `max_chars=None`)."""
    if isinstance(value, dict):
        if depth >= MAX_DATABAG_DEPTH:
            return "..."
        # No call for the scalars and short strings that most values are.
        limit = sys.maxsize if max_chars is None else max_chars
        trimmed = {}
        for key, item in value.items():
            kind = type(item)
            if kind not in SCALAR_TYPES and not (kind is str and len(item) <= limit):
                item = _trimmed(item, depth + 1, max_chars)
            trimmed[key if type(key) is str else str(key)] = item
        return trimmed
    if isinstance(value, list):
        if depth >= MAX_DATABAG_DEPTH:
            return "..."
        return [_trimmed(item, depth + 1, max_chars) for item in value]
    return _trimmed(value, depth, max_chars)


def _trimmed(value: Any, depth: int, max_chars: int | None) -> Any:
    if isinstance(value, str):
        if max_chars is None or len(value) <= max_chars:
            return value
        return value[: max_chars - 3] + "..."
    if isinstance(value, dict | list):
        return trim_databag(value, depth, max_chars=max_chars)
    return value
