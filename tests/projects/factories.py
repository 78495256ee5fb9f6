from __future__ import annotations

import factory

from projects.models import Project, ProjectKey
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
