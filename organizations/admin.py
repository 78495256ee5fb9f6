"""Admin for organizations, teams, members and API keys (plain keys shown once)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from organizations import services
from organizations.models import ApiKey, Organization, OrganizationMember, Team, UserToken
from organizations.roles import SCOPE_CHOICES


class TeamInline(admin.TabularInline):
    model = Team
    extra = 0
    fields = ["slug", "name"]
    show_change_link = True


class MemberInline(admin.TabularInline):
    model = OrganizationMember
    extra = 0
    fields = ["user", "role"]
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "date_created"]
    search_fields = ["slug", "name"]
    readonly_fields = ["date_created"]
    inlines = [TeamInline, MemberInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "organization", "date_created"]
    list_filter = ["organization"]
    search_fields = ["slug", "name", "organization__slug"]
    list_select_related = ["organization"]
    readonly_fields = ["date_created"]


@admin.register(OrganizationMember)
class OrganizationMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "date_created"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "user__email", "organization__slug"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user"]
    readonly_fields = ["date_created"]


class ApiKeyAddForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = ApiKey
        fields = ["organization", "label", "scopes"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "label",
        "organization",
        "prefix",
        "scope_list",
        "is_active",
        "date_created",
        "date_revoked",
    ]
    list_filter = ["organization", ("date_revoked", admin.EmptyFieldListFilter)]
    search_fields = ["label", "prefix", "organization__slug"]
    list_select_related = ["organization"]
    actions = ["revoke"]

    def get_form(
        self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["organization", "label", "scopes"]
        return ["organization", "label", "prefix", "scope_list", "date_created", "date_revoked"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        # A key's organization and scopes are fixed: a different grant is a new key.
        return ["organization", "prefix", "scope_list", "date_created", "date_revoked"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, plain = services.create_api_key(
            organization=form.cleaned_data["organization"],
            label=form.cleaned_data["label"],
            scopes=form.cleaned_data["scopes"],
        )
        # The admin goes on with `obj` (history entry, redirect): make it the saved key.
        obj.pk = api_key.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            format_html(
                "API key created. Copy it now, it is not shown again: <code>{}</code>", plain
            ),
            messages.WARNING,
        )

    @admin.display(description="Scopes")
    def scope_list(self, api_key: ApiKey) -> str:
        return ", ".join(api_key.scopes)

    @admin.display(description="Active", boolean=True)
    def is_active(self, api_key: ApiKey) -> bool:
        return api_key.is_active

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = services.revoke_api_keys(keys=queryset)
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)


class UserTokenAddForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = UserToken
        fields = ["user", "label", "scopes"]


@admin.register(UserToken)
class UserTokenAdmin(admin.ModelAdmin):
    list_display = ["label", "user", "prefix", "scope_list", "is_active", "date_created"]
    list_filter = [("date_revoked", admin.EmptyFieldListFilter)]
    search_fields = ["label", "prefix", "user__username", "user__email"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_form(
        self,
        request: HttpRequest,
        obj: UserToken | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = UserTokenAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: UserToken | None = None) -> list[str]:
        if obj is None:
            return ["user", "label", "scopes"]
        return ["user", "label", "prefix", "scope_list", "date_created", "date_revoked"]

    def get_readonly_fields(self, request: HttpRequest, obj: UserToken | None = None) -> list[str]:
        if obj is None:
            return []
        return ["user", "prefix", "scope_list", "date_created", "date_revoked"]

    def save_model(self, request: HttpRequest, obj: UserToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, plain = services.create_user_token(
            user=form.cleaned_data["user"],
            label=form.cleaned_data["label"],
            scopes=form.cleaned_data["scopes"],
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            format_html(
                "Token created. Copy it now, it is not shown again: <code>{}</code>", plain
            ),
            messages.WARNING,
        )

    @admin.display(description="Scopes")
    def scope_list(self, token: UserToken) -> str:
        return ", ".join(token.scopes)

    @admin.display(description="Active", boolean=True)
    def is_active(self, token: UserToken) -> bool:
        return token.is_active

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[UserToken]) -> None:
        count = queryset.filter(date_revoked__isnull=True).update(date_revoked=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
