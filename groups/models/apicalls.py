"""API calls reported in Moesif's event format."""

from __future__ import annotations

from django.db import models

from groups.fields import BulkJSONField, CompressedJSONField
from groups.managers import ApiCallQuerySet
from projects.models import Project


class ApiCall(models.Model):
    """One API call (a request and its response) as a Moesif client reported it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    request_time = models.DateTimeField()
    response_time = models.DateTimeField(null=True, blank=True)
    # None when there was no response (a timeout) or its time came before the request's.
    duration_ms = models.FloatField(null=True, blank=True)
    verb = models.CharField(max_length=16)
    uri = models.CharField(max_length=2048)
    # The URI's path with ids, numbers, UUIDs and hashes folded into placeholders
    # (`/users/{id}/orders/{uuid}`): what calls are aggregated by.
    route = models.CharField(max_length=512)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)
    user_id = models.CharField(max_length=200, blank=True)
    company_id = models.CharField(max_length=200, blank=True)
    # Kept as a digest (`sha256:<16 hex>`) when the project scrubs data: it is a credential.
    session_token = models.CharField(max_length=200, blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    # Moesif deduplicates on it; so does Faultline, per project.
    transaction_id = models.UUIDField(null=True, blank=True)
    direction = models.CharField(max_length=16, blank=True)
    weight = models.PositiveIntegerField(default=1)
    api_version = models.CharField(max_length=64, blank=True)
    tags = models.CharField(max_length=512, blank=True)
    metadata = BulkJSONField(default=dict)
    # Request and response headers and bodies, scrubbed and capped:
    # {"request": {"headers", "body", "transfer_encoding", "truncated"}, "response": {…}}.
    data = CompressedJSONField()
    received = models.DateTimeField()

    objects = ApiCallQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "transaction_id"], name="groups_apicall_unique_transaction"
            )
        ]
        indexes = [
            models.Index(fields=["project", "-request_time", "-id"], name="groups_apicall_time"),
            models.Index(fields=["project", "route", "-request_time"], name="groups_apicall_route"),
            models.Index(
                fields=["project", "user_id", "-request_time"], name="groups_apicall_user"
            ),
            models.Index(fields=["trace_id"], name="groups_apicall_trace"),
        ]

    def __str__(self) -> str:
        return f"{self.verb} {self.uri} → {self.status}"
