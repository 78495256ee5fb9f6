"""The real sentry-cli (the PyPI wheel) against Faultline under gunicorn."""

from __future__ import annotations

import pytest

from groups.models import Event
from ingest.digest import drain
from projects import services as project_services
from tests.organizations.factories import TeamFactory


@pytest.fixture
def cli(sentry_cli, organization):
    """sentry-cli as an owner of `organization`, on its project "web" of team "backend"."""
    team = TeamFactory(organization=organization, slug="backend")
    project = project_services.create_project(
        organization=organization, name="Web", slug="web", platform="python", teams=[team]
    )
    return sentry_cli(project)


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
