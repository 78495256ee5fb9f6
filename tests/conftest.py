"""Shared fixtures: personas around one organization, and test-friendly static files."""

from __future__ import annotations

import pytest

from organizations.roles import Role
from tests.organizations.factories import (
    OrganizationFactory,
    OrganizationMemberFactory,
    UserFactory,
)


@pytest.fixture(scope="session")
def _static_root(tmp_path_factory):
    return tmp_path_factory.mktemp("static")


@pytest.fixture(autouse=True)
def _plain_static_storage(settings, _static_root):
    # The manifest storage needs `collectstatic`; tests render admin pages without it.
    settings.STATIC_ROOT = _static_root
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def organization():
    return OrganizationFactory()


@pytest.fixture
def owner(organization):
    return OrganizationMemberFactory(organization=organization, role=Role.OWNER).user


@pytest.fixture
def member(organization):
    return OrganizationMemberFactory(organization=organization, role=Role.MEMBER).user


@pytest.fixture
def outsider():
    """A user who belongs to another organization only."""
    return OrganizationMemberFactory(role=Role.OWNER).user


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)
