"""The OpenAPI schema at /api/0/schema/ is valid and lists every /api/0/ route."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
_NOT_IN_SCHEMA = {"schema/", "schema/docs/"}


def _routes(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and not route.startswith("^"):
            yield route


def api_routes():
    resolver = get_resolver()
    (api,) = [p for p in resolver.url_patterns if str(p.pattern) == "api/0/"]
    return sorted(set(_routes(api.url_patterns)) - _NOT_IN_SCHEMA)


def test_schema_is_valid_openapi_and_lists_every_route(client):
    response = client.get("/api/0/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    schema = response.json()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    expected = {"/api/0/" + _CONVERTER.sub(r"{\1}", route) for route in api_routes()}
    assert expected <= paths, sorted(expected - paths)
    assert len(expected) >= 19


def test_schema_documents_the_authentication(client):
    schema = client.get("/api/0/schema/", {"format": "json"}).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["BearerToken"]["scheme"] == "bearer"
    assert schemes["ApiKeyBasic"]["scheme"] == "basic"


def test_browsable_docs_render(client):
    response = client.get("/api/0/schema/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
    # Served from this server (the sidecar package), not from a CDN.
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in response.content
