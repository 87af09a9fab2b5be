"""Small display helpers: icons and labels so colour is never the only signal."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone
from django.utils.html import format_html

from jobs.actions import available, operations
from jobs.actions import run_operations as actions_run_operations
from jobs.actions import vendor_facts as jobs_vendor_facts
from jobs.vocabulary import HealthStatus
from vendors.operations import Fact, Operation
from vendors.registry import VENDORS

register = template.Library()

# health/state -> (symbol, label): the symbol and text carry the meaning, colour repeats it.
_HEALTH_SYMBOLS = {
    HealthStatus.HEALTHY: "✓",
    HealthStatus.RUNNING: "▶",
    HealthStatus.FAILING: "✕",
    HealthStatus.STUCK: "⚠",
    HealthStatus.LATE: "◔",
    HealthStatus.PAUSED: "Ⅱ",
    HealthStatus.UNKNOWN: "?",
}
_SYMBOLS = {
    **{health.value: (symbol, health.label) for health, symbol in _HEALTH_SYMBOLS.items()},
    "succeeded": ("✓", "Succeeded"),
    "queued": ("…", "Queued"),
    "failed": ("✕", "Failed"),
    "canceled": ("⊘", "Canceled"),
}

COUNT_LABELS = {
    "total": "total",
    "processed": "processed",
    "succeeded": "imported",
    "failed": "failed",
    "dropped": "dropped",
    "files": "files",
    "bytes": "size",
    "rows": "rows",
}


@register.simple_tag
def pill(status: str) -> str:
    symbol, label = _SYMBOLS.get(status, ("?", status.title()))
    return format_html('<span class="pill pill-{}"><span aria-hidden="true">{}</span> {}</span>', status, symbol, label)


@register.filter
def count_items(counts: dict[str, int] | None) -> list[tuple[str, str]]:
    """[(label, formatted value)] in a fixed order, only for counts the vendor gave."""
    if not counts:
        return []
    out = []
    for key, label in COUNT_LABELS.items():
        if key in counts:
            value = counts[key]
            out.append((label, _bytes(value) if key == "bytes" else f"{value:,}"))
    return out


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


@register.filter
def available_actions(pipeline: Any) -> list[str]:
    """The actions valid for this pipeline now (jobs.actions.available)."""
    return available(pipeline)


@register.filter
def pipeline_operations(pipeline: Any) -> list[Operation]:
    """The kind's own pipeline-wide operations offered now (jobs.actions.operations)."""
    return operations(pipeline)


@register.filter
def operation_named(pipeline: Any, name: str) -> Operation | None:
    """One of the kind's operations by name, when the pipeline can take it now."""
    cls = VENDORS.get(pipeline.account.vendor)
    return None if cls is None or pipeline.canceled_at else cls.operation(pipeline.kind, name)


@register.filter
def run_operations(run: Any, pipeline: Any) -> list[Operation]:
    """The kind's operations that apply to this run's state (retry a failed interval)."""
    return actions_run_operations(pipeline, run)


@register.filter
def vendor_facts(pipeline: Any) -> list[Fact]:
    """What the vendor reports about the pipeline, as its adapter words it."""
    return jobs_vendor_facts(pipeline)


@register.filter
def age(value: datetime | None) -> str:
    """How long ago, as people say it: Django's "3 hours ago" up to 60 days, then "4 months
    ago" or "6 years ago" (never "2266 days ago"); the exact time stays in the title."""
    if value is None:
        return ""
    days = (timezone.now() - value).days
    if days < 60:
        return naturaltime(value)
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"
