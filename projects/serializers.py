"""Sentry's JSON shapes for projects and client keys."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from organizations.serializers import letter_avatar
from organizations.validators import SLUG_MAX_LENGTH, validate_sentry_slug
from projects.health_queries import NO_HEALTH_DATA
from projects.models import (
    Deploy,
    Monitor,
    MonitorCheckIn,
    Project,
    ProjectKey,
    Release,
    ReleaseProject,
)


def _team(team: Any) -> dict[str, str]:
    return {"id": str(team.pk), "slug": team.slug, "name": team.name}


class ProjectSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    dateCreated = serializers.DateTimeField(source="date_created", read_only=True)
    team = serializers.SerializerMethodField()
    teams = serializers.SerializerMethodField()
    avatar = serializers.SerializerMethodField()
    status = serializers.CharField(default="active", read_only=True)
    isBookmarked = serializers.BooleanField(default=False, read_only=True)
    isMember = serializers.BooleanField(default=True, read_only=True)
    hasAccess = serializers.BooleanField(default=True, read_only=True)
    isPublic = serializers.BooleanField(default=False, read_only=True)
    isInternal = serializers.BooleanField(default=False, read_only=True)
    features = serializers.ListField(default=list, read_only=True)

    class Meta:
        model = Project
        fields = [
            "id",
            "slug",
            "name",
            "platform",
            "dateCreated",
            "isBookmarked",
            "isMember",
            "hasAccess",
            "isPublic",
            "isInternal",
            "features",
            "status",
            "avatar",
            "team",
            "teams",
        ]

    def get_team(self, project: Project) -> dict[str, str] | None:
        teams = list(project.teams.all())
        return _team(teams[0]) if teams else None

    def get_teams(self, project: Project) -> list[dict[str, str]]:
        return [_team(team) for team in project.teams.all()]

    def get_avatar(self, project: Project) -> dict[str, Any]:
        return letter_avatar()


class ProjectDetailSerializer(ProjectSerializer):
    organization = serializers.SerializerMethodField()
    options = serializers.SerializerMethodField()

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "organization", "options"]

    def get_organization(self, project: Project) -> dict[str, str]:
        organization = project.organization
        return {"id": str(organization.pk), "slug": organization.slug, "name": organization.name}

    def get_options(self, project: Project) -> dict[str, Any]:
        return {
            "sentry:scrub_data": project.scrub_data,
            "sentry:scrub_defaults": project.scrub_defaults,
            "sentry:sensitive_fields": project.sensitive_fields,
            "sentry:safe_fields": project.safe_fields,
            "sentry:scrub_ip_address": project.scrub_ip_addresses,
        }


class ProjectInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    slug = serializers.CharField(
        max_length=SLUG_MAX_LENGTH, validators=[validate_sentry_slug], required=False
    )
    platform = serializers.CharField(max_length=64, required=False, allow_blank=True)
    dataScrubber = serializers.BooleanField(required=False)
    dataScrubberDefaults = serializers.BooleanField(required=False)
    sensitiveFields = serializers.ListField(child=serializers.CharField(), required=False)
    safeFields = serializers.ListField(child=serializers.CharField(), required=False)
    scrubIPAddresses = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not self.partial and not attrs.get("name"):
            raise serializers.ValidationError({"name": ["This field is required."]})
        return attrs


class RateLimitSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=0)
    window = serializers.IntegerField(min_value=1)


class ProjectKeySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_key", read_only=True)
    name = serializers.CharField(source="label", read_only=True)
    public = serializers.CharField(source="public_key", read_only=True)
    secret = serializers.CharField(source="secret_key", read_only=True)
    projectId = serializers.IntegerField(source="project_id", read_only=True)
    isActive = serializers.BooleanField(source="is_active", read_only=True)
    rateLimit = serializers.SerializerMethodField()
    dateCreated = serializers.DateTimeField(source="date_created", read_only=True)
    dsn = serializers.SerializerMethodField()
    browserSdkVersion = serializers.CharField(default="latest", read_only=True)
    browserSdk = serializers.SerializerMethodField()
    dynamicSdkLoaderOptions = serializers.SerializerMethodField()

    class Meta:
        model = ProjectKey
        fields = [
            "id",
            "name",
            "label",
            "public",
            "secret",
            "projectId",
            "isActive",
            "rateLimit",
            "dateCreated",
            "dsn",
            "browserSdkVersion",
            "browserSdk",
            "dynamicSdkLoaderOptions",
        ]

    def get_rateLimit(self, key: ProjectKey) -> dict[str, int] | None:
        if not key.has_rate_limit:
            return None
        return {"count": key.rate_limit_count, "window": key.rate_limit_window_seconds}

    def get_dsn(self, key: ProjectKey) -> dict[str, str]:
        base = settings.FAULTLINE_BASE_URL.rstrip("/")
        project_id, public = key.project_id, key.public_key
        api = f"{base}/api/{project_id}"
        return {
            "public": key.dsn,
            "secret": key.secret_dsn,
            "csp": f"{api}/csp-report/?sentry_key={public}",
            "security": f"{api}/security/?sentry_key={public}",
            "minidump": f"{api}/minidump/?sentry_key={public}",
            "nel": f"{api}/nel/?sentry_key={public}",
            "unreal": f"{api}/unreal/{public}/",
            "cdn": "",
            "crons": f"{api}/cron/___MONITOR_SLUG___/{public}/",
            "otlp_traces": f"{api}/integration/otlp/v1/traces",
            "otlp_logs": f"{api}/integration/otlp/v1/logs",
        }

    def get_browserSdk(self, key: ProjectKey) -> dict[str, Any]:
        return {"choices": [["latest", "latest"]]}

    def get_dynamicSdkLoaderOptions(self, key: ProjectKey) -> dict[str, bool]:
        return {"hasReplay": False, "hasPerformance": False, "hasDebug": False}


class ProjectKeyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    isActive = serializers.BooleanField(required=False)
    rateLimit = RateLimitSerializer(required=False, allow_null=True)


class ReleaseSerializer(serializers.ModelSerializer):
    """Sentry's release shape; sentry-cli needs `version` and `dateCreated`."""

    shortVersion = serializers.CharField(source="version", read_only=True)
    status = serializers.CharField(default="open", read_only=True)
    ref = serializers.CharField(allow_null=True, read_only=True)
    url = serializers.CharField(allow_null=True, read_only=True)
    dateCreated = serializers.DateTimeField(source="date_created", read_only=True)
    dateReleased = serializers.DateTimeField(source="date_released", read_only=True)
    dateStarted = serializers.DateTimeField(source="date_started", read_only=True)
    newGroups = serializers.SerializerMethodField()
    deployCount = serializers.IntegerField(source="deploy_count", read_only=True, default=0)
    lastDeploy = serializers.SerializerMethodField()
    projects = serializers.SerializerMethodField()
    versionInfo = serializers.SerializerMethodField()
    commitCount = serializers.IntegerField(default=0, read_only=True)
    authors = serializers.ListField(default=list, read_only=True)

    class Meta:
        model = Release
        fields = [
            "id",
            "version",
            "shortVersion",
            "status",
            "ref",
            "url",
            "dateCreated",
            "dateStarted",
            "dateReleased",
            "data",
            "newGroups",
            "commitCount",
            "deployCount",
            "lastDeploy",
            "authors",
            "projects",
            "versionInfo",
        ]

    def to_representation(self, release: Release) -> dict[str, Any]:
        data = super().to_representation(release)
        data["ref"] = release.ref or None
        data["url"] = release.url or None
        data.update({"owner": None, "lastCommit": None, "firstEvent": None, "lastEvent": None})
        return data

    def _links(self, release: Release) -> list[ReleaseProject]:
        return list(release.releaseproject_set.all())

    def get_newGroups(self, release: Release) -> int:
        return sum(link.new_groups for link in self._links(release))

    def get_lastDeploy(self, release: Release) -> dict[str, Any] | None:
        deploys = list(release.deploys.all())
        return DeploySerializer(deploys[0]).data if deploys else None

    def get_projects(self, release: Release) -> list[dict[str, Any]]:
        return [
            {
                "id": link.project.pk,
                "slug": link.project.slug,
                "name": link.project.name,
                "newGroups": link.new_groups,
                "platform": link.project.platform,
                "platforms": [link.project.platform] if link.project.platform else [],
                **self._health(link.project.pk, release.version),
            }
            for link in self._links(release)
        ]

    def _health(self, project_id: int, version: str) -> dict[str, Any]:
        """`hasHealthData`, and with `?health=1` (a `health` map in the context) `healthData`."""
        health = self.context.get("health")
        if health is None:
            return {"hasHealthData": False}
        data = health.get((project_id, version), NO_HEALTH_DATA)
        return {"hasHealthData": data["hasHealthData"], "healthData": data}

    def get_versionInfo(self, release: Release) -> dict[str, Any]:
        package, _, version = release.version.rpartition("@")
        return {
            "package": package or None,
            "version": {"raw": version},
            "description": version,
            "buildHash": None,
        }


class ReleaseInputSerializer(serializers.Serializer):
    version = serializers.CharField(max_length=200, required=False)
    projects = serializers.ListField(child=serializers.JSONField(), required=False)
    ref = serializers.CharField(max_length=250, required=False, allow_null=True, allow_blank=True)
    url = serializers.URLField(max_length=500, required=False, allow_null=True, allow_blank=True)
    dateStarted = serializers.DateTimeField(required=False, allow_null=True)
    dateReleased = serializers.DateTimeField(required=False, allow_null=True)

    def validate_version(self, version: str) -> str:
        # Sentry's rules: not empty, not "." or "..", no slashes, newlines or tabs.
        if version.strip() in ("", ".", "..", "latest") or any(c in version for c in "/\n\t"):
            raise serializers.ValidationError("Invalid release version.")
        return version

    def validate_projects(self, projects: list[Any]) -> list[str | int]:
        if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in projects):
            raise serializers.ValidationError("Projects are slugs or ids.")
        return projects

    def attributes(self) -> dict[str, Any]:
        values = self.validated_data
        mapping = {
            "ref": "ref",
            "url": "url",
            "dateStarted": "date_started",
            "dateReleased": "date_released",
        }
        attributes = {field: values[wire] for wire, field in mapping.items() if wire in values}
        for text in ("ref", "url"):
            if text in attributes and attributes[text] is None:
                attributes[text] = ""
        return attributes


class DeploySerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    dateStarted = serializers.DateTimeField(source="date_started", read_only=True)
    dateFinished = serializers.DateTimeField(source="date_finished", read_only=True)

    class Meta:
        model = Deploy
        fields = ["id", "environment", "name", "url", "dateStarted", "dateFinished"]


class DeployInputSerializer(serializers.Serializer):
    environment = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    url = serializers.URLField(max_length=500, required=False, allow_blank=True, allow_null=True)
    dateStarted = serializers.DateTimeField(required=False, allow_null=True)
    dateFinished = serializers.DateTimeField(required=False, allow_null=True)
    projects = serializers.ListField(child=serializers.JSONField(), required=False)


def _monitor_config(config: dict[str, Any]) -> dict[str, Any]:
    keys = ("schedule_type", "schedule", "checkin_margin", "max_runtime", "timezone")
    return {key: config.get(key) for key in keys}


class MonitorSerializer(serializers.ModelSerializer):
    """Sentry's cron monitor shape (with the schedule fields of its monitor environment)."""

    id = serializers.CharField(read_only=True)
    type = serializers.CharField(default="cron_job", read_only=True)
    isMuted = serializers.BooleanField(default=False, read_only=True)
    config = serializers.SerializerMethodField()
    dateCreated = serializers.DateTimeField(source="date_added", read_only=True)
    project = serializers.SerializerMethodField()
    lastCheckIn = serializers.DateTimeField(source="last_checkin", read_only=True)
    nextCheckIn = serializers.DateTimeField(source="next_checkin", read_only=True)
    nextCheckInLatest = serializers.DateTimeField(source="next_checkin_latest", read_only=True)

    class Meta:
        model = Monitor
        fields = [
            "id",
            "slug",
            "name",
            "status",
            "type",
            "isMuted",
            "config",
            "dateCreated",
            "project",
            "lastCheckIn",
            "nextCheckIn",
            "nextCheckInLatest",
        ]

    def get_config(self, monitor: Monitor) -> dict[str, Any]:
        return _monitor_config(monitor.config)

    def get_project(self, monitor: Monitor) -> dict[str, str]:
        project = monitor.project
        return {
            "id": str(project.pk),
            "slug": project.slug,
            "name": project.name,
            "platform": project.platform,
        }


class MonitorCheckInSerializer(serializers.ModelSerializer):
    """Sentry's check-in shape: `id` is the SDK's check_in_id, `duration` in milliseconds."""

    id = serializers.UUIDField(source="check_in_id", read_only=True)
    duration = serializers.SerializerMethodField()
    dateCreated = serializers.DateTimeField(source="date_added", read_only=True)
    dateUpdated = serializers.DateTimeField(source="date_updated", read_only=True)
    expectedTime = serializers.DateTimeField(source="expected_time", read_only=True)

    class Meta:
        model = MonitorCheckIn
        fields = [
            "id",
            "status",
            "duration",
            "environment",
            "dateCreated",
            "dateUpdated",
            "expectedTime",
        ]

    def get_duration(self, checkin: MonitorCheckIn) -> int | None:
        return None if checkin.duration_ms is None else round(checkin.duration_ms)
