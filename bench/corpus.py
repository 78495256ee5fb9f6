"""Real sentry-sdk envelopes for the benchmark: 50 exception sites and 5 message templates.

The SDK runs in this process with a transport that keeps the envelopes it would send; the
code that raises is written to a module file first, so frames carry file names and source
context as in a real application.
"""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

SITES = 50
MESSAGES = [
    "Inventory sync lag above threshold: {} s",
    "Payment webhook delivered twice for order {}",
    "Exchange rates older than {} hours, using cached",
    "Slow query on orders table took {} ms",
    "Coupon {} applied after expiry",
]
_EXCEPTIONS = [
    "ValueError",
    "KeyError",
    "TypeError",
    "RuntimeError",
    "LookupError",
    "ZeroDivisionError",
    "AttributeError",
    "OSError",
    "PermissionError",
    "IndexError",
]


class _Keep(Transport):
    def __init__(self, options: dict | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[bytes] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope.serialize())


def _write_sites(directory: Path) -> Path:
    lines = ['"""Benchmark application code: each function fails in its own way."""', ""]
    for index in range(SITES):
        error = _EXCEPTIONS[index % len(_EXCEPTIONS)]
        lines += [
            f"def handle_order_{index:02d}(order_id, payload):",
            "    items = payload.get('items', [])",
            "    total = sum(item['price'] * item['qty'] for item in items)",
            f"    raise {error}(f'order {{order_id}} failed at step {index} (total {{total}})')",
            "",
            "",
        ]
    path = directory / "bench_shop.py"
    path.write_text("\n".join(lines))
    return path


def build(count: int, *, directory: Path, seed: int = 7) -> list[bytes]:
    """`count` envelopes: 90 % errors spread over the sites, 10 % messages."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = importlib.util.spec_from_file_location("bench_shop", _write_sites(directory))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    transport = _Keep()
    sentry_sdk.init(
        "http://00000000000000000000000000000000@127.0.0.1:9/1",
        transport=transport,
        release="shop@3.1.0",
        environment="production",
        default_integrations=False,
    )
    rng = random.Random(seed)  # noqa: S311 (sample data, not secrets)
    for index in range(count):
        with sentry_sdk.new_scope() as scope:
            scope.set_user({"id": f"user-{rng.randrange(500)}"})
            scope.set_tag("region", rng.choice(["eu-west", "us-east", "ap-south"]))
            for step in range(8):
                sentry_sdk.add_breadcrumb(
                    category="http",
                    message=f"GET /api/items/{step}",
                    data={"status_code": 200, "duration_ms": step * 3},
                )
            if rng.random() < 0.1:
                sentry_sdk.capture_message(
                    f"Inventory sync lag above threshold ({rng.randrange(5)})"
                )
                continue
            site = getattr(module, f"handle_order_{rng.randrange(SITES):02d}")
            try:
                site(f"ORD-{index}", {"items": [{"price": 9.5, "qty": rng.randrange(1, 4)}]})
            except Exception:
                sentry_sdk.capture_exception()
    sentry_sdk.get_client().close()
    return transport.envelopes


_EVENT_ID = re.compile(rb'"event_id":\s*"([0-9a-f]{32})"')


def with_new_event_id(envelope: bytes, event_id: str) -> bytes:
    """The same envelope under a new event id (header and payload both carry it)."""
    match = _EVENT_ID.search(envelope)
    return envelope.replace(match.group(1), event_id.encode()) if match else envelope
