from __future__ import annotations

import uuid

import factory
from django.utils import timezone

from projects.models import (
    CheckInStatus,
    Monitor,
    MonitorCheckIn,
    Project,
    ProjectKey,
    SessionAggregate,
    SessionUser,
)
from tests.organizations.factories import OrganizationFactory, TeamFactory


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.LazyAttribute(lambda project: project.slug.title())
    platform = "python"

    @factory.post_generation
    def teams(self, create, extracted, **kwargs):
        if not create:
            return
        teams = (
            extracted if extracted is not None else [TeamFactory(organization=self.organization)]
        )
        self.teams.set(teams)


class ProjectKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectKey

    project = factory.SubFactory(ProjectFactory)
    label = factory.Sequence(lambda n: f"key {n}")


class MonitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Monitor

    project = factory.SubFactory(ProjectFactory)
    slug = factory.Sequence(lambda n: f"nightly-job-{n}")
    name = factory.LazyAttribute(lambda monitor: monitor.slug)
    config = factory.LazyFunction(
        lambda: {
            "schedule_type": "crontab",
            "schedule": "*/5 * * * *",
            "checkin_margin": 1,
            "max_runtime": 30,
            "timezone": "UTC",
        }
    )


class MonitorCheckInFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MonitorCheckIn

    monitor = factory.SubFactory(MonitorFactory)
    project = factory.LazyAttribute(lambda checkin: checkin.monitor.project)
    check_in_id = factory.LazyFunction(uuid.uuid4)
    status = CheckInStatus.OK
    environment = "production"
    duration_ms = 1500.0


class SessionAggregateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionAggregate

    project = factory.SubFactory(ProjectFactory)
    release = "shop@1.0"
    environment = "production"
    hour = factory.LazyFunction(lambda: timezone.now().replace(minute=0, second=0, microsecond=0))
    started = 10
    exited = 8
    crashed = 1
    errored = 1


class SessionUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionUser

    project = factory.SubFactory(ProjectFactory)
    release = "shop@1.0"
    environment = "production"
    distinct_id = factory.Sequence(lambda n: f"user-{n}")
    first_seen = factory.LazyFunction(timezone.now)
