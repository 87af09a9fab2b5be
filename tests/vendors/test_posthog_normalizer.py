"""PostHog normalizers: every status string of both tables, intervals decided by their
newest attempt, billing and cancel wording, and arbitrary JSON never raising anything but
BadResponse."""

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendors.base import STATES, BadResponse, Observation, Target
from vendors.posthog.facts import export_facts
from vendors.posthog.normalize import (
    BACKFILLS_KEPT,
    JOB_STATES,
    RUN_STATES,
    backfill_info,
    export_info,
    group_intervals,
    normalize_interval,
    normalize_job,
    table_info,
)
from vendors.posthog.sim_exports import RUN_STATUSES
from vendors.posthog.sim_tables import JOB_STATUSES

from .test_mixpanel_normalizer import json_values

EXPORT = Target("batch_export", "0190-export")
TABLE = Target("warehouse_table", "0190-schema")


def run(status: str, start: str = "2026-11-20T10:00:00Z", created: str = "2026-11-20T11:00:01Z", **extra: Any):
    body = {
        "id": f"run-{status}-{created}",
        "status": status,
        "records_completed": 120,
        "records_failed": None,
        "records_total_count": 120,
        "bytes_exported": 4096,
        "latest_error": None,
        "data_interval_start": start,
        "data_interval_end": start.replace("T10", "T11"),
        "created_at": created,
        "finished_at": "2026-11-20T11:02:00Z",
        "batch_export": "0190-export",
        "backfill": None,
    }
    return {**body, **extra}


@pytest.mark.parametrize(
    ("status", "state", "kind"),
    [
        ("Starting", "queued", ""),
        ("Running", "running", ""),
        ("ContinuedAsNew", "running", ""),
        ("Completed", "succeeded", ""),
        ("Failed", "failed", "unknown"),
        ("FailedRetryable", "failed", "vendor"),
        ("FailedBilling", "failed", "config"),
        ("TimedOut", "failed", "timeout"),
        ("Terminated", "failed", "vendor"),
        ("Cancelled", "canceled", ""),
        ("SomethingNew", "unknown", ""),
    ],
)
def test_every_run_status(status: str, state: str, kind: str) -> None:
    obs = normalize_interval(EXPORT, [run(status, latest_error="boom" if kind else None)])
    assert (obs.state, obs.vendor_status) == (state, status)
    assert (obs.error.kind if obs.error else "") == kind
    if kind:
        assert obs.error.message == "boom" and obs.error.code == status


def test_the_run_table_is_exactly_posthogs_statuses() -> None:
    assert set(RUN_STATES) == set(RUN_STATUSES)  # the simulator's list, from BatchExportRun.Status


@pytest.mark.parametrize(
    ("status", "error", "rows", "state", "flags"),
    [
        ("Running", None, 10, "running", ()),
        ("Completed", None, 10, "succeeded", ()),
        ("Completed", None, 0, "succeeded", ("empty",)),
        ("Failed", "Stripe: 401", 0, "failed", ()),
        ("Failed", "Sync cancelled by user", 3, "canceled", ()),
        ("BillingLimitReached", None, 0, "failed", ()),
        ("BillingLimitTooLow", None, 0, "failed", ()),
        ("Billing limits", None, 0, "unknown", ()),  # the notes' wording: not what PostHog answers
    ],
)
def test_every_job_status(status: str, error: str | None, rows: int, state: str, flags: tuple[str, ...]) -> None:
    body = {
        "id": "job-1",
        "status": status,
        "rows_synced": rows,
        "latest_error": error,
        "created_at": "2026-11-20T10:00:00Z",
    }
    obs = normalize_job(TABLE, body)
    assert (obs.state, obs.flags, obs.counts) == (state, flags, {"rows": rows})
    if status.startswith("BillingLimit"):
        assert obs.error.kind == "config" and "billing limit" in obs.error.message


def test_the_job_table_is_exactly_posthogs_statuses() -> None:
    assert set(JOB_STATES) == set(JOB_STATUSES)


def test_an_interval_retried_is_one_run_decided_by_its_newest_attempt() -> None:
    failed = run("Failed", latest_error="S3: AccessDenied", records_completed=None)
    retried = run("Completed", created="2026-11-20T12:30:00Z", backfill="bf-1")
    other = run("Completed", start="2026-11-20T09:00:00Z", created="2026-11-20T10:00:01Z")
    grouped = group_intervals([retried, other, failed])  # newest first, as PostHog lists them
    assert list(grouped["2026-11-20T10:00:00Z/2026-11-20T11:00:00Z"]) == [failed, retried]
    obs = normalize_interval(EXPORT, grouped["2026-11-20T10:00:00Z/2026-11-20T11:00:00Z"])
    assert obs.state == "succeeded" and obs.error is None and obs.raw == {"attempts": [failed, retried]}
    assert obs.run_key == "2026-11-20T10:00:00Z/2026-11-20T11:00:00Z"
    assert obs.started_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    again = normalize_interval(EXPORT, [failed, run("Running", created="2026-11-20T12:30:00Z", records_completed=30)])
    assert again.state == "running" and again.flags == ("retrying",) and again.progress == 0.25
    only_failed = normalize_interval(EXPORT, [failed])
    assert only_failed.state == "failed" and only_failed.error.message == "S3: AccessDenied"


def test_counts_partial_and_empty_intervals() -> None:
    partial = normalize_interval(EXPORT, [run("Completed", records_failed=7)])
    assert partial.counts == {"rows": 120, "failed": 7, "total": 120, "bytes": 4096} and partial.flags == ("partial",)
    assert "7 records failed" in partial.error.message
    empty = normalize_interval(
        EXPORT, [run("Completed", records_completed=0, records_total_count=0, bytes_exported=None)]
    )
    assert empty.flags == ("empty",) and empty.state == "succeeded"
    billing = normalize_interval(EXPORT, [run("FailedBilling", records_completed=None)])
    assert "billing quota" in billing.error.message


def test_export_info_says_when_posthog_most_likely_paused_it() -> None:
    failing = {
        "paused": True,
        "interval": "hour",
        "latest_runs": [run("Failed")] * 10,
        "destination": {"type": "Snowflake"},
    }
    info = export_info(failing)
    assert info["destination"] == "Snowflake" and "by PostHog itself" in info["paused_reason"]
    by_hand = export_info({**failing, "latest_runs": [run("Completed")] * 10})
    assert by_hand["paused_reason"] == "by a person or through the API"
    assert export_info({**failing, "paused": False})["paused_reason"] == ""  # merged: an unpause clears it


def test_table_info() -> None:
    info = table_info({"status": "Paused", "should_sync": False, "sync_frequency": "6hour", "table": {"row_count": 5}})
    assert info["should_sync"] is False and info["row_count"] == 5 and info["status"] == "Paused"
    assert info["paused"] and info["paused_reason"] == "syncing this table is turned off in PostHog"
    running = table_info({"status": "Running", "should_sync": True})
    assert not running["paused"] and running["paused_reason"] == ""


@pytest.mark.parametrize(
    "body",
    [
        [{"status": "Completed"}],  # no interval
        [{"data_interval_end": "2026-11-20T11:00:00Z", "status": "Completed"}],  # no created_at
        [{**run("Completed"), "status": 7}],
        [run("Completed", records_completed=-1)],
        [run("Completed", records_completed="many")],
        {"results": []},
        ["not a run"],
    ],
)
def test_wrong_run_shapes_are_bad_responses(body: Any) -> None:
    with pytest.raises(BadResponse):
        for attempts in group_intervals(body).values():
            normalize_interval(EXPORT, attempts)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from([*sorted(run("Completed")), "status"]),
            json_values | st.sampled_from(sorted(RUN_STATES)) | st.just("2026-11-20T10:00:00Z"),
        ),
        max_size=4,
    )
    | json_values
)
def test_arbitrary_json_runs_give_observations_or_bad_response(body: Any) -> None:
    with contextlib.suppress(BadResponse):
        for attempts in group_intervals(body).values():
            _well_formed(normalize_interval(EXPORT, attempts))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["id", "status", "rows_synced", "latest_error", "created_at", "finished_at", "schema"]),
        json_values | st.sampled_from(sorted(JOB_STATES)),
    )
    | json_values
)
def test_arbitrary_json_jobs_and_infos_give_observations_or_bad_response(body: Any) -> None:
    with contextlib.suppress(BadResponse):
        _well_formed(normalize_job(TABLE, body))
    for info in (export_info, table_info):
        with contextlib.suppress(BadResponse):
            assert isinstance(info(body), dict)


def _well_formed(obs: Observation) -> None:
    """What the rest of Pipewatch relies on in any observation, whatever the vendor sent."""
    assert isinstance(obs, Observation) and obs.state in STATES
    assert obs.progress is None or 0 <= obs.progress <= 1
    assert all(isinstance(n, int) and n >= 0 for n in obs.counts.values()), obs.counts


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["id", "status", "start_at", "end_at", "created_at", "finished_at", "progress"]),
            json_values
            | st.sampled_from(["Starting", "Running", "Completed", "Failed", "Cancelled"])
            | st.fixed_dictionaries({"finished_runs": json_values, "total_runs": json_values}),
        ),
        max_size=8,
    )
    | json_values
)
def test_arbitrary_json_backfills_give_facts_or_bad_response(body: Any) -> None:
    """Backfills go on through the page's facts: whatever PostHog sends, facts or a BadResponse."""
    with contextlib.suppress(BadResponse):
        kept = backfill_info(body)
        assert len(kept) <= max(BACKFILLS_KEPT, sum(1 for b in kept if b["status"] in ("Starting", "Running")))
        facts = export_facts({"backfills": kept})
        assert all(f.total is None or f.total > 0 for f in facts)


def test_backfills_keep_the_running_ones_first_then_the_newest() -> None:
    rows = [{"id": str(i), "status": "Completed", "progress": {"finished_runs": 2, "total_runs": 2}} for i in range(7)]
    rows[6] = {"id": "old-running", "status": "Running", "progress": {"finished_runs": 1, "total_runs": 4}}
    kept = backfill_info(rows)
    assert [b["id"] for b in kept] == ["old-running", "0", "1", "2", "3"]
    fact = export_facts({"backfills": kept})[0]
    assert (fact.value, fact.done, fact.total, fact.operation) == (
        "Running · 1 of 4 intervals",
        1,
        4,
        "cancel-backfill",
    )
    assert export_facts({"backfills": kept})[1].operation == ""  # a finished one cannot be cancelled
