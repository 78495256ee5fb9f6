"""The real sentry-cli (the PyPI wheel) listing and changing issues and events under gunicorn."""

from __future__ import annotations

import pytest

from groups.models import Event, Group
from tests.groups.conftest import error


@pytest.fixture
def cli(sentry_cli, project):
    return sentry_cli(project)


@pytest.fixture
def issues(send):
    send(error("FirstError"))
    send(error("SecondError"), minutes_ago=5)
    send(error("ThirdError", user={"id": 7, "email": "ann@example.com"}), minutes_ago=10)
    return {group.title.split(":")[0]: group for group in Group.objects.all()}


def test_issues_list(cli, issues):
    output = cli("issues", "list")
    for group in issues.values():
        assert group.qualified_short_id in output
        assert group.title in output
    assert "ThirdError" not in cli("issues", "list", "--query", "FirstError")


def test_resolve_mute_unresolve(cli, issues):
    first, second = issues["FirstError"], issues["SecondError"]
    cli("issues", "resolve", "-i", str(first.pk))
    first.refresh_from_db()
    assert first.status == "resolved"
    cli("issues", "mute", "-i", str(second.pk))
    second.refresh_from_db()
    assert second.status == "ignored"
    cli("issues", "unresolve", "-s", "resolved")
    cli("issues", "unresolve", "-s", "muted")
    assert set(Group.objects.values_list("status", flat=True)) == {"unresolved"}
    cli("issues", "resolve", "--all")
    assert set(Group.objects.values_list("status", flat=True)) == {"resolved"}


def test_events_list(cli, issues):
    output = cli("events", "list", "--show-user", "--show-tags")
    for event in Event.objects.all():
        assert str(event.event_id) in output or event.event_id.hex in output
    assert "ann@example.com" in output
