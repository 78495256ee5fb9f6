"""Server-side scrubbing of secrets and personal data before an event is stored.

Mirrors Sentry's data scrubber (https://docs.sentry.io/security-legal-pii/scrubbing/server-side-scrubbing/):
values under keys that look sensitive become `[Filtered]`, as do credit-card numbers anywhere
in free-form data; the project's own sensitive and safe field lists adjust the defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from ingest.normalize import MAX_DATABAG_DEPTH, SCALAR_TYPES, format_logentry

if TYPE_CHECKING:
    from projects.models import Project

FILTERED = "[Filtered]"
# Containers nested deeper than this are cut to "...", as normalize.trim_databag cuts them:
# what cannot be walked cannot be scrubbed (nor kept). Events are trimmed to
# MAX_DATABAG_DEPTH before scrubbing; the margin is for the data trimmed from a deeper start.
MAX_SCRUB_DEPTH = 4 * MAX_DATABAG_DEPTH

# Sentry's DEFAULT_SCRUBBED_FIELDS, matched as substrings of lower-cased keys.
DEFAULT_SENSITIVE = (
    "password", "secret", "passwd", "api_key", "apikey", "auth", "credentials", "mysql_pwd",
    "privatekey", "private_key", "token", "session", "csrf", "xsrf", "cookie", "phpsessid",
    "connect.sid", "x-api-key", "x_api_key", "symfony",
)  # fmt: skip
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# No text shorter than this holds a card number.
_CARD_MIN_CHARS = 13
# Thirteen ASCII digits with at most one space or dash between them: what every match of
# _CARD holds in ASCII text. Found about four times as fast (the engine skips ahead to
# digits, which _CARD's leading \b prevents), so most text is cleared by this alone.
_CARD_HINT = re.compile(r"[0-9](?:[ -]?[0-9]){12}")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


def _card_or_not(match: re.Match[str]) -> str:
    digits = match.group().replace(" ", "").replace("-", "")
    return FILTERED if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group()


def _may_hold_card(text: str) -> bool:
    # _CARD's \d also takes other scripts' digits: only ASCII text is cleared by the hint.
    return len(text) >= _CARD_MIN_CHARS and (
        not text.isascii() or _CARD_HINT.search(text) is not None
    )


def _scrub_cards(text: str) -> str:
    return _CARD.sub(_card_or_not, text) if _may_hold_card(text) else text


@dataclass(frozen=True)
class Scrubber:
    sensitive: tuple[str, ...]
    safe: frozenset[str]
    scrub_ip_addresses: bool
    _verdicts: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def is_sensitive(self, key: object) -> bool:
        # Events repeat the same keys (headers, vars, breadcrumb data): remember verdicts.
        text = str(key)
        verdict = self._verdicts.get(text)
        if verdict is None:
            lowered = text.lower()
            verdict = lowered not in self.safe and any(w in lowered for w in self.sensitive)
            if len(self._verdicts) < 10_000:
                self._verdicts[text] = verdict
        return verdict

    def value(self, value: Any, depth: int = 0) -> Any:
        """Scrub free-form data: sensitive keys at any depth up to MAX_SCRUB_DEPTH (deeper
        containers become "..."), card numbers in strings."""
        if isinstance(value, str):
            return _scrub_cards(value)
        if isinstance(value, dict):
            return self._dict(value, depth) if depth < MAX_SCRUB_DEPTH else "..."
        if isinstance(value, list):
            if depth >= MAX_SCRUB_DEPTH:
                return "..."
            # Header lists and tags come as [key, value] pairs.
            if len(value) == 2 and isinstance(value[0], str) and self.is_sensitive(value[0]):
                return [value[0], FILTERED]
            return [self.value(item, depth + 1) for item in value]
        return value

    def _dict(self, value: dict[Any, Any], depth: int) -> dict[Any, Any]:
        # The hot path of the digest (every breadcrumb's data, every frame's vars): one pass
        # with the scalar cases inline and the verdicts read straight from their cache.
        verdicts = self._verdicts
        scrubbed = {}
        for key, item in value.items():
            kind = type(item)
            if item is not None and (kind is not str or item):
                verdict = verdicts.get(key) if type(key) is str else None
                if verdict is None:
                    verdict = self.is_sensitive(key)
                if verdict:
                    scrubbed[key] = FILTERED
                    continue
            if kind is str:
                scrubbed[key] = _scrub_cards(item)
            elif kind in SCALAR_TYPES:
                scrubbed[key] = item
            else:
                scrubbed[key] = self.value(item, depth + 1)
        return scrubbed

    def url(self, url: str) -> str:
        """A URL with sensitive query parameters and card numbers filtered."""
        base, sep, query = url.partition("?")
        if not sep:
            return _scrub_cards(url)
        query, hash_sep, fragment = query.partition("#")
        return f"{_scrub_cards(base)}?{self.query_string(query)}{hash_sep}{fragment}"

    def query_string(self, value: Any) -> Any:
        if isinstance(value, str):
            # Relay stores query strings without their leading "?".
            pairs = parse_qsl(value.removeprefix("?"), keep_blank_values=True)
            return urlencode([(k, FILTERED if self.is_sensitive(k) else v) for k, v in pairs])
        return self.value(value)


def scrubber_for(
    *, defaults: bool, sensitive_fields: list[str], safe_fields: list[str], scrub_ips: bool
) -> Scrubber:
    extra = tuple(str(field).lower() for field in sensitive_fields if str(field).strip())
    return Scrubber(
        sensitive=(DEFAULT_SENSITIVE if defaults else ()) + extra,
        safe=frozenset(str(field).lower() for field in safe_fields),
        scrub_ip_addresses=scrub_ips,
    )


def project_scrubber(project: Project | None) -> Scrubber | None:
    """The project's scrubber; None when it keeps data unscrubbed."""
    if project is None or not project.scrub_data:
        return None
    return scrubber_for(
        defaults=project.scrub_defaults,
        sensitive_fields=project.sensitive_fields,
        safe_fields=project.safe_fields,
        scrub_ips=project.scrub_ip_addresses,
    )


def scrub_event(event: dict[str, Any], scrubber: Scrubber) -> None:
    """Scrub a normalized event in place."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "headers", "cookies", "env"):
            if key in request:
                request[key] = scrubber.value(request[key])
        if "query_string" in request:
            request["query_string"] = scrubber.query_string(request["query_string"])
        if isinstance(request.get("url"), str):
            request["url"] = scrubber.url(request["url"])
        if scrubber.scrub_ip_addresses and isinstance(request.get("env"), dict):
            request["env"].pop("REMOTE_ADDR", None)
    for key in ("extra", "contexts"):
        if key in event:
            event[key] = scrubber.value(event[key])
    user = event.get("user")
    if isinstance(user, dict):
        # Sentry's user fields (id, email, username, ip_address) stay; anything else an SDK put
        # there (user.password, tokens, data) is scrubbed like any other databag.
        event["user"] = user = scrubber.value(user)
        if scrubber.scrub_ip_addresses:
            user.pop("ip_address", None)
    tags = event.get("tags")
    if isinstance(tags, list):
        event["tags"] = [
            [key, FILTERED if scrubber.is_sensitive(key) else _scrub_cards(value)]
            for key, value in tags
        ]
    for exception in (event.get("exception") or {}).get("values", []):
        if isinstance(exception.get("value"), str):
            exception["value"] = _scrub_cards(exception["value"])
    _scrub_breadcrumbs((event.get("breadcrumbs") or {}).get("values", []), scrubber)
    for stacktrace in _stacktraces(event):
        for frame in stacktrace.get("frames", []):
            if "vars" in frame:
                frame["vars"] = scrubber.value(frame["vars"])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        if isinstance(logentry.get("formatted"), str):
            logentry["formatted"] = _scrub_cards(logentry["formatted"])
        if "params" in logentry:
            logentry["params"] = scrubber.value(logentry["params"])
            if isinstance(logentry.get("message"), str):
                # The formatted text was made from the unscrubbed params: make it again.
                logentry["formatted"] = _scrub_cards(
                    format_logentry(logentry["message"], logentry["params"])
                )


def _scrub_breadcrumbs(crumbs: list[dict[str, Any]], scrubber: Scrubber) -> None:
    # Up to a hundred per event: data dicts straight to the dict walk; the messages in one
    # search (a card number cannot span the newlines), and a substitution in each only when
    # something looks like one.
    messages = []
    for crumb in crumbs:
        data = crumb.get("data")
        if type(data) is dict:
            crumb["data"] = scrubber._dict(data, 0)
        elif data is not None:
            crumb["data"] = scrubber.value(data)
        message = crumb.get("message")
        if type(message) is str:
            messages.append(message)
    if messages and _may_hold_card("\n".join(messages)):
        for crumb in crumbs:
            if isinstance(crumb.get("message"), str):
                crumb["message"] = _scrub_cards(crumb["message"])


def _stacktraces(event: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for exception in (event.get("exception") or {}).get("values", []):
        if isinstance(exception.get("stacktrace"), dict):
            found.append(exception["stacktrace"])
    if isinstance(event.get("stacktrace"), dict):
        found.append(event["stacktrace"])
    threads = event.get("threads")
    values = threads.get("values") if isinstance(threads, dict) else threads
    for thread in values if isinstance(values, list) else []:
        if isinstance(thread, dict) and isinstance(thread.get("stacktrace"), dict):
            found.append(thread["stacktrace"])
    return found
