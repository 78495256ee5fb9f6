"""The issue search syntax: parsing, and each kind of filter against a known set of issues."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from groups.models import GroupStatus, GroupSubstatus
from groups.search import InvalidSearchQuery, ParsedQuery, SearchFilter, parse_query
from tests.groups.factories import GroupFactory, GroupTagValueFactory
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


class TestParse:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("", ParsedQuery((), "")),
            ("is:unresolved", ParsedQuery((SearchFilter("is", ("unresolved",)),), "")),
            (
                '  !browser:"Mobile Safari"  level:error ',
                ParsedQuery(
                    (
                        SearchFilter("browser", ("Mobile Safari",), negated=True),
                        SearchFilter("level", ("error",)),
                    ),
                    "",
                ),
            ),
            (
                'timeout "upstream error" is:[resolved, "ignored"]',
                ParsedQuery(
                    (SearchFilter("is", ("resolved", "ignored")),), "timeout upstream error"
                ),
            ),
            (
                "tags[sentry:user]:id:1 lastSeen:>=2026-01-01T10:00:00",
                ParsedQuery(
                    (
                        SearchFilter("sentry:user", ("id:1",)),
                        SearchFilter("lastSeen", (">=2026-01-01T10:00:00",)),
                    ),
                    "",
                ),
            ),
            (r'message:"say \"hi\""', ParsedQuery((SearchFilter("message", ('say "hi"',)),), "")),
            ("!important", ParsedQuery((), "!important")),
        ],
    )
    def test_parses(self, query, expected):
        assert parse_query(query) == expected

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("level:", "Empty string after 'level:'"),
            ('browser:"Chrome', "Missing closing quote"),
            ('"free text', "Missing closing quote"),
            ("is:[resolved", "Missing ']'"),
            ("is:[]", "Empty list"),
            ("is:[a b]", "Malformed list"),
        ],
    )
    def test_rejects(self, query, message):
        with pytest.raises(InvalidSearchQuery, match=message):
            parse_query(query)


def _tags(group, **tags):
    for key, value in tags.items():
        GroupTagValueFactory(group=group, key=key.replace("__", "."), value=value)


@pytest.fixture
def issues():
    """Four issues of one project with known statuses, times, counts and tags."""
    now = timezone.now()
    project = ProjectFactory()
    a = GroupFactory(
        project=project,
        title="ValueError: bad input",
        culprit="shop.views in checkout",
        first_seen=now - timedelta(hours=1),
        last_seen=now - timedelta(minutes=10),
        times_seen=5,
    )
    _tags(a, environment="production", browser="Chrome", user="email:ann@example.com")
    _tags(a, release="shop@1.0")
    b = GroupFactory(
        project=project,
        title="KeyError: 'sku'",
        culprit="shop.orders in build",
        level="warning",
        status=GroupStatus.RESOLVED,
        first_seen=now - timedelta(days=3),
        last_seen=now - timedelta(days=2),
        times_seen=50,
    )
    _tags(b, environment="staging", browser="Firefox", release="shop@2.0")
    c = GroupFactory(
        project=project,
        title="TimeoutError: upstream",
        culprit="api.client in fetch",
        status=GroupStatus.IGNORED,
        substatus=GroupSubstatus.ARCHIVED_FOREVER,
        first_seen=now - timedelta(days=20),
        last_seen=now - timedelta(hours=1),
        times_seen=500,
    )
    _tags(c, environment="production", browser="Mobile Safari", release="shop@2.0")
    d = GroupFactory(
        project=project,
        title="Disk full",
        culprit="",
        level="fatal",
        substatus=GroupSubstatus.REGRESSED,
        first_seen=now - timedelta(days=30),
        last_seen=now - timedelta(days=5),
        times_seen=1,
    )
    return project, {"a": a, "b": b, "c": c, "d": d}


FOUR_DAYS_AGO = (timezone.now() - timedelta(days=4)).date().isoformat()

SEARCHES = [
    (None, "ad"),
    ("", "abcd"),
    ("is:unresolved", "ad"),
    ("is:resolved", "b"),
    ("is:ignored", "c"),
    ("is:archived", "c"),
    ("is:regressed", "d"),
    ("is:new", "a"),
    ("!is:unresolved", "bc"),
    ("is:[resolved, ignored]", "bc"),
    ("is:unresolved level:error", "a"),
    ("level:fatal", "d"),
    ("level:[warning, fatal]", "bd"),
    ("environment:production", "ac"),
    ("!environment:production", "bd"),
    ('browser:"Mobile Safari"', "c"),
    ("browser:Mob*", "c"),
    ("release:shop@2.0", "bc"),
    ("user.email:ann@example.com", "a"),
    ("firstSeen:-24h", "a"),
    ("age:-24h", "a"),
    ("firstSeen:+7d", "cd"),
    ("lastSeen:>-6h", "ac"),
    ("lastSeen:<-1d", "bd"),
    ("lastSeen:-2w", "abcd"),
    (f"firstSeen:>={FOUR_DAYS_AGO}", "ab"),
    ("times_seen:>10", "bc"),
    ("times_seen:<=5", "ad"),
    ("times_seen:50", "b"),
    ("has:browser", "abc"),
    ("!has:browser", "d"),
    ("keyerror", "b"),
    ('"TIMEOUTERROR: upstream"', "c"),
    ("api.client", "c"),
    ("checkout is:unresolved", "a"),
    ("is:unassigned", "abcd"),
    ("is:assigned", ""),
    ("nosuchtag:x", ""),
]


@pytest.mark.parametrize(("query", "expected"), SEARCHES)
def test_search(api_client_for, issues, query, expected):
    project, by_name = issues
    client = api_client_for(project.organization, ["event:read"])
    params = {"statsPeriod": ""} if query is None else {"query": query, "statsPeriod": ""}
    response = client.get(
        f"/api/0/projects/{project.organization.slug}/{project.slug}/issues/", params
    )
    assert response.status_code == 200, response.content
    names = {name for name, group in by_name.items() if str(group.pk) in _ids_of(response)}
    assert "".join(sorted(names)) == expected, (query, response.json())


def _ids_of(response) -> set[str]:
    return {issue["id"] for issue in response.json()}


@pytest.mark.parametrize(
    "query",
    [
        "is:bogus",
        "level:",
        "firstSeen:yesterday",
        "lastSeen:>soon",
        "times_seen:>many",
        'browser:"unterminated',
        "is:[resolved",
        "times_seen:[1, 2]",
        "times_seen:99999999999999999999999",
        "firstSeen:9999-12-31",
        "lastSeen:-99999999999w",
    ],
)
def test_bad_query_is_400(api_client_for, issues, query):
    project, _ = issues
    client = api_client_for(project.organization, ["event:read"])
    response = client.get(
        f"/api/0/projects/{project.organization.slug}/{project.slug}/issues/", {"query": query}
    )
    assert response.status_code == 400, response.content
    assert response.json()["detail"], response.content


def test_environment_parameter(api_client_for, issues):
    project, by_name = issues
    client = api_client_for(project.organization, ["event:read"])
    response = client.get(
        f"/api/0/organizations/{project.organization.slug}/issues/",
        {"query": "", "environment": ["staging", "nowhere"]},
    )
    assert response.status_code == 200, response.content
    assert _ids_of(response) == {str(by_name["b"].pk)}
