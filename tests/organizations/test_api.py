"""/api/0/ root, organizations, members and teams."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from organizations import services
from organizations.models import Team
from tests.api_helpers import parse_link, walk
from tests.organizations.factories import (
    ApiKeyFactory,
    OrganizationFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


def test_root_shows_key_scopes_without_user(api_client_for, organization):
    client = api_client_for(organization, ["org:read", "project:read"])
    response = client.get("/api/0/")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "version": "0",
        "auth": {"scopes": ["org:read", "project:read"]},
        "user": None,
    }


def test_root_without_credentials(client):
    assert client.get("/api/0/").json() == {"version": "0", "auth": None, "user": None}


def test_root_with_user_token_shows_user(owner):
    _, plain = services.create_user_token(user=owner, label="cli", scopes=["org:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    body = client.get("/api/0/").json()
    assert plain.startswith("sntryu_")
    assert body["auth"] == {"scopes": ["org:read"]}
    assert (body["user"]["id"], body["user"]["email"]) == (str(owner.pk), owner.email)


def test_basic_auth_with_key_as_user_name(api_client_for, organization):
    client = api_client_for(organization, ["org:read"], scheme="Basic")
    response = client.get(f"/api/0/organizations/{organization.slug}/")
    assert response.status_code == 200, response.content


def test_basic_auth_with_a_password_is_not_an_api_key(organization):
    api_key = ApiKeyFactory(organization=organization)
    client = APIClient()
    encoded = base64.b64encode(f"{api_key.plain_key}:secret".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {encoded}")
    response = client.get(f"/api/0/organizations/{organization.slug}/")
    assert response.status_code == 401, response.content


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer " + "0" * 64, "API key is not valid"),
        ("Bearer sntryu_" + "0" * 64, "Invalid token"),
        ("Bearer", "Invalid token header. No credentials provided."),
    ],
)
def test_bad_credentials_are_401_with_quiet_challenge(organization, header, detail):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(f"/api/0/organizations/{organization.slug}/")
    assert response.status_code == 401, response.content
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == 'xBasic realm="api"'


def test_revoked_key_is_disabled(api_client_for, organization):
    client = api_client_for(organization)
    client.api_key.revoke()
    response = client.get(f"/api/0/organizations/{organization.slug}/")
    assert (response.status_code, response.json()) == (401, {"detail": "Key is disabled"})


def test_no_credentials_is_401(client, organization):
    response = client.get(f"/api/0/organizations/{organization.slug}/")
    assert response.status_code == 401, response.content
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_unknown_path_is_json_404(api_client):
    response = api_client.get("/api/0/users/me/regions/")
    assert response.status_code == 404
    assert response.json() == {"detail": "The requested resource does not exist"}


class TestOrganizations:
    def test_list_and_detail_have_the_fields_sentry_cli_needs(self, api_client, organization):
        OrganizationFactory()  # not visible to this key
        response = api_client.get("/api/0/organizations/", {"cursor": ""})
        assert response.status_code == 200, response.content
        (listed,) = response.json()
        assert listed["id"] == str(organization.pk)
        for field in ("slug", "name", "dateCreated", "isEarlyAdopter", "require2FA",
                      "requireEmailVerification", "features"):  # fmt: skip
            assert field in listed, field
        parse_link(response["Link"])
        detail = api_client.get(f"/api/0/organizations/{organization.pk}/")
        assert detail.json()["slug"] == organization.slug

    def test_update(self, api_client, organization):
        response = api_client.put(
            f"/api/0/organizations/{organization.slug}/", {"name": "Renamed"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["name"] == "Renamed"

    def test_update_needs_org_write(self, api_client_for, organization):
        client = api_client_for(organization, ["org:read"])
        response = client.put(f"/api/0/organizations/{organization.slug}/", {"name": "x"})
        assert response.status_code == 403, response.content

    def test_bad_slug_is_400(self, api_client, organization):
        response = api_client.put(
            f"/api/0/organizations/{organization.slug}/", {"slug": "Not A Slug"}, format="json"
        )
        assert response.status_code == 400, response.content
        assert "slug" in response.json()

    def test_other_organization_is_403_and_unknown_404(self, api_client):
        other = OrganizationFactory()
        assert api_client.get(f"/api/0/organizations/{other.slug}/").status_code == 403
        assert api_client.get("/api/0/organizations/nope/").status_code == 404

    def test_user_sees_member_organizations(self, owner, organization):
        OrganizationFactory()
        client = APIClient()
        client.force_authenticate(owner)
        assert [o["slug"] for o in client.get("/api/0/organizations/").json()] == [
            organization.slug
        ]

    def test_members(self, api_client, organization, owner, member):
        response = api_client.get(f"/api/0/organizations/{organization.slug}/members/")
        assert response.status_code == 200, response.content
        emails = {item["email"] for item in response.json()}
        assert emails == {owner.email, member.email}


class TestTeams:
    def test_create_list_detail_update_delete(self, api_client, organization):
        base = f"/api/0/organizations/{organization.slug}/teams/"
        created = api_client.post(base, {"name": "Backend Team"}, format="json")
        assert created.status_code == 201, created.content
        assert created.json()["slug"] == "backend-team"
        duplicate = api_client.post(base, {"slug": "backend-team"}, format="json")
        assert duplicate.status_code == 409, duplicate.content
        assert [team["slug"] for team in api_client.get(base).json()] == ["backend-team"]
        detail = f"/api/0/teams/{organization.slug}/backend-team/"
        renamed = api_client.put(detail, {"slug": "platform", "name": "Platform"}, format="json")
        assert renamed.status_code == 200, renamed.content
        assert (renamed.json()["slug"], renamed.json()["name"]) == ("platform", "Platform")
        assert api_client.get(detail).status_code == 404
        deleted = api_client.delete(f"/api/0/teams/{organization.slug}/platform/")
        assert deleted.status_code == 204
        assert not Team.objects.exists()

    def test_parameters_from_the_query_string(self, api_client, organization):
        response = api_client.post(
            f"/api/0/organizations/{organization.slug}/teams/?name=Query%20Team&slug=qt"
        )
        assert response.status_code == 201, response.content
        assert (response.json()["slug"], response.json()["name"]) == ("qt", "Query Team")
        renamed = api_client.put(f"/api/0/teams/{organization.slug}/qt/?name=Renamed")
        assert renamed.json()["name"] == "Renamed"

    def test_options_describes_the_endpoint(self, api_client, organization):
        response = api_client.options(f"/api/0/organizations/{organization.slug}/teams/")
        assert response.status_code == 200, response.content
        assert response.json()["name"] == "Team List"

    def test_create_needs_a_name(self, api_client, organization):
        response = api_client.post(
            f"/api/0/organizations/{organization.slug}/teams/", {}, format="json"
        )
        assert response.status_code == 400, response.content

    def test_delete_needs_team_admin(self, api_client_for, organization):
        team = TeamFactory(organization=organization)
        client = api_client_for(organization, ["team:read", "team:write"])
        response = client.delete(f"/api/0/teams/{organization.slug}/{team.slug}/")
        assert response.status_code == 403, response.content

    def test_member_may_list_but_not_create(self, organization, member):
        client = APIClient()
        client.force_authenticate(member)
        base = f"/api/0/organizations/{organization.slug}/teams/"
        assert client.get(base).status_code == 200
        assert client.post(base, {"name": "x"}, format="json").status_code == 403

    def test_pages_walk_both_ways(self, api_client, organization, django_assert_max_num_queries):
        TeamFactory.create_batch(7, organization=organization)
        base = f"/api/0/organizations/{organization.slug}/teams/"
        with django_assert_max_num_queries(8):
            api_client.get(base, {"per_page": 3})
        pages = walk(api_client, base, per_page=3)
        assert [len(page) for page in pages] == [3, 3, 1]
        slugs = [team["slug"] for page in pages for team in page]
        assert len(set(slugs)) == 7
        # And back: the previous link of the last page returns the middle page.
        last = api_client.get(base, {"per_page": 3, "cursor": _cursor(api_client, base, 2)})
        previous = parse_link(last["Link"])["previous"]
        assert previous["results"]
        back = api_client.get(base, {"per_page": 3, "cursor": previous["cursor"]})
        assert [t["slug"] for t in back.json()] == [t["slug"] for t in pages[1]]
        first_prev = parse_link(
            api_client.get(
                base, {"per_page": 3, "cursor": parse_link(back["Link"])["previous"]["cursor"]}
            )["Link"]
        )["previous"]
        assert not first_prev["results"]

    @pytest.mark.parametrize(
        ("params", "detail"),
        [
            ({"per_page": "101"}, "Invalid per_page value. Cannot exceed 100."),
            ({"per_page": "x"}, "Invalid per_page parameter."),
            ({"cursor": "bogus"}, "Invalid cursor parameter."),
        ],
    )
    def test_bad_pagination_is_400(self, api_client, organization, params, detail):
        response = api_client.get(f"/api/0/organizations/{organization.slug}/teams/", params)
        assert (response.status_code, response.json()) == (400, {"detail": detail})


def _cursor(client, path, pages_forward):
    cursor = ""
    for _ in range(pages_forward):
        cursor = parse_link(client.get(path, {"per_page": 3, "cursor": cursor})["Link"])["next"][
            "cursor"
        ]
    return cursor


class TestApiTokens:
    def test_user_creates_lists_uses_and_revokes_a_token(self, owner, organization):
        session = APIClient()
        session.force_authenticate(owner)
        created = session.post(
            "/api/0/api-tokens/", {"name": "ci", "scopes": ["org:read"]}, format="json"
        )
        assert created.status_code == 201, created.content
        plain = created.json()["token"]
        assert plain.startswith("sntryu_")
        listed = session.get("/api/0/api-tokens/").json()
        assert [(t["name"], t["scopes"]) for t in listed] == [("ci", ["org:read"])]
        assert "token" not in listed[0]
        token_client = APIClient()
        token_client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
        assert token_client.get(f"/api/0/organizations/{organization.slug}/").status_code == 200
        assert (
            token_client.get(f"/api/0/organizations/{organization.slug}/teams/").status_code == 403
        )
        assert session.delete(f"/api/0/api-tokens/{listed[0]['id']}/").status_code == 204
        assert token_client.get("/api/0/").status_code == 401

    def test_token_cannot_mint_more_scopes(self, owner):
        _, plain = services.create_user_token(user=owner, label="x", scopes=["org:read"])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
        response = client.post("/api/0/api-tokens/", {"scopes": ["org:admin"]}, format="json")
        assert response.status_code == 403, response.content

    def test_api_keys_have_no_tokens(self, api_client):
        assert api_client.get("/api/0/api-tokens/").status_code == 403

    def test_bad_scope_is_400(self, owner):
        client = APIClient()
        client.force_authenticate(owner)
        response = client.post("/api/0/api-tokens/", {"scopes": ["root"]}, format="json")
        assert response.status_code == 400, response.content


def test_token_scopes_are_capped_by_role(member, organization):
    _, plain = services.create_user_token(user=member, label="x", scopes=["org:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    response = client.put(
        f"/api/0/organizations/{organization.slug}/", {"name": "x"}, format="json"
    )
    assert response.status_code == 403, response.content


def test_pages_with_tied_sort_keys_never_repeat_or_skip(organization):
    """The cursor offset counts ties: checked with a key on which every row ties."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from config.api.pagination import SentryCursorPagination

    teams = TeamFactory.create_batch(7, organization=organization)
    queryset = Team.objects.filter(organization=organization)
    factory = APIRequestFactory()

    def page(cursor: str):
        paginator = SentryCursorPagination(key="organization_id")
        request = Request(factory.get("/x/", {"per_page": 2, "cursor": cursor}))
        rows = paginator.paginate_queryset(queryset, request)
        return [row.pk for row in rows], parse_link(paginator.get_paginated_response([])["Link"])

    seen, cursor, forward = [], "", []
    while True:
        ids, links = page(cursor)
        forward.append(ids)
        seen += ids
        if not links["next"]["results"]:
            break
        cursor = links["next"]["cursor"]
    assert sorted(seen) == sorted(team.pk for team in teams)
    backward = []
    cursor = links["previous"]["cursor"]
    while True:
        ids, links = page(cursor)
        backward.append(ids)
        if not links["previous"]["results"]:
            break
        cursor = links["previous"]["cursor"]
    assert backward == list(reversed(forward[:-1]))


def test_cursor_numbers_out_of_range_are_400(api_client, organization):
    for cursor in ("1:99999999999999999999999:0", "99999999999999999999999:0:0"):
        response = api_client.get(
            f"/api/0/organizations/{organization.slug}/teams/", {"cursor": cursor}
        )
        assert (response.status_code, response.json()) == (
            400,
            {"detail": "Invalid cursor parameter."},
        )


def test_tokens_of_deactivated_users_stop_working(owner, organization):
    _, plain = services.create_user_token(user=owner, label="x", scopes=["org:read"])
    owner.is_active = False
    owner.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    response = client.get(f"/api/0/organizations/{organization.slug}/")
    assert (response.status_code, response.json()) == (401, {"detail": "User inactive or deleted."})


def test_head_and_options_need_the_get_scope(api_client_for, organization):
    client = api_client_for(organization, ["event:read"])
    url = f"/api/0/organizations/{organization.slug}/teams/"
    assert client.head(url).status_code == 403
    assert client.options(url).status_code == 403


def test_lists_follow_token_scopes(owner, organization):
    _, plain = services.create_user_token(user=owner, label="x", scopes=[])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert client.get("/api/0/organizations/").json() == []
    assert client.get("/api/0/projects/").json() == []


@pytest.mark.parametrize("value", ["%C2%B2", "²"])
def test_non_ascii_digits_are_404(api_client, value):
    response = api_client.get(f"/api/0/organizations/{value}/")
    assert response.status_code == 404, response.content


def test_throttled_per_key_with_retry_after(api_client_for, organization, monkeypatch):
    from django.core.cache import cache

    from organizations.throttling import CredentialRateThrottle

    monkeypatch.setattr(CredentialRateThrottle, "THROTTLE_RATES", {"default": "2/min"})
    cache.clear()
    first, second = api_client_for(organization), api_client_for(organization)
    url = f"/api/0/organizations/{organization.slug}/"
    try:
        assert [first.get(url).status_code for _ in range(2)] == [200, 200]
        throttled = first.get(url)
        assert throttled.status_code == 429, throttled.content
        assert int(throttled["Retry-After"]) > 0
        assert "detail" in throttled.json()
        assert second.get(url).status_code == 200  # another key has its own allowance
    finally:
        cache.clear()


def test_non_ascii_digit_issue_and_token_ids_are_404(api_client, owner):
    assert api_client.get("/api/0/issues/%C2%B2/").status_code == 404
    session = APIClient()
    session.force_authenticate(owner)
    assert session.delete("/api/0/api-tokens/%C2%B2/").status_code == 404
