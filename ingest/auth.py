"""Where SDKs put their credentials, parsed as Relay does (relay-server request_meta.rs)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from django.http import HttpRequest

from ingest.exceptions import BadRequest, Unauthorized

PROTOCOL_VERSION = 7


@dataclass(frozen=True)
class ClientAuth:
    public_key: str
    version: int = PROTOCOL_VERSION
    client: str | None = None
    # From the envelope's `dsn` header: the project id the client meant.
    dsn_project_id: str | None = None


def _parse_sentry_pairs(value: str) -> dict[str, str]:
    pairs = {}
    for item in value[7:].split(","):
        key, sep, val = item.partition("=")
        if sep:
            pairs[key.strip()] = val.strip()
    return pairs


def _from_pairs(pairs: dict[str, str]) -> ClientAuth:
    public_key = pairs.get("sentry_key", "")
    if not public_key:
        raise Unauthorized("bad x-sentry-auth header")
    return ClientAuth(
        public_key=_check_key(public_key),
        version=_parse_version(pairs.get("sentry_version")),
        client=pairs.get("sentry_client") or None,
    )


def _check_key(public_key: str) -> str:
    # Relay allows flags after a dot (`<key>.no-cache`); the key itself is 32 characters.
    public_key = public_key.split(".", 1)[0]
    if len(public_key) != 32 or not public_key.isascii():
        raise BadRequest("bad sentry DSN public key")
    return public_key.lower()


def _parse_version(raw: str | None) -> int:
    if not raw:
        return PROTOCOL_VERSION
    try:
        version = int(raw.split(".", 1)[0])
    except ValueError:
        raise Unauthorized("bad x-sentry-auth header") from None
    if version > PROTOCOL_VERSION:
        raise BadRequest(f"unsupported protocol version ({version})")
    return version


def _basic_pairs(value: str) -> dict[str, str] | None:
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode()
    except ValueError:  # binascii.Error, UnicodeDecodeError, and text that is not ASCII
        raise Unauthorized("bad x-sentry-auth header") from None
    return {"sentry_key": decoded.partition(":")[0]}


def _carriers(request: HttpRequest) -> list[dict[str, str]]:
    found = []
    header = request.META.get("HTTP_X_SENTRY_AUTH", "")
    if header[:7].lower() == "sentry ":
        found.append(_parse_sentry_pairs(header))
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if authorization[:7].lower() == "sentry ":
        found.append(_parse_sentry_pairs(authorization))
    elif authorization[:6].lower() == "basic ":
        found.append(_basic_pairs(authorization))
    query = request.META.get("QUERY_STRING", "")
    if "sentry_" in query:
        found.append({key: value for key, value in parse_qsl(query) if key.startswith("sentry_")})
    return found


def auth_from_request(request: HttpRequest) -> ClientAuth | None:
    """Credentials from headers or query string; None when there are none."""
    carriers = _carriers(request)
    if len(carriers) > 1:
        raise Unauthorized("multiple authorization payloads detected")
    return _from_pairs(carriers[0]) if carriers else None


def auth_from_path(request: HttpRequest, public_key: str) -> ClientAuth:
    """The key in a cron check-in's URL path (`/api/<id>/cron/<slug>/<key>/`). Relay counts
    the path as one more carrier: credentials elsewhere as well are ambiguous."""
    if _carriers(request):
        raise Unauthorized("multiple authorization payloads detected")
    return ClientAuth(public_key=_check_key(public_key))


def auth_from_envelope_header(header: dict[str, object]) -> ClientAuth:
    """Credentials from an envelope's `dsn` header (browser tunnels, some SDKs)."""
    dsn = header.get("dsn")
    if not isinstance(dsn, str):
        raise Unauthorized("bad envelope authentication header")
    try:
        parts = urlsplit(dsn)
        username = parts.username
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise Unauthorized("bad envelope authentication header") from None
    project_id = parts.path.rstrip("/").rpartition("/")[2]
    if not username or not project_id:
        raise Unauthorized("bad envelope authentication header")
    return ClientAuth(public_key=_check_key(username), dsn_project_id=project_id)


def envelope_dsn(header: dict[str, object]) -> tuple[str, str] | None:
    """The (public key, project id) an envelope header's `dsn` names, if any."""
    try:
        auth = auth_from_envelope_header(header)
    except (Unauthorized, BadRequest):
        return None
    return auth.public_key, auth.dsn_project_id or ""
