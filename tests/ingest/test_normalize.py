"""Event normalization as Relay does it (reference §5)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from ingest.normalize import (
    MAX_DATABAG_DEPTH,
    MAX_MESSAGE_CHARS,
    MAX_STRING_CHARS,
    clean_json,
    clean_text,
    format_logentry,
    normalize_event,
    normalize_level,
    normalize_tags,
    parse_timestamp,
    trim_databag,
)

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
RECEIVED = datetime(2025, 11, 22, 12, 0, tzinfo=UTC)
MOMENT = datetime(2011, 5, 2, 17, 41, 36, tzinfo=UTC)


def normalize(payload: dict, **kwargs) -> dict:
    return normalize_event(payload, event_id=EVENT_ID, received=RECEIVED, **kwargs)


def seconds(moment: datetime) -> float:
    return moment.timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10, "debug"),
        (20, "info"),
        (30, "warning"),
        (40, "error"),
        (50, "fatal"),
        ("debug", "debug"),
        ("info", "info"),
        ("warning", "warning"),
        ("error", "error"),
        ("fatal", "fatal"),
        ("log", "info"),
        ("critical", "fatal"),
    ],
)
def test_valid_levels(value, expected):
    assert normalize_level(value) == expected
    assert normalize({"level": value, "message": "m"})["level"] == expected


@pytest.mark.parametrize("value", ["warn", "ERROR", "Info", 35, 0, "", True, 4.5, ["error"]])
def test_invalid_levels(value):
    assert normalize_level(value) is None


@pytest.mark.parametrize("value", ["warn", "ERROR", 35])
def test_invalid_level_becomes_error_with_an_error_entry(value):
    event = normalize({"level": value, "message": "m"})
    assert event["level"] == "error"
    errors = [(entry.get("type"), entry.get("name")) for entry in event.get("errors", [])]
    assert errors == [("invalid_data", "level")], event.get("errors")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"message": "m"}, "error"),
        ({"type": "transaction", "start_timestamp": 1.0}, "info"),
    ],
)
def test_default_level(payload, expected):
    assert normalize(payload)["level"] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2011-05-02T17:41:36Z", MOMENT),
        ("2011-05-02T17:41:36", MOMENT),
        ("2011-05-02T17:41:36.000", MOMENT),
        ("2011-05-02T17:41:36.500Z", MOMENT + timedelta(milliseconds=500)),
        ("2011-05-02T19:41:36+02:00", MOMENT),
        ("2011-05-02T17:41:36+00:00", MOMENT),
        (1304358096, MOMENT),
        (1304358096.25, MOMENT + timedelta(milliseconds=250)),
    ],
)
def test_parse_timestamp(value, expected):
    parsed = parse_timestamp(value)
    assert parsed == expected, parsed
    assert parsed.tzinfo is not None


@pytest.mark.parametrize("value", [None, True, "yesterday", "", {}, [], 1e20])
def test_unparseable_timestamp(value):
    assert parse_timestamp(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "2025-11-22T11:59:00Z",
        "2025-11-22T11:59:00",
        "2025-11-22T12:59:00+01:00",
        1763812740,
        1763812740.0,
    ],
)
def test_event_timestamp_becomes_unix_float(value):
    event = normalize({"message": "m", "timestamp": value})
    assert event["timestamp"] == seconds(RECEIVED - timedelta(minutes=1)), event["timestamp"]
    assert event["received"] == seconds(RECEIVED)
    assert "errors" not in event, event["errors"]


def test_missing_timestamp_is_received_time():
    event = normalize({"message": "m"})
    assert event["timestamp"] == event["received"] == seconds(RECEIVED)


def test_future_timestamp_is_clamped_and_breadcrumbs_shift_with_it():
    event = normalize(
        {
            "message": "m",
            "timestamp": seconds(RECEIVED + timedelta(seconds=120)),
            "breadcrumbs": [
                {"message": "b", "timestamp": seconds(RECEIVED + timedelta(seconds=110))}
            ],
        }
    )
    assert event["timestamp"] == seconds(RECEIVED)
    crumb = event["breadcrumbs"]["values"][0]
    assert crumb["timestamp"] == seconds(RECEIVED - timedelta(seconds=10)), crumb
    assert {"type": "future_timestamp"} in event["errors"], event["errors"]


def test_slightly_future_timestamp_is_kept():
    timestamp = seconds(RECEIVED + timedelta(seconds=59))
    event = normalize({"message": "m", "timestamp": timestamp})
    assert event["timestamp"] == timestamp
    assert "errors" not in event


def test_timestamp_older_than_90_days_becomes_received_time():
    event = normalize(
        {
            "message": "m",
            "timestamp": seconds(RECEIVED - timedelta(days=91)),
            "breadcrumbs": [{"message": "b", "timestamp": seconds(RECEIVED - timedelta(days=92))}],
        }
    )
    assert event["timestamp"] == seconds(RECEIVED)
    assert event["breadcrumbs"]["values"][0]["timestamp"] == seconds(RECEIVED - timedelta(days=1))
    assert {"type": "past_timestamp"} in event["errors"], event["errors"]


def test_timestamp_89_days_old_is_kept():
    timestamp = seconds(RECEIVED - timedelta(days=89))
    event = normalize({"message": "m", "timestamp": timestamp})
    assert event["timestamp"] == timestamp
    assert "errors" not in event


@pytest.mark.parametrize(
    "drift",
    [
        timedelta(minutes=55),
        timedelta(hours=2),
        -timedelta(minutes=55),
        -timedelta(hours=3),
    ],
    ids=["55-min-behind", "2-h-behind", "55-min-ahead", "3-h-ahead"],
)
def test_clock_drift_of_55_minutes_or_more_shifts_all_timestamps(drift):
    # The client's clock is `drift` behind the server's (negative: ahead).
    client_now = RECEIVED - drift
    event = normalize(
        {
            "type": "transaction",
            "timestamp": seconds(client_now - timedelta(seconds=5)),
            "start_timestamp": seconds(client_now - timedelta(seconds=8)),
            "breadcrumbs": [
                {"message": "b", "timestamp": seconds(client_now - timedelta(seconds=7))}
            ],
            "spans": [
                {
                    "span_id": "b8e4f2a1c9d07e35",
                    "start_timestamp": seconds(client_now - timedelta(seconds=7)),
                    "timestamp": seconds(client_now - timedelta(seconds=6)),
                }
            ],
        },
        sent_at=client_now.isoformat().replace("+00:00", "Z"),
    )
    assert event["timestamp"] == pytest.approx(seconds(RECEIVED - timedelta(seconds=5)))
    assert event["start_timestamp"] == pytest.approx(seconds(RECEIVED - timedelta(seconds=8)))
    crumb = event["breadcrumbs"]["values"][0]
    assert crumb["timestamp"] == pytest.approx(seconds(RECEIVED - timedelta(seconds=7)))
    span = event["spans"][0]
    assert span["start_timestamp"] == pytest.approx(seconds(RECEIVED - timedelta(seconds=7)))
    assert span["timestamp"] == pytest.approx(seconds(RECEIVED - timedelta(seconds=6)))
    assert "errors" not in event, event["errors"]


@pytest.mark.parametrize(
    "drift",
    [timedelta(minutes=54, seconds=59), timedelta(minutes=30), -timedelta(minutes=54)],
    ids=["just-under-55-min", "30-min-behind", "54-min-ahead"],
)
def test_clock_drift_under_55_minutes_changes_nothing(drift):
    client_now = RECEIVED - drift
    timestamp = seconds(client_now - timedelta(minutes=60))
    crumb_timestamp = seconds(client_now - timedelta(minutes=61))
    event = normalize(
        {
            "message": "m",
            "timestamp": timestamp,
            "breadcrumbs": [{"message": "b", "timestamp": crumb_timestamp}],
        },
        sent_at=seconds(client_now),
    )
    assert event["timestamp"] == timestamp
    assert event["breadcrumbs"]["values"][0]["timestamp"] == crumb_timestamp


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"a": "b", "c": "d"}, [["a", "b"], ["c", "d"]]),
        ([["a", "b"], ["c", "d"]], [["a", "b"], ["c", "d"]]),
        ([("a", "b")], [["a", "b"]]),
        ({"my key": "v"}, [["my-key", "v"]]),
        ({"n": 1, "f": 1.5}, [["n", "1"], ["f", "1.5"]]),
        ({"multi": "line\nvalue", "ok": "x"}, [["ok", "x"]]),
        ([["a", "first"], ["a", "second"]], [["a", "first"]]),
        (
            {"release": "1", "dist": "2", "user": "3", "filename": "4", "function": "5", "x": "6"},
            [["x", "6"]],
        ),
        (None, []),
        ("a=b", []),
    ],
    ids=[
        "object",
        "pairs",
        "tuple-pairs",
        "space-in-key",
        "numbers",
        "newline-in-value",
        "duplicate",
        "removed-keys",
        "none",
        "string",
    ],
)
def test_normalize_tags(tags, expected):
    assert normalize_tags(tags) == expected


def test_tags_are_stored_as_pairs():
    assert normalize({"message": "m", "tags": {"a": "b"}})["tags"] == [["a", "b"]]
    assert normalize({"message": "m"})["tags"] == []


def test_server_name_is_moved_into_tags():
    event = normalize({"message": "m", "server_name": "web-1", "tags": {"a": "b"}})
    assert "server_name" not in event
    assert event["tags"] == [["a", "b"], ["server_name", "web-1"]]


def test_environment_tag_moves_to_the_top_level():
    event = normalize({"message": "m", "tags": {"environment": "production", "a": "b"}})
    assert event["environment"] == "production"
    assert event["tags"] == [["a", "b"]]


def test_top_level_environment_wins_over_the_tag():
    event = normalize({"message": "m", "environment": "staging", "tags": [["environment", "prod"]]})
    assert event["environment"] == "staging"
    assert event["tags"] == []


def test_release_tag_is_removed():
    event = normalize({"message": "m", "release": "app@1.0", "tags": {"release": "other"}})
    assert event["release"] == "app@1.0"
    assert event["tags"] == []


def test_message_string_becomes_logentry_formatted():
    event = normalize({"message": "hello %s world"})
    assert event["logentry"] == {"formatted": "hello %s world"}
    assert "message" not in event
    assert event["type"] == "default"


def test_logentry_string():
    assert normalize({"logentry": "plain"})["logentry"] == {"formatted": "plain"}


@pytest.mark.parametrize(
    ("logentry", "expected"),
    [
        (
            {"message": "hello %s", "params": ["world"]},
            {"message": "hello %s", "formatted": "hello world", "params": ["world"]},
        ),
        (
            {"message": "{} of {}", "params": ["a", 3]},
            {"message": "{} of {}", "formatted": "a of 3", "params": ["a", 3]},
        ),
        (
            {"message": "Payment %s", "params": ["x"], "formatted": "Payment X"},
            {"message": "Payment %s", "formatted": "Payment X", "params": ["x"]},
        ),
        ({"message": "no params"}, {"formatted": "no params"}),
    ],
    ids=["percent", "braces", "sdk-formatted-kept", "no-params"],
)
def test_logentry_params_are_formatted(logentry, expected):
    assert normalize({"logentry": logentry})["logentry"] == expected


@pytest.mark.parametrize(
    ("message", "params", "expected"),
    [
        ("hello %s", ["x"], "hello x"),
        ("%s failed after %d retries", ["ORD-1", 3], "ORD-1 failed after 3 retries"),
        ("%(name)s is %(age)d", {"name": "Ann", "age": 7}, "Ann is 7"),
        ("{} of {}", ["a", 3], "a of 3"),
        ("{0} again", ["b"], "b again"),
        ("hello %s", [], "hello %s"),
        ("hello %s", None, "hello %s"),
        ("%s and %s", ["only one"], "%s and %s"),
        ("{} and {}", ["only one"], "{} and {}"),
        ("plain", ["unused"], "plain"),
        ("{1} before {0}", ["a", "b"], "b before a"),
        ("%+d %#x % d %#o", [5, 255, 5, 8], "+5 0xff  5 0o10"),
        ("{0!r} is not {1!s}", ["a", 1], "'a' is not 1"),
        ("100%% of %s", ["x"], "100% of x"),
        ("100% done", ["x"], "100% done"),
        ("{{literal}} {}", ["x"], "{literal} x"),
        ("json {'a': 1}", ["x"], "json {'a': 1}"),
        # Found by fuzzing the live server: nested widths made gigabytes, lookups read
        # attributes, and these raised out of the digest.
        ("{0:{1}}", ["x", 1_000_000_000], "{0:{1}}"),
        ("{0} {0.foo}", ["x"], "{0} {0.foo}"),
        ("{0.__class__.__mro__}", ["x"], "{0.__class__.__mro__}"),
        ("{0[x]}", ["s"], "{0[x]}"),
        ("{} {0}", ["a", "b"], "{} {0}"),
        ("{name}", ["a"], "{name}"),
        ("%(a)c", {"a": 99_999_999}, "%(a)c"),
        ("%c", [99_999_999], "%c"),
        ("%d", ["not a number"], "%d"),
        ("%500000000s", ["x"], "%500000000s"),
        ("%(a)s and %s", {"a": 1}, "%(a)s and %s"),
        ("%s", ["a", "b"], "%s"),
    ],
)
def test_format_logentry(message, params, expected):
    assert format_logentry(message, params) == expected


@pytest.mark.parametrize(
    ("message", "params"),
    [
        ("{0}" * 2000, ["B" * 500]),
        ("%(a)s" * 2000, {"a": "B" * 500}),
        ("%s" * 2000, ["B" * 500] * 2000),
    ],
)
def test_a_formatted_message_is_at_most_a_message_long(message, params):
    assert format_logentry(message, params) == ("B" * 500 * 2000)[:MAX_MESSAGE_CHARS]


def test_scrubbing_formats_the_message_again_within_the_limit():
    from ingest.scrubbing import scrub_event, scrubber_for

    event = normalize({"logentry": {"message": "{0}" * 2000, "params": ["password=x" * 50]}})
    scrub_event(
        event, scrubber_for(defaults=True, sensitive_fields=[], safe_fields=[], scrub_ips=False)
    )
    assert len(event["logentry"]["formatted"]) == MAX_MESSAGE_CHARS


def test_raven_message_interface_alias():
    # raven 6.10.0 captureMessage("hello %s", params=("x",)), as observed on the wire (§5.2).
    event = normalize(
        {
            "message": "hello %s",
            "sentry.interfaces.Message": {
                "message": "hello %s",
                "params": ["'x'"],
                "formatted": None,
            },
            "level": 40,
            "timestamp": "2025-11-22T11:59:00Z",
        }
    )
    assert event["logentry"]["formatted"] == "hello 'x'", event["logentry"]
    assert event["logentry"]["message"] == "hello %s", event["logentry"]
    assert event["level"] == "error"
    assert "sentry.interfaces.Message" not in event
    assert "sentry.interfaces.Message" not in event["extra"]


def test_exception_as_bare_list():
    event = normalize({"exception": [{"type": "ValueError", "value": "bad"}]})
    assert event["exception"] == {"values": [{"type": "ValueError", "value": "bad"}]}
    assert event["type"] == "error"


def test_legacy_exception_interface_alias():
    event = normalize({"sentry.interfaces.Exception": {"values": [{"type": "E", "value": "v"}]}})
    assert event["exception"] == {"values": [{"type": "E", "value": "v"}]}
    assert event["type"] == "error"


@pytest.mark.parametrize(
    "breadcrumbs",
    [
        [{"message": "clicked", "timestamp": 1763812740.0}],
        {"values": [{"message": "clicked", "timestamp": 1763812740.0}]},
    ],
    ids=["list", "values"],
)
def test_breadcrumbs_get_values_and_defaults(breadcrumbs):
    event = normalize({"message": "m", "breadcrumbs": breadcrumbs})
    assert event["breadcrumbs"] == {
        "values": [
            {"message": "clicked", "timestamp": 1763812740.0, "type": "default", "level": "info"}
        ]
    }


def test_breadcrumb_type_and_level_are_kept():
    crumb = {"message": "q", "type": "http", "level": "warning", "category": "httplib"}
    event = normalize({"message": "m", "breadcrumbs": [crumb]})
    assert event["breadcrumbs"]["values"] == [crumb]


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("python", "python"), ("node", "node"), ("cobol", "other"), (None, "other"), (7, "other")],
)
def test_platform(platform, expected):
    payload = {"message": "m"} if platform is None else {"message": "m", "platform": platform}
    assert normalize(payload)["platform"] == expected


def test_sdk_from_client():
    event = normalize({"message": "m"}, client="raven-python/6.10.0")
    assert event["sdk"] == {"name": "raven-python", "version": "6.10.0"}


def test_sdk_from_payload_wins_over_client():
    sdk = {"name": "sentry.python", "version": "2.75.0"}
    assert normalize({"message": "m", "sdk": sdk}, client="raven-python/6.10.0")["sdk"] == sdk


def test_user_ip_address_auto_is_the_client_ip():
    event = normalize(
        {"message": "m", "user": {"id": "1", "ip_address": "{{auto}}"}}, client_ip="203.0.113.7"
    )
    assert event["user"] == {"id": "1", "ip_address": "203.0.113.7"}


def test_user_ip_address_is_kept_otherwise():
    event = normalize({"message": "m", "user": {"ip_address": "198.51.100.1"}}, client_ip="1.2.3.4")
    assert event["user"]["ip_address"] == "198.51.100.1"


def test_legacy_user_interface_alias():
    event = normalize({"message": "m", "sentry.interfaces.User": {"id": "42"}})
    assert event["user"] == {"id": "42"}


def test_non_sentry_json_becomes_a_message_with_its_keys_in_extra():
    payload = {
        "event_type": "user_login",
        "user_id": "12345",
        "metadata": {"ip_address": "192.168.1.1", "device": "mobile"},
    }
    event = normalize(payload)
    assert event["logentry"] == {"formatted": "user_login"}
    assert event["type"] == "default"
    assert event["level"] == "error"
    assert event["extra"] == payload
    for key in payload:
        assert key not in event, key


def test_unknown_keys_do_not_override_extra():
    event = normalize({"message": "m", "extra": {"foo": "mine"}, "foo": "other", "bar": 1})
    assert event["extra"] == {"foo": "mine", "bar": 1}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"exception": {"values": [{"type": "E"}]}}, "error"),
        ({"message": "m"}, "default"),
        ({"message": "m", "type": "error"}, "default"),
        ({"exception": [{"type": "E"}], "type": "default"}, "error"),
        ({"type": "transaction", "start_timestamp": 1.0}, "transaction"),
        ({"type": "feedback", "contexts": {"feedback": {"message": "hi"}}}, "feedback"),
        ({"csp": {"document_uri": "https://example.com"}}, "csp"),
    ],
    ids=[
        "exception",
        "message",
        "claimed-error",
        "claimed-default",
        "transaction",
        "feedback",
        "csp",
    ],
)
def test_event_type(payload, expected):
    assert normalize(payload)["type"] == expected


def test_event_id_is_32_lowercase_hex():
    event = normalize_event(
        {"message": "m"}, event_id="9EC79C33-EC99-42AB-8353-589FCB2E04DC", received=RECEIVED
    )
    assert event["event_id"] == EVENT_ID


def test_defaults_of_a_minimal_event():
    event = normalize({"message": "m"}, project_id=42)
    assert event["project"] == 42
    assert (event["platform"], event["level"], event["type"]) == ("other", "error", "default")
    assert (event["tags"], event["extra"]) == ([], {})


def test_clean_json():
    value = {
        "nan": float("nan"),
        "inf": [float("inf"), -math.inf, 1.5],
        "text\x00key": "a\x00b",
        "nested": {"deep": ["\x00", 3, None, True]},
    }
    assert clean_json(value) == {
        "nan": None,
        "inf": [None, None, 1.5],
        "textkey": "ab",
        "nested": {"deep": ["", 3, None, True]},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("a\x00b", "ab"),
        ("caf\u00e9\x00", "caf\u00e9"),
        ("lone \ud800 half", "lone \ufffd half"),
        ("\ud83d\x00\ude00", "\ufffd\ufffd"),
    ],
)
def test_clean_text(text, expected):
    assert clean_text(text) == expected


def nested(depth: int) -> dict | str:
    value: dict | str = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def test_trim_databag_keeps_data_within_the_depth_limit():
    assert trim_databag(nested(MAX_DATABAG_DEPTH)) == nested(MAX_DATABAG_DEPTH)


def test_trim_databag_cuts_deeper_containers():
    trimmed = trim_databag(nested(MAX_DATABAG_DEPTH + 3))
    for _ in range(MAX_DATABAG_DEPTH):
        trimmed = trimmed["k"]
    assert trimmed == "..."


def test_trim_databag_cuts_deep_lists():
    value: list | str = "leaf"
    for _ in range(MAX_DATABAG_DEPTH + 1):
        value = [value]
    trimmed = trim_databag(value)
    for _ in range(MAX_DATABAG_DEPTH):
        trimmed = trimmed[0]
    assert trimmed == "..."


@pytest.mark.parametrize(
    ("length", "expected_length", "cut"),
    [(MAX_STRING_CHARS, MAX_STRING_CHARS, False), (MAX_STRING_CHARS + 1, MAX_STRING_CHARS, True)],
)
def test_trim_databag_string_length(length, expected_length, cut):
    trimmed = trim_databag({"s": "x" * length})["s"]
    assert len(trimmed) == expected_length
    assert trimmed.endswith("...") is cut


def test_extra_is_trimmed_in_normalize_event():
    event = normalize({"message": "m", "extra": {"deep": nested(MAX_DATABAG_DEPTH + 2)}})
    trimmed = event["extra"]["deep"]
    for _ in range(MAX_DATABAG_DEPTH - 1):
        trimmed = trimmed["k"]
    assert trimmed == "..."


def test_non_ascii_digit_level_is_invalid_not_an_error():
    assert normalize_level("²") is None
