"""Request charsets Django must not decode with: dropped at the WSGI and ASGI entry points."""

from __future__ import annotations

import codecs
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from typing import Any

from django.utils.http import parse_header_parameters

# Text codecs that turn bytes into lone surrogates (U+D800 to U+DFFF alone), which no later
# step can encode ("\ud800" through unicode_escape, "+2AA-" through utf-7), or that are for
# host names, not request text, and raise on any other.
_NOT_REQUEST_TEXT = frozenset({"unicode-escape", "raw-unicode-escape", "utf-7", "punycode", "idna"})

Scope = MutableMapping[str, Any]
AsgiApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


@lru_cache(maxsize=64)
def is_plain_text_codec(name: str) -> bool:
    """Whether a request's query string and form may be decoded with this charset."""
    try:
        info = codecs.lookup(name)
        # As Django decodes: some codecs ("undefined") refuse every input.
        b"a=%C3%A9".decode(info.name, "replace")
    except (LookupError, UnicodeError, TypeError):
        return False
    # base64, zlib, hex and the like are codecs from bytes to bytes: no text at all.
    return getattr(info, "_is_text_encoding", True) and info.name not in _NOT_REQUEST_TEXT


def plain_text_content_type(content_type: str) -> str:
    """`content_type` without a charset that is no plain text: Django then decodes the query
    string and a form as UTF-8, as it does for a charset it does not know. Left in, Django
    decoded with it while building the request (a 500 before any view or middleware) or made
    lone surrogates that failed later, in a query or while rendering an error."""
    if "charset" not in content_type.lower():
        return content_type
    media_type, params = parse_header_parameters(content_type)
    charset = params.get("charset")
    if charset is None or is_plain_text_codec(charset):
        return content_type
    kept = "".join(f'; {key}="{value}"' for key, value in params.items() if key != "charset")
    return media_type + kept


def asgi_without_odd_charsets(app: AsgiApp) -> AsgiApp:
    """`app` with the HTTP requests' Content-Type passed through plain_text_content_type."""

    async def application(scope: Scope, receive: Any, send: Any) -> Any:
        if scope["type"] == "http":
            scope = _scope_without_odd_charset(scope)
        return await app(scope, receive, send)

    return application


def _scope_without_odd_charset(scope: Scope) -> Scope:
    headers = list(scope.get("headers", ()))
    types = [value for name, value in headers if name.lower() == b"content-type"]
    if not types:
        return scope
    # Django joins repeated headers with commas, and codecs reads "utf,7" as utf-7: the
    # charset is judged as Django will see it, and the joined value kept as one header.
    content_type = b",".join(types).decode("latin-1")
    kept = plain_text_content_type(content_type)
    if kept == content_type:
        return scope
    others = [(name, value) for name, value in headers if name.lower() != b"content-type"]
    return {**scope, "headers": [*others, (b"content-type", kept.encode("latin-1"))]}
