"""ASGI entry point, for servers such as uvicorn."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from config.charsets import asgi_without_odd_charsets

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django's handler for every path, the SDK endpoints included (config.wsgi, not this, takes
# those out of the middleware chain); request charsets as under config.wsgi.
application = asgi_without_odd_charsets(get_asgi_application())
