"""OpenTelemetry's protocol (OTLP/HTTP, https://opentelemetry.io/docs/specs/otlp/): export
requests of traces and logs, in protobuf or JSON, as the span v2 and log records that `span`
and `log` items carry.

sentry-sdk's OTLPIntegration, and any OpenTelemetry SDK or collector given the URL, posts to
`/api/<id>/integration/otlp/v1/traces` (and `/logs`), as to Sentry's OTLP endpoint. Protobuf
requests are decoded with opentelemetry-proto into the OTLP/JSON shape first (ids as hex,
as OTLP/JSON writes them), so that both encodings take one path.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ingest.normalize.fields import LOG_LEVEL_WORDS, MAX_ARRAY_VALUES, MAX_DATABAG_DEPTH, load_json

JSON = dict[str, Any]
TRACES = "traces"
LOGS = "logs"
# Where each signal keeps its records: (resource list, scope list, record list).
_PATHS = {
    TRACES: ("resourceSpans", "scopeSpans", "spans"),
    LOGS: ("resourceLogs", "scopeLogs", "logRecords"),
}
# Span.SpanKind and Status.StatusCode (opentelemetry/proto/trace/v1/trace.proto).
_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS_ERROR = 2
_HEX16 = re.compile(r"[0-9a-f]{16}")
# What one request may cost: records converted (the rest are answered as rejected), and the
# resource attributes copied into each of them.
MAX_RECORDS_PER_REQUEST = 10_000
MAX_RESOURCE_KEYS = 64
MAX_RESOURCE_CHARS = 4096
MAX_SCOPE_NAME_CHARS = 200
# Resource attributes a record needs (its service, release and environment): kept first.
_RESOURCE_FIRST = (
    "service.name",
    "service.version",
    "service.namespace",
    "deployment.environment.name",
    "deployment.environment",
    "sentry.release",
    "sentry.environment",
)
# Span flags: the parent's remoteness is known, and the parent is remote.
_FLAG_HAS_IS_REMOTE = 0x100
_FLAG_IS_REMOTE = 0x200


class InvalidOtlp(ValueError):
    """A body that is not an export request of its signal."""


@dataclass
class ExportRequest:
    """An export request in OTLP/JSON's shape (from protobuf: its first
    MAX_RECORDS_PER_REQUEST records only), and how many records it held in all."""

    body: JSON
    total: int


def decode_request(data: bytes, *, signal: str, protobuf: bool) -> ExportRequest:
    """An export request of `signal` (TRACES or LOGS), protobuf or OTLP/JSON."""
    if protobuf:
        return _from_protobuf(data, signal)
    what = "an export request object"
    decoded = load_json(data, error=InvalidOtlp, expect=dict, what=what)
    return ExportRequest(body=decoded, total=sum(1 for _ in _records(decoded, signal)))


def _from_protobuf(data: bytes, signal: str) -> ExportRequest:
    # Imported on the first protobuf request: the digest workers, which share this module for
    # its OTLP/JSON helpers, never load protobuf (about 6 MB).
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request_type = ExportTraceServiceRequest if signal == TRACES else ExportLogsServiceRequest
    try:
        message = request_type.FromString(data)
    except (DecodeError, RecursionError) as exc:
        raise InvalidOtlp(f"invalid protobuf data: {exc}") from None
    # Only the fields read below, written as OTLP/JSON writes them (ids in hex), and only the
    # records that will be taken; protobuf's own JSON mapping (json_format) took several
    # times longer and base64-encodes the ids.
    resources, scopes, records = _PATHS[signal]
    resources_field, scopes_field, records_field = _PB_FIELDS[signal]
    convert = _pb_span if signal == TRACES else _pb_log
    total, body = 0, {resources: []}
    for resource in getattr(message, resources_field):
        kept_scopes = []
        for scope in getattr(resource, scopes_field):
            found = getattr(scope, records_field)
            room = max(MAX_RECORDS_PER_REQUEST - total, 0)
            total += len(found)
            kept = [convert(record) for record in found[:room]]
            kept_scopes.append({"scope": {"name": scope.scope.name}, records: kept})
        attributes = _pb_attributes(resource.resource.attributes)
        body[resources].append({"resource": {"attributes": attributes}, scopes: kept_scopes})
    return ExportRequest(body=body, total=total)


# The protobuf field names of _PATHS.
_PB_FIELDS = {
    TRACES: ("resource_spans", "scope_spans", "spans"),
    LOGS: ("resource_logs", "scope_logs", "log_records"),
}
_PB_SCALARS = {
    "string_value": "stringValue",
    "bool_value": "boolValue",
    "int_value": "intValue",
    "double_value": "doubleValue",
}


def _pb_value(value: Any, depth: int = 0) -> JSON:
    """A protobuf AnyValue in OTLP/JSON's form."""
    kind = value.WhichOneof("value")
    if kind in _PB_SCALARS:
        return {_PB_SCALARS[kind]: getattr(value, kind)}
    if kind == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode()}
    if kind not in ("array_value", "kvlist_value"):
        return {}
    if depth >= MAX_DATABAG_DEPTH:
        return {"stringValue": "..."}
    if kind == "array_value":
        items = value.array_value.values[:MAX_ARRAY_VALUES]
        return {"arrayValue": {"values": [_pb_value(item, depth + 1) for item in items]}}
    entries = value.kvlist_value.values[:MAX_ARRAY_VALUES]
    return {"kvlistValue": {"values": _pb_attributes(entries, depth + 1)}}


def _pb_attributes(entries: Any, depth: int = 0) -> list[JSON]:
    return [{"key": entry.key, "value": _pb_value(entry.value, depth)} for entry in entries]


def _pb_span(span: Any) -> JSON:
    return {
        "traceId": span.trace_id.hex(),
        "spanId": span.span_id.hex(),
        "parentSpanId": span.parent_span_id.hex(),
        "flags": span.flags,
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": span.start_time_unix_nano,
        "endTimeUnixNano": span.end_time_unix_nano,
        "attributes": _pb_attributes(span.attributes),
        "status": {"code": span.status.code, "message": span.status.message},
    }


def _pb_log(record: Any) -> JSON:
    return {
        "timeUnixNano": record.time_unix_nano,
        "observedTimeUnixNano": record.observed_time_unix_nano,
        "severityNumber": record.severity_number,
        "severityText": record.severity_text or None,
        "body": _pb_value(record.body) if record.HasField("body") else None,
        "attributes": _pb_attributes(record.attributes),
        "traceId": record.trace_id.hex() or None,
        "spanId": record.span_id.hex() or None,
    }


def _objects(value: Any) -> list[JSON]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _records(request: JSON, signal: str) -> Iterator[JSON]:
    resources, scopes, records = _PATHS[signal]
    for resource in _objects(request.get(resources)):
        for scope in _objects(resource.get(scopes)):
            yield from _objects(scope.get(records))


def _grouped(request: JSON, signal: str) -> Iterator[tuple[JSON, JSON, JSON]]:
    """Each record with what it takes from its resource and instrumentation scope: the
    resource's attributes, capped (_capped_resource), and the scope's name as
    `otel.scope.name`, at most MAX_SCOPE_NAME_CHARS."""
    resources, scopes, records = _PATHS[signal]
    for resource in _objects(request.get(resources)):
        described = resource.get("resource")
        attributes = _capped_resource(
            otel_attributes(described.get("attributes") if isinstance(described, dict) else None)
        )
        for scope in _objects(resource.get(scopes)):
            about = scope.get("scope") if isinstance(scope.get("scope"), dict) else {}
            name = about.get("name")
            inherited = dict(attributes)
            if isinstance(name, str) and name:
                inherited["otel.scope.name"] = {"value": name[:MAX_SCOPE_NAME_CHARS]}
            for record in _objects(scope.get(records)):
                yield record, inherited


def any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP AnyValue ({"stringValue": …}, {"intValue": "42"}, …) as plain JSON; anything
    malformed is None, arrays and maps nested deeper than MAX_DATABAG_DEPTH are "..."."""
    if not isinstance(value, dict):
        return None
    if "arrayValue" in value:
        array = value["arrayValue"]
        values = array.get("values") if isinstance(array, dict) else None
        if not isinstance(values, list):
            return None
        if depth >= MAX_DATABAG_DEPTH:
            return "..."
        return [any_value(item, depth + 1) for item in values[:MAX_ARRAY_VALUES]]
    if "kvlistValue" in value:
        kvlist = value["kvlistValue"]
        entries = kvlist.get("values") if isinstance(kvlist, dict) else None
        if not isinstance(entries, list):
            return None
        if depth >= MAX_DATABAG_DEPTH:
            return "..."
        return {
            entry["key"]: any_value(entry.get("value"), depth + 1)
            for entry in entries[:MAX_ARRAY_VALUES]
            if isinstance(entry, dict) and isinstance(entry.get("key"), str)
        }
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError, OverflowError):
            return None
    for key in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if key in value:
            return value[key] if isinstance(value[key], str | bool | int | float) else None
    return None


def otel_attributes(entries: Any) -> JSON:
    if not isinstance(entries, list):
        return {}
    return {
        entry["key"]: {"value": any_value(entry.get("value"))}
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("key"), str)
    }


def log_record_from_otel(record: JSON) -> JSON:
    """An OTLP/JSON LogRecord in the shape of a `log` container's record."""
    timestamp = _nanos(record.get("timeUnixNano")) or _nanos(record.get("observedTimeUnixNano"))
    attributes = otel_attributes(record.get("attributes"))
    # A record without a body (an event-style record, or an empty AnyValue as the Collector
    # writes one) is kept with an empty body; a body that is no AnyValue leaves it without,
    # and invalid.
    raw_body = record.get("body")
    body = "" if raw_body is None or raw_body == {} else any_value(raw_body)
    if isinstance(body, dict | list):
        body = json.dumps(body, default=str)
    severity = record.get("severityNumber")
    valid = isinstance(severity, int) and not isinstance(severity, bool) and 1 <= severity <= 24
    text = record.get("severityText") or None
    named = isinstance(text, str) and text.strip().lower() in LOG_LEVEL_WORDS
    return {
        "timestamp": timestamp,
        # No severity number (0 is unspecified) and no level named: `info`, as Relay maps it.
        "level": text if named or valid else "info",
        "severity_number": severity if valid else None,
        "body": body if isinstance(body, str) or body is None else str(body),
        "trace_id": record.get("traceId"),
        "span_id": record.get("spanId"),
        "attributes": attributes,
    }


def _value(attributes: JSON, key: str) -> Any:
    item = attributes.get(key)
    return item.get("value") if isinstance(item, dict) else None


def _sentry_attributes(attributes: JSON) -> JSON:
    """Release and environment from OpenTelemetry's resource conventions, unless the sentry.*
    attributes name them."""
    extra: JSON = {}
    release = _value(attributes, "service.version")
    environment = _value(attributes, "deployment.environment.name") or _value(
        attributes, "deployment.environment"
    )
    if "sentry.release" not in attributes and isinstance(release, str) and release:
        extra["sentry.release"] = {"value": release}
    if "sentry.environment" not in attributes and isinstance(environment, str) and environment:
        extra["sentry.environment"] = {"value": environment}
    return extra


def _nanos(value: Any) -> float | None:
    try:
        return int(value) / 1e9 if value not in (None, "", 0, "0") else None
    except (TypeError, ValueError, OverflowError):
        return None


def _op(kind: str, attributes: JSON) -> str:
    """Sentry's span operation, from the span's kind and semantic-convention attributes."""

    def has(*keys: str) -> bool:
        return any(key in attributes for key in keys)

    if has("http.request.method", "http.method"):
        return {"server": "http.server", "client": "http.client"}.get(kind, "http")
    if has("db.system", "db.system.name"):
        return "db"
    if has("messaging.system"):
        return {"producer": "queue.publish", "consumer": "queue.process"}.get(kind, "queue")
    if has("rpc.system"):
        return {"server": "rpc.server", "client": "rpc.client"}.get(kind, "rpc")
    if has("faas.trigger", "faas.invoked_name"):
        return "function"
    return "default"


def _id(value: Any) -> str | None:
    """A trace or span id as lowercase hex; None for none (empty, all zeros, not a string).
    A malformed one is kept as it is, for the digest to count its span invalid."""
    if not isinstance(value, str) or not value.strip("0"):
        return None
    return value.lower()


def _span_id(value: Any) -> str | None:
    """A well-formed span id (16 hex digits, not all zeros), lowercase; else None."""
    found = _id(value)
    return found if found and _HEX16.fullmatch(found) else None


def _kind(span: JSON) -> str:
    kind = span.get("kind")
    return _KINDS.get(kind, "internal") if isinstance(kind, int) else "internal"


def _span(span: JSON, inherited: JSON) -> JSON:
    kind = _kind(span)
    attributes = {**inherited, **otel_attributes(span.get("attributes"))}
    status = span.get("status") if isinstance(span.get("status"), dict) else {}
    # Derived attributes first: the digest keeps a span's first MAX_ATTRIBUTES keys.
    derived: JSON = {"otel.kind": {"value": kind}, **_sentry_attributes(attributes)}
    if "sentry.op" not in attributes:
        derived["sentry.op"] = {"value": _op(kind, attributes)}
    if isinstance(status.get("message"), str) and status["message"]:
        derived["otel.status_message"] = {"value": status["message"]}
    span_id, parent = _id(span.get("spanId")), _id(span.get("parentSpanId"))
    flags = span.get("flags") if isinstance(span.get("flags"), int) else 0
    remote = _FLAG_HAS_IS_REMOTE | _FLAG_IS_REMOTE
    named_segment = _span_id(_value(attributes, "sentry.segment.id"))
    if named_segment is None:
        attributes.pop("sentry.segment.id", None)
    return {
        "trace_id": _id(span.get("traceId")),
        "span_id": span_id,
        "parent_span_id": parent,
        "name": span.get("name") if isinstance(span.get("name"), str) else "",
        "status": "error" if status.get("code") == _STATUS_ERROR else "ok",
        "is_segment": parent is None or flags & remote == remote or named_segment == span_id,
        "start_timestamp": _nanos(span.get("startTimeUnixNano")),
        "end_timestamp": _nanos(span.get("endTimeUnixNano")),
        "attributes": {**derived, **attributes},
    }


def _named_segment(span: JSON) -> str | None:
    return _span_id(_value(span["attributes"], "sentry.segment.id"))


def _link_segments(spans: list[JSON]) -> None:
    """Each span's segment, where the request holds the chain up to it: its root, the first
    span below a remote parent, or the segment a span on the way names itself. A span
    exported before its root, or in a cycle, is left without one. One pass: every span on a
    walked chain is remembered with the answer."""
    by_id = {(span["trace_id"], span["span_id"]): span for span in spans if span["span_id"]}
    segment_of: dict[tuple[Any, Any], str | None] = {}
    for span in spans:
        chain: list[tuple[Any, Any]] = []
        on_chain: set[tuple[Any, Any]] = set()
        current: JSON | None = span
        found: str | None = None
        while current is not None:
            key = (current["trace_id"], current["span_id"])
            if key in segment_of or key in on_chain:
                found = segment_of.get(key)  # None for a cycle: the chain is still open
                break
            chain.append(key)
            on_chain.add(key)
            if current["is_segment"]:
                found = _span_id(current["span_id"])
                break
            if current is not span and _named_segment(current):
                found = _named_segment(current)
                break
            current = by_id.get((current["trace_id"], current["parent_span_id"]))
        for key in chain:
            segment_of[key] = found
        if found and found != span["span_id"] and not _named_segment(span):
            span["attributes"]["sentry.segment.id"] = {"value": found}


def _capped_resource(attributes: JSON) -> JSON:
    """A resource's attributes, copied into each of its records: at most MAX_RESOURCE_KEYS
    of them and MAX_RESOURCE_CHARS of text, so that a request cannot multiply a large
    resource by its record count; its service, release and environment first, and an
    attribute too large for what is left skipped, not the rest with it."""
    kept: JSON = {}
    budget = MAX_RESOURCE_CHARS
    first = [key for key in _RESOURCE_FIRST if key in attributes]
    for key in [*first, *(key for key in attributes if key not in first)]:
        if len(kept) >= MAX_RESOURCE_KEYS:
            break
        size = len(key) + len(json.dumps(attributes[key].get("value"), default=str))
        if size <= budget:
            budget -= size
            kept[key] = attributes[key]
    return kept


def _bounded(request: JSON, signal: str) -> Iterator[tuple[JSON, JSON]]:
    """The request's first MAX_RECORDS_PER_REQUEST records, with what each inherits."""
    for index, grouped in enumerate(_grouped(request, signal)):
        if index >= MAX_RECORDS_PER_REQUEST:
            return
        yield grouped


def export_response(signal: str, *, rejected: int, protobuf: bool) -> bytes:
    """The export response: empty, or a partial success naming the records left out."""
    if not rejected:
        return b"" if protobuf else b"{}"
    message = f"at most {MAX_RECORDS_PER_REQUEST} records are taken from one request"
    field = "rejected_spans" if signal == TRACES else "rejected_log_records"
    if not protobuf:
        camel = "rejectedSpans" if signal == TRACES else "rejectedLogRecords"
        partial = {camel: str(rejected), "errorMessage": message}
        return json.dumps({"partialSuccess": partial}).encode()
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    if signal == TRACES:
        response = trace_service_pb2.ExportTraceServiceResponse()
    else:
        response = logs_service_pb2.ExportLogsServiceResponse()
    setattr(response.partial_success, field, rejected)
    response.partial_success.error_message = message
    return response.SerializeToString()


def span_records(request: JSON) -> list[JSON]:
    """The span v2 records of a traces export request (OTLP/JSON), at most
    MAX_RECORDS_PER_REQUEST."""
    spans = [_span(span, inherited) for span, inherited in _bounded(request, TRACES)]
    _link_segments(spans)
    return spans


def log_records(request: JSON) -> list[JSON]:
    """The `log` container records of a logs export request (OTLP/JSON), at most
    MAX_RECORDS_PER_REQUEST."""
    records = []
    for raw, inherited in _bounded(request, LOGS):
        record = log_record_from_otel(raw)
        attributes = {**inherited, **record["attributes"]}
        record["attributes"] = {**_sentry_attributes(attributes), **attributes}
        records.append(record)
    return records
