"""What PostHog says about an export or a table, worded for the pipeline page (its Facts),
and the schedule it keeps (the cadence a success is expected at)."""

from __future__ import annotations

import re
from typing import Any

from ..base import FAILED
from ..operations import Fact
from .normalize import ACTIVE, BILLING_MESSAGES, RUN_STATES

INTERVALS = {"hour": 3600, "day": 86400, "week": 604800, "every 5 minutes": 300, "every 15 minutes": 900}
_FREQUENCY = re.compile(r"^(\d{1,3})\s*(min|hour|day)s?$")
_UNIT = {"min": 60, "hour": 3600, "day": 86400}
FAILED_TABLE = ("Failed", *BILLING_MESSAGES)


def sync_seconds(frequency: Any) -> int | None:
    """PostHog's sync_frequency ("5min", "6hour", "30day") in seconds."""
    match = _FREQUENCY.match(frequency.strip()) if isinstance(frequency, str) else None
    return int(match[1]) * _UNIT[match[2]] if match and int(match[1]) > 0 else None


def _when(value: Any) -> str:
    """PostHog's ISO time, to the minute ("2026-11-30 07:47 UTC"); anything else as it came."""
    text = str(value)
    # "YYYY-MM-DDTHH:MM" and at least a "Z": 17 characters
    if len(text) >= 17 and text[10] == "T" and text.endswith(("Z", "+00:00")):
        return f"{text[:10]} {text[11:16]} UTC"
    return text


def _every(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"every {unit}" if n == 1 else f"every {n} {unit}s"
    return f"every {seconds} s"


def paused_fact(info: dict[str, Any]) -> list[Fact]:
    if info.get("paused") is not True:
        return []
    reason = str(info.get("paused_reason") or "")
    return [Fact("Paused at PostHog", reason or "yes", tone="error" if "itself" in reason else "warn")]


def export_facts(info: dict[str, Any]) -> list[Fact]:
    facts = paused_fact(info)
    interval = info.get("interval")
    if isinstance(interval, str) and interval:
        facts.append(Fact("Interval", _every(INTERVALS[interval]) if interval in INTERVALS else interval))
    for key, label in (("model", "Model"), ("destination", "Destination")):
        if info.get(key):
            facts.append(Fact(label, str(info[key])))
    if info.get("last_paused_at"):
        facts.append(Fact("Last paused", _when(info["last_paused_at"])))
    for backfill in info.get("backfills") or []:
        if isinstance(backfill, dict):
            facts.append(backfill_fact(backfill))
    return facts


def backfill_fact(backfill: dict[str, Any]) -> Fact:
    done, total, status = backfill.get("finished_runs"), backfill.get("total_runs"), str(backfill.get("status") or "")
    value = status or "unknown"
    if isinstance(done, int) and isinstance(total, int) and total:
        value += f" · {done} of {total} intervals"
    active = status in ACTIVE
    return Fact(
        f"Backfill {_when(backfill.get('start_at') or '?')} → {_when(backfill.get('end_at') or '?')}",
        value,
        note=f"created {_when(backfill['created_at'])}" if backfill.get("created_at") else "",
        done=done if active and isinstance(done, int) else None,
        total=total if active and isinstance(total, int) and total > 0 else None,  # no bar of 0 intervals
        tone="error" if RUN_STATES.get(status, ("",))[0] == FAILED else "",
        operation="cancel-backfill" if active and backfill.get("id") else "",
        values={"backfill_id": str(backfill.get("id") or "")} if active else {},
    )


def table_facts(info: dict[str, Any]) -> list[Fact]:
    facts = paused_fact(info)
    status = str(info.get("status") or "")
    if status:
        facts.append(
            Fact(
                "Status", status, note=BILLING_MESSAGES.get(status, ""), tone="error" if status in FAILED_TABLE else ""
            )
        )
    if info.get("should_sync") is not False and (seconds := sync_seconds(info.get("sync_frequency"))):
        facts.append(Fact("Syncs", _every(seconds)))
    if info.get("sync_type"):
        facts.append(Fact("Sync type", str(info["sync_type"]).replace("_", " ")))
    if info.get("last_synced_at"):
        facts.append(Fact("Last synced", _when(info["last_synced_at"])))
    if isinstance(info.get("row_count"), int):
        facts.append(Fact("Rows in the table", f"{info['row_count']:,}"))
    if info.get("latest_error"):
        facts.append(Fact("Latest error", str(info["latest_error"]), tone="error"))
    return facts
