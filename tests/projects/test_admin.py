from __future__ import annotations

import pytest
from django.urls import reverse

from projects import services
from projects.models import Project, ProjectKey
from tests.organizations.factories import TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def project(organization):
    return services.create_project(organization=organization, name="web")


@pytest.mark.parametrize("model", ["project", "projectkey"])
def test_changelist_and_add_pages_render(admin_client, project, model):
    for view in ("changelist", "add"):
        response = admin_client.get(reverse(f"admin:projects_{model}_{view}"))
        assert response.status_code == 200, response.content[:500]


def test_project_page_shows_copyable_dsn(admin_client, project):
    key = project.keys.get()
    response = admin_client.get(reverse("admin:projects_project_change", args=[project.pk]))
    assert response.status_code == 200, response.content[:500]
    assert f'value="{key.dsn}"'.encode() in response.content
    assert b"navigator.clipboard.writeText" in response.content


def test_key_page_shows_dsn(admin_client, project):
    key = project.keys.get()
    response = admin_client.get(reverse("admin:projects_projectkey_change", args=[key.pk]))
    assert response.status_code == 200, response.content[:500]
    assert key.dsn.encode() in response.content


def test_project_added_in_admin_gets_default_key(admin_client, organization):
    team = TeamFactory(organization=organization)
    response = admin_client.post(
        reverse("admin:projects_project_add"),
        {
            "organization": organization.pk,
            "slug": "mobile",
            "name": "Mobile",
            "platform": "javascript",
            "teams": [team.pk],
            "keys-TOTAL_FORMS": "0",
            "keys-INITIAL_FORMS": "0",
            "quotas-TOTAL_FORMS": "0",
            "quotas-INITIAL_FORMS": "0",
            "scrub_data": "on",
            "scrub_defaults": "on",
            "sensitive_fields": "[]",
            "safe_fields": "[]",
        },
        follow=True,
    )
    assert response.status_code == 200, response.content[:500]
    project = Project.objects.get(slug="mobile")
    assert project.keys.get().is_default
    assert list(project.teams.all()) == [team]


def test_changelist_search_and_filter(admin_client, project):
    response = admin_client.get(
        reverse("admin:projects_project_changelist"),
        {"q": project.slug, "organization__id__exact": project.organization_id},
    )
    assert response.status_code == 200, response.content[:500]
    assert project.slug.encode() in response.content


def test_deactivate_action(admin_client, project):
    key = project.keys.get()
    admin_client.post(
        reverse("admin:projects_projectkey_changelist"),
        {"action": "deactivate", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert not key.is_active


def test_rotate_action_shows_new_dsn(admin_client, project):
    old = project.keys.get()
    response = admin_client.post(
        reverse("admin:projects_projectkey_changelist"),
        {"action": "rotate", "_selected_action": [old.pk]},
        follow=True,
    )
    new = ProjectKey.objects.get(project=project, is_active=True)
    assert new != old
    assert new.dsn.encode() in response.content


def test_monitor_pages_render_and_turning_one_off(admin_client):
    from tests.projects.factories import MonitorCheckInFactory

    checkin = MonitorCheckInFactory()
    monitor = checkin.monitor
    assert admin_client.get(reverse("admin:projects_monitor_changelist")).status_code == 200
    page = admin_client.get(reverse("admin:projects_monitor_change", args=[monitor.pk]))
    assert page.status_code == 200, page.content[:500]
    assert b"*/5 * * * *" in page.content
    response = admin_client.post(
        reverse("admin:projects_monitor_change", args=[monitor.pk]),
        {
            "name": "Nightly",
            "checkins-TOTAL_FORMS": "1",
            "checkins-INITIAL_FORMS": "1",
            "checkins-MIN_NUM_FORMS": "0",
            "checkins-MAX_NUM_FORMS": "0",
            "checkins-0-id": str(checkin.pk),
            "checkins-0-monitor": str(monitor.pk),
        },
    )
    assert response.status_code == 302, response.content[:2000]
    monitor.refresh_from_db()
    assert (monitor.name, monitor.is_active) == ("Nightly", False)
