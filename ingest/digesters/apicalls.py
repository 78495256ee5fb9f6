"""Moesif API-call events from the queue: scrubbed as the project asks, stored in bulk."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from groups.services.apicalls import NewApiCall, store_api_calls
from ingest.apicalls import API_CALL, parse_time
from ingest.digesters import Outcomes, digests
from ingest.digesters.values import InvalidItem, load_object
from ingest.models import Outcome
from ingest.scrubbing import Scrubber, project_scrubber

if TYPE_CHECKING:
    from ingest.models import QueuedItem
    from projects.models import Project

logger = logging.getLogger(__name__)
JSON = dict[str, Any]


def session_digest(token: str) -> str:
    """A session token kept comparable (same token, same digest) but not usable."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def _scrubbed_message(message: JSON | None, scrubber: Scrubber | None) -> JSON | None:
    """Headers and JSON bodies scrubbed; base64 bodies are kept as the client sent them."""
    if message is None or scrubber is None:
        return message
    body = message.get("body")
    if message.get("transfer_encoding") != "base64":
        body = scrubber.value(body)
    return {**message, "headers": scrubber.value(message.get("headers") or {}), "body": body}


def _scrub(payload: JSON, scrubber: Scrubber | None) -> JSON:
    if scrubber is None:
        return payload
    request = payload["request"]
    ip_address = "" if scrubber.scrub_ip_addresses else request["ip_address"]
    token = payload["session_token"]
    return {
        **payload,
        "request": {**request, "uri": scrubber.url(request["uri"]), "ip_address": ip_address},
        "session_token": session_digest(token) if token else "",
        "metadata": scrubber.value(payload["metadata"]),
    }


def _new_call(row: QueuedItem, scrubber: Scrubber | None) -> NewApiCall:
    payload = _scrub(load_object(row, "invalid_api_call"), scrubber)
    request, response = payload["request"], payload["response"]
    message_keys = ("headers", "body", "transfer_encoding")
    return NewApiCall(
        project_id=row.project_id,
        request_time=parse_time(request["time"]),
        response_time=parse_time(response["time"]) if response else None,
        status=response["status"] if response else None,
        verb=request["verb"],
        uri=request["uri"],
        received=row.received,
        ip_address=request["ip_address"],
        user_id=payload["user_id"],
        company_id=payload["company_id"],
        session_token=payload["session_token"],
        trace_id=payload["trace_id"],
        transaction_id=payload["transaction_id"],
        direction=payload["direction"],
        weight=payload["weight"],
        api_version=request["api_version"],
        tags=payload["tags"],
        metadata=payload["metadata"],
        data={
            "request": _scrubbed_message({k: request[k] for k in message_keys}, scrubber),
            "response": _scrubbed_message(
                {k: response[k] for k in message_keys} if response else None, scrubber
            ),
        },
    )


@digests(API_CALL)
def digest_api_calls(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    """Store the batch's API calls; one the door let through but that cannot be read now
    (queued by another version) is counted invalid."""
    scrubbers = {pk: project_scrubber(project) for pk, project in projects.items()}
    outcomes: Outcomes = defaultdict(Counter)
    calls = []
    for row in rows:
        try:
            calls.append(_new_call(row, scrubbers[row.project_id]))
        except (InvalidItem, KeyError, TypeError, ValueError, AttributeError) as exc:
            logger.warning("dropping invalid API call %s: %s", row.pk, exc)
            outcomes[row.project_id][(API_CALL, Outcome.INVALID, "invalid_api_call")] += 1
            continue
        outcomes[row.project_id][(API_CALL, Outcome.ACCEPTED, "")] += 1
    store_api_calls(calls=calls)
    return outcomes
