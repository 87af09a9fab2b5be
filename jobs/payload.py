"""The structured alert, schema "pipewatch.alert/1": what a JSON webhook receives.

Built once when the event happens and stored on the `AlertEvent`, so every delivery and
retry carries the same facts. Fields are only ever added within a schema version; a
renamed or removed field makes "pipewatch.alert/2".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from vendors.base import FAILED as RUN_FAILED
from vendors.base import ErrorKind

from .failures import hint_for
from .models import Pipeline, Team
from .vocabulary import SEVERITY, Condition

SCHEMA = "pipewatch.alert/1"


def severity(kind: str) -> str:
    return SEVERITY.get(kind, "info")


def _iso(value: datetime | None) -> str | None:
    """UTC with a Z, as the API writes times."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def team_json(team: Team | None) -> dict[str, str] | None:
    return {"slug": team.slug, "name": team.name} if team is not None else None


def _link(name: str, uuid: object) -> str:
    return settings.SITE_URL + reverse(name, args=[uuid])


def build(
    pipeline: Pipeline, kind: str, at: datetime, title: str, message: str, since: datetime | None
) -> dict[str, Any]:
    """The payload of one event; `pipeline` has its account, current run and health derived.
    `since`: when the incident began (for a recovery, the one it ends)."""
    run = pipeline.current_run
    missing = sorted(pipeline.missing_days)
    failed_run: dict[str, Any] | None = None
    if kind in (Condition.FAILED, Condition.PARTIAL) and run is not None and run.state == RUN_FAILED:
        failed_run = {"id": str(run.uuid), "key": run.external_id, "code": run.error_code}
        failed_run |= {"message": run.error_message, "error_kind": run.error_kind}
    elif kind == Condition.FAILED and missing:  # the oldest day that has not landed
        day = pipeline.missing_days[missing[0]]
        failed_run = {"id": day.get("run"), "key": missing[0], "code": day.get("code", "")}
        failed_run |= {"message": day.get("message", ""), "error_kind": day.get("kind", "")}
    elif kind == Condition.FAILED and run is not None and run.is_empty:  # empty counts as failed here
        failed_run = {"id": str(run.uuid), "key": run.external_id, "code": run.vendor_status}
        failed_run |= {"message": pipeline.health().reason, "error_kind": ErrorKind.EMPTY}
    error = None
    if failed_run is not None:
        error_kind = failed_run["error_kind"] or ErrorKind.VENDOR
        error = {
            "vendor_code": failed_run["code"],
            "vendor_message": failed_run["message"],
            "kind": error_kind,
            "hint": hint_for(error_kind, failed_run["message"], pipeline),
        }
    elif kind in (Condition.STUCK, Condition.LATE):
        error = {"vendor_code": "", "vendor_message": "", "kind": kind, "hint": hint_for(kind, "", pipeline)}
    elif kind == Condition.CREDENTIALS:
        account = pipeline.account
        error = {
            "vendor_code": str(account.poll_error_status or ""),
            "vendor_message": account.poll_error_message,
            "kind": account.poll_error_kind,
            "hint": hint_for(account.poll_error_kind, account.poll_error_message),
        }
    shown_run = failed_run["id"] if failed_run else (str(run.uuid) if run is not None else None)
    return {
        "schema": SCHEMA,
        "event": kind,
        "severity": severity(kind),
        "at": _iso(at),
        "title": title,
        "message": message,
        "health": pipeline.health_status,
        "since": _iso(since),
        "pipeline": {
            "id": str(pipeline.uuid),
            "name": pipeline.display_name,
            "kind": pipeline.kind,
            "external_id": pipeline.external_id,
            "url": _link("pipeline", pipeline.uuid),
        },
        "vendor": pipeline.account.vendor,
        "vendor_label": pipeline.account.vendor_label,
        "account": {"id": str(pipeline.account.uuid), "name": pipeline.account.name},
        # The owning team (the pipeline's, else its account's); null when none is set.
        "team": team_json(pipeline.owning_team),
        "run": None
        if shown_run is None
        else {
            "id": shown_run,
            "key": failed_run["key"] if failed_run else run.external_id,  # type: ignore[union-attr]
            "url": _link("run", shown_run),
        },
        "error": error,
        "missing_days": missing,
    }
