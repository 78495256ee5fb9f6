"""OTLP/HTTP export requests (traces and logs, protobuf and JSON) at Sentry's OTLP endpoint."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from groups.models import LogRecord, Span
from ingest.digest import drain
from ingest.models import OutcomeCounter, QueuedItem
from ingest.normalize.otlp import InvalidOtlp, decode_request, log_records, span_records
from projects.models import ProjectQuota
from projects.serializers import ProjectKeySerializer
from tests.ingest.test_views import assert_status

CLIENTS = Path(__file__).parent / "clients"
TRACE = "5b8efff798038103d269b633813fc60c"
ROOT, QUERY, WRITE = "eee19b7ec3c1b174", "eee19b7ec3c1b173", "eee19b7ec3c1b172"
T0 = 1_764_763_200_000_000_000  # 2025-12-03T12:00:00Z in nanoseconds


def attribute(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def traces_request(now_ns: int = T0) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.extend(
        [
            attribute("service.name", "checkout"),
            attribute("service.version", "2.0.1"),
            attribute("deployment.environment.name", "prod"),
        ]
    )
    scope = resource.scope_spans.add()
    scope.scope.name = "checkout.handlers"

    def span(span_id, parent, name, kind, start, end, attrs, status=None):
        otlp = scope.spans.add(
            trace_id=bytes.fromhex(TRACE),
            span_id=bytes.fromhex(span_id),
            parent_span_id=bytes.fromhex(parent) if parent else b"",
            name=name,
            kind=kind,
            start_time_unix_nano=now_ns + start,
            end_time_unix_nano=now_ns + end,
        )
        otlp.attributes.extend(attribute(key, value) for key, value in attrs.items())
        if status:
            otlp.status.CopyFrom(status)

    # The child ends first and is exported before its root, as a batch processor sends it.
    span(WRITE, QUERY, "write audit", OtlpSpan.SPAN_KIND_INTERNAL, 2_000_000, 3_000_000, {})
    error = Status(code=Status.STATUS_CODE_ERROR, message="deadlock detected")
    db = {"db.system.name": "postgresql", "db.rows": 3}
    span(QUERY, ROOT, "SELECT orders", OtlpSpan.SPAN_KIND_CLIENT, 1_000_000, 4_000_000, db, error)
    http = {"http.request.method": "POST", "sentry.environment": "canary"}
    span(ROOT, None, "POST /checkout", OtlpSpan.SPAN_KIND_SERVER, 0, 10_000_000, http)
    return request


def logs_request(now_ns: int = T0) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource = request.resource_logs.add()
    resource.resource.attributes.append(attribute("service.name", "checkout"))
    scope = resource.scope_logs.add()
    scope.scope.name = "checkout"
    record = scope.log_records.add(
        time_unix_nano=now_ns,
        severity_number=SeverityNumber.SEVERITY_NUMBER_WARN,
        severity_text="WARN",
        body=AnyValue(string_value="order A-17 retried"),
        trace_id=bytes.fromhex(TRACE),
        span_id=bytes.fromhex(QUERY),
    )
    record.attributes.append(attribute("order.attempt", 2))
    return request


def traces_json(now_ns: int = T0) -> dict:
    """The same request in OTLP/JSON (hex ids, enums as integers, 64-bit integers as strings)."""

    def value(v):
        return {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}

    def attrs(items):
        return [{"key": key, "value": value(v)} for key, v in items.items()]

    def span(span_id, parent, name, kind, start, end, items, status=None):
        return {
            "traceId": TRACE,
            "spanId": span_id,
            "parentSpanId": parent or "",
            "name": name,
            "kind": kind,
            "startTimeUnixNano": str(now_ns + start),
            "endTimeUnixNano": str(now_ns + end),
            "attributes": attrs(items),
            **({"status": status} if status else {}),
        }

    resource = {"service.name": "checkout", "service.version": "2.0.1"}
    resource["deployment.environment.name"] = "prod"
    error = {"code": 2, "message": "deadlock detected"}
    db = {"db.system.name": "postgresql", "db.rows": 3}
    http = {"http.request.method": "POST", "sentry.environment": "canary"}
    spans = [
        span(WRITE, QUERY, "write audit", 1, 2_000_000, 3_000_000, {}),
        span(QUERY, ROOT, "SELECT orders", 3, 1_000_000, 4_000_000, db, error),
        span(ROOT, None, "POST /checkout", 2, 0, 10_000_000, http),
    ]
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attrs(resource)},
                "scopeSpans": [{"scope": {"name": "checkout.handlers"}, "spans": spans}],
            }
        ]
    }


class TestConversion:
    def test_protobuf_and_json_give_the_same_spans(self):
        from_protobuf = span_records(
            decode_request(
                traces_request().SerializeToString(), signal="traces", protobuf=True
            ).body
        )
        from_json = span_records(
            decode_request(json.dumps(traces_json()).encode(), signal="traces", protobuf=False).body
        )
        assert from_protobuf == from_json
        write, query, root = from_protobuf
        assert root == {
            "trace_id": TRACE,
            "span_id": ROOT,
            "parent_span_id": None,
            "name": "POST /checkout",
            "status": "ok",
            "is_segment": True,
            "start_timestamp": T0 / 1e9,
            "end_timestamp": (T0 + 10_000_000) / 1e9,
            "attributes": {
                "service.name": {"value": "checkout"},
                "service.version": {"value": "2.0.1"},
                "deployment.environment.name": {"value": "prod"},
                "http.request.method": {"value": "POST"},
                "sentry.environment": {"value": "canary"},
                "sentry.release": {"value": "2.0.1"},
                "sentry.op": {"value": "http.server"},
                "otel.kind": {"value": "server"},
                "otel.scope.name": {"value": "checkout.handlers"},
            },
        }
        assert (query["status"], query["is_segment"], query["parent_span_id"]) == (
            "error",
            False,
            ROOT,
        )
        assert query["attributes"]["sentry.op"] == {"value": "db"}
        assert query["attributes"]["db.rows"] == {"value": 3}
        assert query["attributes"]["otel.status_message"] == {"value": "deadlock detected"}
        assert query["attributes"]["sentry.environment"] == {"value": "prod"}
        # Both reach their root through the batch, whatever the order they came in.
        assert write["attributes"]["sentry.segment.id"] == {"value": ROOT}
        assert query["attributes"]["sentry.segment.id"] == {"value": ROOT}
        assert "sentry.segment.id" not in root["attributes"]

    def test_a_span_below_a_remote_parent_is_a_segment(self):
        body = traces_json()
        spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
        spans[2]["parentSpanId"] = "aaaaaaaaaaaaaaaa"
        spans[2]["flags"] = 0x300
        records = span_records(body)
        assert records[2]["is_segment"] is True
        assert records[0]["attributes"]["sentry.segment.id"] == {"value": ROOT}

    def test_logs(self):
        decoded = decode_request(
            logs_request().SerializeToString(), signal="logs", protobuf=True
        ).body
        (record,) = log_records(decoded)
        assert record == {
            "timestamp": T0 / 1e9,
            "level": "WARN",
            "severity_number": 13,
            "body": "order A-17 retried",
            "trace_id": TRACE,
            "span_id": QUERY,
            "attributes": {
                "service.name": {"value": "checkout"},
                "order.attempt": {"value": 2},
                "otel.scope.name": {"value": "checkout"},
            },
        }

    def test_map_and_array_values(self):
        array = {"arrayValue": {"values": [{"boolValue": True}]}}
        kvlist = {
            "values": [{"key": "a", "value": {"intValue": "1"}}, {"key": "b", "value": array}]
        }
        record = {
            "body": {"kvlistValue": kvlist},
            "attributes": [{"key": "nested", "value": {"kvlistValue": {"values": []}}}],
        }
        body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}
        (converted,) = log_records(body)
        assert json.loads(converted["body"]) == {"a": 1, "b": [True]}
        assert converted["attributes"]["nested"] == {"value": {}}

    @pytest.mark.parametrize(
        ("data", "protobuf", "message"),
        [
            (b"\xff\xff\xff", True, "invalid protobuf data"),
            (b"{", False, "invalid JSON data"),
            (b"[]", False, "invalid JSON data: expected an export request object"),
        ],
    )
    def test_bad_bodies(self, data, protobuf, message):
        with pytest.raises(InvalidOtlp, match=message):
            decode_request(data, signal="traces", protobuf=protobuf)

    def test_odd_shapes_are_skipped_not_raised(self):
        body = {"resourceSpans": [1, {"scopeSpans": "x"}, {"scopeSpans": [{"spans": [2, {}]}]}]}
        (span,) = span_records(body)
        assert (span["trace_id"], span["name"], span["is_segment"]) == (None, "", True)


@pytest.fixture
def post_otlp(client, key):
    def post(signal, body, *, content_type="application/x-protobuf", auth=True, **extra):
        if auth:
            extra["HTTP_X_SENTRY_AUTH"] = f"Sentry sentry_key={key.public_key}, sentry_version=7"
        return client.post(
            f"/api/{key.project_id}/integration/otlp/v1/{signal}/",
            data=body,
            content_type=content_type,
            **extra,
        )

    return post


def recent_ns() -> int:
    import time

    return time.time_ns() - 60_000_000_000


@pytest.mark.django_db
class TestEndpoint:
    def test_protobuf_traces_become_spans(self, post_otlp, key):
        response = post_otlp("traces", traces_request(recent_ns()).SerializeToString())
        assert response.status_code == 200, response.content
        assert (response.content, response["Content-Type"]) == (b"", "application/x-protobuf")
        drain()
        spans = {span.name: span for span in Span.objects.filter(trace_id=TRACE)}
        assert set(spans) == {"POST /checkout", "SELECT orders", "write audit"}
        root, query = spans["POST /checkout"], spans["SELECT orders"]
        assert (root.is_segment, root.op, root.release, root.environment) == (
            True,
            "http.server",
            "2.0.1",
            "canary",
        )
        assert (query.op, query.status, query.segment_id, query.environment) == (
            "db",
            "error",
            ROOT,
            "prod",
        )
        assert round(root.duration_ms) == 10
        accepted = OutcomeCounter.objects.get(category="span", outcome="accepted")
        assert accepted.quantity == 3

    def test_json_and_gzip(self, post_otlp):
        body = gzip.compress(json.dumps(traces_json(recent_ns())).encode())
        response = post_otlp(
            "traces", body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
        )
        assert assert_status(response, 200) == {}
        drain()
        assert Span.objects.count() == 3

    def test_protobuf_logs_become_log_records(self, post_otlp):
        assert post_otlp("logs", logs_request(recent_ns()).SerializeToString()).status_code == 200
        drain()
        record = LogRecord.objects.get()
        assert (record.level, record.body, record.trace_id) == ("warn", "order A-17 retried", TRACE)
        assert record.attributes["service.name"] == "checkout"

    def test_an_empty_export_request_is_answered_and_queues_nothing(self, post_otlp):
        # Django's test client leaves an empty body's Content-Type out unless told.
        response = post_otlp("traces", b"", CONTENT_TYPE="application/x-protobuf")
        assert response.status_code == 200, response.content
        assert not QueuedItem.objects.exists()

    def test_the_keys_apis_otlp_urls(self, client, key):
        dsn = ProjectKeySerializer(key).data["dsn"]
        for name, body in (("otlp_traces", traces_request()), ("otlp_logs", logs_request())):
            response = client.post(
                dsn[name].removeprefix("http://testserver"),
                data=body.SerializeToString(),
                content_type="application/x-protobuf",
                HTTP_X_SENTRY_AUTH=f"sentry sentry_key={key.public_key}",
            )
            assert response.status_code == 200, response.content
        assert sorted(QueuedItem.objects.values_list("type", flat=True)) == ["log", "span"]

    def test_a_span_quota_answers_429_for_the_exporter_to_retry(self, post_otlp, key):
        ProjectQuota.objects.create(
            project=key.project, category="span", count=3, window_seconds=60
        )
        body = traces_request().SerializeToString()
        assert post_otlp("traces", body).status_code == 200
        response = post_otlp("traces", body)
        assert assert_status(response, 429)["detail"].startswith("OTLP span dropped")
        assert int(response["Retry-After"]) > 0
        assert QueuedItem.objects.count() == 1

    @pytest.mark.parametrize(
        ("args", "status"),
        [
            ({"body": b"\xff\xff"}, 400),
            ({"body": b"{", "content_type": "application/json"}, 400),
            ({"content_type": "text/plain"}, 415),
            ({"auth": False}, 401),
        ],
    )
    def test_bad_requests(self, post_otlp, args, status):
        body = args.pop("body", traces_request().SerializeToString())
        response = post_otlp("traces", body, **args)
        assert assert_status(response, status)["detail"]
        assert not QueuedItem.objects.exists()

    def test_an_export_request_past_the_limit_is_413(self, post_otlp, settings):
        settings.INGEST_MAX_OTLP_BYTES = 1024
        body = traces_request().SerializeToString()
        assert len(body) * 3 > 1024
        response = post_otlp("traces", body * 3)
        assert response.status_code == 413, response.content
        assert not QueuedItem.objects.exists()

    def test_other_signals_are_not_found(self, client, key):
        response = client.post(
            f"/api/{key.project_id}/integration/otlp/v1/metrics/",
            data=b"",
            content_type="application/x-protobuf",
        )
        assert response.status_code == 404


def test_sentry_sdk_otlp_integration_and_the_otel_log_exporter(faultline_server, key):
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(CLIENTS / "sentry_python_otlp.py"), faultline_server.dsn(key)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Failed to export" not in result.stderr, result.stderr
    trace_id = json.loads(result.stdout.splitlines()[-1])["traceId"]
    drain()
    spans = {span.name: span for span in Span.objects.filter(trace_id=trace_id)}
    assert set(spans) == {"POST /checkout", "SELECT orders"}
    root, query = spans["POST /checkout"], spans["SELECT orders"]
    assert (root.is_segment, root.op, root.release, root.environment) == (
        True,
        "http.server",
        "2.0.1",
        "prod",
    )
    assert (query.op, query.status, query.parent_span_id, query.segment_id) == (
        "db",
        "error",
        root.span_id,
        root.span_id,
    )
    record = LogRecord.objects.get(trace_id=trace_id)
    assert (record.level, record.body, record.span_id) == (
        "warn",
        "order A-17 retried",
        query.span_id,
    )
    assert record.attributes["order.attempt"] == 2
    assert record.attributes["service.name"] == "checkout"


def spans_json(spans: list[dict], resource: dict | None = None) -> dict:
    attributes = [{"key": k, "value": {"stringValue": v}} for k, v in (resource or {}).items()]
    return {
        "resourceSpans": [
            {"resource": {"attributes": attributes}, "scopeSpans": [{"spans": spans}]}
        ]
    }


def json_span(span_id: str, parent: str = "", **fields) -> dict:
    return {"traceId": TRACE, "spanId": span_id, "parentSpanId": parent, **fields}


class TestHostileRequests:
    """Found by review: each of these was a 500, or cost far more than its size."""

    @pytest.mark.parametrize("number", ["1e400", "Infinity", "-Infinity"])
    def test_infinite_integers_are_left_out(self, number):
        body = f'{{"resourceSpans": [{{"scopeSpans": [{{"spans": [{{"spanId": "a1a1a1a1a1a1a1a1", "attributes": [{{"key": "n", "value": {{"intValue": {number}}}}}]}}]}}]}}]}}'  # noqa: E501
        export = decode_request(body.encode(), signal="traces", protobuf=False)
        (span,) = span_records(export.body)
        assert span["attributes"]["n"] == {"value": None}

    @pytest.mark.parametrize("parent", [["x"], {"a": 1}, 7, "0000000000000000"])
    def test_a_parent_that_is_no_id_makes_a_segment(self, parent):
        (span,) = span_records(spans_json([json_span("A1A1A1A1A1A1A1A1", parent)]))
        assert (span["span_id"], span["parent_span_id"], span["is_segment"]) == (
            "a1a1a1a1a1a1a1a1",
            None,
            True,
        )

    def test_long_chains_and_cycles_link_in_one_pass(self):
        ids = [f"{n:016x}" for n in range(1, 5001)]
        chain = [json_span(ids[0])] + [json_span(ids[n], ids[n - 1]) for n in range(1, 5000)]
        records = span_records(spans_json(chain[::-1]))
        assert {r["attributes"].get("sentry.segment.id", {}).get("value") for r in records} == {
            None,
            ids[0],
        }
        assert sum("sentry.segment.id" not in r["attributes"] for r in records) == 1
        cycle = [json_span(ids[0], ids[1]), json_span(ids[1], ids[0])]
        assert all(
            "sentry.segment.id" not in r["attributes"] for r in span_records(spans_json(cycle))
        )

    def test_mixed_case_ids_link_and_given_op_and_segment_are_kept(self):
        op = {"key": "sentry.op", "value": {"stringValue": "task"}}
        given = {"key": "sentry.segment.id", "value": {"stringValue": "ffffffffffffffff"}}
        spans = [
            json_span("AAAAAAAAAAAAAAAA", attributes=[op]),
            json_span("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa"),
            json_span("cccccccccccccccc", "aaaaaaaaaaaaaaaa", attributes=[given]),
        ]
        root, child, named = span_records(spans_json(spans))
        assert root["attributes"]["sentry.op"] == {"value": "task"}
        assert child["attributes"]["sentry.segment.id"] == {"value": "aaaaaaaaaaaaaaaa"}
        assert named["attributes"]["sentry.segment.id"] == {"value": "ffffffffffffffff"}

    def test_a_large_resource_is_capped_before_it_is_copied(self):
        resource = {f"attr.{n}": "x" * 1000 for n in range(150)}
        records = span_records(spans_json([json_span(f"{n:016x}") for n in range(1, 4)], resource))
        for record in records:
            copied = [key for key in record["attributes"] if key.startswith("attr.")]
            assert 0 < len(copied) <= 8
        assert len(json.dumps(records[0]["attributes"])) < 9000

    def test_logs_without_severity_or_body_are_info(self):
        body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "1"}]}]}]}
        (record,) = log_records(body)
        assert (record["level"], record["severity_number"], record["body"]) == ("info", None, "")


@pytest.mark.django_db
def test_records_past_the_limit_are_a_partial_success(post_otlp, key, monkeypatch):
    from ingest.normalize import otlp

    monkeypatch.setattr(otlp, "MAX_RECORDS_PER_REQUEST", 2)
    request = traces_request(recent_ns())
    response = post_otlp("traces", request.SerializeToString())
    assert response.status_code == 200, response.content
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    body = json.dumps(traces_json(recent_ns())).encode()
    answer = assert_status(post_otlp("traces", body, content_type="application/json"), 200)
    assert answer["partialSuccess"]["rejectedSpans"] == "1"
    drain()
    assert Span.objects.count() == 2
    invalid = OutcomeCounter.objects.get(outcome="invalid")
    assert (invalid.category, invalid.reason, invalid.quantity) == ("span", "too_many_items", 2)


@pytest.mark.django_db
def test_an_otel_log_without_severity_is_stored(post_otlp):
    request = logs_request(recent_ns())
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    record.severity_number = 0
    record.severity_text = ""
    record.ClearField("body")
    assert post_otlp("logs", request.SerializeToString()).status_code == 200
    drain()
    stored = LogRecord.objects.get()
    assert (stored.level, stored.body) == ("info", "")


class TestSecondReview:
    """Found by the review of the fixes above."""

    def test_a_long_scope_name_is_capped(self):
        body = spans_json([json_span("a1a1a1a1a1a1a1a1")])
        body["resourceSpans"][0]["scopeSpans"][0]["scope"] = {"name": "x" * 5000}
        (span,) = span_records(body)
        assert span["attributes"]["otel.scope.name"] == {"value": "x" * 200}

    def test_service_release_and_environment_survive_a_large_resource(self):
        resource = {
            "process.command_line": "java -cp " + "lib.jar:" * 600,
            "service.name": "checkout",
            "service.version": "2.0.1",
            "deployment.environment.name": "prod",
        }
        (span,) = span_records(spans_json([json_span("a1a1a1a1a1a1a1a1")], resource))
        attributes = span["attributes"]
        assert "process.command_line" not in attributes
        assert attributes["service.name"] == {"value": "checkout"}
        assert attributes["sentry.release"] == {"value": "2.0.1"}
        assert attributes["sentry.environment"] == {"value": "prod"}

    def test_a_segment_named_on_the_way_is_the_answer_below_it(self):
        named = {"key": "sentry.segment.id", "value": {"stringValue": "ffffffffffffffff"}}
        spans = [
            json_span("cccccccccccccccc", "bbbbbbbbbbbbbbbb"),
            json_span("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa", attributes=[named]),
            json_span("aaaaaaaaaaaaaaaa"),
        ]
        below, middle, root = span_records(spans_json(spans))
        assert below["attributes"]["sentry.segment.id"] == {"value": "ffffffffffffffff"}
        assert middle["attributes"]["sentry.segment.id"] == {"value": "ffffffffffffffff"}
        assert "sentry.segment.id" not in root["attributes"]

    def test_an_unusable_named_segment_is_replaced_and_a_malformed_root_not_inherited(self):
        unusable = {"key": "sentry.segment.id", "value": {"kvlistValue": {"values": []}}}
        spans = [
            json_span("aaaaaaaaaaaaaaaa"),
            json_span("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa", attributes=[unusable]),
            json_span("not-hex-at-all"),
            json_span("cccccccccccccccc", "not-hex-at-all"),
        ]
        _, child, _, orphan = span_records(spans_json(spans))
        assert child["attributes"]["sentry.segment.id"] == {"value": "aaaaaaaaaaaaaaaa"}
        assert "sentry.segment.id" not in orphan["attributes"]

    @pytest.mark.parametrize(
        ("record", "level", "body"),
        [
            ({"timeUnixNano": "1", "body": {}}, "info", ""),
            ({"timeUnixNano": 1, "severityText": "NOTICE", "body": {"intValue": 7}}, "info", "7"),
            ({"timeUnixNano": "1", "severityText": "Warning"}, "Warning", ""),
        ],
    )  # fmt: skip
    def test_collector_style_log_records(self, record, level, body):
        (converted,) = log_records({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]})
        assert (converted["level"], converted["body"]) == (level, body)
