"""A person's own settings: for now the time zone pages are shown in."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from ..models import Preference
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


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    preference, _ = Preference.objects.get_or_create(user=request.user)
    form = PreferenceForm(request.POST or None, instance=preference)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Times are now shown in {form.cleaned_data['time_zone'] or 'your browser zone'}.")
        return redirect("preferences")
    zone, source = zone_for(request)
    return render(request, "dashboard/preferences.html", {"form": form, "zone": zone, "source": source})
