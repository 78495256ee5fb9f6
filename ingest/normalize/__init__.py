"""Normalizing what SDKs send before it is stored: whole events (`event`) and the field-level
helpers that events, spans, logs and API calls share (`fields`)."""

from ingest.normalize.event import (
    MAX_AGE,
    MAX_SECONDS_IN_FUTURE,
    MINIMUM_CLOCK_DRIFT,
    InvalidEvent,
    normalize_event,
)
from ingest.normalize.fields import (
    LEVELS,
    MAX_ARRAY_VALUES,
    MAX_DATABAG_DEPTH,
    MAX_MESSAGE_CHARS,
    MAX_STRING_CHARS,
    NEEDS_CLEANING,
    SCALAR_TYPES,
    clean_json,
    clean_text,
    format_logentry,
    load_json,
    normalize_level,
    normalize_tags,
    parse_timestamp,
    string_field,
    trim_databag,
)

__all__ = [
    "LEVELS",
    "MAX_AGE",
    "MAX_ARRAY_VALUES",
    "MAX_DATABAG_DEPTH",
    "MAX_MESSAGE_CHARS",
    "MAX_SECONDS_IN_FUTURE",
    "MAX_STRING_CHARS",
    "MINIMUM_CLOCK_DRIFT",
    "NEEDS_CLEANING",
    "SCALAR_TYPES",
    "InvalidEvent",
    "clean_json",
    "clean_text",
    "format_logentry",
    "load_json",
    "normalize_event",
    "normalize_level",
    "normalize_tags",
    "parse_timestamp",
    "string_field",
    "trim_databag",
]
