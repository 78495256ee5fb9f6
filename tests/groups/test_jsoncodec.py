from __future__ import annotations

import json

from groups import jsoncodec


def test_loads_takes_python_nan_tokens():
    assert jsoncodec.loads(b'{"a": NaN, "b": 1}')["b"] == 1


def test_dumps_turns_nan_into_null():
    assert json.loads(jsoncodec.dumps({"a": float("nan")})) == {"a": None}


def test_dumps_keeps_integers_beyond_64_bits():
    big = 2**80
    assert json.loads(jsoncodec.dumps({"n": big})) == {"n": big}


def test_round_trip_of_unicode_and_nesting():
    value = {"msg": "naïve ✓", "nested": [{"k": [1, 2.5, None, True]}]}
    assert jsoncodec.loads(jsoncodec.dumps(value)) == value
