"""Storing attachments and user feedback, and finding them for an event or an issue.

Both are linked to their event by (project, event_id) rather than by a foreign key, so an
attachment or a report arriving before its event is found once the event is stored.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import QuerySet, Sum

from groups.models import Attachment, Event, Group, UserReport


@dataclass(frozen=True)
class NewAttachment:
    project_id: int
    event_id: uuid.UUID
    name: str
    content_type: str
    attachment_type: str
    content: bytes
    received: datetime


@dataclass(frozen=True)
class NewUserReport:
    project_id: int
    report_id: uuid.UUID
    event_id: uuid.UUID | None
    name: str
    email: str
    comments: str
    source: str
    received: datetime
    url: str = ""
    environment: str = ""
    release: str = ""


def _file_path(item: NewAttachment, sha1: str) -> str:
    # Content-addressed per event: an SDK's retry, or a batch retried after a rollback,
    # finds the file already written instead of leaving a second copy.
    return f"attachments/{item.project_id}/{item.event_id.hex}/{sha1}"


def store_attachments(*, attachments: list[NewAttachment]) -> int:
    """Write each file to the storage and its row to the database; returns rows written."""
    rows = []
    for item in attachments:
        sha1 = hashlib.sha1(item.content, usedforsecurity=False).hexdigest()
        path = _file_path(item, sha1)
        if not default_storage.exists(path):
            path = default_storage.save(path, ContentFile(item.content))
        rows.append(
            Attachment(
                project_id=item.project_id,
                event_id=item.event_id,
                name=item.name[:256],
                content_type=item.content_type[:128],
                attachment_type=item.attachment_type[:64],
                size=len(item.content),
                sha1=sha1,
                file=path,
                date_added=item.received,
            )
        )
    return len(Attachment.objects.bulk_create(rows, ignore_conflicts=True))


def attachment_bytes(*, project_id: int) -> int:
    """What a project's attachments take in the storage."""
    return (
        Attachment.objects.filter(project_id=project_id).aggregate(total=Sum("size"))["total"] or 0
    )


def store_user_reports(*, reports: list[NewUserReport]) -> int:
    """Save reports; a second report with the same id replaces the first (as Sentry does)."""
    latest = {(report.project_id, report.report_id): report for report in reports}
    rows = [
        UserReport(
            project_id=report.project_id,
            report_id=report.report_id,
            event_id=report.event_id,
            name=report.name[:128],
            email=report.email[:128],
            comments=report.comments,
            source=report.source,
            url=report.url[:2048],
            environment=report.environment[:64],
            release=report.release[:200],
            date_added=report.received,
        )
        for report in latest.values()
    ]
    UserReport.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["project", "report_id"],
        update_fields=["event_id", "name", "email", "comments", "url", "date_added"],
    )
    return len(rows)


def attachments_of_issue(*, group: Group) -> QuerySet[Attachment]:
    """Attachments of the issue's events, whatever order they arrived in."""
    event_ids = Event.objects.for_group(group).values("event_id")
    return Attachment.objects.filter(project_id=group.project_id, event_id__in=event_ids)


def user_reports_of_issue(*, group: Group) -> QuerySet[UserReport]:
    event_ids = Event.objects.for_group(group).values("event_id")
    return UserReport.objects.filter(project_id=group.project_id, event_id__in=event_ids)


def issues_of_reports(*, reports: list[UserReport]) -> dict[uuid.UUID, Group]:
    """The issue of each report's event (when that event is stored), in one query."""
    event_ids = {report.event_id for report in reports if report.event_id}
    if not event_ids:
        return {}
    projects = {report.project_id for report in reports}
    events = Event.objects.filter(project_id__in=projects, event_id__in=event_ids).select_related(
        "group", "group__project"
    )
    return {event.event_id: event.group for event in events}
