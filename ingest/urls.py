"""Ingest routes. Any path prefix before `/api/` is accepted, so that a DSN with a path
(`https://key@host/faultline/42`) works without the proxy stripping it; repeated slashes
are folded as Relay does."""

from __future__ import annotations

from django.urls import re_path

from ingest import moesif, views

_PREFIX = r"^(?:[^/]+/+)*?/*"
# Moesif clients post to `<base>/v1/…`; the base is the server root or `<root>/moesifapi`, and
# the seed's paths are `/moesifapi/events[/batch]`. No trailing slash: no client sends one.
_MOESIF = r"^(?:moesifapi/v1|moesifapi|v1)/"

urlpatterns = [
    re_path(
        _PREFIX + r"api/+(?P<project_id>[^/]+)/+envelope/*$", views.envelope, name="ingest-envelope"
    ),
    re_path(_PREFIX + r"api/+store/*$", views.store, name="ingest-store-legacy"),
    re_path(
        _PREFIX + r"api/+(?P<project_id>[^/]+)/+(?:security|csp-report)/*$",
        views.security,
        name="ingest-security",
    ),
    re_path(_PREFIX + r"api/+(?P<project_id>[^/]+)/+store/*$", views.store, name="ingest-store"),
    re_path(_PREFIX + r"api/+(?P<project_id>[^/]+)/+nel/*$", views.nel, name="ingest-nel"),
    re_path(
        _PREFIX + r"api/+(?P<project_id>[^/]+)/+minidump/*$",
        views.minidump,
        name="ingest-minidump",
    ),
    re_path(
        _PREFIX + r"api/+(?P<project_id>[^/]+)/+unreal/+(?P<sentry_key>[^/]+)/*$",
        views.unreal,
        name="ingest-unreal",
    ),
    re_path(
        _PREFIX + r"api/+(?P<project_id>[^/]+)/+integration/+otlp/+v1/+(?P<signal>traces|logs)/*$",
        views.otlp_export,
        name="ingest-otlp",
    ),
    re_path(
        _PREFIX + r"api/+(?P<project_id>[^/]+)/+cron/+(?P<monitor_slug>[^/]+)"
        r"(?:/+(?P<sentry_key>[^/]+))?/*$",
        views.cron,
        name="ingest-cron",
    ),
    re_path(_MOESIF + r"events$", moesif.event, name="ingest-moesif-event"),
    re_path(_MOESIF + r"events/batch$", moesif.batch, name="ingest-moesif-batch"),
    re_path(_MOESIF + r"config$", moesif.config, name="ingest-moesif-config"),
    re_path(_MOESIF + r"rules$", moesif.rules, name="ingest-moesif-rules"),
    re_path(
        _MOESIF + r"(?:users|companies|subscriptions|actions)(?:/batch)?$",
        moesif.ignored,
        name="ingest-moesif-ignored",
    ),
]
