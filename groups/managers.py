"""QuerySets for issues and events: every API queryset starts from one of these."""

from __future__ import annotations

from django.db import models


class GroupQuerySet(models.QuerySet):
    def for_organization(self, organization: object) -> GroupQuerySet:
        return self.filter(project__organization=organization)

    def for_project(self, project: object) -> GroupQuerySet:
        return self.filter(project=project)


class EventQuerySet(models.QuerySet):
    def for_project(self, project: object) -> EventQuerySet:
        return self.filter(project=project)

    def for_group(self, group: object) -> EventQuerySet:
        return self.filter(group=group)


class ApiCallQuerySet(models.QuerySet):
    def for_project(self, project: object) -> ApiCallQuerySet:
        return self.filter(project=project)
