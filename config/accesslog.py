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
from ingest.wsgi import INGEST_ENVIRON_KEY


class AccessLogger(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.log_ingest = env_bool("ACCESS_LOG_INGEST", default=False)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        # status_code is None when the application failed before answering.
        answered_ok = (resp.status_code or 500) < 400
        if answered_ok and not self.log_ingest and environ.get(INGEST_ENVIRON_KEY):
            return
        super().access(resp, req, environ, request_time)
