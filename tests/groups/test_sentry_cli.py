"""The real sentry-cli (the PyPI wheel) listing and changing issues and events under gunicorn."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from groups.models import Event, Group
from organizations import services as org_services
from organizations.roles import SCOPES
from tests.groups.conftest import error
from tests.organizations.factories import OrganizationMemberFactory

SENTRY_CLI = shutil.which("sentry-cli") or str(Path(sys.executable).parent / "sentry-cli")


@pytest.fixture
def cli(faultline_server, organization, project, tmp_path):
    """Runs sentry-cli with a user token of an owner of `organization`, on `project`."""
    owner = OrganizationMemberFactory(organization=organization, role="owner").user
    _, token = org_services.create_user_token(user=owner, label="cli", scopes=SCOPES)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "SENTRY_URL": faultline_server.url,
        "SENTRY_AUTH_TOKEN": token,
        "SENTRY_ORG": organization.slug,
        "SENTRY_PROJECT": project.slug,
        "SENTRY_LOG_LEVEL": "warn",
        "SENTRY_DISABLE_UPDATE_CHECK": "1",
    }

    def run(*args: str) -> str:
        result = subprocess.run(  # noqa: S603
            [SENTRY_CLI, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    return run


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
