"""The real sentry-cli (the PyPI wheel) against Faultline under gunicorn."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from groups.models import Event
from ingest.digest import drain
from organizations import services as org_services
from organizations.roles import SCOPES
from projects import services as project_services
from tests.organizations.factories import OrganizationMemberFactory, TeamFactory

SENTRY_CLI = shutil.which("sentry-cli") or str(Path(sys.executable).parent / "sentry-cli")


@pytest.fixture
def cli(faultline_server, organization, tmp_path):
    """Runs sentry-cli with a user token of an owner of `organization`."""
    owner = OrganizationMemberFactory(organization=organization, role="owner").user
    _, token = org_services.create_user_token(user=owner, label="cli", scopes=SCOPES)
    team = TeamFactory(organization=organization, slug="backend")
    project = project_services.create_project(
        organization=organization, name="Web", slug="web", platform="python", teams=[team]
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "SENTRY_URL": faultline_server.url,
        "SENTRY_AUTH_TOKEN": token,
        "SENTRY_ORG": organization.slug,
        "SENTRY_PROJECT": project.slug,
        "SENTRY_DSN": faultline_server.dsn(project.keys.get()),
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

    run.owner = owner
    run.project = project
    return run


def test_info(cli):
    output = cli("info")
    assert "project:read" in output
    assert cli.owner.email in output


def test_organizations_list(cli, organization):
    assert organization.slug in cli("organizations", "list")


def test_projects_list(cli, organization):
    output = cli("projects", "list", "--org", organization.slug)
    assert "web" in output


def test_send_event(cli):
    cli("send-event", "-m", "hello from sentry-cli")
    drain()
    assert Event.objects.get().title == "hello from sentry-cli"


def test_releases_new_finalize_list_and_deploy(cli, organization):
    from projects.models import Deploy, Release

    cli("releases", "new", "web@1.0.0", "--project", "web")
    release = Release.objects.get(version="web@1.0.0")
    assert [p.slug for p in release.projects.all()] == ["web"]
    assert release.date_released is None
    cli("releases", "finalize", "web@1.0.0")
    release.refresh_from_db()
    assert release.date_released is not None
    cli("releases", "new", "web@1.0.0", "--project", "web")  # again: 208, still success
    listed = cli("releases", "list", "--project", "web")
    assert "web@1.0.0" in listed
    cli("deploys", "new", "--release", "web@1.0.0", "--env", "production", "--name", "blue")
    deploy = Deploy.objects.get()
    assert (deploy.environment, deploy.name, deploy.release_id) == (
        "production",
        "blue",
        release.pk,
    )
