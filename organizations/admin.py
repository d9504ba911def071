"""Django admin for organizations, teams, projects, DSN keys, members and API tokens.

Tokens: the add form issues a new secret, keeps its plaintext in the admin's session for one
page view and redirects (POST, redirect, GET) to a page that takes it out of the session and
shows it. Reloading that page, or coming back to it, shows no secret: it is gone from the
session, and the database holds only its hash. Reloading never posts the form again, so it
never creates a second token. Stored tokens show only `display` (lookup prefix and last four
characters).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from organizations import forms
from organizations.models import (
    ApiToken,
    BaseToken,
    Organization,
    OrganizationMember,
    OrgAuthToken,
    Project,
    ProjectKey,
    Team,
)
from organizations.services import project_key_create, token_issue, token_revoke


class TeamInline(admin.TabularInline[Team, Organization]):
    model = Team
    fields = ["slug", "name"]
    extra = 0
    show_change_link = True


class OrganizationMemberInline(admin.TabularInline[OrganizationMember, Organization]):
    model = OrganizationMember
    fields = ["user", "role"]
    autocomplete_fields = ["user"]
    extra = 0
    show_change_link = True


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ["slug", "name", "status", "project_count", "member_count", "date_created"]
    list_filter = ["status", "is_early_adopter"]
    search_fields = ["slug", "name"]
    inlines = [TeamInline, OrganizationMemberInline]
    readonly_fields = ["date_created"]
    fieldsets = [
        (None, {"fields": ["slug", "name", "status"]}),
        (
            "Ingest quota",
            {
                "fields": ["rate_limit_count", "rate_limit_window"],
                "description": "Error events per window (seconds) for the whole organization; "
                "leave both empty for no limit.",
            },
        ),
        (None, {"fields": ["is_early_adopter", "require_2fa", "require_email_verification"]}),
        (None, {"fields": ["date_created"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                project_total=Count("projects", distinct=True),
                member_total=Count("members", distinct=True),
            )
        )

    @admin.display(description="projects", ordering="project_total")
    def project_count(self, obj: Organization) -> int:
        return getattr(obj, "project_total", 0)

    @admin.display(description="members", ordering="member_total")
    def member_count(self, obj: Organization) -> int:
        return getattr(obj, "member_total", 0)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ["slug", "name", "organization", "date_created"]
    list_filter = ["organization"]
    search_fields = ["slug", "name", "organization__slug"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["date_created"]


class KeyDsnMixin:
    @admin.display(description="DSN")
    def dsn(self, obj: ProjectKey) -> str:
        return obj.dsn if obj.pk else "(assigned on save)"


class ProjectKeyInline(KeyDsnMixin, admin.TabularInline[ProjectKey, Project]):
    model = ProjectKey
    fields = ["label", "dsn", "is_active", "rate_limit_count", "rate_limit_window"]
    readonly_fields = ["dsn"]
    extra = 0
    show_change_link = True


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    form = forms.ProjectForm
    list_display = ["slug", "name", "organization", "id", "date_created"]
    list_filter = ["organization"]
    search_fields = ["slug", "name", "organization__slug"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    filter_horizontal = ["teams"]
    inlines = [ProjectKeyInline]
    readonly_fields = ["date_created"]

    def save_related(
        self, request: HttpRequest, form: ModelForm[Project], formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        # Like createproject: a new project gets its first DSN key unless one was added inline.
        if not change and not form.instance.keys.exists():
            project_key_create(project=form.instance)


@admin.register(ProjectKey)
class ProjectKeyAdmin(KeyDsnMixin, admin.ModelAdmin[ProjectKey]):
    list_display = ["dsn", "project", "label", "is_active", "rate_limit"]
    list_filter = ["is_active", "project__organization"]
    search_fields = ["public_key", "label", "project__slug", "project__organization__slug"]
    list_select_related = ["project__organization"]
    autocomplete_fields = ["project"]
    readonly_fields = ["dsn", "public_key", "date_created"]
    fields = [
        "project",
        "label",
        "dsn",
        "public_key",
        "secret_key",
        "is_active",
        "rate_limit_count",
        "rate_limit_window",
        "date_created",
    ]

    @admin.display(description="rate limit")
    def rate_limit(self, obj: ProjectKey) -> str:
        if obj.rate_limit_count is None:
            return "none"
        return f"{obj.rate_limit_count} per {obj.rate_limit_window} s"


@admin.register(OrganizationMember)
class OrganizationMemberAdmin(admin.ModelAdmin[OrganizationMember]):
    form = forms.OrganizationMemberForm
    list_display = ["user", "organization", "role", "date_created"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "user__email", "organization__slug", "organization__name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["organization", "user"]
    filter_horizontal = ["teams"]
    readonly_fields = ["date_created"]


# --- tokens ---------------------------------------------------------------------------------


class TokenStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


# Session key of a token's plaintext between the add form's POST and the page showing it.
NEW_TOKEN_SESSION_KEY = "statsapi_new_token"


class TokenAdmin(admin.ModelAdmin[Any]):
    """Shared by both token kinds. Subclasses set the owner field and the two forms."""

    owner_field = ""
    add_form: type[ModelForm[Any]] = ModelForm
    change_form: type[ModelForm[Any]] = ModelForm
    token_created_template = "admin/organizations/token_created.html"

    list_filter = [TokenStatusFilter, "expires_at", "last_used_at"]
    actions = ["revoke"]

    def get_form(
        self,
        request: HttpRequest,
        obj: BaseToken | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[ModelForm[Any]]:
        kwargs["form"] = self.change_form if obj is not None else self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: BaseToken | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", self.owner_field, "scopes", "expires_at")
        return (
            "token_display",
            self.owner_field,
            "name",
            "scopes",
            "expires_at",
            "date_created",
            "last_used_at",
            "revoked_at",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: BaseToken | None = None) -> list[str]:
        if obj is None:
            return []
        return ["token_display", self.owner_field, "date_created", "last_used_at", "revoked_at"]

    @admin.display(description="scopes")
    def scope_list(self, obj: BaseToken) -> str:
        return " ".join(obj.scopes or [])

    @admin.display(description="token")
    def token_display(self, obj: BaseToken) -> str:
        return obj.display

    @admin.display(description="revoked", boolean=True, ordering="revoked_at")
    def revoked(self, obj: BaseToken) -> bool:
        return obj.is_revoked

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[BaseToken]) -> None:
        revoked = sum(token_revoke(token=token) for token in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)

    def save_model(
        self, request: HttpRequest, obj: BaseToken, form: ModelForm[Any], change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        self.before_issue(request, obj)
        plaintext = token_issue(token=obj)
        # One page view's worth: token_created_view takes it out of the session.
        request.session[NEW_TOKEN_SESSION_KEY] = {
            "model": self.opts.label_lower,
            "pk": obj.pk,
            "plaintext": plaintext,
        }

    def before_issue(self, request: HttpRequest, obj: BaseToken) -> None:
        pass

    def get_urls(self) -> list[URLPattern]:
        created = path(
            "<path:object_id>/created/",
            self.admin_site.admin_view(self.token_created_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_created",
        )
        return [created, *super().get_urls()]

    def response_add(
        self, request: HttpRequest, obj: BaseToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        """Redirect to the page that shows the new secret (a reload of it posts nothing)."""
        url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_created",
            args=[obj.pk],
            current_app=self.admin_site.name,
        )
        return HttpResponseRedirect(url, status=303)

    def token_created_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The new token's plaintext, once: taken out of the session as it is shown. Without
        it (a reload, a bookmark, another token's page) the token's settings page, saying so."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404(f"No {self.opts.verbose_name} with the id {object_id!r}")
        change_url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[obj.pk],
            current_app=self.admin_site.name,
        )
        pending = request.session.get(NEW_TOKEN_SESSION_KEY)
        if (
            not isinstance(pending, dict)
            or pending.get("model") != self.opts.label_lower
            or pending.get("pk") != obj.pk
        ):
            self.message_user(
                request,
                "The token's secret was shown once, when it was created, and cannot be shown "
                "again: only its hash is stored. If it is lost, revoke the token and create a "
                "new one.",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        del request.session[NEW_TOKEN_SESSION_KEY]
        opts = self.opts
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "title": f"New {opts.verbose_name} created",
            "token": obj,
            "owner": getattr(obj, self.owner_field),
            "plaintext": pending["plaintext"],
            "api_root": settings.STATSAPI_PUBLIC_URL.rstrip("/") + "/api/0/",
        }
        response = TemplateResponse(request, self.token_created_template, context)
        response["Cache-Control"] = "no-store"
        return response


@admin.register(ApiToken)
class ApiTokenAdmin(TokenAdmin):
    owner_field = "user"
    add_form = forms.ApiTokenCreateForm
    change_form = forms.ApiTokenChangeForm
    list_display = [
        "token_display",
        "name",
        "user",
        "scope_list",
        "expires_at",
        "last_used_at",
        "revoked",
        "date_created",
    ]
    search_fields = ["name", "token_lookup", "user__username", "user__email"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]


@admin.register(OrgAuthToken)
class OrgAuthTokenAdmin(TokenAdmin):
    owner_field = "organization"
    add_form = forms.OrgAuthTokenCreateForm
    change_form = forms.OrgAuthTokenChangeForm
    list_display = [
        "token_display",
        "name",
        "organization",
        "scope_list",
        "expires_at",
        "last_used_at",
        "revoked",
        "date_created",
    ]
    list_filter = [*TokenAdmin.list_filter, "organization"]
    search_fields = ["name", "token_lookup", "organization__slug", "organization__name"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]

    def get_fields(self, request: HttpRequest, obj: BaseToken | None = None) -> tuple[str, ...]:
        fields = super().get_fields(request, obj)
        return fields if obj is None else (*fields, "created_by")

    def get_readonly_fields(self, request: HttpRequest, obj: BaseToken | None = None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is None else [*fields, "created_by"]

    def before_issue(self, request: HttpRequest, obj: BaseToken) -> None:
        if isinstance(obj, OrgAuthToken) and request.user.is_authenticated:
            obj.created_by = request.user
