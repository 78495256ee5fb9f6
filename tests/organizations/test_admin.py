from __future__ import annotations

import re

import pytest
from django.urls import reverse

from organizations import services
from organizations.models import ApiKey
from tests.organizations.factories import (
    ApiKeyFactory,
    OrganizationMemberFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.parametrize("model", ["organization", "team", "organizationmember", "apikey"])
def test_changelist_and_add_pages_render(admin_client, model):
    OrganizationMemberFactory()
    TeamFactory()
    ApiKeyFactory()
    for view in ("changelist", "add"):
        response = admin_client.get(reverse(f"admin:organizations_{model}_{view}"))
        assert response.status_code == 200, response.content[:500]


def test_changelist_search_and_filters(admin_client):
    ApiKeyFactory(label="deploy bot")
    url = reverse("admin:organizations_apikey_changelist")
    response = admin_client.get(url, {"q": "deploy", "date_revoked__isempty": "1"})
    assert response.status_code == 200, response.content[:500]
    assert b"deploy bot" in response.content


def test_change_pages_render(admin_client):
    member = OrganizationMemberFactory()
    team = TeamFactory(organization=member.organization)
    api_key = ApiKeyFactory(organization=member.organization)
    for model, pk in [
        ("organization", member.organization.pk),
        ("team", team.pk),
        ("organizationmember", member.pk),
        ("apikey", api_key.pk),
    ]:
        response = admin_client.get(reverse(f"admin:organizations_{model}_change", args=[pk]))
        assert response.status_code == 200, response.content[:500]


def test_admin_creates_api_key_and_shows_it_once(admin_client, organization):
    response = admin_client.post(
        reverse("admin:organizations_apikey_add"),
        {"organization": organization.pk, "label": "sentry-cli", "scopes": ["project:read"]},
        follow=True,
    )
    assert response.status_code == 200, response.content[:500]
    api_key = ApiKey.objects.get(label="sentry-cli")
    shown = re.search(rb"<code>([0-9a-f]{64})</code>", response.content)
    assert shown, response.content[:2000]
    plain = shown.group(1).decode()
    assert services.authenticate_api_key(plain_key=plain) == api_key
    assert api_key.scopes == ["project:read"]

    change_page = admin_client.get(reverse("admin:organizations_apikey_change", args=[api_key.pk]))
    assert plain.encode() not in change_page.content


def test_admin_revoke_action(admin_client):
    api_key = ApiKeyFactory()
    response = admin_client.post(
        reverse("admin:organizations_apikey_changelist"),
        {"action": "revoke", "_selected_action": [api_key.pk]},
        follow=True,
    )
    assert response.status_code == 200, response.content[:500]
    assert services.authenticate_api_key(plain_key=api_key.plain_key) is None


def test_admin_requires_staff(client, member):
    client.force_login(member)
    response = client.get(reverse("admin:organizations_organization_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_creates_user_token_and_shows_it_once(admin_client, member):
    response = admin_client.post(
        reverse("admin:organizations_usertoken_add"),
        {"user": member.pk, "label": "laptop", "scopes": ["org:read"]},
        follow=True,
    )
    assert response.status_code == 200, response.content[:500]
    shown = re.search(rb"<code>(sntryu_[0-9a-f]{64})</code>", response.content)
    assert shown, response.content[:2000]
    token = services.authenticate_user_token(plain_token=shown.group(1).decode())
    assert (token.user, token.scopes) == (member, ["org:read"])
    listing = admin_client.get(reverse("admin:organizations_usertoken_changelist"))
    assert b"laptop" in listing.content
