"""/api/0/ tags of an issue: keys with their top values, one key, and all values of a key."""

from __future__ import annotations

import pytest

from groups.models import Group
from tests.api_helpers import parse_link, walk
from tests.groups.conftest import error
from tests.groups.factories import GroupFactory, GroupTagValueFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(send):
    for browser, count in (("Chrome", 3), ("Firefox", 2), ("Safari", 1)):
        for _ in range(count):
            send(error(tags={"browser": browser}, environment="production"))
    send(error(tags={"browser": "Chrome"}, environment="staging"))
    return Group.objects.get()


def test_tag_list(api_client, group, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = api_client.get(f"/api/0/issues/{group.pk}/tags/")
    assert response.status_code == 200, response.content
    tags = {tag["key"]: tag for tag in response.json()}
    assert {"browser", "environment", "level"} <= set(tags)
    browser = tags["browser"]
    assert (browser["name"], browser["uniqueValues"], browser["totalValues"]) == ("Browser", 3, 7)
    assert [(value["value"], value["count"]) for value in browser["topValues"]] == [
        ("Chrome", 4),
        ("Firefox", 2),
        ("Safari", 1),
    ]
    top = browser["topValues"][0]
    assert set(top) == {"key", "name", "value", "count", "firstSeen", "lastSeen"}
    assert (top["key"], top["name"]) == ("browser", "Chrome")
    assert top["lastSeen"].endswith("Z")
    assert tags["environment"]["totalValues"] == 7


def test_top_values_are_nine(api_client, project):
    group = GroupFactory(project=project)
    for index in range(12):
        GroupTagValueFactory(group=group, key="url", value=f"/page/{index}", times_seen=index + 1)
    (tag,) = api_client.get(f"/api/0/issues/{group.pk}/tags/").json()
    assert (tag["name"], tag["uniqueValues"], tag["totalValues"]) == ("URL", 12, 78)
    assert [value["count"] for value in tag["topValues"]] == list(range(12, 3, -1))


def test_tag_detail(api_client, organization, group):
    url = f"/api/0/organizations/{organization.slug}/issues/{group.pk}/tags/browser/"
    response = api_client.get(url)
    assert response.status_code == 200, response.content
    assert response.json()["key"] == "browser"
    assert response.json()["uniqueValues"] == 3
    missing = api_client.get(f"/api/0/issues/{group.pk}/tags/nope/")
    assert missing.status_code == 404, missing.content


def test_tag_values_paginated(api_client, group, django_assert_max_num_queries):
    url = f"/api/0/issues/{group.pk}/tags/browser/values/"
    with django_assert_max_num_queries(5):
        first = api_client.get(url, {"per_page": 2, "cursor": ""})
    assert first.status_code == 200, first.content
    assert [(item["value"], item["count"]) for item in first.json()] == [
        ("Chrome", 4),
        ("Firefox", 2),
    ]
    assert parse_link(first["Link"])["next"]["results"] is True
    pages = walk(api_client, url, per_page=2)
    assert [item["value"] for page in pages for item in page] == ["Chrome", "Firefox", "Safari"]
    missing = api_client.get(f"/api/0/issues/{group.pk}/tags/nope/values/")
    assert missing.status_code == 404, missing.content


def test_permissions(client, api_client_for, organization, group):
    url = f"/api/0/issues/{group.pk}/tags/"
    assert client.get(url).status_code == 401
    response = api_client_for(organization, ["project:read"]).get(url)
    assert response.status_code == 403, response.content
    other = GroupFactory()
    response = api_client_for(organization, ["event:read"]).get(f"/api/0/issues/{other.pk}/tags/")
    assert response.status_code == 403, response.content
    response = api_client_for(organization, ["event:read"]).get("/api/0/issues/999999/tags/")
    assert response.status_code == 404, response.content
