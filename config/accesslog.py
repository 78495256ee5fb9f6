"""gunicorn's logger, without a line for every SDK request that went well.

SDKs post thousands of envelopes a second; a line for each costs the web workers about a
tenth of their time and says nothing that the outcome counters (stats_v2) do not. Ingest
answers of 400 and above, and every other request (API, admin), are logged as usual;
ACCESS_LOG_INGEST=1 logs the successful SDK requests too.
"""

from __future__ import annotations

from typing import Any

from gunicorn import glogging

from config.env import env_bool
from ingest.wsgi import INGEST_ENVIRON_KEY, loop_ingest_route


class AccessLogger(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.log_ingest = env_bool("ACCESS_LOG_INGEST", default=False)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if _answered_ok(resp) and not self.log_ingest and _is_ingest(environ):
            return
        super().access(resp, req, environ, request_time)


def _answered_ok(resp: Any) -> bool:
    # The WSGI worker's response has a status line ("200 OK"), the ASGI worker's a number;
    # neither when the application failed before answering.
    status = resp.status
    if isinstance(status, str):
        status = int(status.split(None, 1)[0]) if status[:3].isdigit() else None
    return (status or 500) < 400


def _is_ingest(environ: dict[str, Any]) -> bool:
    # The WSGI handler marks the requests of its ingest views; the ASGI worker's environ is
    # gunicorn's own, for the log only (and its access log is written on the event loop).
    return (
        bool(environ.get(INGEST_ENVIRON_KEY))
        or loop_ingest_route(environ.get("PATH_INFO", "")) is not None
    )
