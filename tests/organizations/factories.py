from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from organizations.models import ApiKey, Organization, OrganizationMember, Team
from organizations.roles import Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.LazyAttribute(lambda org: org.slug.replace("-", " ").title())


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    organization = factory.SubFactory(OrganizationFactory)
    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda team: team.slug.title())


class OrganizationMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrganizationMember

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """An API key; the plain key is on the instance as `plain_key` (tests only)."""

    class Meta:
        model = ApiKey

    organization = factory.SubFactory(OrganizationFactory)
    label = factory.Sequence(lambda n: f"key {n}")
    scopes = factory.LazyFunction(lambda: ["org:read", "project:read"])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        plain = ApiKey.generate()
        api_key = model_class(*args, **kwargs)
        api_key.set_key(plain)
        api_key.save()
        api_key.plain_key = plain
        return api_key
