"""Admin for the accept queue (items the digest could not store) and outcome counters."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ingest.models import OutcomeCounter, QueuedItem


class ParkedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("parked", "Parked (needs an operator)"), ("pending", "Waiting for the digest")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "parked":
            return queryset.parked()
        if self.value() == "pending":
            return queryset.pending()
        return queryset


@admin.register(QueuedItem)
class QueuedItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "type", "event_id", "received", "failures"]
    list_filter = [ParkedFilter, "type"]
    search_fields = ["=event_id", "project__slug"]
    list_select_related = ["project__organization"]
    readonly_fields = [
        "project",
        "key",
        "type",
        "event_id",
        "received",
        "meta",
        "failures",
        "last_error",
        "body_preview",
    ]
    exclude = ["payload"]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Body (first 10 kB)")
    def body_preview(self, item: QueuedItem) -> str:
        return item.body[:10_000].decode("utf-8", "replace")

    @admin.action(description="Retry selected items (the digest takes them again)")
    def retry(self, request: HttpRequest, queryset: QuerySet[QueuedItem]) -> None:
        count = queryset.update(failures=0, last_error="")
        self.message_user(request, f"{count} item(s) queued again.", messages.SUCCESS)


@admin.register(OutcomeCounter)
class OutcomeCounterAdmin(admin.ModelAdmin):
    list_display = ["hour", "project", "category", "outcome", "reason", "quantity"]
    list_filter = ["outcome", "category", "project"]
    list_select_related = ["project__organization"]
    date_hierarchy = "hour"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
