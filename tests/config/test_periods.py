"""config.api.periods: statsPeriod and start/end, kept where arithmetic and queries work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from config.api.periods import EARLIEST, LATEST, in_range, parse_period, period_start


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)), ("2w", timedelta(weeks=2))],
)
def test_periods_parse(raw, expected):
    assert parse_period(raw) == expected


@pytest.mark.parametrize("raw", ["", "24", "h", "1y", "1234567d", " 1h"])
def test_bad_periods_are_value_errors(raw):
    with pytest.raises(ValueError, match="statsPeriod"):
        parse_period(raw)


def test_moments_are_utc_and_bounded():
    plus_one = timezone(timedelta(hours=1))
    assert in_range(datetime(2026, 1, 1, 1, tzinfo=plus_one), "start") == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - naive start and end are UTC
    assert in_range(naive, "start") == datetime(2026, 1, 1, tzinfo=UTC)
    for moment in (datetime(1, 1, 1, tzinfo=plus_one), LATEST + timedelta(hours=1)):
        with pytest.raises(ValueError, match="out of range"):
            in_range(moment, "start")
    assert in_range(EARLIEST, "start") == EARLIEST


def test_a_period_reaching_before_the_earliest_moment_is_too_long():
    with pytest.raises(ValueError, match="too long"):
        period_start(datetime(2026, 1, 1, tzinfo=UTC), parse_period("999999w"))
