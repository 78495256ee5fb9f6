"""Sends a transaction with child spans, logs and an error of the same trace with the real
sentry-sdk to the DSN in argv[1]; prints {"traceId", "transactionId", "errorId"} as JSON.

Logs need `enable_logs=True` (sentry-sdk 2.35+; earlier versions took it in `_experiments`).
"""

import json
import sys

import sentry_sdk
from sentry_sdk import logger as sentry_logger

sent = {}


def remember_error(event, hint):
    sent["errorId"] = event["event_id"]
    return event


def remember_transaction(event, hint):
    sent["transactionId"] = event["event_id"]
    return event


sentry_sdk.init(
    sys.argv[1],
    release="shop@2.4.1",
    environment="production",
    traces_sample_rate=1.0,
    enable_logs=True,
    before_send=remember_error,
    before_send_transaction=remember_transaction,
)

with sentry_sdk.start_transaction(name="POST /checkout", op="http.server") as transaction:
    sent["traceId"] = transaction.trace_id
    with sentry_sdk.start_span(op="db", name="SELECT * FROM carts"):
        sentry_logger.info("cart {cart_id} loaded", cart_id="C-7")
    with sentry_sdk.start_span(op="http.client", name="POST https://pay.example.com/charge"):
        sentry_logger.error("payment declined", attributes={"password": "hunter2"})
        try:
            raise RuntimeError("payment declined")
        except RuntimeError:
            sentry_sdk.capture_exception()
    transaction.set_status("internal_error")

sentry_sdk.flush()
print(json.dumps(sent))
