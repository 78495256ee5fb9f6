"""Operations on projects and their client keys."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from organizations.models import Organization, Team
from organizations.validators import database_ids, slug_from_name, validate_sentry_slug
from projects.exceptions import TeamOrganizationMismatchError, UnknownProjectError
from projects.models import (
    Deploy,
    Project,
    ProjectKey,
    ProjectRedirect,
    Release,
    ReleaseProject,
)


@transaction.atomic
def create_project(
    *,
    organization: Organization,
    name: str,
    slug: str | None = None,
    platform: str = "",
    teams: Iterable[Team] = (),
) -> Project:
    """Create a project with its default client key."""
    teams = list(teams)
    if any(team.organization_id != organization.pk for team in teams):
        raise TeamOrganizationMismatchError("every team must belong to the project's organization")
    project = Project(
        organization=organization, name=name, slug=slug or slug_from_name(name), platform=platform
    )
    project.full_clean()
    project.save()
    project.teams.set(teams)
    create_default_key(project=project)
    return project


def ensure_project(
    *, organization: Organization, team: Team, slug: str, name: str, platform: str = ""
) -> tuple[Project, bool]:
    """The organization's project with this slug, created (with its team) if missing."""
    validate_sentry_slug(slug)
    project = Project.objects.filter(organization=organization, slug=slug).first()
    if project is not None:
        project.teams.add(team)
        return project, False
    return create_project(
        organization=organization, name=name, slug=slug, platform=platform, teams=[team]
    ), True


def create_default_key(*, project: Project) -> ProjectKey:
    """The project's default key, created if the project has none."""
    key = ProjectKey.objects.filter(project=project, is_default=True).first()
    if key is None:
        key = ProjectKey.objects.create(project=project, label="Default", is_default=True)
    return key


@transaction.atomic
def rotate_key(*, key: ProjectKey) -> ProjectKey:
    """Replace `key` by a new one with the same settings; the old key stops working at once."""
    key = ProjectKey.objects.select_for_update().get(pk=key.pk)
    was_default = key.is_default
    key.is_active = False
    key.is_default = False
    key.save(update_fields=["is_active", "is_default"])
    return ProjectKey.objects.create(
        project_id=key.project_id,
        label=key.label,
        is_default=was_default,
        rate_limit_count=key.rate_limit_count,
        rate_limit_window_seconds=key.rate_limit_window_seconds,
    )


def set_keys_active(*, keys: QuerySet[ProjectKey], is_active: bool) -> int:
    """Turn ingest authentication on or off for `keys`; returns how many changed."""
    return keys.exclude(is_active=is_active).update(is_active=is_active)


@transaction.atomic
def rename_project(*, project: Project, slug: str) -> Project:
    """Give the project a new slug; the old one keeps answering with a redirect."""
    validate_sentry_slug(slug)
    if slug == project.slug:
        return project
    ProjectRedirect.objects.filter(organization_id=project.organization_id, slug=slug).delete()
    ProjectRedirect.objects.update_or_create(
        organization_id=project.organization_id, slug=project.slug, defaults={"project": project}
    )
    project.slug = slug
    project.save(update_fields=["slug"])
    return project


def create_key(
    *, project: Project, label: str, rate_limit: tuple[int, int] | None = None
) -> ProjectKey:
    """A new client key; the project's first key becomes its default."""
    count, window = rate_limit or (None, None)
    key = ProjectKey(
        project=project,
        label=label or "Default",
        is_default=not ProjectKey.objects.filter(project=project, is_default=True).exists(),
        rate_limit_count=count,
        rate_limit_window_seconds=window,
    )
    key.full_clean()
    key.save()
    return key


@dataclass
class ReleaseChange:
    release: Release
    created: bool
    projects_added: bool


def _projects_named(organization: Organization, names: Iterable[str | int]) -> list[Project]:
    """Projects by slug or id (sentry-cli sends all-digit values as numbers)."""
    wanted = [str(name) for name in names]
    projects = Project.objects.for_organization(organization)
    found = {str(p.slug): p for p in projects.filter(slug__in=wanted)}
    found |= {str(p.pk): p for p in projects.filter(pk__in=database_ids(wanted))}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise UnknownProjectError(f"unknown project(s): {', '.join(missing)}")
    return list({project.pk: project for project in found.values()}.values())


@transaction.atomic
def upsert_release(
    *,
    organization: Organization,
    version: str,
    projects: Iterable[str | int] = (),
    attributes: dict[str, Any] | None = None,
) -> ReleaseChange:
    """Create the release or add projects to it; set the given attributes on a new release."""
    targets = _projects_named(organization, projects)
    release, created = Release.objects.get_or_create(
        organization=organization, version=version, defaults=attributes or {}
    )
    before = set(release.projects.values_list("pk", flat=True))
    for project in targets:
        ReleaseProject.objects.get_or_create(release=release, project=project)
    return ReleaseChange(release, created, bool({p.pk for p in targets} - before))


def update_release(
    *, release: Release, projects: Iterable[str | int] = (), attributes: dict[str, Any]
) -> Release:
    for project in _projects_named(release.organization, projects):
        ReleaseProject.objects.get_or_create(release=release, project=project)
    for name, value in attributes.items():
        setattr(release, name, value)
    release.full_clean()
    release.save()
    return release


def record_releases(*, seen: dict[int, dict[str, int]]) -> None:
    """From the digest: releases seen per project, with how many new issues each brought.

    Releases are created on their first event, as Sentry does; one query when all exist.
    """
    pairs = {(project_id, version) for project_id, versions in seen.items() for version in versions}
    if not pairs:
        return
    projects = Project.objects.in_bulk({project_id for project_id, _ in pairs})
    for project_id, version in sorted(pairs):
        project = projects[project_id]
        release, _ = Release.objects.get_or_create(
            organization_id=project.organization_id, version=version
        )
        link, _ = ReleaseProject.objects.get_or_create(release=release, project=project)
        new_groups = seen[project_id][version]
        if new_groups:
            ReleaseProject.objects.filter(pk=link.pk).update(
                new_groups=F("new_groups") + new_groups
            )


def create_deploy(
    *,
    release: Release,
    environment: str,
    name: str = "",
    url: str = "",
    date_started: datetime | None = None,
    date_finished: datetime | None = None,
    projects: Iterable[str | int] = (),
) -> Deploy:
    """Record a deploy; projects named with it join the release."""
    for project in _projects_named(release.organization, projects):
        ReleaseProject.objects.get_or_create(release=release, project=project)
    deploy = Deploy(
        release=release,
        environment=environment,
        name=name,
        url=url,
        date_started=date_started,
        date_finished=date_finished or timezone.now(),
    )
    deploy.full_clean()
    deploy.save()
    return deploy
