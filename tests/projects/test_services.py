from __future__ import annotations

import pytest

from projects import services
from projects.exceptions import TeamOrganizationMismatchError
from projects.models import Project, ProjectKey
from tests.organizations.factories import TeamFactory
from tests.projects.factories import ProjectKeyFactory

pytestmark = pytest.mark.django_db


def test_new_project_gets_one_active_default_key(organization):
    team = TeamFactory(organization=organization)
    project = services.create_project(
        organization=organization, name="Web Shop", platform="python", teams=[team]
    )
    assert project.slug == "web-shop"
    assert list(project.teams.all()) == [team]
    (key,) = project.keys.all()
    assert key.is_default
    assert key.is_active


def test_create_project_refuses_team_of_other_organization(organization):
    with pytest.raises(TeamOrganizationMismatchError):
        services.create_project(organization=organization, name="x", teams=[TeamFactory()])
    assert not Project.objects.exists()


def test_create_default_key_is_idempotent(organization):
    project = services.create_project(organization=organization, name="web")
    assert services.create_default_key(project=project) == project.keys.get()


def test_ensure_project_adds_team_to_existing_project(organization):
    first_team, second_team = TeamFactory.create_batch(2, organization=organization)
    project, created = services.ensure_project(
        organization=organization, team=first_team, slug="web", name="Web"
    )
    again, created_again = services.ensure_project(
        organization=organization, team=second_team, slug="web", name="Web"
    )
    assert (created, created_again) == (True, False)
    assert project == again
    assert set(project.teams.all()) == {first_team, second_team}
    assert project.keys.count() == 1


def test_rotate_key_replaces_it(organization):
    project = services.create_project(organization=organization, name="web")
    old = project.keys.get()
    old.rate_limit_count, old.rate_limit_window_seconds = 50, 60
    old.save()

    new = services.rotate_key(key=old)

    old.refresh_from_db()
    assert (old.is_active, old.is_default) == (False, False)
    assert (new.is_active, new.is_default) == (True, True)
    assert new.public_key != old.public_key
    assert (new.rate_limit_count, new.rate_limit_window_seconds) == (50, 60)
    assert new.label == old.label


def test_set_keys_active_counts_changes():
    keys = ProjectKeyFactory.create_batch(2)
    queryset = ProjectKey.objects.filter(pk__in=[key.pk for key in keys])
    assert services.set_keys_active(keys=queryset, is_active=False) == 2
    assert services.set_keys_active(keys=queryset, is_active=False) == 0
    assert not ProjectKey.objects.active().exists()
