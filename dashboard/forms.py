"""Forms people fill in. Vendor-specific fields come from the vendor's AccountSchema, so
a new vendor needs no form code; what a value must be is jobs.account_rules' to say."""

from __future__ import annotations

from typing import Any

from django import forms

from jobs.account_rules import AccountFields, OpenChoiceField, check, relax
from jobs.models import Account
from vendors.registry import VENDORS


def credential_keys(vendor: str) -> list[str]:
    cls = VENDORS.get(vendor)
    return list(cls.schema.credential_keys) if cls else []


class AccountForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Unique; up to 100 characters.")
    vendor = OpenChoiceField(choices=[(v, c.label) for v, c in VENDORS.items()])
    region = OpenChoiceField(required=False)
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
        stored = self.stored_credentials()
        for key in credential_keys(self.vendor):
            self.fields[f"secret_{key}"] = forms.CharField(
                label=key.replace("_", " "),
                required=False,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text="Stored: leave blank to keep." if stored.get(key) else "Not set.",
            )
        relax(self, ("name", "vendor", "region", "base_url", *(n for n in self.fields if n.startswith("setting_"))))
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

    @property
    def chosen_vendor(self) -> str:
        """The vendor whose fields the form shows (a template's `form.vendor` is the field)."""
        return self.vendor

    def stored_credentials(self) -> dict[str, str]:
        return self.instance.credentials if self.instance and self.instance.vendor == self.vendor else {}

    def setting_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("setting_")]

    def secret_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("secret_")]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # Blank secrets keep the stored ones; settings not on the form (optional ones) are kept too.
        credentials = self.stored_credentials()
        credentials.update({k.removeprefix("secret_"): v for k, v in data.items() if k.startswith("secret_") and v})
        kept = dict(self.instance.settings) if self.instance and self.instance.vendor == self.vendor else {}
        settings = kept | {k.removeprefix("setting_"): v for k, v in data.items() if k.startswith("setting_")}
        asked = AccountFields(data.get("name"), data.get("vendor"), data.get("region"), data.get("base_url"))
        asked.settings, asked.credentials = settings, credentials
        checked = check(asked, self.instance)
        for key, message in checked.problems.items():  # the messages config, the admin and the API give
            self._show(key, message)
        data["account"] = checked.fields
        return data

    def _show(self, key: str, message: str) -> None:
        """A problem under the input it is about, else above the form naming its field."""
        place, _, name = key.partition(".")
        field = {"settings": f"setting_{name}", "credentials": f"secret_{name}"}.get(place, key)
        if field in self.fields and (name or place not in ("settings", "credentials")):
            self.add_error(field, message)
        else:
            self.add_error(None, f"{key.capitalize()}: {message}")

    def save(self) -> Account:
        account = self.instance or Account()
        fields: AccountFields = self.cleaned_data["account"]
        account.name, account.vendor = fields.name, fields.vendor
        account.region, account.base_url = fields.region, fields.base_url
        account.settings, account.credentials = fields.settings, fields.credentials
        account.save()
        return account
