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

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, ResolverMatch, get_resolver, set_urlconf
from django.utils.log import log_response

from config.charsets import plain_text_content_type

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


def loop_ingest_route(path: str) -> ResolverMatch | None:
    """ingest_route for code on an event loop (the ASGI front door, the access log): None
    for a path over MAX_LOOP_PATH_CHARS, which the ingest patterns take long to match (a
    4,000-character path about 0.3 s) while every connection of the worker waits. The front
    door leaves such paths to the thread pool, whose handler serves an ingest path there."""
    if len(path) > MAX_LOOP_PATH_CHARS:
        return None
    return ingest_route(path)


MAX_LOOP_PATH_CHARS = 1024
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


class FaultlineWSGIHandler(WSGIHandler):
    """Django's WSGI handler, with the ingest endpoints taken out of the middleware chain."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        content_type = environ.get("CONTENT_TYPE")
        if content_type:
            environ["CONTENT_TYPE"] = plain_text_content_type(content_type)
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
