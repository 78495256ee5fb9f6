"""Cron monitors: `check_in` items (relay-monitors `CheckIn`) become monitor check-ins.

The payload is validated here (types, lengths, status, the schedule) and handed to
projects.crons, which upserts the monitor and the check-in; an unusable one is counted as an
invalid `monitor` outcome with the reason Sentry's monitors consumer would give.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils.text import slugify

from ingest.digesters import Outcomes, digests
from ingest.digesters.values import (
    InvalidItem,
    hex_id,
    load_object,
    string_field,
    uuid_or_none,
)
from ingest.models import Outcome
from projects.crons import CHECKIN_STATUSES, CheckIn, clean_config, record_checkin
from projects.exceptions import CheckInRejectedError

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

    from ingest.models import QueuedItem
    from projects.models import Project

# Sentry slugifies `monitor_slug` and cuts it to its default slug length.
MONITOR_SLUG_MAX_LENGTH = 50
# Sentry files check-ins without an environment under "production".
DEFAULT_ENVIRONMENT = "production"
# IANA zone names are short; a longer one would make ZoneInfo raise OSError (name too long).
MAX_TIMEZONE_CHARS = 64


class InvalidCheckIn(InvalidItem, CheckInRejectedError):
    """A check-in rejected here, before projects.crons sees it: counted like its rejections."""

    def __init__(self, reason: str = "invalid_checkin") -> None:
        InvalidItem.__init__(self, reason)


def _duration_ms(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise InvalidCheckIn
    return float(value) * 1000


def _trace_id(payload: dict[str, Any]) -> str:
    contexts = payload.get("contexts")
    trace = contexts.get("trace") if isinstance(contexts, dict) else None
    trace_id = trace.get("trace_id") if isinstance(trace, dict) else None
    try:
        return hex_id(trace_id, 32, required=False, reason="invalid_checkin")
    except InvalidItem:
        return ""


def _check_in_id(value: Any) -> uuid.UUID:
    check_in_id = uuid_or_none(value)
    if check_in_id is None:
        raise InvalidCheckIn
    return check_in_id


def _config(config: Any) -> dict[str, Any] | None:
    if config is None:
        return None
    timezone = config.get("timezone") if isinstance(config, dict) else None
    if timezone is not None and (
        not isinstance(timezone, str) or len(timezone) > MAX_TIMEZONE_CHARS
    ):
        raise InvalidCheckIn("monitor_invalid_config")
    return clean_config(config)


def parse_checkin(payload: Any, *, project_id: int, received: datetime) -> CheckIn:
    """A check-in item as the clean values projects.crons stores, or rejected."""
    if not isinstance(payload, dict):
        raise InvalidCheckIn
    slug = slugify(string_field(payload.get("monitor_slug"), 1000, reason="invalid_checkin"))[
        :MONITOR_SLUG_MAX_LENGTH
    ].strip("-")
    status = payload.get("status")
    if not slug or status not in CHECKIN_STATUSES:
        raise InvalidCheckIn
    config = payload.get("monitor_config")
    return CheckIn(
        project_id=project_id,
        monitor_slug=slug,
        check_in_id=_check_in_id(payload.get("check_in_id")),
        status=status,
        received=received,
        duration_ms=_duration_ms(payload.get("duration")),
        environment=string_field(payload.get("environment"), 64, reason="invalid_checkin")
        or DEFAULT_ENVIRONMENT,
        release=string_field(payload.get("release"), 200, reason="invalid_checkin"),
        trace_id=_trace_id(payload),
        config=_config(config),
    )


@digests("check_in")
def digest_checkins(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    outcomes: Outcomes = defaultdict(Counter)
    for row in rows:
        try:
            payload = load_object(row, "invalid_checkin")
            checkin = parse_checkin(payload, project_id=row.project_id, received=row.received)
            record_checkin(checkin=checkin)
        except (InvalidItem, CheckInRejectedError) as exc:
            outcomes[row.project_id][("monitor", Outcome.INVALID, exc.reason)] += 1
            continue
        outcomes[row.project_id][("monitor", Outcome.ACCEPTED, "")] += 1
    return outcomes
