"""Title, metadata and culprit of events, as Sentry derives them (reference §6.3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from groups.eventtypes import culprit_of, metadata_of, title_of, truncate
from ingest.normalize import normalize_event

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "events"


def title(event: dict) -> str:
    return title_of(event, metadata_of(event))


def error(exception: dict, **event) -> dict:
    return {"exception": {"values": [exception]}, **event}


def message(text: str) -> dict:
    return {"logentry": {"formatted": text}}


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 100, "short"),
        ("x" * 100, 100, "x" * 100),
        ("x" * 101, 100, "x" * 97 + "..."),
        ("abcdefghij", 5, "ab..."),
        ("", 10, ""),
    ],
)
def test_truncate(text, limit, expected):
    assert truncate(text, limit) == expected


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        ({"type": "ValueError", "value": "bad input"}, "ValueError: bad input"),
        ({"type": "KeyError", "value": "'sku'\nmore details"}, "KeyError: 'sku'"),
        (
            {"type": "KeyError", "value": "\n  first real line  \nsecond"},
            "KeyError: first real line",
        ),
        ({"type": "SystemExit"}, "SystemExit"),
        ({"type": "SystemExit", "value": ""}, "SystemExit"),
        ({"value": "no type given"}, "Error: no type given"),
    ],
    ids=["type-value", "first-line", "first-non-empty-line", "type-only", "empty-value", "no-type"],
)
def test_error_title(exception, expected):
    assert title(error(exception)) == expected


def test_error_title_truncates_the_value_to_100():
    value = "v" * 150
    result = title(error({"type": "ValueError", "value": value}))
    assert result == "ValueError: " + "v" * 97 + "...", result


def test_error_title_uses_the_last_exception():
    event = {
        "exception": {
            "values": [
                {"type": "OperationalError", "value": "cause"},
                {"type": "ValueError", "value": "raised"},
            ]
        }
    }
    assert title(event) == "ValueError: raised"


def test_error_metadata():
    event = error(
        {
            "type": "KeyError",
            "value": "'sku'",
            "stacktrace": {
                "frames": [
                    {"filename": "shop/views.py", "function": "post"},
                    {"filename": "shop/services.py", "function": "build_items"},
                    {"filename": "shop/services.py", "function": "<anonymous>"},
                ]
            },
        }
    )
    assert metadata_of(event) == {
        "type": "KeyError",
        "value": "'sku'",
        "filename": "shop/services.py",
        "function": "build_items",
    }


def test_error_metadata_limits():
    event = error({"type": "T" * 200, "value": "v" * 2000})
    metadata = metadata_of(event)
    assert metadata["type"] == "T" * 128
    assert metadata["value"] == "v" * 1024


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([{"function": "main"}, {"function": "__strlen_avx2"}], "__strlen_avx2"),
        ([{"function": "crash"}, {"function": "?"}], "crash"),
        ([], "<unknown>"),
        (None, "<unknown>"),
    ],
    ids=["crash-frame", "skips-unknown-function", "no-frames", "no-stacktrace"],
)
def test_synthetic_error_title(frames, expected):
    exception = {
        "type": "SIGSEGV",
        "value": "Segfault",
        "mechanism": {"type": "signalhandler", "synthetic": True},
    }
    if frames is not None:
        exception["stacktrace"] = {"frames": frames}
    event = error(exception, platform="native")
    assert "type" not in metadata_of(event)
    assert title(event) == expected


@pytest.mark.parametrize(
    ("logentry", "expected"),
    [
        ({"formatted": "Payment failed"}, "Payment failed"),
        ({"formatted": "  padded  "}, "padded"),
        ({"formatted": "first line\nsecond line"}, "first line"),
        ({"formatted": "\n\nafter blank lines\nnext"}, "after blank lines"),
        ({"message": "hello %s"}, "hello %s"),
        ({"message": "hello %s", "formatted": "hello world"}, "hello world"),
        ({"formatted": "m" * 150}, "m" * 97 + "..."),
    ],
    ids=[
        "formatted",
        "stripped",
        "first-line",
        "blank-lines",
        "template",
        "formatted-wins",
        "long",
    ],
)
def test_default_event_title(logentry, expected):
    event = {"logentry": logentry}
    assert metadata_of(event) == {"title": expected}
    assert title(event) == expected


@pytest.mark.parametrize(
    "event",
    [{}, {"logentry": {}}, {"logentry": {"formatted": ""}}, {"logentry": {"formatted": " \n "}}],
    ids=["nothing", "empty-logentry", "empty-formatted", "whitespace"],
)
def test_unlabeled_event(event):
    assert title(event) == "<unlabeled event>"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"culprit": "my.module in handler", "transaction": "/orders/"}, "my.module in handler"),
        ({"transaction": "/api/orders/{order_id}/"}, "/api/orders/{order_id}/"),
        ({"culprit": "c" * 250}, "c" * 197 + "..."),
        ({"transaction": "t" * 250}, "t" * 197 + "..."),
    ],
    ids=["culprit", "transaction", "long-culprit", "long-transaction"],
)
def test_culprit_from_the_event(event, expected):
    event = {
        **event,
        "platform": "python",
        **error({"type": "E", "stacktrace": {"frames": [{"module": "m", "function": "f"}]}}),
    }
    assert culprit_of(event) == expected


PYTHON_FRAMES = [
    {"module": "django.core.handlers.base", "function": "_get_response", "in_app": False},
    {"module": "shop.views", "function": "post", "in_app": True},
    {"module": "shop.services", "function": "build_items", "in_app": True},
    {"module": "json.decoder", "function": "decode", "in_app": False},
]


def test_culprit_is_the_most_recent_in_app_frame():
    event = error({"type": "E", "stacktrace": {"frames": PYTHON_FRAMES}}, platform="python")
    assert culprit_of(event) == "shop.services in build_items"


def test_culprit_without_in_app_frames_is_the_most_recent_frame():
    frames = [{**frame, "in_app": False} for frame in PYTHON_FRAMES]
    event = error({"type": "E", "stacktrace": {"frames": frames}}, platform="python")
    assert culprit_of(event) == "json.decoder in decode"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"filename": "shop/services.py", "function": "build"}, "shop/services.py in build"),
        ({"module": "shop.services", "filename": "shop/services.py"}, "shop.services in ?"),
    ],
    ids=["filename", "no-function"],
)
def test_culprit_frame_fallbacks(frame, expected):
    event = error({"type": "E", "stacktrace": {"frames": [{**frame, "in_app": True}]}})
    event["platform"] = "python"
    assert culprit_of(event) == expected


@pytest.mark.parametrize("platform", ["javascript", "node"])
def test_javascript_culprit_is_function_and_file(platform):
    frames = [
        {"filename": "app:///vendor.js", "function": "dispatch", "in_app": False},
        {"filename": "app:///checkout.js", "function": "submitOrder", "in_app": True},
        {"filename": "app:///lib.js", "function": "map", "in_app": False},
    ]
    event = error({"type": "TypeError", "stacktrace": {"frames": frames}}, platform=platform)
    assert culprit_of(event) == "submitOrder(app:///checkout.js)"


def test_javascript_culprit_without_function():
    frames = [{"filename": "app:///checkout.js", "in_app": True}]
    event = error({"type": "TypeError", "stacktrace": {"frames": frames}}, platform="javascript")
    assert culprit_of(event) == "?(app:///checkout.js)"


@pytest.mark.parametrize("platform", ["native", "objc", "cocoa"])
def test_native_culprit_is_the_bare_function(platform):
    frames = [
        {"function": "main", "package": "/usr/bin/printer", "in_app": True},
        {"function": "print_label", "package": "/usr/bin/printer", "in_app": True},
        {"function": "__strlen_avx2", "package": "/lib/libc.so.6", "in_app": False},
    ]
    event = error({"type": "SIGSEGV", "stacktrace": {"frames": frames}}, platform=platform)
    assert culprit_of(event) == "print_label"


def test_frame_platform_overrides_the_event_platform():
    frames = [
        {"filename": "bridge.js", "function": "call", "platform": "javascript", "in_app": True}
    ]
    event = error({"type": "E", "stacktrace": {"frames": frames}}, platform="python")
    assert culprit_of(event) == "call(bridge.js)"


def test_culprit_from_event_level_stacktrace():
    event = {
        "platform": "python",
        "stacktrace": {"frames": [{"module": "shop.jobs", "function": "run", "in_app": True}]},
        **message("m"),
    }
    assert culprit_of(event) == "shop.jobs in run"


def test_culprit_falls_back_to_the_request_url():
    event = {
        "platform": "python",
        "request": {"url": "https://shop.example.com/checkout"},
        **error({"type": "E", "value": "v"}),
    }
    assert culprit_of(event) == "https://shop.example.com/checkout"


def test_long_request_url_culprit_is_truncated():
    url = "https://shop.example.com/" + "p" * 300
    assert culprit_of({"request": {"url": url}, **message("m")}) == url[:197] + "..."


def test_culprit_is_empty_without_any_source():
    assert culprit_of(message("m")) == ""


def test_synthetic_exception_culprit_is_empty():
    frames = [{"function": "crash", "in_app": True}]
    event = error(
        {
            "type": "SIGSEGV",
            "mechanism": {"type": "signalhandler", "synthetic": True},
            "stacktrace": {"frames": frames},
        },
        platform="native",
    )
    assert culprit_of(event) == ""


def test_long_frame_culprit_is_truncated():
    frames = [{"module": "m" * 150, "function": "f" * 150, "in_app": True}]
    event = error({"type": "E", "stacktrace": {"frames": frames}}, platform="python")
    culprit = culprit_of(event)
    assert culprit == ("m" * 150 + " in " + "f" * 150)[:197] + "...", culprit


FIXTURE_TITLES = {
    "dotnet_exception.json": (
        "System.InvalidOperationException: Sequence contains no matching element"
    ),
    "go_exception.json": (
        "*fmt.wrapError: create charge for order ORD-2025-004402: gateway declined charge: "
        "do_not_honor (code 05, request ..."
    ),
    "java_exception.json": (
        'NullPointerException: Cannot invoke "com.faultshop.customers.Address.getCountryCode()" '
        'because the return value of "com...'
    ),
    "javascript_browser.json": "TypeError: Cannot read properties of undefined (reading 'map')",
    "message_event.json": "Payment for order ORD-2025-004455 failed after 3 retries",
    "native_crash.json": "__strlen_avx2",
    "node_exception.json": (
        "Error: Reservation rsv_8fK2QpZt for SKU KB-204 could not be released: inventory service "
        "returned 503 Ser..."
    ),
    "php_exception.json": (
        "TypeError: App\\Services\\Pricing\\DiscountCalculator::apply(): Argument #2 ($coupon) "
        "must be of type App\\Model..."
    ),
    "python_chained_exception.json": (
        "ValueError: Sales report window 2025-11-01..2025-11-21 could not be materialised"
    ),
    "python_exception.json": "KeyError: 'sku'",
    "ruby_exception.json": "NoMethodError: undefined method `line_items' for nil (NoMethodError)",
    # §6.3 does not cover transactions; only a non-empty title is required.
    "transaction.json": None,
}


def test_every_fixture_is_listed():
    assert sorted(path.name for path in FIXTURES.glob("*.json")) == sorted(FIXTURE_TITLES)


@pytest.mark.parametrize("name", sorted(FIXTURE_TITLES))
def test_fixture_title(name):
    payload = json.loads((FIXTURES / name).read_text())
    event = normalize_event(payload, event_id=uuid4().hex, received=datetime.now(UTC))
    result = title(event)
    assert result.strip(), name
    assert len(result) <= 300, result
    if event["type"] == "error":
        last = event["exception"]["values"][-1]
        if not (last.get("mechanism") or {}).get("synthetic"):
            first_line = next(line.strip() for line in last["value"].splitlines() if line.strip())
            assert result == f"{last['type']}: {truncate(first_line, 100)}", result
    if FIXTURE_TITLES[name] is not None:
        assert result == FIXTURE_TITLES[name]
