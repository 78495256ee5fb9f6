"""WSGI entry point: `gunicorn config.wsgi`."""

from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Import every view now (Django would on the first request), and move what is loaded out of
# the garbage collector's sight: under gunicorn's preload, workers then keep sharing these
# pages with the master instead of copying them when the collector walks them.
_ = get_resolver().url_patterns
gc.freeze()
