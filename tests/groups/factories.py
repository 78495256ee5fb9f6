from __future__ import annotations

import uuid

import factory
from django.utils import timezone

from groups.models import Event, Group, GroupTagValue
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
