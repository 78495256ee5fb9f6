"""The readers every digester shares: payload JSON, strings, ids, timestamps, attributes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ingest.digesters.values import (
    InvalidItem,
    flat_attributes,
    load_object,
    moment,
    text,
    uuid_or_none,
)
from ingest.models import QueuedItem
from ingest.normalize import parse_timestamp

RECEIVED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _row(body: bytes) -> QueuedItem:
    return QueuedItem(type="log", payload=QueuedItem.pack(body), received=RECEIVED)


def _nested(depth: int, leaf):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_load_object_cleans_what_postgres_cannot_store():
    raw = b'{"a": NaN, "b": Infinity, "c": -Infinity, "d": "x\\u0000y\\ud800", "e\\u0000": 1}'
    assert load_object(_row(raw), "r") == {"a": None, "b": None, "c": None, "d": "xy\ufffd", "e": 1}


@pytest.mark.parametrize(("raw", "reason"), [(b"[1]", "r"), (b"{", "invalid_json")])
def test_load_object_refuses_what_is_not_an_object(raw, reason):
    with pytest.raises(InvalidItem) as caught:
        load_object(_row(raw), "r")
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  a\x00b\ud800 ", "ab\ufffd"),
        (5, "5"),
        (["x"], ""),
        ({"a": 1}, ""),
        (True, ""),
        (None, ""),
    ],
)
def test_text_is_storable(value, expected):
    assert text(value, 10) == expected


def test_text_without_numbers():
    assert text(5, 10, numbers=False) == ""


@pytest.mark.parametrize("value", [5, ["x"], None, "nope", {"a": 1}])
def test_uuid_or_none_refuses_non_uuids(value):
    assert uuid_or_none(value) is None


def test_uuid_or_none_reads_hex():
    value = uuid.uuid4()
    assert uuid_or_none(value.hex) == value


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", 1e300, "1e300", float("nan")],
)
def test_parse_timestamp_refuses_what_does_not_fit_in_utc(value):
    assert parse_timestamp(value) is None


def test_parse_timestamp_is_in_utc():
    parsed = parse_timestamp("2026-11-22T13:00:00+01:00")
    assert (parsed, parsed.tzinfo) == (RECEIVED, UTC)


@pytest.mark.parametrize(
    ("shift", "is_valid"),
    [
        (timedelta(days=-30, seconds=1), True),
        (timedelta(days=-30, seconds=-1), False),
        (timedelta(seconds=60), True),
        (timedelta(seconds=61), False),
    ],
)
def test_moment_is_bounded_as_relay_bounds_spans_and_logs(shift, is_valid):
    value = (RECEIVED + shift).isoformat()
    if is_valid:
        assert moment(value, drift=timedelta(0), received=RECEIVED) == RECEIVED + shift
    else:
        with pytest.raises(InvalidItem, match="out of range"):
            moment(value, drift=timedelta(0), received=RECEIVED)


def test_deep_attributes_are_cut():
    flat = flat_attributes({"list": _nested(2000, 1), "dict": {"a": _nested(2000, 1)}}, typed=False)
    assert isinstance(flat["list"], list)
    assert "..." in flat["dict"]
