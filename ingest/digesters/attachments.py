"""Attachments, user reports and feedback: stored and linked to their event by its id."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from groups.services.attachments import (
    NewAttachment,
    NewUserReport,
    store_attachments,
    store_user_reports,
)
from ingest.digesters import Outcomes, digests
from ingest.digesters.values import InvalidItem, load_object, text, uuid_or_none
from ingest.models import Outcome, QueuedItem
from projects.models import Project

ATTACHMENT_TYPES = frozenset(
    {
        "event.attachment",
        "event.minidump",
        "event.applecrashreport",
        "event.view_hierarchy",
        "unreal.context",
        "unreal.logs",
    }
)


@digests("attachment")
def digest_attachments(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    outcomes: Outcomes = defaultdict(Counter)
    attachments = []
    for row in rows:
        headers = (row.meta or {}).get("item", {})
        if row.event_id is None:
            outcomes[row.project_id][("attachment", Outcome.INVALID, "missing_event_id")] += 1
            continue
        attachment_type = text(headers.get("attachment_type"), 64, numbers=False)
        attachments.append(
            NewAttachment(
                project_id=row.project_id,
                event_id=row.event_id,
                name=text(headers.get("filename"), 256, numbers=False) or "attachment",
                content_type=text(headers.get("content_type"), 128, numbers=False),
                attachment_type=attachment_type
                if attachment_type in ATTACHMENT_TYPES
                else "event.attachment",
                content=row.body,
                received=row.received,
            )
        )
        outcomes[row.project_id][("attachment", Outcome.ACCEPTED, "")] += 1
    store_attachments(attachments=attachments)
    return outcomes


def _user_report(row: QueuedItem, data: dict[str, Any]) -> NewUserReport | None:
    """The legacy `user_report` item: {event_id, name, email, comments}."""
    event_id = uuid_or_none(data.get("event_id")) or row.event_id
    comments = text(data.get("comments"), 10_000, numbers=False)
    if event_id is None or not comments.strip():
        return None
    return NewUserReport(
        project_id=row.project_id,
        report_id=event_id,
        event_id=event_id,
        name=text(data.get("name"), 128, numbers=False),
        email=text(data.get("email"), 128, numbers=False),
        comments=comments,
        source="user_report",
        received=row.received,
    )


def _feedback(row: QueuedItem, data: dict[str, Any]) -> NewUserReport | None:
    """A `feedback` event: the message is in contexts.feedback."""
    contexts = data.get("contexts")
    feedback = contexts.get("feedback") if isinstance(contexts, dict) else None
    report_id = row.event_id or uuid_or_none(data.get("event_id"))
    if not isinstance(feedback, dict) or report_id is None:
        return None
    message = text(feedback.get("message"), 10_000, numbers=False)
    if not message.strip():
        return None
    return NewUserReport(
        project_id=row.project_id,
        report_id=report_id,
        event_id=uuid_or_none(feedback.get("associated_event_id")),
        name=text(feedback.get("name"), 128, numbers=False),
        email=text(feedback.get("contact_email"), 128, numbers=False),
        comments=message,
        source="feedback",
        received=row.received,
        url=text(feedback.get("url"), 2048, numbers=False),
        environment=text(data.get("environment"), 64, numbers=False),
        release=text(data.get("release"), 200, numbers=False),
    )


_READERS = {"user_report": (_user_report, "user_report_v2"), "feedback": (_feedback, "feedback")}


@digests("user_report", "feedback")
def digest_user_reports(rows: list[QueuedItem], projects: Mapping[int, Project]) -> Outcomes:
    outcomes: Outcomes = defaultdict(Counter)
    reports = []
    for row in rows:
        read, category = _READERS[row.type]
        try:
            report = read(row, load_object(row, f"invalid_{row.type}"))
        except InvalidItem:
            report = None
        if report is None:
            outcomes[row.project_id][(category, Outcome.INVALID, f"invalid_{row.type}")] += 1
            continue
        reports.append(report)
        outcomes[row.project_id][(category, Outcome.ACCEPTED, "")] += 1
    store_user_reports(reports=reports)
    return outcomes
