"""Server-side data scrubbing of sensitive keys, headers, cookies and card numbers."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from ingest.normalize import normalize_event
from ingest.scrubbing import FILTERED, MAX_SCRUB_DEPTH, scrub_event, scrubber_for

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "events" / "python_exception.json"
RECEIVED = datetime(2025, 11, 22, 12, 0, tzinfo=UTC)
CARD = "4111 1111 1111 1111"  # Luhn-valid test Visa number
NOT_A_CARD = "4111 1111 1111 1112"  # same shape, fails the Luhn check


def scrubber(*, defaults=True, sensitive_fields=(), safe_fields=(), scrub_ips=False):
    return scrubber_for(
        defaults=defaults,
        sensitive_fields=list(sensitive_fields),
        safe_fields=list(safe_fields),
        scrub_ips=scrub_ips,
    )


def scrubbed(event: dict, **settings) -> dict:
    event = copy.deepcopy(event)
    scrub_event(event, scrubber(**settings))
    return event


@pytest.fixture
def python_event():
    payload = json.loads(FIXTURE.read_text())
    return normalize_event(payload, event_id="9ec79c33ec9942ab8353589fcb2e04dc", received=RECEIVED)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password",
        "confirm_password",
        "db_secret",
        "access_token",
        "API_KEY",
        "apikey",
        "passwd",
        "credentials",
        "private_key",
        "sessionid",
        "csrftoken",
        "X-Api-Key",
    ],
)
def test_sensitive_keys_are_filtered(key):
    event = scrubbed({"extra": {key: "s3cr3t", "page": 2}})
    assert event["extra"] == {key: FILTERED, "page": 2}


def test_sensitive_keys_at_any_depth():
    event = scrubbed(
        {
            "extra": {
                "config": {"database": {"password": "pw", "host": "db"}},
                "accounts": [{"name": "a", "api_token": "t1"}, {"name": "b", "secret": "t2"}],
            }
        }
    )
    assert event["extra"] == {
        "config": {"database": {"password": FILTERED, "host": "db"}},
        "accounts": [{"name": "a", "api_token": FILTERED}, {"name": "b", "secret": FILTERED}],
    }


def test_sensitive_key_holding_a_structure_is_filtered_whole():
    event = scrubbed({"extra": {"credentials": {"user": "u", "pass": "p"}}})
    assert event["extra"] == {"credentials": FILTERED}


@pytest.mark.parametrize("value", [None, ""])
def test_empty_sensitive_values_stay_empty(value):
    assert scrubbed({"extra": {"password": value}})["extra"] == {"password": value}


def test_frame_vars_breadcrumb_data_contexts_and_user_data_are_scrubbed():
    event = scrubbed(
        {
            "exception": {
                "values": [
                    {"type": "E", "stacktrace": {"frames": [{"vars": {"password": "x", "n": 1}}]}}
                ]
            },
            "stacktrace": {"frames": [{"vars": {"token": "x"}}]},
            "threads": {"values": [{"stacktrace": {"frames": [{"vars": {"secret": "x"}}]}}]},
            "breadcrumbs": {"values": [{"data": {"auth": "x", "url": "/a"}}]},
            "contexts": {"app": {"api_key": "x", "name": "shop"}},
            "user": {"id": "1", "data": {"session": "x"}},
        }
    )
    assert event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"] == {
        "password": FILTERED,
        "n": 1,
    }
    assert event["stacktrace"]["frames"][0]["vars"] == {"token": FILTERED}
    assert event["threads"]["values"][0]["stacktrace"]["frames"][0]["vars"] == {"secret": FILTERED}
    assert event["breadcrumbs"]["values"][0]["data"] == {"auth": FILTERED, "url": "/a"}
    assert event["contexts"] == {"app": {"api_key": FILTERED, "name": "shop"}}
    assert event["user"] == {"id": "1", "data": {"session": FILTERED}}


def test_headers_as_object():
    event = scrubbed(
        {
            "request": {
                "headers": {
                    "Authorization": "Bearer abc",
                    "Cookie": "sessionid=abc",
                    "X-Api-Key": "k",
                    "Accept": "application/json",
                }
            }
        }
    )
    assert event["request"]["headers"] == {
        "Authorization": FILTERED,
        "Cookie": FILTERED,
        "X-Api-Key": FILTERED,
        "Accept": "application/json",
    }


def test_headers_as_pairs():
    event = scrubbed(
        {
            "request": {
                "headers": [
                    ["Authorization", "Bearer abc"],
                    ["Cookie", "sessionid=abc"],
                    ["Accept", "application/json"],
                ]
            }
        }
    )
    assert event["request"]["headers"] == [
        ["Authorization", FILTERED],
        ["Cookie", FILTERED],
        ["Accept", "application/json"],
    ]


def test_cookies():
    event = scrubbed(
        {"request": {"cookies": {"sessionid": "abc", "csrftoken": "def", "theme": "dark"}}}
    )
    assert event["request"]["cookies"] == {
        "sessionid": FILTERED,
        "csrftoken": FILTERED,
        "theme": "dark",
    }


def test_cookies_as_pairs():
    event = scrubbed({"request": {"cookies": [["sessionid", "abc"], ["theme", "dark"]]}})
    assert event["request"]["cookies"] == [["sessionid", FILTERED], ["theme", "dark"]]


def test_request_data_and_env():
    event = scrubbed(
        {
            "request": {
                "data": {"username": "ann", "password": "x"},
                "env": {"SECRET_KEY": "x", "SERVER_NAME": "web"},
            }
        }
    )
    assert event["request"]["data"] == {"username": "ann", "password": FILTERED}
    assert event["request"]["env"] == {"SECRET_KEY": FILTERED, "SERVER_NAME": "web"}


@pytest.mark.parametrize("query_string", ["?password=x&page=2", "password=x&page=2"])
def test_query_string(query_string):
    # Relay stores query_string without its leading "?" (protocol/request.rs `Query`); either
    # spelling must come back as the same two pairs, the password filtered.
    result = scrubbed({"request": {"query_string": query_string}})["request"]["query_string"]
    assert parse_qsl(result.removeprefix("?"), keep_blank_values=True) == [
        ("password", FILTERED),
        ("page", "2"),
    ], result


def test_query_string_as_pairs():
    event = scrubbed({"request": {"query_string": [["token", "x"], ["page", "2"]]}})
    assert event["request"]["query_string"] == [["token", FILTERED], ["page", "2"]]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (CARD, FILTERED),
        ("4111111111111111", FILTERED),
        ("4111-1111-1111-1111", FILTERED),
        (f"paid with {CARD} today", f"paid with {FILTERED} today"),
        ("5500 0000 0000 0004", FILTERED),
        ("378282246310005", FILTERED),
        (NOT_A_CARD, NOT_A_CARD),
        ("4111111111111112", "4111111111111112"),
        ("order 12345 of 2025", "order 12345 of 2025"),
        ("\u0664" + "\u0661" * 15, FILTERED),  # 4111111111111111 in Arabic-Indic digits
        (f"paid € 12 with {CARD}", f"paid € 12 with {FILTERED}"),
    ],
    ids=[
        "spaced",
        "plain",
        "dashed",
        "in-text",
        "mastercard",
        "amex",
        "spaced-not-luhn",
        "plain-not-luhn",
        "short-numbers",
        "arabic-indic-digits",
        "in-non-ascii-text",
    ],
)
def test_card_numbers_in_extra(value, expected):
    assert scrubbed({"extra": {"note": value}})["extra"] == {"note": expected}


def test_card_numbers_nested_in_extra():
    event = scrubbed({"extra": {"payments": [{"cards": [CARD, NOT_A_CARD]}]}})
    assert event["extra"] == {"payments": [{"cards": [FILTERED, NOT_A_CARD]}]}


def test_card_number_in_the_message():
    event = normalize_event(
        {"message": f"charge failed for card {CARD}"},
        event_id="9ec79c33ec9942ab8353589fcb2e04dc",
        received=RECEIVED,
    )
    scrub_event(event, scrubber())
    assert event["logentry"]["formatted"] == f"charge failed for card {FILTERED}"


def test_non_luhn_number_in_the_message_is_kept():
    event = {"logentry": {"formatted": f"invoice {NOT_A_CARD}"}}
    assert scrubbed(event)["logentry"]["formatted"] == f"invoice {NOT_A_CARD}"


def test_card_numbers_in_breadcrumb_messages_and_urls():
    event = scrubbed(
        {
            "breadcrumbs": {"values": [{"message": f"card {CARD}"}]},
            "request": {"url": "https://shop.example.com/pay/4111111111111111"},
        }
    )
    assert event["breadcrumbs"]["values"][0]["message"] == f"card {FILTERED}"
    assert event["request"]["url"] == f"https://shop.example.com/pay/{FILTERED}"


def test_safe_fields_exempt_a_key():
    event = scrubbed(
        {"extra": {"password_policy": "min 8 chars", "password": "x"}},
        safe_fields=["Password_Policy"],
    )
    assert event["extra"] == {"password_policy": "min 8 chars", "password": FILTERED}


def test_extra_sensitive_fields_are_added():
    event = scrubbed(
        {"extra": {"ssn": "078-05-1120", "my_iban": "DE89", "password": "x", "name": "Ann"}},
        sensitive_fields=["SSN", "iban", " "],
    )
    assert event["extra"] == {
        "ssn": FILTERED,
        "my_iban": FILTERED,
        "password": FILTERED,
        "name": "Ann",
    }


def test_defaults_off_keeps_default_fields():
    event = scrubbed(
        {"extra": {"password": "x", "ssn": "078-05-1120"}},
        defaults=False,
        sensitive_fields=["ssn"],
    )
    assert event["extra"] == {"password": "x", "ssn": FILTERED}


def test_defaults_off_keeps_headers():
    event = scrubbed({"request": {"headers": {"Authorization": "Bearer x"}}}, defaults=False)
    assert event["request"]["headers"] == {"Authorization": "Bearer x"}


def test_scrub_ip_addresses_removes_user_ip():
    event = {
        "user": {"id": "1", "ip_address": "203.0.113.45"},
        "request": {"env": {"REMOTE_ADDR": "203.0.113.45", "SERVER_PORT": "8000"}},
    }
    assert scrubbed(event, scrub_ips=True) == {
        "user": {"id": "1"},
        "request": {"env": {"SERVER_PORT": "8000"}},
    }


def test_ip_addresses_are_kept_by_default():
    event = {"user": {"id": "1", "ip_address": "203.0.113.45"}}
    assert scrubbed(event) == event


def test_python_fixture(python_event):
    event = scrubbed(python_event, scrub_ips=True)
    request = event["request"]
    assert request["data"]["confirm_password"] == FILTERED
    assert request["data"]["items"] == python_event["request"]["data"]["items"]
    assert request["headers"]["Authorization"] == FILTERED
    assert request["headers"]["Cookie"] == FILTERED
    assert request["headers"]["Host"] == "shop.example.com"
    assert request["cookies"] == {"sessionid": FILTERED, "csrftoken": FILTERED}
    assert request["query_string"] == "source=cart"
    assert "REMOTE_ADDR" not in request["env"]
    assert "ip_address" not in event["user"]
    assert event["user"]["email"] == "maria.keller@example.com"
    text = json.dumps(event)
    for secret in (
        "hunter2-fake-password",
        "fl_test_9a8b7c6d5e4f3a2b1c0d-not-a-real-token",
        "q8w7e6r5t4y3u2i1o0pfaketestsession",
        "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1GfakeCSRF",
    ):
        assert secret not in text, secret


def test_python_fixture_without_scrubbing_settings_keeps_secrets(python_event):
    event = scrubbed(python_event, defaults=False)
    assert event == python_event


def _scrubbed(event: dict) -> dict:
    from datetime import UTC, datetime

    from ingest.normalize import normalize_event
    from ingest.scrubbing import scrub_event, scrubber_for

    data = normalize_event(event, event_id="0" * 32, received=datetime.now(UTC))
    scrub_event(
        data, scrubber_for(defaults=True, sensitive_fields=[], safe_fields=[], scrub_ips=False)
    )
    return data


def test_review_gaps_are_scrubbed():
    data = _scrubbed(
        {
            "tags": {"api_token": "s3cr3t-tag", "browser": "Firefox"},
            "exception": {"values": [{"type": "E", "value": "card 4111 1111 1111 1111 refused"}]},
            "request": {"url": "https://shop.example.com/pay?password=hunter2&page=2"},
            "user": {"id": "7", "password": "pw"},
            "logentry": {"message": "login with %s", "params": [{"token": "abc"}]},
        }
    )
    assert dict(data["tags"])["api_token"] == "[Filtered]"
    assert dict(data["tags"])["browser"] == "Firefox"
    assert "4111" not in data["exception"]["values"][0]["value"]
    assert "hunter2" not in data["request"]["url"]
    assert data["request"]["url"].endswith("page=2")
    assert data["user"] == {"id": "7", "password": "[Filtered]"}
    assert data["logentry"]["params"] == [{"token": "[Filtered]"}]
    assert "abc" not in data["logentry"]["formatted"]


def _nested(depth: int, leaf):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_data_nested_beyond_the_depth_limit_is_cut_not_recursed():
    scrubbed = scrubber().value({"a": _nested(5000, {"password": "x"})})
    depth = 0
    value = scrubbed["a"]
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert value == "..."
    assert depth == MAX_SCRUB_DEPTH - 1
