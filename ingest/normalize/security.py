"""Browser security reports as Sentry events: Content-Security-Policy violations, as browsers
post them to a key's security endpoint.

Two forms arrive (https://www.w3.org/TR/CSP3/#reporting): the `report-uri` directive's
`{"csp-report": {"document-uri": …}}` with `application/csp-report`, and the Reporting API's
array of `{"type": "csp-violation", "age": …, "user_agent": …, "body": {"documentURL": …}}`
with `application/reports+json`. Each violation becomes an event with the `csp` interface,
titled, tagged and given a culprit the way Sentry presents CSP issues. Reports of other kinds
(the Reporting API's deprecations and interventions, the retired Expect-CT and HPKP) are
counted and not kept, as Relay does.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from groups.eventtypes import csp_source
from ingest.normalize.event import MAX_AGE
from ingest.normalize.fields import MAX_STRING_CHARS, clean_json, load_json
from organizations.validators import is_number

JSON = dict[str, Any]
CSP_VIOLATION = "csp-violation"
# Bodies of reports that browsers no longer send (Expect-CT, Expect-Staple, HPKP).
_RETIRED_REPORT_KEYS = ("expect-ct-report", "expect-staple-report", "known-pins")
_DIRECTIVE = re.compile(r"[a-z][a-z0-9-]{0,63}")
# The `csp` interface's fields, each read from its report-uri name or its Reporting API name.
_FIELDS = {
    "document_uri": ("document-uri", "documentURL"),
    "blocked_uri": ("blocked-uri", "blockedURL"),
    "effective_directive": ("effective-directive", "effectiveDirective"),
    "violated_directive": ("violated-directive", "violatedDirective"),
    "original_policy": ("original-policy", "originalPolicy"),
    "referrer": ("referrer",),
    "disposition": ("disposition",),
    "source_file": ("source-file", "sourceFile"),
    "script_sample": ("script-sample", "sample"),
}
_NUMBER_FIELDS = {
    "status_code": ("status-code", "statusCode"),
    "line_number": ("line-number", "lineNumber"),
    "column_number": ("column-number", "columnNumber"),
}
# What each fetch directive blocks, in the words of the issue title.
_RESOURCES = {
    "child-src": "child",
    "connect-src": "connect",
    "font-src": "font",
    "frame-src": "frame",
    "img-src": "image",
    "manifest-src": "manifest",
    "media-src": "media",
    "object-src": "object",
    "script-src": "script",
    "script-src-elem": "script",
    "style-src": "style",
    "style-src-elem": "style",
    "worker-src": "worker",
}
_INLINE_ONLY = {
    "script-src-attr": "Blocked inline script attribute",
    "style-src-attr": "Blocked inline style attribute",
}
# What Chrome reports as the blocked URI of a Trusted Types violation.
_TRUSTED_TYPES_MARKERS = frozenset({"trusted-types-policy", "trusted-types-sink"})


class InvalidSecurityReport(ValueError):
    """A body that holds no security report this endpoint knows."""


@dataclass
class SecurityReports:
    """What one request carried: the events to keep, and counts of the reports not kept."""

    events: list[JSON] = field(default_factory=list)
    unsupported: int = 0
    invalid: int = 0
    # Violations past the request's limit: counted, not converted.
    over_limit: int = 0


def security_reports(
    data: bytes,
    *,
    received: datetime,
    release: str | None = None,
    environment: str | None = None,
    headers: dict[str, str] | None = None,
    max_events: int = 100,
) -> SecurityReports:
    """The events of a security endpoint's body (the first `max_events` violations);
    InvalidSecurityReport if it holds no report."""
    parsed = load_json(data, error=InvalidSecurityReport)
    reports = parsed if isinstance(parsed, list) else [parsed]
    result = SecurityReports()
    for report in reports:
        kind, body = _classify(report)
        if kind == "unsupported":
            result.unsupported += 1
            continue
        if kind == "csp" and len(result.events) >= max_events:
            result.over_limit += 1
            continue
        event = _csp_event(body, report, received=received) if kind == "csp" else None
        if event is None:
            result.invalid += 1
            continue
        _add_request_context(event, headers or {}, report)
        for name, value in (("release", release), ("environment", environment)):
            if value:
                event[name] = value
        result.events.append(clean_json(event))
    if not (result.events or result.unsupported or result.over_limit):
        raise InvalidSecurityReport("invalid security report")
    return result


def _classify(report: Any) -> tuple[str, Any]:
    if not isinstance(report, dict):
        return "invalid", None
    if "csp-report" in report:
        return "csp", report["csp-report"]
    kind = report.get("type")
    if kind == CSP_VIOLATION:
        return "csp", report.get("body")
    if isinstance(kind, str) or any(key in report for key in _RETIRED_REPORT_KEYS):
        return "unsupported", None
    return "invalid", None


def _text(raw: JSON, names: tuple[str, ...]) -> str | None:
    for name in names:
        value = raw.get(name)
        if isinstance(value, str):
            return value[:MAX_STRING_CHARS]
    return None


def _number(raw: JSON, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = raw.get(name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and 0 <= value < 2**53:
            return value
        if isinstance(value, str) and is_number(value) and len(value) < 16:
            return int(value)
    return None


def _directive(csp: JSON) -> str | None:
    """The effective directive; Firefox sends only the violated one (with its sources)."""
    for name in ("effective_directive", "violated_directive"):
        words = (csp.get(name) or "").split()
        if words and _DIRECTIVE.fullmatch(words[0].lower()):
            return words[0].lower()
    return None


def _csp_event(raw: Any, report: JSON, *, received: datetime) -> JSON | None:
    if not isinstance(raw, dict):
        return None
    csp: JSON = {name: _text(raw, names) for name, names in _FIELDS.items()}
    csp.update({name: _number(raw, names) for name, names in _NUMBER_FIELDS.items()})
    directive = _directive(csp)
    if directive is None:
        return None
    csp["effective_directive"] = directive
    csp["violated_directive"] = csp["violated_directive"] or ""
    # A report without a blocked URI is about the document itself (CSP1 browsers).
    csp["blocked_uri"] = csp["blocked_uri"] if csp["blocked_uri"] is not None else "self"
    csp = {name: value for name, value in csp.items() if value is not None}
    event: JSON = {
        "event_id": uuid.uuid4().hex,
        "logentry": {"formatted": csp_title(directive, csp["blocked_uri"])},
        "culprit": _culprit(csp),
        "tags": _tags(directive, csp["blocked_uri"]),
        "csp": csp,
    }
    timestamp = _generated_at(report, received)
    if timestamp is not None:
        event["timestamp"] = timestamp.timestamp()
    return event


def _generated_at(report: JSON, received: datetime) -> datetime | None:
    """The Reporting API says how long ago (ms) the browser made the report."""
    age = report.get("age")
    if isinstance(age, bool) or not isinstance(age, int | float) or not 0 < age < 2**53:
        return None
    return received - min(timedelta(milliseconds=age), MAX_AGE)


def csp_title(directive: str, blocked_uri: str) -> str:
    """The issue title of a violation, as Sentry words it."""
    resource = _RESOURCES.get(directive, directive)
    if blocked_uri == "eval" or blocked_uri == "wasm-eval":
        return f"Blocked unsafe eval() '{resource}'"
    if blocked_uri in _TRUSTED_TYPES_MARKERS:
        return f"Blocked '{directive}' ({blocked_uri})"
    if directive in _INLINE_ONLY:
        return _INLINE_ONLY[directive]
    if blocked_uri in ("", "self", "'self'", "inline"):
        if directive == "script-src" and blocked_uri != "inline":
            return "Blocked unsafe (eval() or inline) 'script'"
        return f"Blocked inline '{resource}'"
    if directive == "form-action":
        return f"Blocked 'form' action to '{csp_source(blocked_uri)}'"
    return f"Blocked '{resource}' from '{csp_source(blocked_uri)}'"


def _culprit(csp: JSON) -> str:
    """The violated directive with its sources; the document's own origin, which Firefox
    spells out, written back as `'self'`."""
    words = csp["violated_directive"].split()
    if not words:
        return ""
    document = csp_source(csp.get("document_uri") or "")
    sources = ["'self'" if _is_source(word, document) else word for word in words[1:]]
    return " ".join([words[0], *sources])


def _is_source(word: str, source: str) -> bool:
    # Without a colon a word is a host (or a keyword), not a scheme, in a policy.
    return word == source or (":" in word and csp_source(word) == source)


def _tags(directive: str, blocked_uri: str) -> list[list[str]]:
    tags = [["effective-directive", directive], ["blocked-uri", _without_secrets(blocked_uri)]]
    try:
        parts = urlsplit(blocked_uri)
    except ValueError:
        return tags
    if parts.scheme in ("http", "https") and parts.hostname:
        tags.append(["blocked-host", parts.hostname])
    return tags


def _without_secrets(uri: str) -> str:
    # Stripe puts card tokens in the query strings of its API's URLs (Sentry strips them too).
    if uri.startswith("https://api.stripe.com/"):
        return re.split(r"[?#]", uri, maxsplit=1)[0]
    return uri


def _add_request_context(event: JSON, headers: dict[str, str], report: JSON) -> None:
    """The violating page as the event's request, with the reporting browser's headers."""
    csp = event["csp"]
    request: JSON = {}
    document = csp.get("document_uri") or report.get("url")
    if isinstance(document, str) and document:
        request["url"] = document
    user_agent = report.get("user_agent")
    sent = {
        "Referer": csp.get("referrer"),
        "User-Agent": user_agent if isinstance(user_agent, str) else headers.get("User-Agent"),
        "Origin": headers.get("Origin"),
    }
    pairs = [[name, value] for name, value in sent.items() if isinstance(value, str) and value]
    if pairs:
        request["headers"] = pairs
    if request:
        event["request"] = request
