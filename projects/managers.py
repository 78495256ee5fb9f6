"""QuerySets for projects and their keys."""

from __future__ import annotations

from django.db import models


class ProjectQuerySet(models.QuerySet):
    def for_organization(self, organization: object) -> ProjectQuerySet:
        return self.filter(organization=organization)


class ProjectKeyQuerySet(models.QuerySet):
    def active(self) -> ProjectKeyQuerySet:
        return self.filter(is_active=True)

    def for_project(self, project: object) -> ProjectKeyQuerySet:
        return self.filter(project=project)


class MonitorQuerySet(models.QuerySet):
    def for_organization(self, organization: object) -> MonitorQuerySet:
        return self.filter(project__organization=organization)


class MonitorCheckInQuerySet(models.QuerySet):
    def for_monitor(self, monitor: object) -> MonitorCheckInQuerySet:
        return self.filter(monitor=monitor)
