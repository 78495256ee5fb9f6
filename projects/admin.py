"""Admin for projects and client keys: DSNs shown copyable, keys deactivated and rotated."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from projects import services
from projects.models import Monitor, MonitorCheckIn, Project, ProjectKey, ProjectQuota


def copyable(value: str) -> str:
    """A read-only input holding `value`, selected on focus, with a copy button."""
    return format_html(
        '<span class="faultline-copy"><input type="text" readonly value="{}" size="{}" '
        'onfocus="this.select()"> <button type="button" class="button" '
        'onclick="navigator.clipboard.writeText(this.previousElementSibling.value)">'
        "Copy</button></span>",
        value,
        min(len(value), 80),
    )


class ProjectKeyInline(admin.TabularInline):
    model = ProjectKey
    extra = 0
    fields = [
        "label",
        "is_active",
        "is_default",
        "dsn_field",
        "rate_limit_count",
        "rate_limit_window_seconds",
    ]
    readonly_fields = ["dsn_field", "is_default"]
    show_change_link = True

    @admin.display(description="DSN")
    def dsn_field(self, key: ProjectKey) -> str:
        return copyable(key.dsn) if key.pk else "-"


class ProjectQuotaInline(admin.TabularInline):
    model = ProjectQuota
    extra = 0
    fields = ["category", "count", "window_seconds"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "organization", "id", "platform", "active_keys", "date_created"]
    list_filter = ["organization", "platform"]
    search_fields = ["slug", "name", "organization__slug", "=id"]
    list_select_related = ["organization"]
    filter_horizontal = ["teams"]
    readonly_fields = ["id", "default_dsn", "date_created"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "organization",
                    "slug",
                    "name",
                    "platform",
                    "teams",
                    "id",
                    "default_dsn",
                    "date_created",
                ]
            },
        ),
        (
            "Data scrubbing",
            {
                "fields": [
                    "scrub_data",
                    "scrub_defaults",
                    "sensitive_fields",
                    "safe_fields",
                    "scrub_ip_addresses",
                ],
            },
        ),
    ]
    inlines = [ProjectKeyInline, ProjectQuotaInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        return (
            super()
            .get_queryset(request)
            .annotate(_active_keys=Count("keys", filter=Q(keys__is_active=True)))
        )

    @admin.display(description="Active keys", ordering="_active_keys")
    def active_keys(self, project: Project) -> int:
        return project._active_keys

    @admin.display(description="DSN (default key)")
    def default_dsn(self, project: Project) -> str:
        key = project.keys.filter(is_default=True).first() if project.pk else None
        return copyable(key.dsn) if key else "-"

    def save_model(self, request: HttpRequest, obj: Project, form: object, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            services.create_default_key(project=obj)


@admin.register(ProjectKey)
class ProjectKeyAdmin(admin.ModelAdmin):
    list_display = [
        "public_key",
        "label",
        "project",
        "is_active",
        "is_default",
        "rate_limit",
        "date_created",
    ]
    list_filter = ["is_active", "is_default", "project__organization"]
    search_fields = ["public_key", "label", "project__slug", "project__organization__slug"]
    list_select_related = ["project__organization"]
    readonly_fields = [
        "public_key",
        "secret_key",
        "is_default",
        "dsn_field",
        "secret_dsn_field",
        "date_created",
    ]
    fields = [
        "project",
        "label",
        "is_active",
        "is_default",
        "rate_limit_count",
        "rate_limit_window_seconds",
        "public_key",
        "secret_key",
        "dsn_field",
        "secret_dsn_field",
        "date_created",
    ]
    actions = ["deactivate", "activate", "rotate"]

    @admin.display(description="Rate limit")
    def rate_limit(self, key: ProjectKey) -> str:
        if not key.has_rate_limit:
            return "-"
        return f"{key.rate_limit_count} / {key.rate_limit_window_seconds} s"

    @admin.display(description="DSN")
    def dsn_field(self, key: ProjectKey) -> str:
        return copyable(key.dsn) if key.pk else "-"

    @admin.display(description="DSN with secret (legacy clients)")
    def secret_dsn_field(self, key: ProjectKey) -> str:
        return copyable(key.secret_dsn) if key.pk else "-"

    @admin.action(description="Deactivate selected keys")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ProjectKey]) -> None:
        changed = services.set_keys_active(keys=queryset, is_active=False)
        self.message_user(request, f"Deactivated {changed} key(s).", messages.SUCCESS)

    @admin.action(description="Activate selected keys")
    def activate(self, request: HttpRequest, queryset: QuerySet[ProjectKey]) -> None:
        changed = services.set_keys_active(keys=queryset, is_active=True)
        self.message_user(request, f"Activated {changed} key(s).", messages.SUCCESS)

    @admin.action(description="Rotate selected keys (new DSN; the old one stops working)")
    def rotate(self, request: HttpRequest, queryset: QuerySet[ProjectKey]) -> None:
        skipped = queryset.filter(is_active=False).count()
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped} inactive key(s): activate them first.",
                messages.WARNING,
            )
        for key in queryset.filter(is_active=True).select_related("project"):
            new_key = services.rotate_key(key=key)
            self.message_user(
                request,
                format_html("{}: new DSN {}", key.project, new_key.dsn),
                messages.SUCCESS,
            )


class MonitorCheckInInline(admin.TabularInline):
    model = MonitorCheckIn
    fields = ["date_added", "status", "duration_ms", "environment", "expected_time"]
    readonly_fields = fields
    ordering = ["-date_added", "-id"]
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(Monitor)
class MonitorAdmin(admin.ModelAdmin):
    """Cron monitors are made by check-ins; here they can be renamed or turned off."""

    list_display = ["slug", "project", "status", "is_active", "last_checkin", "next_checkin"]
    list_filter = ["status", "is_active", "project__organization"]
    search_fields = ["slug", "name", "project__slug"]
    list_select_related = ["project__organization"]
    fields = [
        "project",
        "slug",
        "name",
        "is_active",
        "status",
        "config",
        "last_checkin",
        "next_checkin",
        "next_checkin_latest",
        "date_added",
    ]
    readonly_fields = [name for name in fields if name not in ("name", "is_active")]
    inlines = [MonitorCheckInInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
