"""Sends events with the real sentry-sdk to the DSN in argv[1]; prints the event ids as JSON.

Run in its own process so that the SDK's global hooks stay out of the test runner.
"""

import json
import logging
import sys

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration

sent = []


def remember(event, hint):
    sent.append(event["event_id"])
    return event


sentry_sdk.init(
    sys.argv[1],
    release="shop@2.4.1",
    environment="production",
    before_send=remember,
    integrations=[LoggingIntegration(event_level=logging.ERROR)],
)
sentry_sdk.set_user({"id": "user-42", "email": "buyer@example.com"})
sentry_sdk.set_tag("checkout.step", "payment")


def load_order(orders, order_id):
    return orders[order_id]


def charge(amount):
    if amount <= 0:
        raise ValueError(f"amount must be positive, got {amount}")
    return amount


for order_id in ("A-1", "B-2"):  # one site, two different values: one issue
    try:
        load_order({}, order_id)
    except KeyError:
        sentry_sdk.capture_exception()

try:
    charge(-5)
except ValueError:
    sentry_sdk.capture_exception()

try:
    try:
        charge(0)
    except ValueError as error:
        raise RuntimeError("payment failed") from error
except RuntimeError:
    sentry_sdk.capture_exception()

sentry_sdk.capture_message("Cache miss for user 1234")
sentry_sdk.capture_message("Cache miss for user 5678")
logging.getLogger("shop.payments").error("Gateway timeout after %d seconds", 30)

sentry_sdk.flush(timeout=10)
print(json.dumps(sent))
