"""Concurrent creates against the live server: one slug, one 201, the others 409."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from organizations.models import Team
from projects.models import Project
from tests.organizations.factories import ApiKeyFactory, TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)
SENDERS = 8


def _post_concurrently(url: str, key: str, body: dict) -> list[int]:
    def post(_: int) -> tuple[int, str]:
        request = urllib.request.Request(  # noqa: S310
            url,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, response.headers["Content-Type"]
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Type"]

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        answers = list(pool.map(post, range(SENDERS)))
    assert {content_type for _, content_type in answers} == {"application/json"}, answers
    return sorted(status for status, _ in answers)


def test_concurrent_team_creates_make_one_team(faultline_server, organization):
    # Found by fuzzing: two to four of eight got 201 for the one team that exists.
    key = ApiKeyFactory(organization=organization, scopes=["team:write"])
    url = f"{faultline_server.url}/api/0/organizations/{organization.slug}/teams/"
    statuses = _post_concurrently(url, key.plain_key, {"slug": "race"})
    assert statuses == [201] + [409] * (SENDERS - 1)
    assert Team.objects.filter(organization=organization, slug="race").count() == 1


def test_concurrent_project_creates_make_one_project(faultline_server, organization):
    # Found by fuzzing: the losers of the race could get 400 with a model validation error.
    team = TeamFactory(organization=organization)
    key = ApiKeyFactory(organization=organization, scopes=["project:write"])
    url = f"{faultline_server.url}/api/0/teams/{organization.slug}/{team.slug}/projects/"
    statuses = _post_concurrently(url, key.plain_key, {"name": "Race", "slug": "race"})
    assert statuses == [201] + [409] * (SENDERS - 1)
    assert Project.objects.filter(organization=organization, slug="race").count() == 1
