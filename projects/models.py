"""Projects and their client keys (DSNs)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.utils import timezone

from organizations.models import Organization, Team
from organizations.validators import SLUG_MAX_LENGTH, validate_sentry_slug
from projects.managers import (
    MonitorCheckInQuerySet,
    MonitorQuerySet,
    ProjectKeyQuerySet,
    ProjectQuerySet,
)


class Project(models.Model):
    """A project; its numeric `id` is the one in DSNs and ingest URLs."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="projects"
    )
    teams = models.ManyToManyField(Team, related_name="projects", blank=True)
    slug = models.CharField(max_length=SLUG_MAX_LENGTH, validators=[validate_sentry_slug])
    name = models.CharField(max_length=200)
    platform = models.CharField(max_length=64, blank=True)
    # Server-side scrubbing of personal data before events are stored (Sentry's "Data
    # Scrubber", "Use Default Scrubbers", "Additional Sensitive Fields", "Safe Fields",
    # "Prevent Storing of IP Addresses").
    scrub_data = models.BooleanField(default=True)
    scrub_defaults = models.BooleanField(default=True)
    sensitive_fields = models.JSONField(default=list, blank=True)
    safe_fields = models.JSONField(default=list, blank=True)
    scrub_ip_addresses = models.BooleanField(default=False)
    date_created = models.DateTimeField(default=timezone.now, editable=False)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"], name="projects_project_unique_slug"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"


def _new_key() -> str:
    return secrets.token_hex(16)


class ProjectKey(models.Model):
    """A client key: the public half goes into the DSN that SDKs are configured with."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=64, default="Default")
    public_key = models.CharField(max_length=32, unique=True, default=_new_key, editable=False)
    secret_key = models.CharField(max_length=32, default=_new_key, editable=False)
    is_active = models.BooleanField(default=True)
    # The key SDK setup instructions show; exactly one per project (see services).
    is_default = models.BooleanField(default=False)
    # Optional rate limit: at most `rate_limit_count` events per `rate_limit_window_seconds`.
    rate_limit_count = models.PositiveIntegerField(null=True, blank=True)
    rate_limit_window_seconds = models.PositiveIntegerField(null=True, blank=True)
    date_created = models.DateTimeField(default=timezone.now, editable=False)

    objects = ProjectKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "client key (DSN)"
        verbose_name_plural = "client keys (DSN)"
        ordering = ["project", "-is_default", "date_created"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(is_default=True),
                name="projects_projectkey_one_default",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(rate_limit_count__isnull=True, rate_limit_window_seconds__isnull=True)
                    | models.Q(
                        rate_limit_count__isnull=False,
                        rate_limit_window_seconds__isnull=False,
                        rate_limit_window_seconds__gt=0,
                    )
                ),
                name="projects_projectkey_rate_limit_pair",
                violation_error_message=(
                    "A rate limit needs both a count and a window of at least one second."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.public_key})"

    @property
    def has_rate_limit(self) -> bool:
        return self.rate_limit_count is not None

    def _dsn(self, *, with_secret: bool) -> str:
        base = urlsplit(settings.FAULTLINE_BASE_URL)
        credentials = self.public_key
        if with_secret:
            credentials = f"{credentials}:{self.secret_key}"
        netloc = base.netloc.rpartition("@")[2]
        return f"{base.scheme}://{credentials}@{netloc}{base.path.rstrip('/')}/{self.project_id}"

    @property
    def dsn(self) -> str:
        """`http://PUBLIC@host[:port][/prefix]/PROJECT_ID`, from FAULTLINE_BASE_URL."""
        return self._dsn(with_secret=False)

    @property
    def secret_dsn(self) -> str:
        """The legacy form with `public:secret`, still accepted by raven-era clients."""
        return self._dsn(with_secret=True)

    def endpoint_url(self, endpoint: str) -> str:
        """An ingest URL for this key's project, e.g. `endpoint_url("envelope")`."""
        base = settings.FAULTLINE_BASE_URL.rstrip("/")
        return f"{base}/api/{self.project_id}/{endpoint}/"


class RateLimitCategory(models.TextChoices):
    """Sentry's data categories a project quota can limit."""

    ERROR = "error"
    TRANSACTION = "transaction"
    ATTACHMENT = "attachment"
    SESSION = "session"
    FEEDBACK = "feedback"
    MONITOR = "monitor"
    SPAN = "span"
    LOG_ITEM = "log_item"
    PROFILE = "profile"
    REPLAY = "replay"
    # Moesif API-call events (not a Sentry category).
    API_CALL = "api_call"


class ProjectQuota(models.Model):
    """At most `count` items of `category` per `window_seconds` for the whole project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="quotas")
    category = models.CharField(max_length=32, choices=RateLimitCategory.choices)
    count = models.PositiveIntegerField()
    window_seconds = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "category"], name="projects_projectquota_unique_category"
            ),
            models.CheckConstraint(
                condition=models.Q(window_seconds__gt=0),
                name="projects_projectquota_positive_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project}: {self.count} {self.category} / {self.window_seconds} s"


class ProjectRedirect(models.Model):
    """A slug a project had before a rename: old URLs answer 302 with the new slug, which is
    how sentry-cli learns of renames."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    slug = models.CharField(max_length=SLUG_MAX_LENGTH)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="redirects")
    date_created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"], name="projects_projectredirect_unique_slug"
            )
        ]

    def __str__(self) -> str:
        return f"{self.slug} -> {self.project}"


class Release(models.Model):
    """A release of an organization (`version`), created by sentry-cli or on its first event."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="releases"
    )
    version = models.CharField(max_length=200)
    projects = models.ManyToManyField(Project, through="ReleaseProject", related_name="releases")
    ref = models.CharField(max_length=250, blank=True)
    url = models.URLField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    date_created = models.DateTimeField(default=timezone.now, editable=False)
    date_started = models.DateTimeField(null=True, blank=True)
    date_released = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "version"], name="projects_release_unique_version"
            )
        ]

    def __str__(self) -> str:
        return self.version


class ReleaseProject(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE)
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    # Issues first seen in this release (kept by the digest).
    new_groups = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["release", "project"], name="projects_releaseproject_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.release} in {self.project}"


class Deploy(models.Model):
    """A release deployed to an environment (sentry-cli `deploys new`)."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="deploys")
    environment = models.CharField(max_length=64)
    name = models.CharField(max_length=64, blank=True)
    url = models.URLField(max_length=500, blank=True)
    date_started = models.DateTimeField(null=True, blank=True)
    date_finished = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-date_finished", "-id"]

    def __str__(self) -> str:
        return f"{self.release} to {self.environment}"


class MonitorStatus(models.TextChoices):
    """A monitor's health, from its latest check-in (or the lack of one)."""

    NEW = "new"
    OK = "ok"
    ERROR = "error"
    MISSED = "missed_checkin"
    TIMEOUT = "timeout"


class Monitor(models.Model):
    """A cron monitor, created by its first check-in (Sentry's upsert by `monitor_config`)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="monitors")
    slug = models.CharField(max_length=128)
    name = models.CharField(max_length=128)
    is_active = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=MonitorStatus.choices, default=MonitorStatus.NEW
    )
    # Sentry's monitor config: {"schedule_type": "crontab"|"interval", "schedule": "*/5 * * * *"
    # or [5, "minute"], "checkin_margin": minutes, "max_runtime": minutes, "timezone": "UTC"}.
    config = models.JSONField(default=dict)
    last_checkin = models.DateTimeField(null=True, blank=True)
    # When the next check-in is due, and the moment (due + margin) after which it is missed.
    next_checkin = models.DateTimeField(null=True, blank=True)
    next_checkin_latest = models.DateTimeField(null=True, blank=True)
    date_added = models.DateTimeField(default=timezone.now)

    objects = MonitorQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "slug"], name="projects_monitor_unique")
        ]
        indexes = [
            models.Index(fields=["next_checkin_latest"], name="projects_monitor_due"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.slug}"


class CheckInStatus(models.TextChoices):
    IN_PROGRESS = "in_progress"
    OK = "ok"
    ERROR = "error"
    MISSED = "missed"
    TIMEOUT = "timeout"


class MonitorCheckIn(models.Model):
    """One check-in of a monitor; `missed` and `timeout` ones are written by maintenance."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="checkins")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    check_in_id = models.UUIDField()
    status = models.CharField(max_length=16, choices=CheckInStatus.choices)
    environment = models.CharField(max_length=64, blank=True)
    release = models.CharField(max_length=200, blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    # The schedule's moment this check-in answers, and (in progress) when it times out.
    expected_time = models.DateTimeField(null=True, blank=True)
    timeout_at = models.DateTimeField(null=True, blank=True)
    date_added = models.DateTimeField(default=timezone.now)
    date_updated = models.DateTimeField(default=timezone.now)

    objects = MonitorCheckInQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["monitor", "check_in_id"], name="projects_checkin_unique"
            )
        ]
        indexes = [
            models.Index(fields=["monitor", "-date_added"], name="projects_checkin_time"),
            models.Index(fields=["status", "timeout_at"], name="projects_checkin_timeout"),
        ]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.status} at {self.date_added:%Y-%m-%d %H:%M}"


class SessionAggregate(models.Model):
    """Release health: sessions of one release and environment, per hour (Sentry's counts).

    `started` counts sessions begun (`init`); the others count sessions that ended so:
    `errored` (ended with errors), `crashed`, `abnormal`, `exited` (healthy end).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    release = models.CharField(max_length=200)
    environment = models.CharField(max_length=64, blank=True)
    hour = models.DateTimeField()
    started = models.PositiveBigIntegerField(default=0)
    exited = models.PositiveBigIntegerField(default=0)
    errored = models.PositiveBigIntegerField(default=0)
    crashed = models.PositiveBigIntegerField(default=0)
    abnormal = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "release", "environment", "hour"],
                name="projects_sessionaggregate_unique",
            )
        ]
        # The sessions API and release health select a project's hours.
        indexes = [models.Index(fields=["project", "hour"], name="projects_session_hour")]

    def __str__(self) -> str:
        return f"{self.release} {self.environment} {self.hour:%Y-%m-%d %H}h: {self.started}"


class SessionUser(models.Model):
    """A distinct user (the session's `did`) seen in a release and environment."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    release = models.CharField(max_length=200)
    environment = models.CharField(max_length=64, blank=True)
    distinct_id = models.CharField(max_length=200)
    first_seen = models.DateTimeField()
    # Whether a session of this user in this release crashed (for crash-free users).
    has_crashed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "release", "environment", "distinct_id"],
                name="projects_sessionuser_unique",
            )
        ]
        # The sessions API selects a project's users by the time of their first session.
        indexes = [models.Index(fields=["project", "first_seen"], name="projects_sessionuser_seen")]

    def __str__(self) -> str:
        return f"{self.distinct_id} in {self.release}"


class SessionMark(models.Model):
    """What a session (by its `sid`) has already been counted as, so that repeated updates
    count it once: as errored, and in one terminal counter. Kept while the session can still
    be updated (Relay's 5-day horizon), then pruned."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    sid = models.UUIDField()
    started = models.DateTimeField()
    is_errored = models.BooleanField(default=False)
    is_terminal = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "sid"], name="projects_sessionmark_unique")
        ]
        indexes = [models.Index(fields=["started"], name="projects_sessionmark_started")]

    def __str__(self) -> str:
        return f"{self.sid} errored={self.is_errored} terminal={self.is_terminal}"
