"""Sends, with the real sentry-sdk, an error carrying two attachments, then a user report
about it (an envelope item, through the SDK's transport) and the client report of an event
that its before_send dropped.

Prints {"event_id": …} as JSON. Run in its own process, away from the test runner's hooks.
"""

import json
import sys

import sentry_sdk
from sentry_sdk.envelope import Envelope, Item, PayloadRef


def drop_unwanted(event, hint):
    # Discarded by the SDK itself: its next client report counts it (reason before_send).
    return None if event.get("message") == "unwanted" else event


sentry_sdk.init(
    sys.argv[1], release="files@1.0", send_client_reports=True, before_send=drop_unwanted
)
sentry_sdk.capture_message("unwanted")

with sentry_sdk.new_scope() as scope:
    scope.add_attachment(
        bytes=b"line one\nline two\n", filename="log.txt", content_type="text/plain"
    )
    scope.add_attachment(bytes=bytes(range(256)) * 64, filename="dump.bin")
    event_id = sentry_sdk.capture_message("upload failed", level="error")

client = sentry_sdk.get_client()
report = Envelope(headers={"event_id": event_id})
report.add_item(
    Item(
        payload=PayloadRef(
            json={
                "event_id": event_id,
                "name": "Ada",
                "email": "ada@example.com",
                "comments": "It broke when I uploaded the file.",
            }
        ),
        type="user_report",
    )
)
client.transport.capture_envelope(report)
# flush() also sends the client report of what before_send dropped.
sentry_sdk.flush(10)
print(json.dumps({"event_id": event_id}))
