from __future__ import annotations

import json

import pytest

from groups import jsoncodec


def test_loads_takes_python_nan_tokens():
    assert jsoncodec.loads(b'{"a": NaN, "b": 1}')["b"] == 1


@pytest.mark.parametrize(
    ("raw", "non_finite"),
    [
        (b'{"a": NaN}', True),
        (b'{"a": -Infinity}', True),
        (b'{"a": "NaN and Infinity in a string", "b": 1.5}', False),
    ],
)
def test_loads_noting_non_finite_says_when_the_tokens_were_parsed(raw, non_finite):
    assert jsoncodec.loads_noting_non_finite(raw)[1] is non_finite


def test_dumps_turns_nan_into_null():
    assert json.loads(jsoncodec.dumps({"a": float("nan")})) == {"a": None}


def test_dumps_keeps_integers_beyond_64_bits():
    big = 2**80
    assert json.loads(jsoncodec.dumps({"n": big})) == {"n": big}


def test_round_trip_of_unicode_and_nesting():
    value = {"msg": "naïve ✓", "nested": [{"k": [1, 2.5, None, True]}]}
    assert jsoncodec.loads(jsoncodec.dumps(value)) == value
