"""What a vendor account must be, checked in one place: config as code, the Django admin, the
accounts page and the API all call `check()` and show its messages as they are.

The vendor's rules (regions, settings and their shapes, credential sets) are what its
session declares (`AccountSchema.problems`); ours are the rest: a name that is free, a known
vendor, a base URL the egress policy allows, values of the right types. A problem is keyed by
the field it is about: `name`, `vendor`, `region`, `base_url`, `settings`, `settings.<name>`,
`credentials`, `credentials.<name>`; each caller puts it where its people will look.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms

from vendors.registry import VENDORS

from .egress import base_url_problem
from .models import Account

NAME_MAX = Account._meta.get_field("name").max_length or 100
REGION_MAX = Account._meta.get_field("region").max_length or 20
BASE_URL_MAX = Account._meta.get_field("base_url").max_length or 300


@dataclass
class AccountFields:
    """What someone asked an account to be, as they sent it (any types: the rules say what is wrong)."""

    name: Any = ""
    vendor: Any = ""
    region: Any = ""
    base_url: Any = ""
    settings: Any = field(default_factory=dict)
    # The whole set to store (a form that keeps blank secrets merges the stored ones first).
    credentials: Any = field(default_factory=dict)


@dataclass
class Checked:
    """The fields as they would be stored (text stripped), and what is wrong with them."""

    fields: AccountFields
    problems: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.problems


def shown(text: str, limit: int = 60) -> str:
    """A value as it may appear in a message: control characters escaped, long ones cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check(asked: AccountFields, instance: Account | None = None) -> Checked:
    """Every rule for an account, ours and its vendor's. `instance`: the account being
    changed (its own name is not a clash)."""
    problems: dict[str, str] = {}
    name = _text(problems, "name", asked.name, NAME_MAX, required=True)
    if name and Account.objects.filter(name=name).exclude(pk=getattr(instance, "pk", None)).exists():
        problems["name"] = "an account with this name exists"
    vendor = _text(problems, "vendor", asked.vendor, required=True)
    cls = VENDORS.get(vendor)
    if vendor and cls is None:
        problems["vendor"] = f"unknown vendor {shown(vendor)!r} (expected one of {', '.join(sorted(VENDORS))})"
    region = _text(problems, "region", asked.region, REGION_MAX)
    base_url = _text(problems, "base_url", asked.base_url, BASE_URL_MAX)
    if base_url and cls is not None and (problem := base_url_problem(vendor, base_url)):
        problems["base_url"] = problem
    settings = _table(problems, "settings", asked.settings, _setting_problem)
    credentials = {k: v.strip() for k, v in _table(problems, "credentials", asked.credentials, _secret_problem).items()}
    if cls is not None:
        for key, problem in cls.schema.problems(cls.label, region, settings, credentials).items():
            problems.setdefault(key, problem)  # a value of the wrong type is said once
    stored = AccountFields(name, vendor, region, base_url, settings, credentials)
    return Checked(stored, problems)


class OpenChoiceField(forms.ChoiceField):
    """A select whose options are the rules' (vendors, regions) but whose verdict is `check()`'s,
    so a form says what config and the API say about a value that is not one of them."""

    def validate(self, value: Any) -> None:
        pass


def relax(form: forms.BaseForm, names: tuple[str, ...]) -> None:
    """Leave these fields' checks to `check()` (one message for everyone), still marked
    required for people and assistive technology where they are."""
    for name in names:
        field_ = form.fields[name]
        if field_.required:
            field_.widget.attrs["required"] = True
        field_.required, field_.validators = False, []


def _text(problems: dict[str, str], key: str, value: Any, limit: int = 0, *, required: bool = False) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems[key] = "required"
        return ""
    if not isinstance(value, str):
        problems[key] = "must be a string"
        return ""
    if "\x00" in value:
        problems[key] = "contains a NUL character"
        return ""
    value = value.strip()
    if not value.isprintable():
        problems[key] = "contains a line break or another control character"
    elif limit and len(value) > limit:
        problems[key] = f"must be at most {limit} characters (it has {len(value)})"
    return value


def _table(problems: dict[str, str], key: str, value: Any, problem_of: Any) -> dict[str, Any]:
    """A table of named values (settings, credentials); a value with a problem is left out."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems[key] = "must be a table of names and values (a JSON object)"
        return {}
    kept: dict[str, Any] = {}
    for name, item in value.items():
        if "\x00" in str(name):
            problems[key] = "a name contains a NUL character"
        elif problem := problem_of(item):
            problems[f"{key}.{name}"] = problem
        else:
            kept[name] = item
    return kept


def _setting_problem(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return "must be a string or an integer"
    return "contains a NUL character" if isinstance(value, str) and "\x00" in value else ""


def _secret_problem(value: Any) -> str:
    # Never quoted: it is a secret. Line breaks inside one are the vendor schema's to name.
    if not isinstance(value, str):
        return "must be a string"
    return "contains a NUL character" if "\x00" in value else ""
