"""What a kind can do beyond the fixed actions (ADR 17): retry an interval, backfill a date
range, drop and re-import a table... An `Operation` describes one (its name, button, scope,
inputs and the sentence to confirm); the kind's adapter performs it. Pages, API and audit
treat every operation alike, so a vendor adds one without touching dashboard/ or jobs/.

`Fact`s are what the vendor reports about a pipeline (its schedule, destination, a running
backfill and its progress), as the adapter words them from the pipeline's vendor_info.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .base import FormField, InvalidSpec

PIPELINE = "pipeline"  # acts on the pipeline as a whole
RUN = "run"  # acts on one run, named by its run key
MAX_TEXT = 500


@dataclass(frozen=True)
class Operation:
    name: str  # slug in URLs, the API and audit ("retry", "backfill")
    label: str  # the button
    method: str  # the adapter's method: (target, run_key, cleaned values) -> message
    scope: str = PIPELINE
    fields: tuple[FormField, ...] = ()
    confirm: str = ""  # asked before sending: what cannot be undone
    help: str = ""  # one sentence shown with the form
    run_states: frozenset[str] = frozenset()  # RUN scope: the states of runs it applies to
    # PIPELINE scope: offered when this holds for the pipeline's vendor_info (None: always).
    when: Callable[[Mapping[str, Any]], bool] | None = None
    listed: bool = True  # False: offered only from a fact (cancel *this* backfill)

    def offered(self, info: Mapping[str, Any]) -> bool:
        return self.scope == PIPELINE and self.listed and (self.when is None or bool(self.when(info)))

    def applies_to(self, state: str) -> bool:
        return self.scope == RUN and state in self.run_states


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    note: str = ""
    done: int | None = None  # progress: `done` of `total`
    total: int | None = None
    tone: str = ""  # "", "warn" or "error"
    operation: str = ""  # an operation this fact offers, with these values
    values: Mapping[str, str] = field(default_factory=dict)


def clean_values(fields: tuple[FormField, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as their fields' types say (a date from "YYYY-MM-DD", a bool from a checkbox),
    every rule broken named by field; raises InvalidSpec."""
    known = {f.name: f for f in fields}
    errors = {k: "not an input of this operation" for k in values if k not in known}
    cleaned: dict[str, Any] = {}
    for f in fields:
        raw = values.get(f.name)
        if raw is None or raw == "" or (f.type != "bool" and isinstance(raw, str) and not raw.strip()):
            if f.required:
                errors[f.name] = "required"
            elif f.type == "bool":
                cleaned[f.name] = False
            continue
        try:
            cleaned[f.name] = _typed(f, raw)
        except ValueError as exc:
            errors[f.name] = str(exc)
    if errors:
        raise InvalidSpec(errors)
    return cleaned


def _typed(f: FormField, raw: Any) -> Any:
    if f.type == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("on", "true", "1", "yes"):
            return True
        if isinstance(raw, str) and raw.lower() in ("off", "false", "0", "no"):
            return False
        raise ValueError("must be true or false")
    if not isinstance(raw, str):
        raise ValueError("must be text")
    text = raw.strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"at most {MAX_TEXT} characters")
    if f.type == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError("must be a date, YYYY-MM-DD") from None
    if f.type == "choice" and text not in f.choices:
        raise ValueError(f"must be one of: {', '.join(f.choices)}")
    return text
