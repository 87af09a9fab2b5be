"""Django admin for accounts and pipelines. Credentials are write-only: never shown back."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from vendors.registry import VENDORS

from .models import Account, ApiToken, AuditEvent, Pipeline, PollAttempt, Run


class AccountForm(forms.ModelForm):
    new_credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        label="Credentials",
        help_text='JSON, e.g. {"username": "svc", "secret": "…"}. Write-only: leave blank to keep the stored ones.',
    )

    class Meta:
        model = Account
        fields = ["name", "vendor", "region", "base_url", "settings"]

    def clean_new_credentials(self) -> dict[str, str] | None:
        raw = self.cleaned_data["new_credentials"].strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError("Must be a JSON object of strings.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        cls = VENDORS.get(data.get("vendor", ""))
        if cls is None:
            return data
        if data.get("region") and data["region"] not in cls.schema.regions:
            self.add_error("region", f"{cls.label} regions: {', '.join(cls.schema.regions) or 'none'}")
        settings = data.get("settings") or {}
        for key in cls.schema.required_settings:
            if not str(settings.get(key, "")).strip():
                self.add_error("settings", f"{cls.label} needs settings.{key}")
        creds = data.get("new_credentials")
        if creds is None and not self.instance.credentials_token:
            self.add_error("new_credentials", "Required for a new account.")
        elif creds is not None and (problem := cls.schema.credentials_problem(creds)):
            self.add_error("new_credentials", f"{cls.label} {problem}")
        return data

    def save(self, commit: bool = True) -> Account:
        account = super().save(commit=False)
        if self.cleaned_data.get("new_credentials") is not None:
            account.credentials = self.cleaned_data["new_credentials"]
        if commit:
            account.save()
        return account


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = ["name", "vendor", "region", "stored_credentials", "poll_error_kind", "last_poll_ok_at"]
    readonly_fields = ["stored_credentials", "last_poll_at", "last_poll_ok_at", "poll_error_kind", "poll_error_message"]
    search_fields = ["name"]

    @admin.display(description="Stored credentials")
    def stored_credentials(self, obj: Account) -> str:
        try:
            keys = sorted(obj.credentials)
        except Exception:
            return "unreadable with the current keys"
        return ", ".join(f"{k} (set)" for k in keys) or "none"

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("new_credentials") is not None:
            AuditEvent.objects.create(
                actor=request.user, action="account.credentials_changed", target_type="account", target_label=obj.name
            )


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["display_name", "account", "kind", "external_id", "paused", "last_polled_at"]
    list_filter = ["account__vendor", "kind", "paused"]
    search_fields = ["name", "external_id"]
    readonly_fields = [
        "current_run",
        "last_success_at",
        "last_failure_at",
        "last_failure_message",
        "last_polled_at",
        "next_poll_at",
        "poll_error_kind",
        "poll_error_message",
    ]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["pipeline", "external_id", "state", "vendor_status", "progress", "started_at", "finished_at"]
    list_filter = ["state"]
    list_select_related = ["pipeline"]


@admin.register(PollAttempt)
class PollAttemptAdmin(ReadOnlyAdmin):
    list_display = ["account", "at", "outcome", "http_status", "duration_ms", "message"]
    list_filter = ["outcome"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "actor_label", "action", "target_label", "outcome"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are issued by `manage.py create_api_token`, shown once
