"""Django admin for accounts and pipelines. Credentials are write-only: never shown back.
What is saved or deleted here is audited by jobs.audit's model hooks, naming the admin."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from . import alerts, audit
from .account_rules import AccountFields, OpenChoiceField, check, relax
from .egress import channel_problem
from .emptydays import reconcile
from .health import derive
from .models import (
    VENDOR_CHOICES,
    Account,
    AlertChannel,
    AlertDelivery,
    AlertEvent,
    ApiToken,
    AuditEvent,
    MaintenanceWindow,
    Pipeline,
    PollAttempt,
    Run,
    Team,
)
from .roles import may_use_admin, refuses_admin

# The account's fields the rules check (jobs/account_rules.py), not the form field by field.
RULED = ("name", "vendor", "region", "base_url", "settings")

_admin_view = admin.site.admin_view


def _admin_view_refusing(view: Callable[..., HttpResponse], cacheable: bool = False) -> Callable[..., HttpResponse]:
    """A signed-in user without the admin role gets a 403 (audited like every refusal),
    not Django's login form for someone else."""
    inner = _admin_view(view, cacheable)

    @wraps(inner)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if refuses_admin(request):
            raise PermissionDenied("The admin needs the admin role. Ask an admin.")
        return inner(request, *args, **kwargs)

    return wrapper


admin.site.has_permission = may_use_admin
admin.site.admin_view = _admin_view_refusing
admin.site.site_header = "Pipewatch administration"


class AccountForm(forms.ModelForm):
    new_credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        label="Credentials",
        help_text='JSON, e.g. {"username": "svc", "secret": "…"}. Write-only: leave blank to keep the stored ones.',
    )
    vendor = OpenChoiceField(choices=[("", "---------"), *VENDOR_CHOICES])

    class Meta:
        model = Account
        fields = ["name", "vendor", "region", "base_url", "settings", "team"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        relax(self, RULED)

    def clean_new_credentials(self) -> Any:
        """The JSON typed here (None: blank, keep the stored ones); the rules say what it must be."""
        raw = self.cleaned_data["new_credentials"].strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        new = data.get("new_credentials")
        stored = self.instance.credentials if self.instance.pk else {}
        asked = AccountFields(
            name=data.get("name"),
            vendor=data.get("vendor"),
            region=data.get("region"),
            base_url=data.get("base_url"),
            settings=data.get("settings"),
            credentials=stored if new is None else new,
        )
        checked = check(asked, self.instance if self.instance.pk else None)
        data.update(name=checked.fields.name, vendor=checked.fields.vendor, region=checked.fields.region)
        data.update(base_url=checked.fields.base_url, settings=checked.fields.settings)
        if new is not None:
            data["new_credentials"] = checked.fields.credentials
        for key, message in checked.problems.items():  # the messages config, the accounts page and the API give
            place = key.partition(".")[0]
            shown_at = "new_credentials" if place == "credentials" else place
            self.add_error(shown_at, message if key == place else f"{key}: {message}")
        return data

    def _get_validation_exclusions(self) -> set[str]:
        return super()._get_validation_exclusions() | set(RULED)  # checked by the rules, uniqueness included

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


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["display_name", "account", "kind", "external_id", "team", "paused", "last_polled_at"]
    list_filter = ["account__vendor", "kind", "paused", "team", "empty_day_is_failure"]
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

    def save_model(self, request: HttpRequest, obj: Pipeline, form: forms.ModelForm, change: bool) -> None:
        if change and "empty_day_is_failure" in form.changed_data:  # the days already recorded, read again
            reconcile(obj)
            derive(obj, timezone.now())
        super().save_model(request, obj, form, change)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "member_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]

    @admin.display(description="Members")
    def member_count(self, obj: Team) -> int:
        return obj.members.count()


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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
    list_display = ["prefix", "user", "name", "scope", "created_at", "expires_at", "last_used_at", "status"]
    fields = ["user", "name", "prefix", "scope", "created_at", "expires_at", "last_used_at", "status"]
    # Bound to its owner's password when issued: moving a token to another user would end it.
    readonly_fields = ["user", "prefix", "scope", "created_at", "expires_at", "last_used_at", "status"]
    list_select_related = ["user"]

    @admin.display(description="Status")
    def status(self, obj: ApiToken) -> str:
        from .tokens import problem

        return problem(obj) or "works"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issued by `manage.py create_api_token` or on /preferences/, shown once


class AlertChannelForm(forms.ModelForm):
    new_url = forms.CharField(
        required=False,
        label="URL",
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 80}),
        help_text="An apprise URL (slack://…, msteams://…, pagerduty://…, json://host/path) or "
        "email://to@example.com. Write-only: leave blank to keep the stored one.",
    )

    # Checkboxes of the known kinds, not a raw JSON list: nothing to mistype.
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in AlertChannel.EVENTS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Which events this channel hears; none checked: every event.",
    )

    class Meta:
        model = AlertChannel
        fields = ["name", "enabled", "vendor", "account", "pipeline", "teams", "events", "min_consecutive_failures"]
        widgets = {"teams": forms.CheckboxSelectMultiple}

    def clean_new_url(self) -> str:
        url = self.cleaned_data["new_url"].strip()
        if not url:
            if not self.instance.url_token:
                raise forms.ValidationError("Required for a new channel.")
            return ""
        if url.startswith("email://"):
            forms.EmailField().clean(url.removeprefix("email://"))
            return url
        if problem := channel_problem(url):
            raise forms.ValidationError(problem)
        return url

    def clean_events(self) -> list[str]:
        chosen = set(self.cleaned_data["events"])
        return [e for e in AlertChannel.EVENTS if e in chosen]  # one stable order in the audit log

    def save(self, commit: bool = True) -> AlertChannel:
        channel = super().save(commit=False)
        if self.cleaned_data.get("new_url"):
            channel.url = self.cleaned_data["new_url"]
        if commit:
            channel.save()
        return channel


@admin.register(AlertChannel)
class AlertChannelAdmin(admin.ModelAdmin):
    form = AlertChannelForm
    list_display = [
        "name",
        "enabled",
        "vendor",
        "account",
        "pipeline",
        "team_names",
        "min_consecutive_failures",
        "health",
    ]
    actions = ["send_test"]

    @admin.display(description="Teams")
    def team_names(self, obj: AlertChannel) -> str:
        return ", ".join(t.name for t in obj.teams.all()) or "all"

    @admin.display(description="Deliveries")
    def health(self, obj: AlertChannel) -> str:
        if obj.failing:
            return f"FAILING ({obj.consecutive_delivery_failures} in a row)"
        return "ok" if not obj.consecutive_delivery_failures else f"{obj.consecutive_delivery_failures} failed in a row"

    @admin.action(description="Send a test notification")
    def send_test(self, request: HttpRequest, queryset: QuerySet[AlertChannel]) -> None:
        for channel in queryset:
            outcome = alerts.send_test(channel)
            level = messages.SUCCESS if outcome.startswith("sent") else messages.ERROR
            self.message_user(request, f"{channel.name}: {outcome}", level)
            audit.record(
                "channel.test",
                target_type="channel",
                target_label=channel.name,
                outcome="ok" if level == messages.SUCCESS else "error",
                detail={"result": outcome},
            )


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "event", "status", "attempts", "duration_ms", "last_error"]
    list_filter = ["status", "channel"]
    list_select_related = ["channel", "event"]


class SuppressedFilter(admin.SimpleListFilter):
    title = "sent or suppressed"
    parameter_name = "suppressed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "suppressed (muted, maintenance)"), ("no", "sent to channels")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AlertEvent]) -> QuerySet[AlertEvent]:
        if self.value() == "yes":
            return queryset.exclude(suppressed="")
        if self.value() == "no":
            return queryset.filter(suppressed="")
        return queryset


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    """The alert log: every event, sent or not; a suppressed one says why nothing went out."""

    list_display = ["at", "pipeline", "kind", "title", "outcome"]
    list_filter = [SuppressedFilter, "kind"]
    list_select_related = ["pipeline"]
    search_fields = ["title", "pipeline__name", "pipeline__external_id"]
    exclude = ["payload"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AlertEvent]:
        return super().get_queryset(request).annotate(sent_to=Count("deliveries"))

    @admin.display(description="Outcome")
    def outcome(self, obj: AlertEvent) -> str:
        if obj.suppressed:
            return f"suppressed: {obj.suppressed}"
        return f"delivered to {obj.sent_to} channel{'s' if obj.sent_to != 1 else ''}"


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "ends_at", "account", "pipeline", "reason"]
