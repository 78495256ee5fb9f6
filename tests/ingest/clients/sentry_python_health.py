"""Release health and crons with the real sentry-sdk, to the DSN in argv[1]: three sessions
(exited, errored, crashed) and check-ins of two monitors. Prints the check-in ids as JSON.

Run in its own process so that the SDK's global hooks stay out of the test runner.
"""

import json
import sys

import sentry_sdk
from sentry_sdk.crons import capture_checkin, monitor
from sentry_sdk.utils import event_from_exception

CRONTAB = {
    "schedule": {"type": "crontab", "value": "0 3 * * *"},
    "checkin_margin": 10,
    "max_runtime": 60,
    "timezone": "Europe/Vienna",
}
INTERVAL = {"schedule": {"type": "interval", "value": 2, "unit": "hour"}}

sentry_sdk.init(sys.argv[1], release="shop@3.0.0", environment="production")
scope = sentry_sdk.get_isolation_scope()


def session(user_id, failure=None, *, handled=True):
    sentry_sdk.set_user({"id": user_id})
    scope.start_session()
    if failure is not None:
        try:
            raise failure
        except ValueError as exc:
            event, hint = event_from_exception(
                exc, mechanism={"type": "health-test", "handled": handled}
            )
            sentry_sdk.capture_event(event, hint=hint)
    scope.end_session()


session("user-1")
session("user-2", ValueError("handled"))
session("user-3", ValueError("crashed"), handled=False)

started = capture_checkin(
    monitor_slug="nightly-report", status="in_progress", monitor_config=CRONTAB
)
capture_checkin(monitor_slug="nightly-report", check_in_id=started, status="ok", duration=2.5)


@monitor(monitor_slug="sync-stock", monitor_config=INTERVAL)
def sync_stock():
    return "synced"


sync_stock()
sentry_sdk.flush(timeout=10)
print(json.dumps([started]))
