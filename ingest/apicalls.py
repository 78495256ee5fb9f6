"""Moesif API-call events checked at the door and turned into the payload the digest stores.

Field rules follow the seed (request `time`, `uri`, `verb` required; a response, when present,
with its `time` and `status`) and what the real clients send
(/work/shared/reference/moesif-events.md): moesifapi-python serializes every field, `null` for
unset ones, and sends zone-less ISO 8601 times (read as UTC). A request without `ip_address`
takes the client's address, as Moesif's collector does. Free-form data (metadata, bodies,
header values) is trimmed to normalize's depth, so that no payload is too deep to queue.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest.normalize import clean_text, trim_databag

JSON = dict[str, Any]

# The queued item type, and the outcome and quota category, of API calls.
API_CALL = "api_call"

TRANSFER_ENCODINGS = ("json", "base64")
# Moesif's own namespace for transaction ids that are not UUIDs: kept deduplicable.
TRANSACTION_NAMESPACE = uuid.UUID("6f1c36d3-4a5e-4b8e-9d0c-6d6f65736966")
_HEX32 = re.compile(r"[0-9a-f]{32}")
# W3C traceparent `00-<trace id>-<span id>-<flags>`; sentry-trace `<trace id>-<span id>[-<s>]`.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_SENTRY_TRACE = re.compile(r"^([0-9a-f]{32})-[0-9a-f]{16}")
_VERB = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,15}")
MAX_INT32 = 2**31 - 1
# Model column widths: longer optional strings are cut, not refused.
STRING_CAPS = {
    "user_id": 200,
    "company_id": 200,
    "session_token": 200,
    "direction": 16,
    "tags": 512,
    "api_version": 64,
    "ip_address": 64,
}


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def at(self, index: int) -> JSON:
        return {"index": index, "field": self.field, "reason": self.reason}


class InvalidApiCall(Exception):
    """One event broke the rules; `errors` names every field at fault."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{error.field}: {error.reason}" for error in errors))
        self.errors = errors


def parse_time(value: Any) -> datetime:
    """An ISO 8601 moment; zone-less ones are UTC (moesifapi-python sends those)."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved to UTC
        raise ValueError("not an ISO 8601 time") from None


class _Checker:
    """Collects every error of one event instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, field: str, reason: str) -> None:
        self.errors.append(FieldError(field, reason))

    def required_string(self, data: JSON, name: str, path: str) -> str:
        value = data.get(name)
        if value is None or value == "":
            self.fail(path, "required")
        elif not isinstance(value, str):
            self.fail(path, "must be a string")
        else:
            return value
        return ""

    def optional_string(self, data: JSON, name: str, path: str) -> str:
        value = data.get(name)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(path, "must be a string")
            return ""
        return str(value)[: STRING_CAPS.get(name, 200)]

    def time(self, data: JSON, name: str, path: str) -> datetime | None:
        if data.get(name) is None:
            self.fail(path, "required")
            return None
        try:
            return parse_time(data[name])
        except ValueError as exc:
            self.fail(path, str(exc))
            return None

    def obj(self, data: JSON, name: str, path: str) -> JSON:
        value = data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return {}
        return value


def _headers(checker: _Checker, data: JSON, path: str) -> dict[str, str]:
    headers = checker.obj(data, "headers", path)
    return {
        str(name): value if isinstance(value, str) else str(trim_databag(value, max_chars=None))
        for name, value in headers.items()
        if value is not None
    }


def _message(checker: _Checker, data: JSON, side: str) -> JSON:
    """Headers, body and its encoding of the request or response."""
    encoding = data.get("transfer_encoding") or "json"
    if encoding not in TRANSFER_ENCODINGS:
        checker.fail(f"{side}.transfer_encoding", "must be json or base64")
    body = data.get("body")
    if encoding == "base64" and body is not None and not isinstance(body, str):
        checker.fail(f"{side}.body", "must be a base64 string when transfer_encoding is base64")
    return {
        "headers": _headers(checker, data, f"{side}.headers"),
        "body": trim_databag(body, max_chars=None) if isinstance(body, dict | list) else body,
        "transfer_encoding": encoding,
    }


def _ip_address(checker: _Checker, request: JSON, client_ip: str) -> str:
    value = request.get("ip_address")
    if value is None or value == "":
        return client_ip[:64]
    if not isinstance(value, str):
        checker.fail("request.ip_address", "must be a string")
        return ""
    return value[:64]


def _request(checker: _Checker, event: JSON, client_ip: str) -> JSON:
    request = event.get("request")
    if not isinstance(request, dict):
        checker.fail("request", "required" if request is None else "must be an object")
        return {}
    verb = checker.required_string(request, "verb", "request.verb")
    if verb and not _VERB.fullmatch(verb):
        checker.fail("request.verb", "not an HTTP method")
    time = checker.time(request, "time", "request.time")
    return {
        "time": time.isoformat() if time else None,
        "uri": checker.required_string(request, "uri", "request.uri"),
        "verb": verb.upper(),
        "ip_address": _ip_address(checker, request, client_ip),
        "api_version": checker.optional_string(request, "api_version", "request.api_version"),
        **_message(checker, request, "request"),
    }


def _status(checker: _Checker, response: JSON) -> int | None:
    status = response.get("status")
    if status is None:
        checker.fail("response.status", "required")
    elif isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        checker.fail("response.status", "must be an HTTP status code (100-599)")
    else:
        return status
    return None


def _response(checker: _Checker, event: JSON) -> JSON | None:
    """None when the call got no response (a timeout): stored with a NULL status."""
    response = event.get("response")
    if response is None:
        return None
    if not isinstance(response, dict):
        checker.fail("response", "must be an object")
        return None
    time = checker.time(response, "time", "response.time")
    return {
        "time": time.isoformat() if time else None,
        "status": _status(checker, response),
        **_message(checker, response, "response"),
    }


def _weight(checker: _Checker, event: JSON) -> int:
    weight = event.get("weight")
    if weight is None:
        return 1
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_INT32:
        checker.fail("weight", "must be a non-negative integer")
        return 1
    return weight


def _transaction_id(checker: _Checker, event: JSON) -> str | None:
    value = checker.optional_string(event, "transaction_id", "transaction_id")
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        # uuid5 encodes the name as UTF-8, which a lone surrogate half cannot be.
        return str(uuid.uuid5(TRANSACTION_NAMESPACE, clean_text(value)))


def trace_id_of(event: JSON, headers: dict[str, str]) -> str:
    """The event's `trace_id`, else the one a `traceparent` or `sentry-trace` header carries."""
    value = event.get("trace_id")
    if isinstance(value, str) and _HEX32.fullmatch(value.replace("-", "").lower()):
        return value.replace("-", "").lower()
    lowered = {name.lower(): header for name, header in headers.items()}
    for name, pattern in (("traceparent", _TRACEPARENT), ("sentry-trace", _SENTRY_TRACE)):
        match = pattern.match(lowered.get(name, "").strip().lower())
        if match:
            return match.group(1)
    return ""


def parse_api_call(event: Any, *, client_ip: str = "") -> JSON:
    """The clean payload of one event, as queued for the digest; InvalidApiCall if it breaks
    the rules (every fault named). `client_ip`: the sender's address, for events without
    `request.ip_address`."""
    if not isinstance(event, dict):
        raise InvalidApiCall([FieldError("", "an event must be a JSON object")])
    checker = _Checker()
    request = _request(checker, event, client_ip)
    metadata = trim_databag(checker.obj(event, "metadata", "metadata"), max_chars=None)
    payload = {
        "request": request,
        "response": _response(checker, event),
        "user_id": checker.optional_string(event, "user_id", "user_id"),
        "company_id": checker.optional_string(event, "company_id", "company_id"),
        "session_token": checker.optional_string(event, "session_token", "session_token"),
        "direction": checker.optional_string(event, "direction", "direction"),
        "tags": checker.optional_string(event, "tags", "tags"),
        "weight": _weight(checker, event),
        "transaction_id": _transaction_id(checker, event),
        "trace_id": trace_id_of(event, request.get("headers") or {}),
        "metadata": metadata,
    }
    if checker.errors:
        raise InvalidApiCall(checker.errors)
    return payload
