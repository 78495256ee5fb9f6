"""WSGI entry point: `gunicorn config.wsgi`."""

from __future__ import annotations

import gc
import os

import django
from django.urls import get_resolver

from ingest.wsgi import FaultlineWSGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

# Django's handler, except that the SDK endpoints skip the middleware (see ingest/wsgi.py).
application = FaultlineWSGIHandler()

# Import every view now (Django would on the first request), and move what is loaded out of
# the garbage collector's sight: under gunicorn's preload, workers then keep sharing these
# pages with the master instead of copying them when the collector walks them.
_ = get_resolver().url_patterns, get_resolver("ingest.urls").url_patterns
gc.freeze()
