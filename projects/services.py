"""Operations on projects and their client keys."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet

from organizations.models import Organization, Team
from organizations.validators import slug_from_name, validate_sentry_slug
from projects.exceptions import TeamOrganizationMismatchError
from projects.models import Project, ProjectKey, ProjectRedirect


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
