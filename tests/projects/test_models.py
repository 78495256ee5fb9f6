from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from projects.models import ProjectKey
from tests.projects.factories import ProjectFactory, ProjectKeyFactory

pytestmark = pytest.mark.django_db


def test_project_slug_is_unique_per_organization():
    project = ProjectFactory(slug="web")
    ProjectFactory(slug="web")  # another organization: allowed
    with pytest.raises(IntegrityError):
        ProjectFactory(organization=project.organization, slug="web")


def test_project_slug_is_validated():
    with pytest.raises(ValidationError):
        ProjectFactory.build(slug="Web App").full_clean()


def test_key_has_32_hex_public_and_secret_parts():
    key = ProjectKeyFactory()
    assert re.fullmatch(r"[0-9a-f]{32}", key.public_key)
    assert re.fullmatch(r"[0-9a-f]{32}", key.secret_key)
    assert key.public_key != key.secret_key


def test_dsn_uses_base_url(settings):
    settings.FAULTLINE_BASE_URL = "https://errors.example.com"
    key = ProjectKeyFactory()
    assert key.dsn == f"https://{key.public_key}@errors.example.com/{key.project_id}"
    assert key.secret_dsn == (
        f"https://{key.public_key}:{key.secret_key}@errors.example.com/{key.project_id}"
    )


def test_dsn_keeps_port_and_path_prefix(settings):
    settings.FAULTLINE_BASE_URL = "http://127.0.0.1:9000/faultline"
    key = ProjectKeyFactory()
    assert key.dsn == f"http://{key.public_key}@127.0.0.1:9000/faultline/{key.project_id}"
    assert key.endpoint_url("envelope") == (
        f"http://127.0.0.1:9000/faultline/api/{key.project_id}/envelope/"
    )


def test_only_one_default_key_per_project():
    key = ProjectKeyFactory(is_default=True)
    ProjectKeyFactory(is_default=True)  # another project: allowed
    ProjectKeyFactory(project=key.project, is_default=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProjectKeyFactory(project=key.project, is_default=True)


@pytest.mark.parametrize(("count", "window"), [(10, None), (None, 60), (10, 0)])
def test_rate_limit_needs_count_and_positive_window(count, window):
    key = ProjectKeyFactory.build(
        project=ProjectFactory(), rate_limit_count=count, rate_limit_window_seconds=window
    )
    with pytest.raises(ValidationError):
        key.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        key.save()


def test_rate_limit_pair_is_accepted():
    key = ProjectKeyFactory(rate_limit_count=100, rate_limit_window_seconds=60)
    assert ProjectKey.objects.get(pk=key.pk).has_rate_limit


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("projects_sessionaggregate", ["project_id", "hour"]),
        ("projects_sessionuser", ["project_id", "first_seen"]),
    ],
)
def test_release_health_tables_have_an_index_for_their_time_filter(table, columns):
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    leading = [info["columns"][:2] for info in found.values() if info["index"]]
    assert columns in leading, found
