"""The create form, built from the vendor's own field descriptions (FormField)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings

from jobs.models import Account
from jobs.uploads import UploadError, parse_rows, too_large_message
from vendors.base import FormField
from vendors.client import CREATE
from vendors.registry import VENDORS

_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # snake_case keys: datestamp_start


def creatable() -> list[tuple[str, str]]:
    """("<account uuid>:<kind>", label) for everything that can be created somewhere."""
    options = []
    for account in Account.objects.order_by("name"):
        cls = VENDORS.get(account.vendor)
        if not cls or CREATE not in cls.capabilities:
            continue
        client = cls(account.config())
        for kind in cls.schema.kinds:
            if client.create_fields(kind, {}):
                options.append((f"{account.uuid}:{kind}", f"{account.name} · {cls.label} {kind.replace('_', ' ')}"))
    return options


def resolve(what: str) -> tuple[Account | None, str]:
    account_uuid, _, kind = what.partition(":")
    try:
        return Account.objects.filter(uuid=account_uuid).first(), kind
    except Exception:  # not a UUID
        return None, ""


def _field(spec: FormField) -> forms.Field:
    common = {
        "label": spec.label[:1].upper() + spec.label[1:],
        "required": spec.required,
        "help_text": spec.help,
        "initial": spec.initial,
    }
    if spec.type == "bool":
        return forms.BooleanField(**{**common, "required": False})
    if spec.type == "choice":
        blank = ("", "Choose…") if spec.required else ("", "—")
        return forms.ChoiceField(choices=[blank, *((c, c) for c in spec.choices)], **common)
    if spec.type == "date":
        return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if spec.type == "secret":
        return forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), **common)
    if spec.type == "list":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if spec.type == "file":
        return forms.FileField(**common)
    if spec.type == "number":
        return forms.IntegerField(**common)
    return forms.CharField(max_length=2000, **common)


KEPT_TYPES = ("text", "date", "choice", "number", "list", "bool")  # never secrets or files


def kept_values(fields: list[FormField], data: Any) -> dict[str, Any]:
    """The values already typed, to keep when the fields are redrawn after a choice."""
    initial: dict[str, Any] = {}
    for spec in fields:
        if spec.type not in KEPT_TYPES or spec.name not in data:
            continue
        initial[spec.name] = data.get(spec.name) if spec.type != "bool" else data.get(spec.name) in ("on", "true")
    return initial


def unsent(fields: list[FormField]) -> list[str]:
    """Fields the redraw request must not carry in its URL: secrets and files."""
    return [spec.name for spec in fields if spec.type not in KEPT_TYPES]


class CreateForm(forms.Form):
    def __init__(self, fields: list[FormField], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.specs = {f.name: f for f in fields}
        for spec in fields:
            self.fields[spec.name] = _field(spec)
        self.rows_read = 0
        self.too_large = False
        self.deferred: dict[str, Any] = {}  # field name -> a file too large to read in the request
        self.unsent = ",".join(["csrfmiddlewaretoken", *unsent(fields)])

    def readable(self, name: str, message: str) -> str:
        """A vendor rule's message in the form's words: field keys become their labels."""
        labels = {key: str(field.label) for key, field in self.fields.items()}
        text = _KEY.sub(lambda m: labels.get(m[0], m[0]), message)
        if name in self.fields or not name:
            return text
        return f"{labels.get(name, name.replace('_', ' '))}: {text}"

    def add_error(self, field: str | None, error: Any) -> None:
        if isinstance(error, str):
            error = self.readable(field or "", error)
        super().add_error(field, error)

    def spec(self) -> dict[str, Any]:
        """The cleaned values as the vendor expects them; uploads parsed into rows, read as a
        stream. A file over UPLOAD_SYNC_MAX_BYTES is left in `deferred` for a worker."""
        out: dict[str, Any] = {}
        for name, value in list(self.cleaned_data.items()):  # add_error() removes entries
            kind = self.specs[name].type
            if kind == "list":
                out[name] = [line.strip() for line in (value or "").splitlines() if line.strip()]
            elif kind == "file":
                if value is None:
                    continue
                if value.size > settings.UPLOAD_MAX_BYTES:
                    self.too_large = True
                    self.add_error(name, too_large_message())
                    continue
                if value.size > settings.UPLOAD_SYNC_MAX_BYTES:
                    self.deferred[name] = value
                    continue
                try:
                    parsed = parse_rows(value, value.name, allow_csv=name == "rows")
                except UploadError as exc:
                    self.add_error(name, str(exc))
                    continue
                self.rows_read = len(parsed.rows)
                out[name] = parsed.rows
            elif value not in (None, "") and not (kind == "bool" and value is False):
                out[name] = value
        return out
