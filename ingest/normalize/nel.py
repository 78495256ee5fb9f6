"""Network Error Logging reports (https://www.w3.org/TR/network-error-logging/) as log records.

Browsers post a Reporting API batch to the URL a site's `NEL` policy names: an array of
`{"type": "network-error", "age", "url", "user_agent", "body": {"type", "phase",
"status_code", "elapsed_time", "method", "protocol", "server_ip", "referrer",
"sampling_fraction"}}`. Like Relay, each becomes a log record at `info` level with the
failure described in words and the report's fields as attributes, so that failed requests
seen by browsers sit beside the application's own logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ingest.normalize.event import MAX_AGE
from ingest.normalize.fields import MAX_STRING_CHARS, clean_json, load_json

JSON = dict[str, Any]
NETWORK_ERROR = "network-error"
ORIGIN = "auto.http.browser_reports.nel"
# What each error type of the specification (§ 6.4, predefined network error types) means.
_DESCRIPTIONS = {
    "abandoned": "The user abandoned the request before it completed",
    "dns.unreachable": "The DNS server could not be reached",
    "dns.name_not_resolved": "The DNS server could not resolve the host name",
    "dns.failed": "The DNS lookup failed",
    "dns.address_changed": "The host's IP address changed since the NEL policy was received",
    "tcp.timed_out": "The TCP connection timed out",
    "tcp.closed": "The server closed the TCP connection",
    "tcp.reset": "The TCP connection was reset",
    "tcp.refused": "The server refused the TCP connection",
    "tcp.aborted": "The TCP connection was aborted",
    "tcp.address_invalid": "The server's IP address is invalid",
    "tcp.address_unreachable": "The server's IP address is unreachable",
    "tcp.failed": "The TCP connection failed",
    "tls.version_or_cipher_mismatch": "TLS failed: no common version or cipher",
    "tls.bad_client_auth_cert": "TLS failed: the client certificate was refused",
    "tls.cert.name_invalid": "TLS failed: the certificate is not valid for this name",
    "tls.cert.date_invalid": "TLS failed: the certificate has expired or is not yet valid",
    "tls.cert.authority_invalid": "TLS failed: the certificate's issuer is not trusted",
    "tls.cert.invalid": "TLS failed: the certificate is invalid",
    "tls.cert.revoked": "TLS failed: the certificate was revoked",
    "tls.cert.pinned_key_not_in_cert_chain": "TLS failed: no pinned key in the certificate chain",
    "tls.protocol.error": "TLS failed: protocol error",
    "tls.failed": "The TLS connection failed",
    "http.protocol.error": "HTTP protocol error",
    "http.response.invalid": "The response was empty, truncated or could not be decoded",
    "http.response.redirect_loop": "The request ran into a redirect loop",
    "http.failed": "The HTTP request failed",
    "unknown": "Unknown network error",
}
# Attributes taken from the report's body as they are: (attribute, body field, type).
_BODY_ATTRIBUTES = (
    ("nel.type", "type", str),
    ("nel.phase", "phase", str),
    ("http.request.method", "method", str),
    ("network.protocol", "protocol", str),
    ("http.request.header.referer", "referrer", str),
    ("http.response.status_code", "status_code", int),
    ("http.request.duration", "elapsed_time", int),
    ("nel.sampling_fraction", "sampling_fraction", float),
)
_ATTRIBUTE_TYPES = {str: "string", int: "integer", float: "double"}


class InvalidNelReport(ValueError):
    """A body that is not a batch of reports."""


@dataclass
class NelReports:
    """The log records of one request, and counts of the reports not kept."""

    records: list[JSON] = field(default_factory=list)
    unsupported: int = 0
    invalid: int = 0
    over_limit: int = 0


def nel_reports(data: bytes, *, received: datetime, max_records: int = 100) -> NelReports:
    """The log records of a NEL endpoint's body, a JSON array of reports (the first
    `max_records` network errors); InvalidNelReport for anything else."""
    reports = load_json(data, error=InvalidNelReport, expect=list, what="an array of reports")
    result = NelReports()
    for report in reports:
        if not isinstance(report, dict) or not isinstance(report.get("body"), dict):
            result.invalid += 1
        elif report.get("type") != NETWORK_ERROR:
            result.unsupported += 1
        elif len(result.records) >= max_records:
            result.over_limit += 1
        else:
            result.records.append(clean_json(_record(report, received)))
    return result


def describe(error_type: str, status_code: int | None) -> str:
    """The failure in words, as the log record's body."""
    if error_type == "http.error":
        return f"The response had HTTP status {status_code if status_code is not None else 0}"
    if error_type == "ok":
        return "The request succeeded"
    return _DESCRIPTIONS.get(error_type, error_type or "unknown")


def _value(raw: Any, kind: type) -> Any:
    if kind is str:
        return raw[:MAX_STRING_CHARS] if isinstance(raw, str) and raw else None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    if kind is int:
        return int(raw) if isinstance(raw, int) and abs(raw) < 2**53 else None
    return float(raw) if 0 <= raw <= 1 else None


def _host(value: Any) -> str | None:
    """The host of a URL; an IP address (what `server_ip` holds) as it is."""
    if not isinstance(value, str) or not value:
        return None
    if "://" not in value:
        return value[:255]
    try:
        host = urlsplit(value).hostname
    except ValueError:
        return None
    return host[:255] if host else None


def _attribute(value: Any) -> JSON:
    return {"value": value, "type": _ATTRIBUTE_TYPES[type(value)]}


def _record(report: JSON, received: datetime) -> JSON:
    body = report["body"]
    values: JSON = {"sentry.origin": ORIGIN, "report_type": NETWORK_ERROR}
    url = _value(report.get("url"), str)
    values["url.full"] = url
    values["url.domain"] = _host(url)
    values["server.address"] = _host(body.get("server_ip"))
    values["user_agent.original"] = _value(report.get("user_agent"), str)
    for name, key, kind in _BODY_ATTRIBUTES:
        values[name] = _value(body.get(key), kind)
    age = _value(report.get("age"), int)
    moment = received - min(timedelta(milliseconds=max(age or 0, 0)), MAX_AGE)
    return {
        "timestamp": moment.timestamp(),
        "level": "info",
        "body": describe(values["nel.type"] or "unknown", values["http.response.status_code"]),
        "attributes": {name: _attribute(v) for name, v in values.items() if v is not None},
    }
