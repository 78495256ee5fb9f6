"""What the digest reads out of an event for its columns and tags."""

from __future__ import annotations

from typing import Any

from groups.routes import path_of

JSON = dict[str, Any]


def user_key_of(data: JSON) -> str:
    """The identity an issue's user count counts: id, e-mail, user name or IP address."""
    user = data.get("user")
    if not isinstance(user, dict):
        return ""
    for field_name, prefix in (
        ("id", "id"),
        ("email", "email"),
        ("username", "username"),
        ("ip_address", "ip"),
    ):
        value = user.get(field_name)
        if value not in (None, ""):
            return f"{prefix}:{value}"[:200]
    return ""


def request_path_of(data: JSON) -> str:
    """The path of the event's request URL ("" without one)."""
    request = data.get("request")
    url = request.get("url") if isinstance(request, dict) else None
    return path_of(url)[:512] if isinstance(url, str) else ""


def trace_id_of(data: JSON) -> str:
    trace = (data.get("contexts") or {}).get("trace")
    trace_id = trace.get("trace_id") if isinstance(trace, dict) else None
    return trace_id[:32] if isinstance(trace_id, str) else ""


def _context_tag(contexts: JSON, name: str) -> str | None:
    context = contexts.get(name)
    if not isinstance(context, dict) or not context.get("name"):
        return None
    version = context.get("version")
    return f"{context['name']} {version}" if version else str(context["name"])


def derived_tags(data: JSON, user_key: str) -> list[list[str]]:
    """The event's tags plus those Sentry derives (level, release, environment, browser …)."""
    tags = [list(pair) for pair in data.get("tags") or []]
    present = {key for key, _ in tags}
    contexts = data.get("contexts") or {}
    exceptions = (data.get("exception") or {}).get("values") or []
    mechanism = (exceptions[-1].get("mechanism") or {}) if exceptions else {}
    derived = {
        "level": data.get("level"),
        "environment": data.get("environment"),
        "release": data.get("release"),
        "dist": data.get("dist"),
        "logger": data.get("logger"),
        "transaction": data.get("transaction"),
        "user": user_key or None,
        "url": (data.get("request") or {}).get("url"),
        "browser": _context_tag(contexts, "browser"),
        "os": _context_tag(contexts, "os"),
        "runtime": _context_tag(contexts, "runtime"),
        "mechanism": mechanism.get("type"),
        "handled": {True: "yes", False: "no"}.get(mechanism.get("handled")),
    }
    for key, value in derived.items():
        if isinstance(value, str) and value and key not in present:
            tags.append([key, value[:200]])
    return tags
