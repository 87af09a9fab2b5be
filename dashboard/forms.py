"""Forms people fill in. Vendor-specific fields come from the vendor's AccountSchema, so
a new vendor needs no form code."""

from __future__ import annotations

from typing import Any

from django import forms

from jobs.egress import base_url_problem
from jobs.models import Account
from vendors.registry import VENDORS


def credential_keys(vendor: str) -> list[str]:
    cls = VENDORS.get(vendor)
    keys: list[str] = []
    for option in cls.schema.credential_sets if cls else ():
        keys.extend(k for k in option if k not in keys)
    return keys


class AccountForm(forms.Form):
    name = forms.SlugField(max_length=100, help_text="Unique; letters, digits, - and _.")
    vendor = forms.ChoiceField(choices=[(v, c.label) for v, c in VENDORS.items()])
    region = forms.ChoiceField(required=False)
    base_url = forms.CharField(
        required=False,
        max_length=300,
        help_text="Optional: replaces the vendor's hosts (only vendor hosts or allow-listed ones).",
    )

    def __init__(self, *args: Any, instance: Account | None = None, vendor: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance = instance
        vendor = self.data.get("vendor") or vendor or (instance.vendor if instance else next(iter(VENDORS)))
        self.vendor = vendor if vendor in VENDORS else next(iter(VENDORS))
        cls = VENDORS[self.vendor]
        self.fields["region"].choices = [("", "default")] + [(r, r) for r in cls.schema.regions]
        for key in cls.schema.required_settings:
            self.fields[f"setting_{key}"] = forms.CharField(label=key.replace("_", " "), max_length=200)
        stored = instance.credentials if instance and instance.vendor == self.vendor else {}
        for key in credential_keys(self.vendor):
            self.fields[f"secret_{key}"] = forms.CharField(
                label=key.replace("_", " "),
                required=False,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text="Stored: leave blank to keep." if stored.get(key) else "Not set.",
            )
        if instance and not self.is_bound:
            self.initial.update(
                {
                    "name": instance.name,
                    "vendor": instance.vendor,
                    "region": instance.region,
                    "base_url": instance.base_url,
                }
            )
            self.initial.update({f"setting_{k}": v for k, v in instance.settings.items()})

    def setting_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("setting_")]

    def secret_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("secret_")]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        clash = Account.objects.filter(name=name).exclude(pk=self.instance.pk if self.instance else None)
        if clash.exists():
            raise forms.ValidationError("An account with this name exists.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if problem := base_url_problem(self.vendor, data.get("base_url", "")):
            self.add_error("base_url", problem)
        stored = self.instance.credentials if self.instance and self.instance.vendor == self.vendor else {}
        merged = dict(stored)
        merged.update({k.removeprefix("secret_"): v for k, v in data.items() if k.startswith("secret_") and v})
        if problem := VENDORS[self.vendor].schema.credentials_problem(merged):
            self.add_error(None, f"Credentials: {VENDORS[self.vendor].label} {problem}.")
        settings = {k.removeprefix("setting_"): v for k, v in data.items() if k.startswith("setting_")}
        for key, problem in VENDORS[self.vendor].schema.settings_problems(settings).items():
            if f"setting_{key}" not in self.errors:  # "required" is already said by the field
                self.add_error(f"setting_{key}", f"{key.replace('_', ' ').capitalize()} {problem}.")
        data["credentials"] = merged
        data["settings"] = settings
        return data

    def save(self) -> Account:
        account = self.instance or Account()
        data = self.cleaned_data
        account.name, account.vendor = data["name"], self.vendor
        account.region, account.base_url = data.get("region", ""), data.get("base_url", "")
        account.settings = {**(account.settings if self.instance else {}), **data["settings"]}
        account.credentials = data["credentials"]
        account.save()
        return account
