"""Admin for organizations, teams, members and API keys (plain keys shown once)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
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


class UserTokenAddForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = UserToken
        fields = ["user", "label", "scopes"]


class CredentialAdmin(admin.ModelAdmin):
    """API keys and personal tokens alike: created from scopes with the plain secret shown
    once, read-only afterwards (a different grant is a new credential), revocable."""

    add_form: type[forms.ModelForm]
    owner_field: str  # the organization or the user the credential belongs to
    noun: str
    actions = ["revoke"]

    def create(self, data: dict[str, Any]) -> tuple[ApiKey | UserToken, str]:
        raise NotImplementedError

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return [self.owner_field, "label", "scopes"]
        return [self.owner_field, "label", "prefix", "scope_list", "date_created", "date_revoked"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return [self.owner_field, "prefix", "scope_list", "date_created", "date_revoked"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        credential, plain = self.create(form.cleaned_data)
        # The admin goes on with `obj` (history entry, redirect): make it the saved one.
        obj.pk = credential.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            format_html(
                "{} created. Copy it now, it is not shown again: <code>{}</code>", self.noun, plain
            ),
            messages.WARNING,
        )

    @admin.display(description="Scopes")
    def scope_list(self, credential: ApiKey | UserToken) -> str:
        return ", ".join(credential.scopes)

    @admin.display(description="Active", boolean=True)
    def is_active(self, credential: ApiKey | UserToken) -> bool:
        return credential.is_active

    @admin.action(description="Revoke selected")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = services.revoke_credentials(credentials=queryset)
        self.message_user(request, f"{self.noun}s revoked: {count}.", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(CredentialAdmin):
    add_form = ApiKeyAddForm
    owner_field = "organization"
    noun = "API key"
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

    def create(self, data: dict[str, Any]) -> tuple[ApiKey, str]:
        return services.create_api_key(
            organization=data["organization"], label=data["label"], scopes=data["scopes"]
        )


@admin.register(UserToken)
class UserTokenAdmin(CredentialAdmin):
    add_form = UserTokenAddForm
    owner_field = "user"
    noun = "Token"
    list_display = ["label", "user", "prefix", "scope_list", "is_active", "date_created"]
    list_filter = [("date_revoked", admin.EmptyFieldListFilter)]
    search_fields = ["label", "prefix", "user__username", "user__email"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]

    def create(self, data: dict[str, Any]) -> tuple[UserToken, str]:
        return services.create_user_token(
            user=data["user"], label=data["label"], scopes=data["scopes"]
        )
