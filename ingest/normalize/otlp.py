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
from collections.abc import Iterator
from typing import Any

from ingest.normalize.fields import MAX_ARRAY_VALUES, MAX_DATABAG_DEPTH

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
# Span flags: the parent's remoteness is known, and the parent is remote.
_FLAG_HAS_IS_REMOTE = 0x100
_FLAG_IS_REMOTE = 0x200


class InvalidOtlp(ValueError):
    """A body that is not an export request of its signal."""


def decode_request(data: bytes, *, signal: str, protobuf: bool) -> JSON:
    """An export request (of `signal`: TRACES or LOGS) as OTLP/JSON."""
    if not protobuf:
        try:
            decoded = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidOtlp(f"invalid JSON data: {exc}") from None
        if not isinstance(decoded, dict):
            raise InvalidOtlp("invalid JSON data: expected an export request object")
        return decoded
    return _from_protobuf(data, signal)


def _from_protobuf(data: bytes, signal: str) -> JSON:
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
    # Only the fields read below, written as OTLP/JSON writes them (ids in hex); protobuf's
    # own JSON mapping (json_format) took several times longer and base64-encodes the ids.
    resources, scopes, records = _PATHS[signal]
    resources_field, scopes_field, records_field = _PB_FIELDS[signal]
    convert = _pb_span if signal == TRACES else _pb_log
    return {
        resources: [
            {
                "resource": {"attributes": _pb_attributes(resource.resource.attributes)},
                scopes: [
                    {
                        "scope": {"name": scope.scope.name},
                        records: [convert(record) for record in getattr(scope, records_field)],
                    }
                    for scope in getattr(resource, scopes_field)
                ],
            }
            for resource in getattr(message, resources_field)
        ]
    }


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
    """Each record with its resource's attributes and its instrumentation scope."""
    resources, scopes, records = _PATHS[signal]
    for resource in _objects(request.get(resources)):
        described = resource.get("resource")
        attributes = otel_attributes(
            described.get("attributes") if isinstance(described, dict) else None
        )
        for scope in _objects(resource.get(scopes)):
            about = scope.get("scope") if isinstance(scope.get("scope"), dict) else {}
            for record in _objects(scope.get(records)):
                yield record, attributes, about


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
        except (TypeError, ValueError):
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
    body = any_value(record.get("body"))
    if isinstance(body, dict | list):
        body = json.dumps(body, default=str)
    return {
        "timestamp": timestamp,
        "level": record.get("severityText"),
        "severity_number": record.get("severityNumber"),
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


def _span(span: JSON, resource: JSON, scope: JSON) -> JSON:
    kind = (
        _KINDS.get(span.get("kind"), "internal")
        if isinstance(span.get("kind"), int)
        else "internal"
    )
    own = otel_attributes(span.get("attributes"))
    attributes = {**resource, **own}
    status = span.get("status") if isinstance(span.get("status"), dict) else {}
    extra: JSON = {"sentry.op": {"value": _op(kind, attributes)}, "otel.kind": {"value": kind}}
    if isinstance(scope.get("name"), str) and scope["name"]:
        extra["otel.scope.name"] = {"value": scope["name"]}
    if isinstance(status.get("message"), str) and status["message"]:
        extra["otel.status_message"] = {"value": status["message"]}
    parent = span.get("parentSpanId") or None
    flags = span.get("flags") if isinstance(span.get("flags"), int) else 0
    remote_parent = flags & (_FLAG_HAS_IS_REMOTE | _FLAG_IS_REMOTE) == (
        _FLAG_HAS_IS_REMOTE | _FLAG_IS_REMOTE
    )
    return {
        "trace_id": span.get("traceId"),
        "span_id": span.get("spanId"),
        "parent_span_id": parent,
        "name": span.get("name") if isinstance(span.get("name"), str) else "",
        "status": "error" if status.get("code") == _STATUS_ERROR else "ok",
        "is_segment": parent is None or remote_parent,
        "start_timestamp": _nanos(span.get("startTimeUnixNano")),
        "end_timestamp": _nanos(span.get("endTimeUnixNano")),
        "attributes": {**attributes, **_sentry_attributes(attributes), **extra},
    }


def _link_segments(spans: list[JSON]) -> None:
    """Each span's segment (its root, or the first span below a remote parent), where the
    request holds it: a span exported before its root is left without one."""
    by_id = {span["span_id"]: span for span in spans if isinstance(span["span_id"], str)}
    for span in spans:
        current, hops = span, 0
        while not current["is_segment"] and hops < len(spans):
            current = by_id.get(current["parent_span_id"])
            if current is None:
                break
            hops += 1
        if current is not None and current is not span and current["is_segment"]:
            span["attributes"]["sentry.segment.id"] = {"value": current["span_id"]}


def span_records(request: JSON) -> list[JSON]:
    """The span v2 records of a traces export request (OTLP/JSON)."""
    spans = [_span(span, resource, scope) for span, resource, scope in _grouped(request, TRACES)]
    _link_segments(spans)
    return spans


def log_records(request: JSON) -> list[JSON]:
    """The `log` container records of a logs export request (OTLP/JSON)."""
    records = []
    for raw, resource, scope in _grouped(request, LOGS):
        record = log_record_from_otel(raw)
        attributes = {**resource, **record["attributes"]}
        extra = _sentry_attributes(attributes)
        if isinstance(scope.get("name"), str) and scope["name"]:
            extra["otel.scope.name"] = {"value": scope["name"]}
        record["attributes"] = {**attributes, **extra}
        records.append(record)
    return records
