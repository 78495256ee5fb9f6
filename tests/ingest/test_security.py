"""The security endpoint: browsers' CSP violation reports become `csp` events and issues."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from groups.eventtypes import metadata_of
from groups.models import Event, Group
from ingest.digest import drain
from ingest.models import OutcomeCounter, QueuedItem
from ingest.normalize.security import InvalidSecurityReport, csp_title, security_reports
from projects.models import ProjectQuota
from projects.serializers import ProjectKeySerializer
from tests.ingest.test_views import assert_status

# As Chromium 156 posted them to a report-uri (tests/ingest/test_security_browser.py makes
# it post them again); the port is the page's.
CHROMIUM_IMG = {
    "csp-report": {
        "document-uri": "http://127.0.0.1:45939/page",
        "referrer": "",
        "violated-directive": "img-src",
        "effective-directive": "img-src",
        "original-policy": "default-src 'self'; img-src 'none'; script-src 'none'; "
        "report-uri http://127.0.0.1:45939/api/1/security/?sentry_key=abc",
        "disposition": "enforce",
        "blocked-uri": "https://blocked.example/pic.png",
        "line-number": 1,
        "column-number": 81,
        "source-file": "http://127.0.0.1:45939/page",
        "status-code": 200,
        "script-sample": "",
    }
}
# The Reporting API's form (https://www.w3.org/TR/CSP3/#reporting), as Chrome batches it.
REPORTING_API_BATCH = [
    {
        "type": "csp-violation",
        "age": 2000,
        "url": "https://shop.example/cart",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0",
        "body": {
            "documentURL": "https://shop.example/cart",
            "referrer": "https://shop.example/",
            "blockedURL": "https://cdn.tracker.example:8443/t.js?u=1",
            "effectiveDirective": "script-src-elem",
            "originalPolicy": "script-src 'self'; report-to csp",
            "sample": "",
            "disposition": "enforce",
            "statusCode": 200,
            "lineNumber": 12,
            "columnNumber": 3,
        },
    },
    {
        "type": "csp-violation",
        "age": 10,
        "url": "https://shop.example/cart",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0",
        "body": {
            "documentURL": "https://shop.example/cart",
            "blockedURL": "eval",
            "effectiveDirective": "script-src",
            "disposition": "report",
        },
    },
    {
        "type": "deprecation",
        "age": 5,
        "url": "https://shop.example/cart",
        "body": {"id": "UnloadHandler", "message": "Unload event listeners are deprecated"},
    },
]
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def post_report(client, key):
    def post(body, *, content_type="application/csp-report", query="", path="security", **extra):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        url = f"/api/{key.project_id}/{path}/?sentry_key={key.public_key}{query}"
        return client.post(url, data=data, content_type=content_type, **extra)

    return post


class TestReportsToEvents:
    def test_chromium_report_uri_body(self):
        reports = security_reports(
            json.dumps(CHROMIUM_IMG).encode(),
            received=NOW,
            headers={"User-Agent": "HeadlessChrome/156", "Origin": "http://127.0.0.1:45939"},
        )
        (event,) = reports.events
        assert event["logentry"] == {"formatted": "Blocked 'image' from 'blocked.example'"}
        assert event["culprit"] == "img-src"
        assert event["tags"] == [
            ["effective-directive", "img-src"],
            ["blocked-uri", "https://blocked.example/pic.png"],
            ["blocked-host", "blocked.example"],
        ]
        assert event["request"] == {
            "url": "http://127.0.0.1:45939/page",
            "headers": [["User-Agent", "HeadlessChrome/156"], ["Origin", "http://127.0.0.1:45939"]],
        }
        assert event["csp"]["status_code"] == 200
        assert event["csp"]["line_number"] == 1
        assert event["csp"]["blocked_uri"] == "https://blocked.example/pic.png"
        assert "timestamp" not in event, "a report-uri report is as old as its request"
        assert uuid.UUID(event["event_id"]).hex == event["event_id"]

    def test_reporting_api_batch(self):
        reports = security_reports(json.dumps(REPORTING_API_BATCH).encode(), received=NOW)
        assert (len(reports.events), reports.unsupported, reports.invalid) == (2, 1, 0)
        tracker, evaluated = reports.events
        assert tracker["logentry"]["formatted"] == (
            "Blocked 'script' from 'cdn.tracker.example:8443'"
        )
        assert tracker["timestamp"] == (NOW - timedelta(seconds=2)).timestamp()
        assert tracker["request"]["headers"] == [
            ["Referer", "https://shop.example/"],
            ["User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0"],
        ]
        assert tracker["csp"]["column_number"] == 3
        assert ["blocked-host", "cdn.tracker.example"] in tracker["tags"]
        assert evaluated["logentry"]["formatted"] == "Blocked unsafe eval() 'script'"
        assert evaluated["csp"]["disposition"] == "report"

    @pytest.mark.parametrize(
        ("directive", "blocked", "title"),
        [
            ("script-src", "", "Blocked unsafe (eval() or inline) 'script'"),
            ("script-src", "inline", "Blocked inline 'script'"),
            ("script-src-elem", "inline", "Blocked inline 'script'"),
            ("style-src-attr", "inline", "Blocked inline style attribute"),
            ("img-src", "data", "Blocked 'image' from 'data:'"),
            ("img-src", "self", "Blocked inline 'image'"),
            ("connect-src", "wss://live.example/socket", "Blocked 'connect' from 'wss://live.example'"),
            ("form-action", "https://evil.example/post", "Blocked 'form' action to 'evil.example'"),
            ("frame-ancestors", "https://x.example", "Blocked 'frame-ancestors' from 'x.example'"),
            (
                "require-trusted-types-for",
                "trusted-types-sink",
                "Blocked 'require-trusted-types-for' (trusted-types-sink)",
            ),
        ],
    )  # fmt: skip
    def test_titles(self, directive, blocked, title):
        assert csp_title(directive, blocked) == title

    def test_firefox_sends_only_the_violated_directive(self):
        body = {
            "csp-report": {
                "document-uri": "https://shop.example/a",
                "violated-directive": "style-src https://shop.example cdn.example",
                "blocked-uri": "https://fonts.example/x.css",
            }
        }
        (event,) = security_reports(json.dumps(body).encode(), received=NOW).events
        assert event["csp"]["effective_directive"] == "style-src"
        assert event["logentry"]["formatted"] == "Blocked 'style' from 'fonts.example'"
        assert event["culprit"] == "style-src 'self' cdn.example"

    def test_stripe_query_strings_stay_out_of_tags(self):
        blocked = "https://api.stripe.com/v1/tokens?card=4242"
        body = {"csp-report": {"effective-directive": "connect-src", "blocked-uri": blocked}}
        (event,) = security_reports(json.dumps(body).encode(), received=NOW).events
        assert ["blocked-uri", "https://api.stripe.com/v1/tokens"] in event["tags"]

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"{not json", "invalid JSON data"),
            (b'"a string"', "invalid security report"),
            (b'{"event_type": "user_login"}', "invalid security report"),
            (b'{"csp-report": "img-src"}', "invalid security report"),
            (b'{"csp-report": {"blocked-uri": "https://x.example"}}', "invalid security report"),
            (b'{"csp-report": {"effective-directive": "<script>"}}', "invalid security report"),
            (b"[]", "invalid security report"),
        ],
    )
    def test_bodies_without_a_report(self, body, message):
        with pytest.raises(InvalidSecurityReport, match=message):
            security_reports(body, received=NOW)

    def test_numbers_that_are_not_numbers_are_left_out(self):
        # "²" and "①" are digits to str.isdigit(), not to int().
        raw = {
            "effective-directive": "img-src",
            "status-code": "OK",
            "line-number": -3,
            "column-number": "1²",
            "lineNumber": "①",
        }
        body = json.dumps({"csp-report": raw}).encode()
        (event,) = security_reports(body, received=NOW).events
        assert not {"status_code", "line_number", "column_number"} & set(event["csp"])

    def test_an_unparsable_blocked_uri_is_kept_but_its_source_is_capped(self):
        blocked = "http://[" + "a" * 5000
        body = json.dumps(
            {"csp-report": {"effective-directive": "img-src", "blocked-uri": blocked}}
        )
        (event,) = security_reports(body.encode(), received=NOW).events
        assert event["csp"]["blocked_uri"] == blocked
        assert len(event["logentry"]["formatted"]) < 250
        metadata = metadata_of({**event, "type": "csp"})
        assert len(metadata["uri"]) == 200


@pytest.mark.django_db
class TestEndpoint:
    def test_report_uri_report_becomes_a_csp_issue(self, post_report, key):
        response = post_report(
            CHROMIUM_IMG,
            query="&sentry_release=web%401.2&sentry_environment=production",
            HTTP_USER_AGENT="HeadlessChrome/156",
        )
        event_id = assert_status(response, 200)["id"]
        assert response["Access-Control-Allow-Origin"] == "*"
        drain()
        event = Event.objects.get(event_id=event_id)
        assert (event.release, event.environment) == ("web@1.2", "production")
        assert event.title == "Blocked 'image' from 'blocked.example'"
        assert event.data["type"] == "csp"
        assert dict(event.tags)["blocked-host"] == "blocked.example"
        group = event.group
        assert (group.type, group.culprit, group.level) == ("csp", "img-src", "error")
        assert group.metadata == {
            "directive": "img-src",
            "uri": "blocked.example",
            "message": "Blocked 'image' from 'blocked.example'",
            "title": "Blocked 'image' from 'blocked.example'",
        }
        accepted = OutcomeCounter.objects.get(outcome="accepted")
        assert (accepted.category, accepted.quantity) == ("security", 1)

    @pytest.mark.parametrize("name", ["security", "csp"])
    def test_the_keys_apis_urls_take_reports(self, client, key, name):
        url = urlsplit(ProjectKeySerializer(key).data["dsn"][name])
        response = client.post(
            f"{url.path}?{url.query}",
            data=json.dumps(CHROMIUM_IMG),
            content_type="application/csp-report",
        )
        assert assert_status(response, 200)["id"]

    def test_same_violation_again_is_the_same_issue(self, post_report):
        for path in ("security", "csp-report"):
            assert_status(post_report(CHROMIUM_IMG, path=path), 200)
        drain()
        assert Group.objects.get().times_seen == 2

    def test_reporting_api_batch(self, post_report):
        response = post_report(REPORTING_API_BATCH, content_type="application/reports+json")
        last_id = assert_status(response, 200)["id"]
        drain()
        titles = set(Event.objects.values_list("title", flat=True))
        assert titles == {
            "Blocked 'script' from 'cdn.tracker.example:8443'",
            "Blocked unsafe eval() 'script'",
        }
        assert Event.objects.filter(event_id=last_id).exists()
        counts = {
            (row.category, row.outcome, row.reason): row.quantity
            for row in OutcomeCounter.objects.all()
        }
        assert counts == {
            ("security", "accepted", ""): 2,
            ("security", "filtered", "unsupported_security_report"): 1,
        }

    def test_only_unsupported_reports_are_counted_and_answered_200(self, post_report):
        body = [REPORTING_API_BATCH[2], {"expect-ct-report": {"hostname": "shop.example"}}]
        response = post_report(body, content_type="application/reports+json")
        assert assert_status(response, 200) == {}
        assert not QueuedItem.objects.exists()
        counter = OutcomeCounter.objects.get()
        assert (counter.outcome, counter.reason, counter.quantity) == (
            "filtered",
            "unsupported_security_report",
            2,
        )

    @override_settings(INGEST_MAX_BROWSER_REPORTS=2)
    def test_reports_past_the_limit_are_counted_not_kept(self, post_report):
        body = [REPORTING_API_BATCH[1]] * 5
        assert_status(post_report(body, content_type="application/reports+json"), 200)
        assert QueuedItem.objects.count() == 2
        counter = OutcomeCounter.objects.get(reason="too_many_reports")
        assert counter.quantity == 3

    def test_a_quota_of_the_security_category_answers_429(self, post_report, key):
        ProjectQuota.objects.create(
            project=key.project, category="security", count=1, window_seconds=60
        )
        assert_status(post_report(CHROMIUM_IMG), 200)
        response = post_report(CHROMIUM_IMG)
        assert assert_status(response, 429)["detail"].startswith("security reports dropped")
        assert response["X-Sentry-Rate-Limits"].endswith(":security:project")
        assert int(response["Retry-After"]) > 0
        assert QueuedItem.objects.count() == 1

    @pytest.mark.parametrize(
        ("change", "status", "detail"),
        [
            ({"content_type": "text/plain"}, 415, "unsupported content type 'text/plain'"),
            ({"body": b" \n"}, 400, "empty request body"),
            ({"body": b'{"csp-report": '}, 400, "invalid JSON data"),
            ({"body": {"hello": "world"}}, 400, "invalid security report"),
            ({"body": b"[" + b"1," * 600_000 + b"1]"}, 413, None),
            ({"HTTP_X_SENTRY_AUTH": "Sentry sentry_key=" + "0" * 32}, 401, None),
        ],
    )
    def test_bad_requests(self, post_report, change, status, detail):
        body = change.pop("body", CHROMIUM_IMG)
        response = post_report(body, **change)
        answer = assert_status(response, status)
        assert answer["detail"]
        if detail is not None:
            assert answer["detail"].startswith(detail)
        assert response["X-Sentry-Error"] == answer["detail"]
        assert not QueuedItem.objects.exists()

    def test_keys(self, client, key, organization):
        from projects import services as project_services

        other = project_services.create_project(organization=organization, name="other")
        body = json.dumps(CHROMIUM_IMG)
        url = f"/api/{key.project_id}/security/"
        cases = [
            (url, 401),
            (f"{url}?sentry_key={'f' * 32}", 403),
            (f"{url}?sentry_key={other.keys.get().public_key}", 403),
            (f"/api/x/security/?sentry_key={key.public_key}", 400),
        ]
        for path, status in cases:
            response = client.post(path, data=body, content_type="application/csp-report")
            assert_status(response, status)
        assert not QueuedItem.objects.exists()

    def test_get_is_405_and_preflight_200(self, client, key):
        url = f"/api/{key.project_id}/security/?sentry_key={key.public_key}"
        assert assert_status(client.get(url), 405) == {"detail": "method not allowed"}
        preflight = client.options(url)
        assert preflight.status_code == 200
        assert "content-type" in preflight["Access-Control-Allow-Headers"]

    def test_gzip_body(self, post_report):
        import gzip

        body = gzip.compress(json.dumps(CHROMIUM_IMG).encode())
        assert_status(post_report(body, HTTP_CONTENT_ENCODING="gzip"), 200)
        assert QueuedItem.objects.count() == 1
