"""Streams spans (span v2 items) with the real sentry-sdk to the DSN in argv[1]: the SDK's
`trace_lifecycle="stream"` (sentry-sdk 2.7x). Prints {"traceId"} as JSON."""

import json
import sys

import sentry_sdk
import sentry_sdk.traces

sentry_sdk.init(
    sys.argv[1],
    release="shop@2.4.1",
    environment="production",
    traces_sample_rate=1.0,
    trace_lifecycle="stream",
)

# The second span starts inside the first: its child.
with (
    sentry_sdk.traces.start_span(name="nightly export", attributes={"sentry.op": "task"}) as root,
    sentry_sdk.traces.start_span(name="write file", attributes={"sentry.op": "file.write"}),
):
    pass

sentry_sdk.flush()
print(json.dumps({"traceId": root.trace_id}))
