"""What a poll of a PostHog project learns, as Observations and TargetResults, whatever
engine asks: batch exports (one pipeline each, runs = data intervals) and warehouse
tables (one pipeline each, runs = sync jobs), and discovery of both.

How far back to ask: PostHog lists runs of the last 7 days unless `after` says otherwise,
so the caller passes `since` (the first poll of a pipeline asks for HISTORY, later polls
for the oldest open interval or LOOKBACK, whichever is older). A failed interval that is
retried a month later still shows up: the retry is a new row created now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..base import BadResponse, NotFound, Target, TargetResult
from ..normalizing import expect
from ..timeparse import parse_time
from .normalize import backfill_info, export_info, group_intervals, normalize_interval, normalize_job, table_info
from .session import PostHogSession

BATCH_EXPORT = "batch_export"
WAREHOUSE_TABLE = "warehouse_table"
HISTORY = timedelta(days=30)  # a newly found pipeline's past
LOOKBACK = timedelta(days=2)  # a known pipeline: late retries of recent intervals
EARLIER_PAGES = 3  # per poll, for the earlier attempts of intervals retried long after


def table_id(source_id: str, schema_id: str) -> str:
    """A table's pipeline id: its source and its schema (PostHog lists jobs by source)."""
    return f"{source_id}/{schema_id}"


def split_table_id(external_id: str) -> tuple[str, str]:
    source_id, _, schema_id = external_id.partition("/")
    if not source_id or not schema_id:
        raise BadResponse(f"warehouse table id {external_id!r} is not <source id>/<schema id>")
    return source_id, schema_id


def since_for(target: Target, now: datetime, first: bool) -> datetime:
    """How far back to ask: HISTORY the first time, else LOOKBACK or the oldest open interval."""
    if first:
        return now - HISTORY
    oldest = now - LOOKBACK
    for key in target.open_runs:
        start = key.partition("/")[0]
        try:
            when = parse_time(start, "open interval") if start and start != "-" else None
        except BadResponse:
            when = None
        if when is not None and when < oldest:
            oldest = when
    return oldest - timedelta(hours=1)


def observe_export(session: PostHogSession, target: Target, since: datetime) -> TargetResult:
    try:
        export = session.export(target.external_id)
    except NotFound as exc:
        return TargetResult(target, error=exc, http_status=exc.http_status)
    intervals = with_earlier_attempts(
        session, target.external_id, group_intervals(session.runs(target.external_id, after=_iso(since))), since
    )
    observations = [normalize_interval(target, attempts) for attempts in intervals.values()]
    info = {**export_info(export), "backfills": backfill_info(session.recent_backfills(target.external_id))}
    return TargetResult(target, observations, info=info, name=str(export.get("name") or ""))


def with_earlier_attempts(
    session: PostHogSession, export_id: str, intervals: dict[str, list[dict[str, Any]]], since: datetime
) -> dict[str, list[dict[str, Any]]]:
    """An interval that ended before `since` shows up when it was retried or backfilled lately:
    the listing (by creation time) holds only its new attempts. Its earlier ones are asked for
    by interval order from its start, a page at a time (EARLIER_PAGES at most), so the run
    keeps every attempt (ADR 16); the newest decides either way."""
    old = {key: start for key in intervals if (start := _edge(key, 0)) and (_edge(key, 1) or since) < since}
    for _ in range(EARLIER_PAGES):
        if not old:
            break
        first = min(old.values())
        page = session.runs_page(export_id, after=_iso(first - timedelta(hours=1)), ordering="data_interval_start")
        found = group_intervals(page)
        for key in [k for k in old if k in found or old[k] == first]:
            seen = {str(a.get("id")) for a in intervals[key]}
            earlier = [a for a in found.get(key, []) if str(a.get("id")) not in seen]
            intervals[key] = group_intervals(earlier + intervals[key])[key]  # oldest first again
            del old[key]
    return intervals


def _edge(key: str, end: int) -> datetime | None:
    """An interval key's start (0) or end (1), None when it has none."""
    text = key.split("/")[end] if key.count("/") == 1 else ""
    try:
        return parse_time(text, "interval edge") if text and text != "-" else None
    except BadResponse:
        return None


def observe_table(session: PostHogSession, target: Target, since: datetime) -> TargetResult:
    source_id, schema_id = split_table_id(target.external_id)
    try:
        schema = session.schema(schema_id)
    except NotFound as exc:
        return TargetResult(target, error=exc, http_status=exc.http_status)
    jobs = session.jobs(source_id, schema_id, after=_iso(since))
    observations = [normalize_job(target, job) for job in jobs]
    return TargetResult(target, observations, info=table_info(schema), name=str(schema.get("name") or ""))


def discover_exports(session: PostHogSession) -> list[TargetResult]:
    """Every batch export of the project, named as PostHog names it."""
    return [
        TargetResult(Target(BATCH_EXPORT, str(e["id"])), info=export_info(e), name=str(e.get("name") or e["id"]))
        for e in session.exports()
        if e.get("id")
    ]


def discover_tables(session: PostHogSession) -> list[TargetResult]:
    """Every warehouse table of every source, named "<source type> <table>"."""
    found = []
    for source in session.sources():
        kind = str(source.get("source_type") or "source")
        for schema in expect(source.get("schemas") or [], list, "source schemas"):
            if isinstance(schema, dict) and schema.get("id") and source.get("id"):
                target = Target(WAREHOUSE_TABLE, table_id(str(source["id"]), str(schema["id"])))
                name = f"{kind} {schema.get('name') or ''}".strip()
                found.append(TargetResult(target, info=table_info(schema), name=name))
    return found


def discover(session: PostHogSession) -> list[TargetResult]:
    return discover_exports(session) + discover_tables(session)


def check(session: PostHogSession) -> str:
    """Read-only, with the scopes polling needs: the exports list and the sources list."""
    exports = session.exports()
    sources = session.sources()
    tables = sum(len(expect(s.get("schemas") or [], list, "source schemas")) for s in sources)
    return f"authenticated: {len(exports)} batch exports and {tables} warehouse tables in this project"


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
