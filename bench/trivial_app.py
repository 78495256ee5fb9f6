"""The ceiling: a WSGI app that only reads the body and answers {"id": …}."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    while stream.read(65536):
        pass
    body = json.dumps({"id": uuid.uuid4().hex}).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
