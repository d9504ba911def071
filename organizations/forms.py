"""Admin forms: checks across related objects (teams of the right organization) and the
token-creation forms. A rate limit's count-and-window rule lives in the model (RateLimited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from organizations.models import (
    ApiToken,
    Organization,
    OrganizationMember,
    OrgAuthToken,
    Project,
)
from organizations.scopes import DEFAULT_TOKEN_SCOPES, SCOPE_CHOICES
from organizations.services import teams_check


def check_teams_in_organization(form: forms.ModelForm, organization: Organization | None) -> None:
    """The form's `teams` error when one belongs to another organization (`teams_check`)."""
    teams = form.cleaned_data.get("teams")
    if organization is None or not teams:
        return
    try:
        teams_check(organization=organization, teams=teams)
    except ValidationError as exc:
        form.add_error("teams", exc)


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["organization", "slug", "name", "platform", "teams"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        check_teams_in_organization(self, cleaned.get("organization"))
        return cleaned


class OrganizationMemberForm(forms.ModelForm):
    class Meta:
        model = OrganizationMember
        fields = ["organization", "user", "role", "teams"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        check_teams_in_organization(self, cleaned.get("organization"))
        return cleaned


class ScopesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("choices", SCOPE_CHOICES)
        kwargs.setdefault("help_text", "What the token may do (Sentry's scope names).")
        kwargs.setdefault("error_messages", {"required": "Choose at least one scope."})
        super().__init__(**kwargs)


class TokenFormMixin(forms.ModelForm):
    scopes = ScopesField()

    def clean_expires_at(self) -> datetime | None:
        expires_at: datetime | None = self.cleaned_data.get("expires_at")
        if expires_at is not None and self.instance.pk is None and expires_at <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return expires_at


class ApiTokenCreateForm(TokenFormMixin):
    scopes = ScopesField(initial=list(DEFAULT_TOKEN_SCOPES))

    class Meta:
        model = ApiToken
        fields = ["name", "user", "scopes", "expires_at"]


class ApiTokenChangeForm(TokenFormMixin):
    class Meta:
        model = ApiToken
        fields = ["name", "scopes", "expires_at"]


class OrgAuthTokenCreateForm(TokenFormMixin):
    scopes = ScopesField(initial=list(DEFAULT_TOKEN_SCOPES))

    class Meta:
        model = OrgAuthToken
        fields = ["name", "organization", "scopes", "expires_at"]


class OrgAuthTokenChangeForm(TokenFormMixin):
    class Meta:
        model = OrgAuthToken
        fields = ["name", "scopes", "expires_at"]
