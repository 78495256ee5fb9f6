from __future__ import annotations

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from groups.models import (
    ApiCall,
    Attachment,
    Event,
    Group,
    GroupTagValue,
    LogRecord,
    Span,
    UserReport,
)
from tests.projects.factories import ProjectFactory


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    project = factory.SubFactory(ProjectFactory)
    short_id = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"ValueError: failure {n}")
    culprit = "app.views in handler"
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.LazyAttribute(lambda group: group.first_seen)
    times_seen = 1


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    group = factory.SubFactory(GroupFactory)
    project = factory.LazyAttribute(lambda event: event.group.project)
    event_id = factory.LazyFunction(uuid.uuid4)
    timestamp = factory.LazyFunction(timezone.now)
    received = factory.LazyAttribute(lambda event: event.timestamp)
    level = "error"
    type = "error"
    title = factory.LazyAttribute(lambda event: event.group.title)
    data = factory.LazyAttribute(lambda event: {"event_id": event.event_id.hex})


class GroupTagValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupTagValue

    group = factory.SubFactory(GroupFactory)
    key = "environment"
    value = "production"
    times_seen = 1
    first_seen = factory.LazyAttribute(lambda row: row.group.first_seen)
    last_seen = factory.LazyAttribute(lambda row: row.group.last_seen)


class SpanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Span

    project = factory.SubFactory(ProjectFactory)
    trace_id = factory.LazyFunction(lambda: uuid.uuid4().hex)
    span_id = factory.LazyFunction(lambda: uuid.uuid4().hex[:16])
    is_segment = True
    name = "GET /items"
    op = "http.server"
    status = "ok"
    start = factory.LazyFunction(timezone.now)
    duration_ms = 10.0
    end = factory.LazyAttribute(lambda span: span.start + timedelta(milliseconds=span.duration_ms))
    received = factory.LazyAttribute(lambda span: span.end)


class LogRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LogRecord

    project = factory.SubFactory(ProjectFactory)
    timestamp = factory.LazyFunction(timezone.now)
    level = "info"
    severity_number = 9
    body = factory.Sequence(lambda n: f"log line {n}")
    received = factory.LazyAttribute(lambda record: record.timestamp)


class ApiCallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiCall

    project = factory.SubFactory(ProjectFactory)
    request_time = factory.LazyFunction(timezone.now)
    duration_ms = 20.0
    response_time = factory.LazyAttribute(
        lambda call: call.request_time + timedelta(milliseconds=call.duration_ms or 0)
    )
    verb = "GET"
    uri = "https://api.example.com/items/1"
    route = "/items/{id}"
    status = 200
    ip_address = "203.0.113.7"
    transaction_id = factory.LazyFunction(uuid.uuid4)
    data = factory.LazyFunction(lambda: {"request": {"headers": {}}, "response": {"headers": {}}})
    received = factory.LazyAttribute(lambda call: call.request_time)


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    project = factory.SubFactory(ProjectFactory)
    event_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"file-{n}.txt")
    content_type = "text/plain"
    size = 5
    sha1 = factory.Sequence(lambda n: f"{n:040x}")
    file = factory.django.FileField(data=b"hello")


class UserReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserReport

    project = factory.SubFactory(ProjectFactory)
    report_id = factory.LazyFunction(uuid.uuid4)
    event_id = factory.LazyAttribute(lambda report: report.report_id)
    name = "Ada"
    email = "ada@example.com"
    comments = "It broke."
