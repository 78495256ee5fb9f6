"""/api/0/ issues: lists with search, sort, pages and stats; bulk and single updates; short ids."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from groups.models import Event, Group, GroupHash, GroupStatus, GroupSubstatus, GroupTagValue
from organizations.roles import SCOPES
from projects import services as project_services
from tests.api_helpers import parse_link, walk
from tests.groups.conftest import error, fixture_event
from tests.groups.factories import EventFactory, GroupFactory
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db

ISSUE_KEYS = {
    "id",
    "shortId",
    "title",
    "culprit",
    "permalink",
    "logger",
    "level",
    "status",
    "statusDetails",
    "substatus",
    "isPublic",
    "platform",
    "type",
    "project",
    "metadata",
    "numComments",
    "assignedTo",
    "isBookmarked",
    "isSubscribed",
    "hasSeen",
    "annotations",
    "issueType",
    "issueCategory",
    "count",
    "userCount",
    "firstSeen",
    "lastSeen",
    "firstRelease",
    "lastRelease",
}


@pytest.fixture
def issues_url(organization, project):
    return f"/api/0/projects/{organization.slug}/{project.slug}/issues/"


@pytest.fixture
def org_issues_url(organization):
    return f"/api/0/organizations/{organization.slug}/issues/"


def _ids(response) -> list[str]:
    return [issue["id"] for issue in response.json()]


def _groups(project, count, **fields):
    """`count` issues of the project, the first one seen last."""
    now = timezone.now()
    return [
        GroupFactory(
            project=project,
            first_seen=now - timedelta(hours=index + 1),
            last_seen=now - timedelta(minutes=index),
            **fields,
        )
        for index in range(count)
    ]


class TestList:
    def test_issue_from_a_real_event(self, api_client, organization, project, send, issues_url):
        send(fixture_event("python_exception"))
        response = api_client.get(issues_url, {"cursor": ""})
        assert response.status_code == 200, response.content
        (issue,) = response.json()
        assert set(issue) >= ISSUE_KEYS, issue
        group = Group.objects.get()
        assert issue["id"] == str(group.pk)
        assert issue["shortId"] == group.qualified_short_id == "WEB-1"
        assert issue["title"] == "KeyError: 'sku'"
        assert issue["count"] == "1"
        assert issue["userCount"] == 1
        assert (issue["status"], issue["substatus"], issue["statusDetails"]) == (
            "unresolved",
            "new",
            {},
        )
        assert issue["project"] == {
            "id": str(project.pk),
            "name": "web",
            "slug": "web",
            "platform": None,
        }
        assert issue["permalink"].endswith(f"/organizations/{organization.slug}/issues/{group.pk}/")
        assert issue["logger"] == "django.request"
        assert issue["firstRelease"] == {"version": "shop@2025.11.3+4f1c2ab"}
        assert issue["metadata"]["type"] == "KeyError"
        assert issue["lastSeen"].endswith("Z")
        assert len(issue["stats"]["24h"]) == 24

    def test_no_credentials_is_401(self, client, issues_url):
        response = client.get(issues_url)
        assert response.status_code == 401, response.content

    def test_needs_event_read(self, api_client_for, organization, issues_url):
        response = api_client_for(organization, ["project:read", "org:read"]).get(issues_url)
        assert response.status_code == 403, response.content
        assert api_client_for(organization, ["event:read"]).get(issues_url).status_code == 200

    def test_other_organization(self, api_client):
        other = ProjectFactory()
        GroupFactory(project=other)
        url = f"/api/0/projects/{other.organization.slug}/{other.slug}/issues/"
        response = api_client.get(url)
        assert response.status_code == 403, response.content

    def test_unknown_project_is_404(self, api_client, organization):
        response = api_client.get(f"/api/0/projects/{organization.slug}/nope/issues/")
        assert response.status_code == 404, response.content

    @pytest.mark.parametrize(
        ("params", "detail"),
        [
            (
                {"statsPeriod": "7d"},
                "Invalid stats_period. Valid choices are '', '24h', and '14d'",
            ),
            ({"sort": "priority"}, "Invalid sort"),
            ({"query": "is:whatever"}, 'Invalid value for "is" search'),
            ({"per_page": "101"}, "Invalid per_page value. Cannot exceed 100."),
            ({"cursor": "bogus"}, "Invalid cursor parameter."),
            ({"cursor": "4000000000000000000:0:0"}, "Invalid cursor parameter."),
            ({"status": "sleeping"}, "Invalid status."),
        ],
    )
    def test_bad_input_is_400(self, api_client, project, issues_url, params, detail):
        response = api_client.get(issues_url, params)
        assert response.status_code == 400, response.content
        assert response.json()["detail"].startswith(detail), response.content

    def test_query_counts(self, api_client, project, issues_url, django_assert_max_num_queries):
        for group in _groups(project, 5):
            EventFactory(group=group)
        with django_assert_max_num_queries(7):
            response = api_client.get(issues_url, {"per_page": 3, "cursor": ""})
        assert len(response.json()) == 3, response.content
        cursor = parse_link(response["Link"])["next"]["cursor"]
        with django_assert_max_num_queries(9):
            response = api_client.get(issues_url, {"per_page": 3, "cursor": cursor})
        assert len(response.json()) == 2, response.content

    @pytest.mark.parametrize(
        ("sort", "field"),
        [
            ("date", "last_seen"),
            ("new", "first_seen"),
            ("freq", "times_seen"),
            ("user", "user_count"),
        ],
    )
    def test_sort(self, api_client, project, issues_url, sort, field):
        now = timezone.now()
        groups = [
            GroupFactory(
                project=project,
                first_seen=now - timedelta(days=(index * 7) % 5 + 1),
                last_seen=now - timedelta(hours=(index * 3) % 5),
                times_seen=(index * 2) % 5 + 1,
                user_count=(index * 4) % 5,
            )
            for index in range(5)
        ]
        response = api_client.get(issues_url, {"sort": sort, "query": ""})
        assert response.status_code == 200, response.content
        expected = sorted(groups, key=lambda group: (getattr(group, field), group.pk), reverse=True)
        assert _ids(response) == [str(group.pk) for group in expected]

    @pytest.mark.parametrize("sort", ["date", "new", "freq"])
    def test_pages_forward_and_back(self, api_client, project, issues_url, sort):
        groups = _groups(project, 7)
        for index, group in enumerate(groups):
            group.times_seen = 10 + index
            group.save()
        pages = walk(api_client, issues_url, per_page=3, sort=sort)
        assert [len(page) for page in pages] == [3, 3, 1]
        forward = [issue["id"] for page in pages for issue in page]
        assert sorted(forward) == sorted(str(group.pk) for group in groups)
        # Back from the last page through the previous links.
        cursor = ""
        for _ in pages[:-1]:
            response = api_client.get(issues_url, {"per_page": 3, "sort": sort, "cursor": cursor})
            cursor = parse_link(response["Link"])["next"]["cursor"]
        backward = []
        while True:
            response = api_client.get(issues_url, {"per_page": 3, "sort": sort, "cursor": cursor})
            assert response.status_code == 200, response.content
            backward = _ids(response) + backward
            previous = parse_link(response["Link"])["previous"]
            if not previous["results"]:
                break
            cursor = previous["cursor"]
        assert backward == forward

    def test_pages_back_through_equal_keys(self, api_client, project, issues_url):
        # Many issues share a count: the cursors' offsets must count ties both ways.
        for _ in range(5):
            GroupFactory(project=project, times_seen=1)
        params = {"per_page": 2, "sort": "freq"}
        pages = walk(api_client, issues_url, **params)
        cursor = ""
        for _ in pages[:-1]:
            response = api_client.get(issues_url, {**params, "cursor": cursor})
            cursor = parse_link(response["Link"])["next"]["cursor"]
        backward = []
        for _ in pages:
            response = api_client.get(issues_url, {**params, "cursor": cursor})
            backward = _ids(response) + backward
            cursor = parse_link(response["Link"])["previous"]["cursor"]
        assert backward == [issue["id"] for page in pages for issue in page]

    def test_pages_stable_when_an_issue_arrives(self, api_client, project, send, issues_url):
        for minutes_ago in (50, 40, 30, 20):
            send(error(f"Error{minutes_ago}"), minutes_ago=minutes_ago)
        first = api_client.get(issues_url, {"per_page": 2, "cursor": ""})
        send(error("BrandNewError"))
        cursor = parse_link(first["Link"])["next"]["cursor"]
        second = api_client.get(issues_url, {"per_page": 2, "cursor": cursor})
        assert second.status_code == 200, second.content
        seen = _ids(first) + _ids(second)
        old = Group.objects.exclude(title__startswith="BrandNewError")
        assert seen == [str(group.pk) for group in old.order_by("-last_seen")]
        assert parse_link(second["Link"])["next"]["results"] is False

    def test_stats_buckets(self, api_client, project, issues_url):
        group = GroupFactory(project=project)
        now = timezone.now()
        this_hour = now.replace(minute=0, second=0, microsecond=0)
        for moment in (now, this_hour - timedelta(minutes=30), this_hour - timedelta(minutes=45)):
            EventFactory(group=group, timestamp=moment)
        EventFactory(group=group, timestamp=now - timedelta(days=3))
        EventFactory(group=group, timestamp=now - timedelta(days=20))
        hourly = api_client.get(issues_url).json()[0]["stats"]["24h"]
        assert len(hourly) == 24
        assert hourly[-1] == [int(this_hour.timestamp()), 1]
        assert hourly[-2] == [int(this_hour.timestamp()) - 3600, 2]
        assert sum(count for _, count in hourly) == 3
        assert [b - a for (a, _), (b, _) in itertools.pairwise(hourly)] == [3600] * 23
        daily = api_client.get(issues_url, {"statsPeriod": "14d"}).json()[0]["stats"]["14d"]
        today = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
        assert len(daily) == 14
        assert daily[-1][0] == int(today.timestamp())
        assert sum(count for _, count in daily) == 4
        assert daily[-4] == [int((today - timedelta(days=3)).timestamp()), 1]
        assert "stats" not in api_client.get(issues_url, {"statsPeriod": ""}).json()[0]

    def test_event_id_is_a_direct_hit(self, api_client, project, send, issues_url):
        event_id = send(error("OneError"))
        send(error("OtherError"))
        response = api_client.get(issues_url, {"query": event_id})
        assert response.status_code == 200, response.content
        assert _ids(response) == [str(Event.objects.get(event_id=event_id).group_id)]
        assert response["X-Sentry-Direct-Hit"] == "1"

    def test_short_id_lookup(self, api_client, project, send, org_issues_url):
        send(error("OneError"))
        send(error("OtherError"))
        group = Group.objects.get(title__startswith="OtherError")
        response = api_client.get(
            org_issues_url, {"query": group.qualified_short_id.lower(), "shortIdLookup": "1"}
        )
        assert _ids(response) == [str(group.pk)], response.content


class TestOrganizationList:
    def test_all_projects_or_some(self, api_client, organization, project, org_issues_url):
        other = project_services.create_project(organization=organization, name="api")
        here, there = GroupFactory(project=project), GroupFactory(project=other)
        GroupFactory()  # another organization's
        everything = api_client.get(org_issues_url)
        assert everything.status_code == 200, everything.content
        assert set(_ids(everything)) == {str(here.pk), str(there.pk)}
        some = api_client.get(org_issues_url, {"project": [other.pk]})
        assert _ids(some) == [str(there.pk)]
        assert set(_ids(api_client.get(org_issues_url, {"project": -1}))) == set(_ids(everything))

    def test_other_organizations_project_is_403(self, api_client, org_issues_url):
        response = api_client.get(org_issues_url, {"project": ProjectFactory().pk})
        assert response.status_code == 403, response.content

    @pytest.mark.parametrize("value", ["web", "9" * 30])
    def test_bad_project_is_400(self, api_client, org_issues_url, value):
        response = api_client.get(org_issues_url, {"project": value})
        assert response.status_code == 400, response.content

    def test_other_organization_is_403(self, api_client):
        response = api_client.get(
            f"/api/0/organizations/{ProjectFactory().organization.slug}/issues/"
        )
        assert response.status_code == 403, response.content

    def test_query_counts(self, api_client, project, org_issues_url, django_assert_max_num_queries):
        for group in _groups(project, 4):
            EventFactory(group=group)
        with django_assert_max_num_queries(6):
            response = api_client.get(org_issues_url, {"statsPeriod": "14d"})
        assert len(response.json()) == 4, response.content


class TestBulkUpdate:
    def test_resolve_by_id_ignores_others(self, api_client, project, issues_url):
        mine, untouched = _groups(project, 2)
        elsewhere = GroupFactory()
        response = api_client.put(
            f"{issues_url}?id={mine.pk}&id={elsewhere.pk}",
            {"status": "resolved", "snoozeDuration": None},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json() == {"status": "resolved", "statusDetails": {}}
        statuses = dict(Group.objects.values_list("pk", "status"))
        assert statuses == {
            mine.pk: "resolved",
            untouched.pk: "unresolved",
            elsewhere.pk: "unresolved",
        }
        assert Group.objects.get(pk=mine.pk).resolved_at is not None

    def test_only_out_of_scope_ids_is_204(self, api_client, project, issues_url):
        elsewhere = GroupFactory()
        response = api_client.put(
            f"{issues_url}?id={elsewhere.pk}", {"status": "resolved"}, format="json"
        )
        assert response.status_code == 204, response.content
        assert Group.objects.get().status == "unresolved"

    def test_without_ids_applies_to_the_query(self, api_client, project, issues_url):
        # sentry-cli `issues resolve --all`: no ids, no query, so every unresolved issue.
        a, b = _groups(project, 2)
        ignored = GroupFactory(project=project, status=GroupStatus.IGNORED)
        response = api_client.put(issues_url, {"status": "resolved"}, format="json")
        assert response.status_code == 200, response.content
        statuses = dict(Group.objects.values_list("pk", "status"))
        assert statuses == {a.pk: "resolved", b.pk: "resolved", ignored.pk: "ignored"}
        unresolve = api_client.put(
            f"{issues_url}?query=is:resolved&status=resolved",
            {"status": "unresolved"},
            format="json",
        )
        assert unresolve.json() == {"status": "unresolved", "statusDetails": {}}
        assert set(Group.objects.values_list("status", "substatus")) == {
            ("unresolved", "ongoing"),
            ("ignored", "new"),
        }

    def test_resolve_in_next_release(self, api_client, project, issues_url):
        (group,) = _groups(project, 1)
        response = api_client.put(
            f"{issues_url}?id={group.pk}", {"status": "resolvedInNextRelease"}, format="json"
        )
        assert response.json() == {"status": "resolved", "statusDetails": {"inNextRelease": True}}
        issue = api_client.get(issues_url, {"query": "is:resolved"}).json()[0]
        assert (issue["status"], issue["statusDetails"], issue["substatus"]) == (
            "resolved",
            {"inNextRelease": True},
            None,
        )

    def test_ignore_forever_for_a_while_or_until_a_count(self, api_client, project, issues_url):
        a, b, c = _groups(project, 3)
        forever = api_client.put(f"{issues_url}?id={a.pk}", {"status": "ignored"}, format="json")
        assert forever.json() == {"status": "ignored", "statusDetails": {}}
        for_a_while = api_client.put(
            f"{issues_url}?id={b.pk}",
            {"status": "ignored", "statusDetails": {"ignoreDuration": 30}},
            format="json",
        )
        assert for_a_while.status_code == 200, for_a_while.content
        details = for_a_while.json()["statusDetails"]
        until = datetime.fromisoformat(details["ignoreUntil"])
        assert timedelta(minutes=29) < until - timezone.now() <= timedelta(minutes=30)
        counted = api_client.put(
            f"{issues_url}?id={c.pk}",
            {"status": "ignored", "ignoreCount": 100, "ignoreDuration": None},
            format="json",
        )
        assert counted.json()["statusDetails"]["ignoreCount"] == 100
        substatuses = dict(Group.objects.values_list("pk", "substatus"))
        assert substatuses == {
            a.pk: GroupSubstatus.ARCHIVED_FOREVER,
            b.pk: GroupSubstatus.ARCHIVED_UNTIL_CONDITION_MET,
            c.pk: GroupSubstatus.ARCHIVED_UNTIL_CONDITION_MET,
        }
        listed = {
            issue["id"]: issue["statusDetails"]
            for issue in api_client.get(issues_url, {"query": "is:ignored"}).json()
        }
        assert listed[str(a.pk)] == {}
        assert listed[str(c.pk)]["ignoreCount"] == 100
        assert listed[str(b.pk)]["ignoreUntil"] == details["ignoreUntil"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"status": "asleep"}, "status"),
            ({"status": "resolved", "statusDetails": {"inRelease": "1.0"}}, "statusDetails"),
            ({"status": "ignored", "statusDetails": {"ignoreWindow": 60}}, "statusDetails"),
            ({"status": "ignored", "ignoreDuration": 0}, "ignoreDuration"),
            ({"status": "ignored", "ignoreDuration": 10**12}, "ignoreDuration"),
            ({"status": "ignored", "ignoreCount": 10**30}, "ignoreCount"),
            ({"assignedTo": "user:1"}, "assignedTo"),
        ],
    )
    def test_bad_body_is_400(self, api_client, project, issues_url, body, field):
        (group,) = _groups(project, 1)
        response = api_client.put(f"{issues_url}?id={group.pk}", body, format="json")
        assert response.status_code == 400, response.content
        assert field in response.json(), response.content

    def test_sentry_cli_spellings(self, api_client, project, issues_url):
        # `issues mute` sends the old status name; `--status` replaces the implied query.
        a, _ = _groups(project, 2)
        muted = api_client.put(
            f"{issues_url}?id={a.pk}", {"status": "muted", "snoozeDuration": None}, format="json"
        )
        assert muted.json() == {"status": "ignored", "statusDetails": {}}, muted.content
        unmuted = api_client.put(
            f"{issues_url}?status=muted",
            {"status": "unresolved", "snoozeDuration": None},
            format="json",
        )
        assert unmuted.status_code == 200, unmuted.content
        assert set(Group.objects.values_list("status", flat=True)) == {"unresolved"}

    def test_explicit_nulls_are_not_given(self, api_client, project, issues_url):
        (group,) = _groups(project, 1)
        body = {
            "status": "ignored",
            "statusDetails": None,
            "ignoreDuration": None,
            "ignoreCount": None,
            "ignoreWindow": None,
            "snoozeDuration": None,
            "merge": None,
            "hasSeen": None,
            "isBookmarked": None,
            "assignedTo": None,
            "substatus": None,
        }
        response = api_client.put(f"{issues_url}?id={group.pk}", body, format="json")
        assert response.json() == {"status": "ignored", "statusDetails": {}}, response.content
        group.refresh_from_db()
        assert (group.status, group.substatus) == ("ignored", GroupSubstatus.ARCHIVED_FOREVER)

    @pytest.mark.parametrize("issue_id", ["abc", "-1", "9" * 30])
    def test_bad_id_is_400(self, api_client, issues_url, issue_id):
        url = f"{issues_url}?id={issue_id}"
        response = api_client.put(url, {"status": "resolved"}, format="json")
        assert response.status_code == 400, response.content
        assert api_client.delete(url).status_code == 400

    def test_echoes_flags(self, api_client, project, issues_url):
        (group,) = _groups(project, 1)
        response = api_client.put(
            f"{issues_url}?id={group.pk}", {"hasSeen": True, "isBookmarked": False}, format="json"
        )
        assert response.json() == {"hasSeen": True, "isBookmarked": False}, response.content

    def test_needs_event_write(self, api_client_for, organization, project, issues_url):
        (group,) = _groups(project, 1)
        url = f"{issues_url}?id={group.pk}"
        reader = api_client_for(organization, ["event:read"])
        response = reader.put(url, {"status": "resolved"}, format="json")
        assert response.status_code == 403, response.content
        writer = api_client_for(organization, ["event:write"])
        response = writer.put(url, {"status": "resolved"}, format="json")
        assert response.status_code == 200, response.content

    def test_organization_path(self, api_client, project, org_issues_url):
        a, b = _groups(project, 2)
        response = api_client.put(
            f"{org_issues_url}?id={a.pk}", {"status": "ignored"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert Group.objects.get(pk=a.pk).status == "ignored"
        assert Group.objects.get(pk=b.pk).status == "unresolved"


class TestIgnoreEnds:
    """Ignore conditions end when the digest sees the events (Sentry's GroupSnooze)."""

    def test_after_a_count(self, api_client, project, send, issues_url):
        send(error())
        group = Group.objects.get()
        response = api_client.put(
            f"{issues_url}?id={group.pk}",
            {"status": "ignored", "statusDetails": {"ignoreCount": 2}},
            format="json",
        )
        assert response.status_code == 200, response.content
        send(error())
        group.refresh_from_db()
        assert (group.status, group.times_seen) == ("ignored", 2)
        issue = api_client.get(issues_url, {"query": "is:ignored"}).json()[0]
        assert issue["statusDetails"]["ignoreCount"] == 1  # one more event ends it
        send(error())
        group.refresh_from_db()
        assert (group.status, group.substatus) == ("unresolved", GroupSubstatus.ESCALATING)
        assert _ids(api_client.get(issues_url, {"query": "is:escalating"})) == [str(group.pk)]

    def test_after_a_time(self, api_client, project, send, issues_url):
        send(error())
        group = Group.objects.get()
        until = (timezone.now() + timedelta(hours=1)).isoformat()
        response = api_client.put(
            f"{issues_url}?id={group.pk}",
            {"status": "ignored", "statusDetails": {"ignoreUntil": until}},
            format="json",
        )
        assert response.status_code == 200, response.content
        send(error())
        group.refresh_from_db()
        assert group.status == "ignored"
        # The hour has passed.
        Group.objects.filter(pk=group.pk).update(ignore_until=timezone.now() - timedelta(minutes=1))
        send(error())
        group.refresh_from_db()
        assert (group.status, group.substatus) == ("unresolved", GroupSubstatus.ESCALATING)

    def test_forever_stays_ignored_and_resolved_regresses(
        self, api_client, project, send, issues_url
    ):
        send(error("Quiet"))
        send(error("Fixed"))
        quiet = Group.objects.get(title__startswith="Quiet")
        fixed = Group.objects.get(title__startswith="Fixed")
        api_client.put(f"{issues_url}?id={quiet.pk}", {"status": "ignored"}, format="json")
        api_client.put(f"{issues_url}?id={fixed.pk}", {"status": "resolved"}, format="json")
        for _ in range(3):
            send(error("Quiet"))
        send(error("Fixed"))
        quiet.refresh_from_db()
        fixed.refresh_from_db()
        assert (quiet.status, quiet.substatus) == ("ignored", GroupSubstatus.ARCHIVED_FOREVER)
        assert (fixed.status, fixed.substatus) == ("unresolved", GroupSubstatus.REGRESSED)


class TestMerge:
    def test_merges_into_the_issue_with_most_events(
        self, api_client, organization, project, send, issues_url
    ):
        send(error("Small", user={"email": "ann@example.com"}, environment="staging"))
        for _ in range(3):
            send(error("Big", user={"email": "bob@example.com"}, environment="production"))
        send(error("Medium", user={"email": "ann@example.com"}), minutes_ago=90)
        send(error("Medium", user={"email": "cy@example.com"}, environment="production"))
        big = Group.objects.get(title__startswith="Big")
        small = Group.objects.get(title__startswith="Small")
        medium = Group.objects.get(title__startswith="Medium")
        response = api_client.put(
            f"{issues_url}?id={small.pk}&id={big.pk}&id={medium.pk}", {"merge": 1}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json() == {
            "merge": {"parent": str(big.pk), "children": [str(small.pk), str(medium.pk)]}
        }
        assert list(Group.objects.all()) == [big]
        big.refresh_from_db()
        assert (big.times_seen, big.user_count) == (6, 3)
        assert big.first_seen == medium.first_seen
        assert Event.objects.filter(group=big).count() == 6
        assert GroupHash.objects.filter(group=big).count() == 3
        environments = dict(
            GroupTagValue.objects.filter(group=big, key="environment").values_list(
                "value", "times_seen"
            )
        )
        assert environments == {"production": 4, "staging": 1}
        # A new event of a merged issue's hash lands in the parent.
        send(error("Small"))
        assert list(Group.objects.all()) == [big]
        assert Group.objects.get().times_seen == 7

    def test_needs_two_issues_of_one_project(self, api_client, organization, project, issues_url):
        (group,) = _groups(project, 1)
        single = api_client.put(f"{issues_url}?id={group.pk}", {"merge": True}, format="json")
        assert single.status_code == 400, single.content
        assert single.json() == {"detail": "Merging requires at least two issues."}
        other = GroupFactory(
            project=project_services.create_project(organization=organization, name="api")
        )
        url = f"/api/0/organizations/{organization.slug}/issues/?id={group.pk}&id={other.pk}"
        across = api_client.put(url, {"merge": True}, format="json")
        assert across.status_code == 400, across.content
        assert Group.objects.count() == 2


class TestBulkDelete:
    def test_by_id(self, api_client, project, send, issues_url):
        send(error("Gone"))
        send(error("Kept"))
        gone = Group.objects.get(title__startswith="Gone")
        elsewhere = GroupFactory()
        response = api_client.delete(f"{issues_url}?id={gone.pk}&id={elsewhere.pk}")
        assert response.status_code == 204, response.content
        assert set(Group.objects.values_list("pk", flat=True)) == {
            Group.objects.get(title__startswith="Kept").pk,
            elsewhere.pk,
        }
        assert Event.objects.count() == 1
        assert not GroupTagValue.objects.filter(group_id=gone.pk).exists()

    def test_without_ids_deletes_what_the_query_matches(self, api_client, project, issues_url):
        keep = GroupFactory(project=project, status=GroupStatus.RESOLVED)
        _groups(project, 3)
        response = api_client.delete(issues_url)
        assert response.status_code == 204, response.content
        assert list(Group.objects.all()) == [keep]

    def test_needs_event_admin(self, api_client_for, organization, project, issues_url):
        (group,) = _groups(project, 1)
        writer = api_client_for(organization, ["event:write"])
        response = writer.delete(f"{issues_url}?id={group.pk}")
        assert response.status_code == 403, response.content
        assert Group.objects.exists()


class TestDetail:
    @pytest.fixture
    def group(self, project, send):
        send(fixture_event("python_exception"))
        return Group.objects.get()

    def test_paths(self, api_client, organization, group):
        for url in (
            f"/api/0/issues/{group.pk}/",
            f"/api/0/groups/{group.pk}/",
            f"/api/0/organizations/{organization.slug}/issues/{group.pk}/",
            f"/api/0/organizations/{organization.pk}/issues/{group.qualified_short_id}/",
        ):
            response = api_client.get(url)
            assert response.status_code == 200, (url, response.content)
            body = response.json()
            assert body["id"] == str(group.pk)
            assert set(body) >= ISSUE_KEYS
            assert set(body["stats"]) == {"24h", "30d"}
            assert body["activity"] == []

    def test_no_credentials_is_401(self, client, group):
        response = client.get(f"/api/0/issues/{group.pk}/")
        assert response.status_code == 401, response.content

    def test_unknown_is_404(self, api_client, organization):
        for url in ("/api/0/issues/999999/", "/api/0/issues/WEB-1/", f"/api/0/issues/{'9' * 30}/"):
            response = api_client.get(url)
            assert response.status_code == 404, (url, response.content)

    def test_other_organizations_issue(self, api_client, organization):
        other = GroupFactory()
        # By id alone: the issue exists, the caller has no access (Sentry's GroupEndpoint).
        response = api_client.get(f"/api/0/issues/{other.pk}/")
        assert response.status_code == 403, response.content
        # Inside the caller's own organization, it does not exist.
        response = api_client.get(f"/api/0/organizations/{organization.slug}/issues/{other.pk}/")
        assert response.status_code == 404, response.content

    def test_needs_event_read(self, api_client_for, organization, group):
        client = api_client_for(organization, ["org:read", "project:read"])
        response = client.get(f"/api/0/issues/{group.pk}/")
        assert response.status_code == 403, response.content

    def test_update_answers_the_issue(self, api_client, group):
        url = f"/api/0/issues/{group.pk}/"
        response = api_client.put(
            url, {"status": "ignored", "statusDetails": {"ignoreCount": 10}}, format="json"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["id"], body["status"], body["statusDetails"]["ignoreCount"]) == (
            str(group.pk),
            "ignored",
            10,
        )
        bad = api_client.put(url, {"status": "gone"}, format="json")
        assert bad.status_code == 400, bad.content

    def test_update_needs_event_write(self, api_client_for, organization, group):
        client = api_client_for(organization, ["event:read"])
        response = client.put(f"/api/0/issues/{group.pk}/", {"status": "resolved"}, format="json")
        assert response.status_code == 403, response.content

    def test_delete(self, api_client_for, organization, group):
        url = f"/api/0/issues/{group.pk}/"
        writer = api_client_for(organization, ["event:write"])
        assert writer.delete(url).status_code == 403
        response = api_client_for(organization, SCOPES).delete(url)
        assert response.status_code == 202, response.content
        assert not Group.objects.exists()
        assert not Event.objects.exists()


class TestShortIds:
    def test_lookup_any_case(self, api_client, organization, project, send):
        send(error())
        group = Group.objects.get()
        url = (
            f"/api/0/organizations/{organization.slug}/shortids/{group.qualified_short_id.lower()}/"
        )
        response = api_client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert {key: body[key] for key in body if key != "group"} == {
            "organizationSlug": organization.slug,
            "projectSlug": "web",
            "groupId": str(group.pk),
            "shortId": "WEB-1",
        }
        assert body["group"]["id"] == str(group.pk)

    def test_base32_suffix(self, api_client, organization, project):
        group = GroupFactory(project=project, short_id=32 * 21 + 10)  # "NA"
        assert group.qualified_short_id == "WEB-NA"
        response = api_client.get(f"/api/0/organizations/{organization.slug}/shortids/web-na/")
        assert response.json()["groupId"] == str(group.pk), response.content

    @pytest.mark.parametrize("short_id", ["WEB-2", "NOPE-1", "WEB-I", "web", "WEB-" + "Z" * 20])
    def test_unknown_is_404(self, api_client, organization, project, short_id):
        GroupFactory(project=project, short_id=1)
        response = api_client.get(f"/api/0/organizations/{organization.slug}/shortids/{short_id}/")
        assert response.status_code == 404, response.content

    def test_other_organization_is_403(self, api_client):
        group = GroupFactory()
        url = (
            f"/api/0/organizations/{group.project.organization.slug}/shortids/"
            f"{group.qualified_short_id}/"
        )
        response = api_client.get(url)
        assert response.status_code == 403, response.content

    def test_needs_event_read(self, api_client_for, organization, project):
        group = GroupFactory(project=project)
        client = api_client_for(organization, ["org:read"])
        url = f"/api/0/organizations/{organization.slug}/shortids/{group.qualified_short_id}/"
        response = client.get(url)
        assert response.status_code == 403, response.content
