"""Files and user feedback sent with (or after) events, linked to them by event id."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from projects.models import Project


class Attachment(models.Model):
    """A file attached to an event; the bytes live in Django's storage (FileSystemStorage
    under the data directory by default, an object store by STORAGES settings).

    Linked to its event by (project, event_id), not by a foreign key: an attachment may
    arrive before, with or after its event, and stays linked whatever the order.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    event_id = models.UUIDField()
    name = models.CharField(max_length=256)
    content_type = models.CharField(max_length=128, blank=True)
    # Sentry's attachment_type: event.attachment, event.minidump, event.view_hierarchy, …
    attachment_type = models.CharField(max_length=64, default="event.attachment")
    size = models.PositiveBigIntegerField()
    sha1 = models.CharField(max_length=40)
    file = models.FileField(upload_to="attachments/%Y/%m/%d/", max_length=300)
    date_added = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "event_id", "name", "sha1"],
                name="groups_attachment_unique",
            )
        ]
        indexes = [models.Index(fields=["project", "event_id"], name="groups_attachment_event")]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes) of {self.event_id.hex}"


class UserReport(models.Model):
    """What a user wrote about an error: a `user_report` item or a `feedback` event.

    `event_id` names the error it is about (None for feedback not tied to an error); like
    attachments, it is linked to that event and its issue in either arrival order.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    # The report's own id: the user_report's event id, or the feedback event's id.
    report_id = models.UUIDField()
    event_id = models.UUIDField(null=True, blank=True)
    name = models.CharField(max_length=128, blank=True)
    email = models.CharField(max_length=128, blank=True)
    comments = models.TextField()
    source = models.CharField(max_length=16, default="user_report")  # or "feedback"
    url = models.CharField(max_length=2048, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    release = models.CharField(max_length=200, blank=True)
    date_added = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "report_id"], name="groups_userreport_unique"
            )
        ]
        indexes = [
            models.Index(fields=["project", "event_id"], name="groups_userreport_event"),
            models.Index(fields=["project", "-date_added"], name="groups_userreport_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.email or 'anonymous'}: {self.comments[:60]}"
