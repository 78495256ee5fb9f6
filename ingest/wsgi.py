"""The WSGI handler: the SDK endpoints straight to their views, the rest through Django's stack.

SDKs post thousands of events a second and need none of what the middleware does for the
admin and the API (sessions, CSRF, messages, authentication, security and frame headers,
static files): their views authenticate by DSN key, are CSRF-exempt, and answer CORS and
errors themselves. Skipping the middleware chain and the full URL map saves about a third of
the Python time of an accepted envelope. Everything else keeps Django's request handling:
the request signals (connection upkeep), the request object, exception-to-response
conversion and the logging of 4xx/5xx answers.
"""

from __future__ import annotations

import codecs
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, ResolverMatch, get_resolver, set_urlconf
from django.utils.http import parse_header_parameters
from django.utils.log import log_response

# Set in the WSGI environ of the requests served by an ingest view (config/accesslog.py
# leaves their successful answers out of the access log).
INGEST_ENVIRON_KEY = "faultline.ingest"
# Paths Django's own URL map serves although an ingest pattern would match them.
_NOT_INGEST = ("/api/0/", "/admin/", "/static/")


def ingest_route(path: str) -> ResolverMatch | None:
    """The ingest view serving `path`, or None when Django's full stack should."""
    if path.startswith(_NOT_INGEST):
        return None
    if len(path) > _CACHED_PATH_CHARS:
        return _resolve.__wrapped__(path)
    return _resolve(path)


# SDKs post to the same few paths (a project's envelope and store URLs) over and over:
# their matches are remembered instead of running the patterns again. Any other path (a
# scanner's, say) takes one entry until pushed out; long ones are not kept, so the cache
# stays under a megabyte per worker.
_CACHED_PATH_CHARS = 256


@lru_cache(maxsize=2048)
def _resolve(path: str) -> ResolverMatch | None:
    try:
        return get_resolver("ingest.urls").resolve(path)
    except Resolver404:
        return None


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


# Text codecs that turn bytes into lone surrogates (U+D800 to U+DFFF alone), which no later
# step can encode ("\ud800" through unicode_escape, "+2AA-" through utf-7), or that are for
# host names, not request text, and raise on any other.
_NOT_REQUEST_TEXT = frozenset({"unicode-escape", "raw-unicode-escape", "utf-7", "punycode", "idna"})


def _without_odd_charset(environ: dict[str, Any]) -> None:
    """Drop a Content-Type charset that is no plain text: Django then decodes the query string
    and a form as UTF-8, as it does for a charset it does not know. Left in, Django decoded
    with it while building the request (a 500 before any view or middleware) or made lone
    surrogates that failed later, in a query or while rendering an error."""
    content_type = environ.get("CONTENT_TYPE", "")
    if "charset" not in content_type.lower():
        return
    media_type, params = parse_header_parameters(content_type)
    charset = params.get("charset")
    if charset is not None and not is_plain_text_codec(charset):
        kept = "".join(f'; {key}="{value}"' for key, value in params.items() if key != "charset")
        environ["CONTENT_TYPE"] = media_type + kept


class FaultlineWSGIHandler(WSGIHandler):
    """Django's WSGI handler, with the ingest endpoints taken out of the middleware chain."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        _without_odd_charset(environ)
        return super().__call__(environ, start_response)

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        match = ingest_route(request.path_info)
        if match is None:
            return super().get_response(request)
        set_urlconf(settings.ROOT_URLCONF)
        request.environ[INGEST_ENVIRON_KEY] = True
        request.resolver_match = match
        try:
            response = match.func(request, *match.args, **match.kwargs)
        except Exception as exc:
            response = response_for_exception(request, exc)
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        return response
