"""ASGI entry point: what config/server.py serves (granian, as `serve` runs it), and
config/gunicorn.py (gunicorn's ASGI worker) or any other ASGI server.

The SDK endpoints are served on the event loop by the ingest front door (ingest/asgi.py); every
other request by the WSGI handler of config.wsgi, in a pool of WEB_THREADS threads per process;
the SDK endpoints' views run in WEB_INGEST_THREADS threads per process.
"""

from __future__ import annotations

# First: it sets Django up (and freezes the start-up objects) before ingest's modules load.
from config.wsgi import application as wsgi_application  # isort: skip

from config.charsets import asgi_without_odd_charsets
from config.env import env_int
from ingest.asgi import IngestFrontDoor

application = asgi_without_odd_charsets(
    IngestFrontDoor(
        wsgi_application,
        threads=env_int("WEB_THREADS", default=8, minimum=1),
        ingest_threads=env_int("WEB_INGEST_THREADS", default=2, minimum=1),
    )
)
