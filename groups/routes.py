"""Request paths and routes: what joins API calls and errors of the same endpoint."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_ROUTE_CHARS = 512
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_HEX = re.compile(r"[0-9a-f]{16,}", re.I)
# Long opaque tokens (base62 ids, slugs with hashes): letters and digits mixed, 20+ long.
_TOKEN = re.compile(r"(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}")
_ORIGIN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


def _segment(segment: str) -> str:
    if _UUID.fullmatch(segment):
        return "{uuid}"
    if _NUMBER.fullmatch(segment):
        return "{id}"
    if (_HEX.fullmatch(segment) and any(c.isdigit() for c in segment)) or _TOKEN.fullmatch(segment):
        return "{hash}"
    return segment


def path_of(uri: str) -> str:
    """The path of a URL (or of a bare path), without scheme, host, query or fragment."""
    try:
        parts = urlsplit(uri.strip())
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return _ORIGIN.sub("", uri.strip()).split("?", 1)[0].split("#", 1)[0]
    path = parts.path
    if not parts.scheme and not parts.netloc and not path.startswith("/"):
        # `api.example.com/items`: a host without a scheme.
        host, _, rest = path.partition("/")
        path = rest if "." in host else path
    return path


def normalize_route(uri: str) -> str:
    """The URI's path, without scheme, host or query, with ids, numbers, UUIDs and hashes
    folded into `{id}`, `{uuid}` and `{hash}`: `/users/{id}/orders/{uuid}`."""
    segments = [_segment(segment) for segment in path_of(uri).split("/") if segment]
    return ("/" + "/".join(segments))[:MAX_ROUTE_CHARS]
