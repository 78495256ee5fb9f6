from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from organizations import services
from organizations.exceptions import UnknownScopeError
from organizations.models import ApiKey, Organization
from organizations.roles import Role
from tests.organizations.factories import ApiKeyFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_created_key_authenticates(organization):
    api_key, plain = services.create_api_key(
        organization=organization, label="ci", scopes=["project:read", "org:read"]
    )
    assert len(plain) == 64
    assert services.authenticate_api_key(plain_key=plain) == api_key
    assert api_key.scopes == ["project:read", "org:read"]


def test_hash_alone_does_not_authenticate(organization):
    api_key, _ = services.create_api_key(organization=organization, label="ci", scopes=[])
    assert services.authenticate_api_key(plain_key=api_key.hashed_key) is None


@pytest.mark.parametrize("candidate", ["", "x" * 64, "0" * 64, "short"])
def test_unknown_keys_do_not_authenticate(candidate):
    ApiKeyFactory()
    assert services.authenticate_api_key(plain_key=candidate) is None


def test_key_sharing_a_prefix_does_not_authenticate():
    api_key = ApiKeyFactory()
    impostor = api_key.plain_key[:8] + "0" * 56
    assert services.authenticate_api_key(plain_key=impostor) is None


def test_revoked_key_does_not_authenticate():
    api_key = ApiKeyFactory()
    services.revoke_credentials(credentials=ApiKey.objects.filter(pk=api_key.pk))
    assert services.authenticate_api_key(plain_key=api_key.plain_key) is None


def test_revoking_keeps_the_first_revocation_date():
    api_key = ApiKeyFactory()
    assert services.revoke_credentials(credentials=ApiKey.objects.all()) == 1
    first = ApiKey.objects.get().date_revoked
    assert services.revoke_credentials(credentials=ApiKey.objects.all()) == 0
    assert ApiKey.objects.get(pk=api_key.pk).date_revoked == first


def test_unknown_scope_is_refused(organization):
    with pytest.raises(UnknownScopeError):
        services.create_api_key(organization=organization, label="x", scopes=["org:everything"])
    assert not ApiKey.objects.exists()


def test_ensure_organization_is_idempotent():
    first, created = services.ensure_organization(name="Acme Corp")
    again, created_again = services.ensure_organization(name="Acme Corp")
    assert (first.slug, created, created_again) == ("acme-corp", True, False)
    assert first == again
    assert Organization.objects.count() == 1


def test_ensure_organization_refuses_bad_slug():
    with pytest.raises(ValidationError):
        services.ensure_organization(slug="Not A Slug", name="x")


def test_ensure_team_is_per_organization():
    one, two = OrganizationFactory.create_batch(2)
    team_one, _ = services.ensure_team(organization=one, name="Backend")
    team_two, created = services.ensure_team(organization=two, name="Backend")
    assert created
    assert team_one != team_two


def test_add_member_keeps_existing_role(organization):
    user = UserFactory()
    services.add_member(organization=organization, user=user, role=Role.ADMIN)
    member = services.add_member(organization=organization, user=user, role=Role.MEMBER)
    assert member.role == Role.ADMIN
