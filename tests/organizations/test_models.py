from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from organizations.models import ApiKey, Organization
from organizations.roles import ROLE_SCOPES, SCOPES, Role
from tests.organizations.factories import (
    ApiKeyFactory,
    OrganizationFactory,
    OrganizationMemberFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slug", ["acme", "acme-corp", "acme_corp", "a1", "1a"])
def test_valid_slugs_pass_validation(slug):
    OrganizationFactory.build(slug=slug).full_clean()


@pytest.mark.parametrize("slug", ["Acme", "acme corp", "acme.corp", "123", "", "ü", "a" * 51])
def test_invalid_slugs_fail_validation(slug):
    with pytest.raises(ValidationError):
        OrganizationFactory.build(slug=slug).full_clean()


def test_organization_slug_is_unique():
    OrganizationFactory(slug="acme")
    with pytest.raises(IntegrityError):
        Organization.objects.create(slug="acme", name="Other")


def test_team_slug_is_unique_per_organization():
    team = TeamFactory(slug="backend")
    TeamFactory(slug="backend")  # another organization: allowed
    with pytest.raises(IntegrityError):
        TeamFactory(organization=team.organization, slug="backend")


def test_member_is_unique_per_organization():
    member = OrganizationMemberFactory()
    with pytest.raises(IntegrityError):
        OrganizationMemberFactory(organization=member.organization, user=member.user)


def test_member_scopes_follow_role():
    owner = OrganizationMemberFactory(role=Role.OWNER)
    member = OrganizationMemberFactory(role=Role.MEMBER)
    assert owner.scopes == frozenset(SCOPES)
    assert "org:admin" not in member.scopes
    assert member.scopes == ROLE_SCOPES[Role.MEMBER]
    assert ROLE_SCOPES[Role.MEMBER] < ROLE_SCOPES[Role.ADMIN] < ROLE_SCOPES[Role.OWNER]


def test_api_key_stores_only_prefix_and_hash():
    api_key = ApiKeyFactory()
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert api_key.plain_key not in {stored.prefix, stored.hashed_key}
    assert stored.prefix == api_key.plain_key[:8]
    assert len(stored.hashed_key) == 64
    assert stored.matches(api_key.plain_key)


def test_api_key_has_scope_only_while_active():
    api_key = ApiKeyFactory(scopes=["project:read"])
    assert api_key.has_scope("project:read")
    assert not api_key.has_scope("project:write")
    api_key.revoke()
    assert not api_key.has_scope("project:read")
