"""The NEL endpoint: browsers' Network Error Logging reports become log records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from groups.models import LogRecord
from ingest.digest import drain
from ingest.models import OutcomeCounter, QueuedItem
from ingest.normalize.nel import InvalidNelReport, describe, nel_reports
from projects.models import ProjectQuota
from projects.serializers import ProjectKeySerializer
from tests.ingest.test_views import assert_status

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
# Reports shaped as the specification's examples (https://www.w3.org/TR/network-error-logging/
# § 8), as a browser batches them for one endpoint.
BATCH = [
    {
        "age": 1500,
        "type": "network-error",
        "url": "https://www.example.com/checkout?step=2",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0",
        "body": {
            "referrer": "https://www.example.com/cart",
            "sampling_fraction": 1.0,
            "server_ip": "203.0.113.75",
            "protocol": "h2",
            "method": "POST",
            "status_code": 503,
            "elapsed_time": 143,
            "phase": "application",
            "type": "http.error",
        },
    },
    {
        "age": 0,
        "type": "network-error",
        "url": "https://widget.example.com/thing.js",
        "body": {
            "sampling_fraction": 0.5,
            "server_ip": "",
            "protocol": "",
            "method": "GET",
            "status_code": 0,
            "elapsed_time": 48,
            "phase": "dns",
            "type": "dns.name_not_resolved",
        },
    },
    {"type": "deprecation", "age": 3, "url": "https://www.example.com/", "body": {"id": "x"}},
]


@pytest.fixture
def post_nel(client, key):
    def post(body, *, content_type="application/reports+json", key_query=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        query = key_query if key_query is not None else f"?sentry_key={key.public_key}"
        return client.post(
            f"/api/{key.project_id}/nel/{query}", data=data, content_type=content_type
        )

    return post


class TestReportsToLogs:
    def test_batch(self):
        reports = nel_reports(json.dumps(BATCH).encode(), received=NOW)
        assert (len(reports.records), reports.unsupported, reports.invalid) == (2, 1, 0)
        error, dns = reports.records
        assert error["body"] == "The response had HTTP status 503"
        assert error["level"] == "info"
        assert error["timestamp"] == (NOW - timedelta(milliseconds=1500)).timestamp()
        attributes = {name: item["value"] for name, item in error["attributes"].items()}
        assert attributes == {
            "sentry.origin": "auto.http.browser_reports.nel",
            "report_type": "network-error",
            "url.full": "https://www.example.com/checkout?step=2",
            "url.domain": "www.example.com",
            "server.address": "203.0.113.75",
            "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0",
            "nel.type": "http.error",
            "nel.phase": "application",
            "http.request.method": "POST",
            "network.protocol": "h2",
            "http.request.header.referer": "https://www.example.com/cart",
            "http.response.status_code": 503,
            "http.request.duration": 143,
            "nel.sampling_fraction": 1.0,
        }
        assert error["attributes"]["http.response.status_code"]["type"] == "integer"
        assert dns["body"] == "The DNS server could not resolve the host name"
        assert "server.address" not in dns["attributes"], "empty strings are left out"

    @pytest.mark.parametrize(
        ("error_type", "status", "text"),
        [
            ("http.error", 404, "The response had HTTP status 404"),
            ("http.error", None, "The response had HTTP status 0"),
            ("ok", 200, "The request succeeded"),
            ("tcp.refused", None, "The server refused the TCP connection"),
            ("h2.ping_failed", None, "h2.ping_failed"),
        ],
    )
    def test_descriptions(self, error_type, status, text):
        assert describe(error_type, status) == text

    def test_odd_reports_are_counted_not_raised(self):
        body = [
            1,
            {"type": "network-error"},
            {"type": "network-error", "body": "x"},
            {"type": "network-error", "age": -5, "url": "http://[", "body": {"type": 7}},
            {"type": "network-error", "age": 10**30, "body": {"status_code": True}},
        ]
        reports = nel_reports(json.dumps(body).encode(), received=NOW)
        assert (len(reports.records), reports.invalid) == (2, 3)
        odd, old = reports.records
        assert odd["timestamp"] == NOW.timestamp()
        assert odd["body"] == "Unknown network error"
        assert odd["attributes"]["url.full"]["value"] == "http://["
        assert "url.domain" not in odd["attributes"]
        assert "http.response.status_code" not in old["attributes"]

    @pytest.mark.parametrize("body", [b"{bad", b'{"type": "network-error"}', b'"x"'])
    def test_bodies_that_are_not_batches(self, body):
        with pytest.raises(InvalidNelReport):
            nel_reports(body, received=NOW)


@pytest.mark.django_db
class TestEndpoint:
    def test_batch_becomes_log_records(self, post_nel, key):
        assert assert_status(post_nel(BATCH), 200) == {}
        drain()
        records = {record.body: record for record in LogRecord.objects.all()}
        assert set(records) == {
            "The response had HTTP status 503",
            "The DNS server could not resolve the host name",
        }
        error = records["The response had HTTP status 503"]
        assert (error.level, error.project_id) == ("info", key.project_id)
        assert error.attributes["url.domain"] == "www.example.com"
        assert error.attributes["http.response.status_code"] == 503
        counts = {
            (row.category, row.outcome, row.reason): row.quantity
            for row in OutcomeCounter.objects.all()
        }
        assert counts == {
            ("log_item", "accepted", ""): 2,
            ("log_item", "filtered", "unsupported_nel_report"): 1,
        }

    def test_the_keys_apis_nel_url(self, client, key):
        url = urlsplit(ProjectKeySerializer(key).data["dsn"]["nel"])
        response = client.post(
            f"{url.path}?{url.query}", data=json.dumps(BATCH[:1]), content_type="application/json"
        )
        assert_status(response, 200)
        assert QueuedItem.objects.get().type == "log"

    def test_a_log_quota_drops_with_200_as_relay_does(self, post_nel, key):
        ProjectQuota.objects.create(
            project=key.project, category="log_item", count=1, window_seconds=60
        )
        assert_status(post_nel(BATCH[:1]), 200)
        assert_status(post_nel(BATCH[:1]), 200)
        assert QueuedItem.objects.count() == 1
        limited = OutcomeCounter.objects.get(outcome="rate_limited")
        assert (limited.category, limited.quantity) == ("log_item", 1)

    @pytest.mark.parametrize(
        ("args", "status", "detail"),
        [
            ({"content_type": "application/csp-report"}, 415, "unsupported content type"),
            ({"body": b"  "}, 400, "empty request body"),
            ({"body": {"type": "network-error"}}, 400, "invalid JSON data: expected an array"),
            ({"body": b"[1,"}, 400, "invalid JSON data"),
            ({"key_query": ""}, 401, "missing authorization"),
            ({"key_query": "?sentry_key=" + "e" * 32}, 403, "event submission rejected"),
        ],
    )
    def test_bad_requests(self, post_nel, args, status, detail):
        response = post_nel(args.pop("body", BATCH), **args)
        assert assert_status(response, status)["detail"].startswith(detail)
        assert not QueuedItem.objects.exists()
