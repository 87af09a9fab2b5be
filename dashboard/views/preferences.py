"""A person's own settings: the time zone pages are shown in, and their API tokens."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from jobs import tokens
from jobs.models import ApiToken

from ..models import Preference
from ..roles import is_operator
from ..timezones import zone_for, zone_names


class PreferenceForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        required=False,
        label="Time zone",
        help_text="Times are stored in UTC. Blank shows them in your browser's zone.",
    )

    class Meta:
        model = Preference
        fields = ["time_zone"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [("", "Browser default"), *((z, z) for z in zone_names())]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="What it is for, e.g. “nightly export”.")
    days = forms.IntegerField(label="Lifetime (days)", min_value=1, max_value=tokens.MAX_DAYS)
    scope = forms.ChoiceField(help_text="read: GET only. operate: also acts on pipelines.")

    def __init__(self, *args: object, can_operate: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["days"].initial = settings.API_TOKEN_DAYS
        self.fields["scope"].choices = ApiToken.SCOPES if can_operate else ApiToken.SCOPES[:1]


def _page(
    request: HttpRequest,
    form: PreferenceForm | None = None,
    token_form: TokenForm | None = None,
    new_token: str = "",
    status: int = 200,
) -> HttpResponse:
    preference, _ = Preference.objects.get_or_create(user=request.user)
    zone, source = zone_for(request)
    now = timezone.now()
    owned = ApiToken.objects.filter(user=request.user).select_related("user")
    context = {
        "form": form or PreferenceForm(instance=preference),
        "zone": zone,
        "source": source,
        "tokens": [(t, tokens.problem(t, now)) for t in owned],
        "token_form": token_form or TokenForm(can_operate=is_operator(request.user)),
        "new_token": new_token,
    }
    return render(request, "dashboard/preferences.html", context, status=status)


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    preference, _ = Preference.objects.get_or_create(user=request.user)
    form = PreferenceForm(request.POST, instance=preference)
    if not form.is_valid():
        return _page(request, form=form)
    form.save()
    messages.success(request, f"Times are now shown in {form.cleaned_data['time_zone'] or 'your browser zone'}.")
    return redirect("preferences")


@never_cache  # the answer holds the new token: no cache may keep it
@login_required
@require_POST
def create_token(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST, can_operate=is_operator(request.user))
    if not form.is_valid():
        return _page(request, token_form=form, status=400)
    data = form.cleaned_data
    token = tokens.issue_token(request.user, data["name"], scope=data["scope"], days=data["days"])
    # Rendered here, not carried by a message: messages live in a cookie or the session.
    return _page(request, new_token=token)


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=token_id, user=request.user)
    tokens.revoke_token(token)
    messages.success(request, f"Token “{token.name or 'unnamed'}” revoked: it no longer works.")
    return redirect("preferences")
