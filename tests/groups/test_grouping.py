"""Grouping hashes: fingerprints, exceptions and stack traces, messages (reference §6.1, §6.2)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from groups.grouping import GROUPING_CONFIG, compute_grouping, normalize_message
from ingest.normalize import normalize_event

RECEIVED = datetime(2025, 11, 22, 12, 0, tzinfo=UTC)


def md5(*values: str) -> str:
    """Sentry's hash_from_values: the values fed one after the other, no separator."""
    digest = hashlib.md5(usedforsecurity=False)
    for value in values:
        digest.update(value.encode())
    return digest.hexdigest()


def event(**payload) -> dict:
    return normalize_event(payload, event_id=uuid4().hex, received=RECEIVED)


def frame(function: str, module: str = "shop.views", *, in_app: bool = True, **extra) -> dict:
    return {"function": function, "module": module, "in_app": in_app, **extra}


def error(
    frames: list[dict] | None = None,
    *,
    type_: str = "ValueError",
    value: str = "bad input",
    platform: str = "python",
    **payload,
) -> dict:
    exception: dict = {"type": type_, "value": value}
    if frames is not None:
        exception["stacktrace"] = {"frames": frames}
    return event(platform=platform, exception={"values": [exception]}, **payload)


def hashes(data: dict) -> list[str]:
    return compute_grouping(data).hashes


SYSTEM_FRAME = frame("inner", "django.core.handlers.exception", in_app=False)
APP_FRAMES = [frame("post", "shop.views"), frame("build_items", "shop.services")]


def test_app_hash_first_and_system_hash_second():
    data = error([SYSTEM_FRAME, *APP_FRAMES])
    assert hashes(data) == [
        md5("shop.views", "post", "shop.services", "build_items", "ValueError"),
        md5(
            "django.core.handlers.exception",
            "inner",
            "shop.views",
            "post",
            "shop.services",
            "build_items",
            "ValueError",
        ),
    ]


def test_same_type_and_app_frames_group_together():
    first = error([SYSTEM_FRAME, *APP_FRAMES], value="bad input: 1")
    second = error(
        [frame("run", "gunicorn.workers", in_app=False), *APP_FRAMES, SYSTEM_FRAME],
        value="completely different text",
    )
    assert hashes(first)[0] == hashes(second)[0]
    assert hashes(first)[1] != hashes(second)[1]


def test_different_app_function_is_a_different_group():
    first = error([SYSTEM_FRAME, frame("post"), frame("build_items", "shop.services")])
    second = error([SYSTEM_FRAME, frame("post"), frame("build_lines", "shop.services")])
    assert hashes(first)[0] != hashes(second)[0]


def test_different_exception_type_is_a_different_group():
    assert hashes(error(APP_FRAMES, type_="KeyError"))[0] != hashes(error(APP_FRAMES))[0]


def test_without_app_frames_only_the_system_hash():
    data = error([SYSTEM_FRAME, frame("view", "django.views", in_app=False)])
    assert hashes(data) == [
        md5("django.core.handlers.exception", "inner", "django.views", "view", "ValueError")
    ]


def test_in_app_must_be_true():
    unknown = frame("post")
    del unknown["in_app"]
    assert hashes(error([unknown])) == [md5("shop.views", "post", "ValueError")]


@pytest.mark.parametrize("frames", [None, []], ids=["no-stacktrace", "no-frames"])
def test_value_contributes_when_there_are_no_frames(frames):
    assert hashes(error(frames, value="bad input")) == [md5("ValueError", "bad input")]
    assert hashes(error(frames, value="other")) != hashes(error(frames, value="bad input"))


def test_value_is_normalized_like_a_message():
    first = error(None, value="user 42 not found")
    second = error(None, value="user 1337 not found")
    assert hashes(first) == hashes(second) == [md5("ValueError", "user <int> not found")]


def test_value_does_not_contribute_with_frames():
    assert hashes(error(APP_FRAMES, value="a")) == hashes(error(APP_FRAMES, value="b"))


def test_chained_exceptions_all_contribute():
    def chained(cause_type: str) -> dict:
        return event(
            platform="python",
            exception={
                "values": [
                    {
                        "type": cause_type,
                        "value": "x",
                        "stacktrace": {"frames": [frame("connect")]},
                    },
                    {"type": "ValueError", "value": "y", "stacktrace": {"frames": [frame("run")]}},
                ]
            },
        )

    assert hashes(chained("OperationalError")) == [
        md5("shop.views", "connect", "OperationalError", "shop.views", "run", "ValueError")
    ]
    assert hashes(chained("OperationalError")) != hashes(chained("InterfaceError"))


def test_synthetic_exception_type_does_not_contribute():
    def crash(signal: str) -> dict:
        return event(
            platform="native",
            exception={
                "values": [
                    {
                        "type": signal,
                        "value": "Segfault",
                        "mechanism": {"type": "signalhandler", "synthetic": True},
                        "stacktrace": {"frames": [frame("main", "app"), frame("crash", "app")]},
                    }
                ]
            },
        )

    assert (
        hashes(crash("SIGSEGV")) == hashes(crash("SIGABRT")) == [md5("app", "main", "app", "crash")]
    )


def test_non_synthetic_mechanism_keeps_the_type():
    data = error(APP_FRAMES[:1])
    data["exception"]["values"][0]["mechanism"] = {"type": "django", "handled": False}
    assert hashes(data) == [md5("shop.views", "post", "ValueError")]


@pytest.mark.parametrize(
    "fingerprint",
    [["my-group"], ["database", "connection"], ["a", "b", "c"]],
)
def test_custom_fingerprint_is_one_hash_of_its_values(fingerprint):
    data = error([SYSTEM_FRAME, *APP_FRAMES], fingerprint=fingerprint)
    assert hashes(data) == [md5(*fingerprint)]


def test_custom_fingerprint_groups_different_errors_together():
    first = error(APP_FRAMES, type_="KeyError", fingerprint=["db"])
    second = event(message="something else", fingerprint=["db"])
    assert hashes(first) == hashes(second)


@pytest.mark.parametrize("marker", ["{{ default }}", "{{default}}", "{{  default  }}"])
def test_default_fingerprint_is_the_default_algorithm(marker):
    frames = [SYSTEM_FRAME, *APP_FRAMES]
    assert hashes(error(frames, fingerprint=[marker])) == hashes(error(frames))


def test_hybrid_fingerprint_extends_the_default():
    frames = [SYSTEM_FRAME, *APP_FRAMES]
    hybrid = hashes(error(frames, fingerprint=["{{ default }}", "tenant-a"]))
    assert len(hybrid) == 1, hybrid
    assert hybrid[0] not in hashes(error(frames))
    assert hybrid[0] != md5("tenant-a")
    assert hybrid == [
        md5("shop.views", "post", "shop.services", "build_items", "ValueError", "tenant-a")
    ]
    other = hashes(error(frames, fingerprint=["{{ default }}", "tenant-b"]))
    assert hybrid != other


@pytest.mark.parametrize(
    ("fingerprint", "expected"),
    [
        (["{{ type }}"], "ValueError"),
        (["{{ error.type }}"], "ValueError"),
        (["{{ value }}"], "bad input"),
        (["{{ error.value }}"], "bad input"),
        (["{{ function }}"], "build_items"),
        (["{{ module }}"], "shop.services"),
        (["{{ level }}"], "error"),
        (["{{ logger }}"], "shop.log"),
        (["{{ transaction }}"], "/orders/"),
        (["{{ tags.foo }}"], "bar"),
        (["{{tags.foo}}"], "bar"),
        (["{{ message }}"], "bad input"),
        (["{{ type }}", "static"], "ValueErrorstatic"),
    ],
)
def test_fingerprint_variables(fingerprint, expected):
    data = error(
        APP_FRAMES,
        fingerprint=fingerprint,
        logger="shop.log",
        transaction="/orders/",
        tags={"foo": "bar"},
    )
    assert hashes(data) == [md5(expected)]


@pytest.mark.parametrize(
    ("fingerprint", "expected"),
    [
        (["{{ transaction }}"], "<no-transaction>"),
        (["{{ logger }}"], "<no-logger>"),
        (["{{ type }}"], "<no-type>"),
        (["{{ function }}"], "<no-function>"),
        (["{{ tags.foo }}"], "<no-value-for-tag-foo>"),
    ],
)
def test_missing_fingerprint_variables(fingerprint, expected):
    assert hashes(event(message="hello", fingerprint=fingerprint)) == [md5(expected)]


def test_message_variable_prefers_the_formatted_message():
    data = event(logentry={"message": "hello %s", "params": ["x"]}, fingerprint=["{{ message }}"])
    assert hashes(data) == [md5("hello x")]


def test_checksum_is_the_hash():
    checksum = "a" * 32
    assert hashes(error(APP_FRAMES, checksum=checksum)) == [checksum]


def test_message_template_groups_different_params_together():
    first = event(logentry={"message": "hello %s", "params": ["world"]})
    second = event(logentry={"message": "hello %s", "params": ["there"]})
    assert first["logentry"]["formatted"] != second["logentry"]["formatted"]
    assert hashes(first) == hashes(second) == [md5("hello %s")]


def test_formatted_message_is_used_without_a_template():
    assert hashes(event(message="disk full")) == [md5("disk full")]
    assert hashes(event(message="disk full")) != hashes(event(message="disk empty"))


def test_messages_differing_only_in_parameters_group_together():
    first = event(message="order 4411 failed for ann@example.com at 2025-11-22T10:00:00Z")
    second = event(message="order 17 failed for bob@example.org at 2024-01-01T00:00:00Z")
    assert hashes(first) == hashes(second) == [md5("order <int> failed for <email> at <date>")]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("mail to ann.lee+x@example.co.uk bounced", "mail to <email> bounced"),
        ("GET https://api.example.com/v1/items?id=7 failed", "GET <url> failed"),
        ("fetch http://localhost:8080/health", "fetch <url>"),
        ("connect to 10.42.8.21 refused", "connect to <ip> refused"),
        ("peer 2001:0db8:85a3:0000:0000:8a2e:0370:7334 gone", "peer <ip> gone"),
        ("job 550e8400-e29b-41d4-a716-446655440000 died", "job <uuid> died"),
        ("commit da39a3ee5e6b4b0d3255bfef95601890afd80709 bad", "commit <sha1> bad"),
        ("digest d41d8cd98f00b204e9800998ecf8427e bad", "digest <md5> bad"),
        ("at 2025-11-22T10:00:00Z", "at <date>"),
        ("at 2025-11-22 10:00:00", "at <date>"),
        ("on 2025-11-22", "on <date>"),
        ("at 2025-11-22T10:00:00.123+01:00", "at <date>"),
        ("Date: Sat, 22 Nov 2025 10:00:00 GMT", "Date: <date>"),
        ("address 0x7f3a1c2d4b90", "address <hex>"),
        ("took 3.25 seconds", "took <float> seconds"),
        ("balance -12.5", "balance <float>"),
        ("retry 3 of 5", "retry <int> of <int>"),
        ("offset -7", "offset <int>"),
        ("value='abc' rejected", "value=<quoted_str> rejected"),
        ('key="abc" missing', "key=<quoted_str> missing"),
        ("no parameters here", "no parameters here"),
    ],
)
def test_normalize_message(message, expected):
    assert normalize_message(message) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("first\nsecond", "first\nsecond"),
        ("first\n\n  \nsecond", "first\nsecond"),
        ("first\nsecond\nthird", "first\nsecond..."),
        ("\nfirst\n\nsecond\n\nthird\nfourth", "first\nsecond..."),
    ],
)
def test_normalize_message_keeps_two_non_empty_lines(message, expected):
    assert normalize_message(message) == expected


def test_recursion_frames_count_once():
    recursive = [frame("walk"), frame("walk"), frame("walk"), frame("visit")]
    assert hashes(error(recursive)) == hashes(error([frame("walk"), frame("visit")]))
    assert hashes(error(recursive)) == [
        md5("shop.views", "walk", "shop.views", "visit", "ValueError")
    ]


def test_non_consecutive_repeats_count_each_time():
    frames = [frame("walk"), frame("visit"), frame("walk")]
    assert hashes(error(frames)) != hashes(error([frame("walk"), frame("visit")]))


@pytest.mark.parametrize("platform", ["javascript", "node"])
def test_javascript_object_prefix_is_removed(platform):
    def js(function: str) -> dict:
        return error(
            [{"function": function, "filename": "app.js", "in_app": True}],
            type_="TypeError",
            platform=platform,
        )

    assert hashes(js("Object.handleClick")) == hashes(js("handleClick"))
    assert hashes(js("handleClick")) == [md5("app.js", "handleClick", "TypeError")]


def test_javascript_url_filenames_do_not_contribute():
    def js(filename: str) -> dict:
        return error(
            [{"function": "render", "filename": filename, "abs_path": filename, "in_app": True}],
            type_="TypeError",
            platform="javascript",
        )

    first = js("https://shop.example.com/assets/index-3f9c2a1b.js")
    second = js("https://cdn.example.com/assets/index-77aa00bb.js")
    assert hashes(first) == hashes(second) == [md5("render", "TypeError")]


def test_filename_basename_lowercased_when_no_module():
    def with_file(filename: str) -> dict:
        return error([{"function": "run", "filename": filename, "in_app": True}], platform="other")

    assert hashes(with_file("/srv/a/src/Jobs.PY")) == hashes(with_file("C:\\build\\jobs.py"))
    assert hashes(with_file("jobs.py")) == [md5("jobs.py", "run", "ValueError")]


def test_module_takes_precedence_over_filename():
    def with_file(filename: str) -> dict:
        return error([frame("run", "shop.jobs", filename=filename)], platform="other")

    assert hashes(with_file("a.py")) == hashes(with_file("b.py"))


@pytest.mark.parametrize("platform", ["python", "javascript", "node"])
def test_context_line_contributes_for_trusted_platforms(platform):
    def with_line(line: str) -> dict:
        return error([frame("run", context_line=line)], platform=platform)

    assert hashes(with_line("    x = compute( a,  b )")) == hashes(with_line("x = compute( a, b )"))
    assert hashes(with_line("x = compute(a)")) != hashes(with_line("y = compute(a)"))
    assert hashes(with_line("  x  =  1 ")) == [md5("shop.views", "run", "x = 1", "ValueError")]


def test_long_context_line_does_not_contribute():
    long_line = "x = " + "a" * 200
    data = error([frame("run", context_line=long_line)])
    assert hashes(data) == [md5("shop.views", "run", "ValueError")]


@pytest.mark.parametrize("platform", ["java", "other", "native"])
def test_context_line_ignored_for_other_platforms(platform):
    def with_line(line: str) -> dict:
        return error([frame("run", context_line=line)], platform=platform)

    assert hashes(with_line("x = 1")) == hashes(with_line("y = 2"))


def test_event_level_stacktrace():
    data = event(platform="other", message="m", stacktrace={"frames": [frame("run")]})
    assert hashes(data) == [md5("shop.views", "run")]


def test_single_thread_stacktrace():
    data = event(
        platform="other",
        message="m",
        threads={"values": [{"id": 1, "stacktrace": {"frames": [frame("run")]}}]},
    )
    assert hashes(data) == [md5("shop.views", "run")]


def test_nothing_contributes():
    assert hashes({"platform": "other"}) == [md5("")]


def test_grouping_config_is_recorded():
    assert isinstance(GROUPING_CONFIG, str)
    assert GROUPING_CONFIG
    assert compute_grouping(error(APP_FRAMES)).config == GROUPING_CONFIG
    assert compute_grouping(event(message="m", fingerprint=["x"])).config == GROUPING_CONFIG
