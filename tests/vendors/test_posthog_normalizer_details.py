"""PostHog normalizer details the broad tests leave open (found by `make mutation`): what a bad
answer's message names, whole observations and infos field by field, defaults of absent fields,
and the edges of progress, retries and the "paused by PostHog itself" guess."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from vendors.base import BadResponse, Observation, RunError
from vendors.posthog.normalize import (
    backfill_info,
    export_info,
    group_intervals,
    interval_key,
    normalize_interval,
    normalize_job,
    table_info,
)

from .test_posthog_normalizer import EXPORT, TABLE

START, END = "2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z"


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, second, tzinfo=UTC)


def run(status: str = "Completed", **extra: Any) -> dict[str, Any]:
    body = {
        "id": "run-1",
        "status": status,
        "data_interval_start": START,
        "data_interval_end": END,
        "created_at": "2026-11-20T11:00:01Z",
    }
    return {**body, **extra}


def job(status: str = "Completed", **extra: Any) -> dict[str, Any]:
    return {"id": "job-1", "status": status, "created_at": "2026-11-20T10:00:00Z", **extra}


def refusal(fn, *args) -> str:
    with pytest.raises(BadResponse) as caught:
        fn(*args)
    return str(caught.value)


# --- what a bad answer's message says ----------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "args", "message"),
    [
        (group_intervals, ({"results": []},), "unexpected shape: runs should be a list, got dict"),
        (group_intervals, ([run(), "x"],), "unexpected shape: runs[1] should be a dict, got str"),
        (
            group_intervals,
            ([{"status": "Completed"}],),
            "unexpected shape: a batch export run without data_interval_end",
        ),
        (
            group_intervals,
            ([{"data_interval_end": END}],),
            "unexpected shape: a batch export run without created_at",
        ),
        (group_intervals, ([run(created_at="soon")],), "created_at: unreadable timestamp 'soon'"),
        (normalize_interval, (EXPORT, []), "an interval needs at least one run"),
        (normalize_interval, (EXPORT, ["x"]), "unexpected shape: run should be a dict, got str"),
        (normalize_interval, (EXPORT, [run(status=7)]), "status: expected a string, got int"),
        (
            normalize_interval,
            (EXPORT, [run(records_completed="many")]),
            "run.records_completed: expected a number, got 'many'",
        ),
        (
            normalize_interval,
            (EXPORT, [run(data_interval_start="soon")]),
            "data_interval_start: unreadable timestamp 'soon'",
        ),
        (
            normalize_interval,
            (EXPORT, [run(data_interval_start=None, created_at="soon")]),
            "created_at: unreadable timestamp 'soon'",
        ),
        (normalize_interval, (EXPORT, [run(finished_at="soon")]), "finished_at: unreadable timestamp 'soon'"),
        (normalize_job, (TABLE, []), "unexpected shape: sync job should be a dict, got list"),
        (normalize_job, (TABLE, job(id=" ")), "unexpected shape: a sync job without id"),
        (normalize_job, (TABLE, job(rows_synced="x")), "rows_synced: expected a number, got 'x'"),
        (normalize_job, (TABLE, job(created_at="soon")), "created_at: unreadable timestamp 'soon'"),
        (normalize_job, (TABLE, job(finished_at="soon")), "finished_at: unreadable timestamp 'soon'"),
        (export_info, ("x",), "unexpected shape: batch export should be a dict, got str"),
        (table_info, (3,), "unexpected shape: warehouse table should be a dict, got int"),
        (table_info, ({"table": {"row_count": "x"}},), "table.row_count: expected a number, got 'x'"),
        (backfill_info, ({},), "unexpected shape: backfills should be a list, got dict"),
        (backfill_info, ([{}, 4],), "unexpected shape: backfills[1] should be a dict, got int"),
        (
            backfill_info,
            ([{}, {"progress": {"finished_runs": "x"}}],),
            "backfills[1].progress.finished_runs: expected a number, got 'x'",
        ),
        (
            backfill_info,
            ([{"progress": {"total_runs": -1}}],),
            "backfills[0].progress.total_runs: negative count -1",
        ),
    ],
)
def test_a_bad_answer_names_what_is_wrong(fn, args, message) -> None:
    assert refusal(fn, *args) == message


# --- intervals -----------------------------------------------------------------------------


def test_an_interval_without_a_start_is_keyed_by_its_end_alone() -> None:
    assert interval_key({"data_interval_start": " ", "data_interval_end": END}) == f"-/{END}"
    assert interval_key({"data_interval_start": START, "data_interval_end": END}) == f"{START}/{END}"


def test_attempts_made_in_the_same_second_are_ordered_by_id() -> None:
    b, a = run(id="run-b"), run(id="run-a")
    assert group_intervals([b, a]) == {f"{START}/{END}": [a, b]}


def test_a_finished_interval_observation_field_by_field() -> None:
    body = run(
        records_completed=1200,
        records_failed=0,
        records_total_count=1200,
        bytes_exported=4096,
        finished_at="2026-11-20T11:02:00Z",
    )
    assert normalize_interval(EXPORT, [body]) == Observation(
        target=EXPORT,
        run_key=f"{START}/{END}",
        state="succeeded",
        vendor_status="Completed",
        progress=1.0,
        counts={"rows": 1200, "failed": 0, "total": 1200, "bytes": 4096},
        started_at=at(10),
        finished_at=at(11, 2),
        error=None,
        flags=(),
        raw=body,  # one attempt: the vendor's row itself
    )


def test_an_interval_without_a_start_started_when_its_run_was_created() -> None:
    obs = normalize_interval(EXPORT, [run(data_interval_start=None)])
    assert obs.started_at == at(11, 0, 1) and obs.finished_at is None and obs.run_key == f"-/{END}"


def test_a_single_running_attempt_is_not_retrying() -> None:
    obs = normalize_interval(EXPORT, [run("Running")])
    assert obs.flags == () and obs.progress is None  # no total: no progress to show


@pytest.mark.parametrize(
    ("rows", "total", "progress"),
    [(None, 100, 0.0), (25, 100, 0.25), (150, 100, 1.0), (10, 0, None)],
)
def test_a_running_intervals_progress(rows: int | None, total: int, progress: float | None) -> None:
    obs = normalize_interval(EXPORT, [run("Running", records_completed=rows, records_total_count=total)])
    assert obs.progress == progress


def test_a_failed_interval_without_a_message_says_what_posthog_said() -> None:
    assert normalize_interval(EXPORT, [run("Failed")]).error == RunError(
        message="PostHog says Failed", code="Failed", kind="unknown"
    )
    assert normalize_interval(EXPORT, [run("FailedBilling", latest_error=" ")]).error == RunError(
        message="PostHog did not export this interval: the organization is over its billing quota",
        code="FailedBilling",
        kind="config",
    )


def test_a_completed_interval_with_failed_records_is_a_config_error() -> None:
    obs = normalize_interval(EXPORT, [run(records_completed=5000, records_failed=1234)])
    assert obs.error == RunError(message="1,234 records failed to export", code="", kind="config")
    assert obs.flags == ("partial",)


def test_a_run_without_a_status_is_unknown_with_no_status_kept() -> None:
    obs = normalize_interval(EXPORT, [run(status=None)])
    assert (obs.state, obs.vendor_status, obs.error) == ("unknown", "", None)


# --- warehouse sync jobs -------------------------------------------------------------------


def test_a_finished_sync_job_observation_field_by_field() -> None:
    body = job(rows_synced=42, finished_at="2026-11-20T10:05:00Z")
    assert normalize_job(TABLE, body) == Observation(
        target=TABLE,
        run_key="job-1",
        state="succeeded",
        vendor_status="Completed",
        progress=1.0,
        counts={"rows": 42},
        started_at=at(10),
        finished_at=at(10, 5),
        error=None,
        flags=(),
        raw=body,
    )


def test_a_running_sync_job_has_no_progress_and_no_counts_yet() -> None:
    obs = normalize_job(TABLE, job("Running"))
    assert (obs.progress, obs.counts, obs.error, obs.finished_at) == (None, {}, None, None)


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        ("Failed", None, RunError(message="PostHog says Failed", code="Failed", kind="unknown")),
        ("Failed", "Stripe: 401", RunError(message="Stripe: 401", code="Failed", kind="unknown")),
        (
            "BillingLimitTooLow",
            None,
            RunError(
                message="PostHog stopped the sync: the billing limit is too low for this table's rows",
                code="BillingLimitTooLow",
                kind="config",
            ),
        ),
    ],
)
def test_a_failed_sync_jobs_error(status: str, message: str | None, error: RunError) -> None:
    obs = normalize_job(TABLE, job(status, latest_error=message))
    assert (obs.state, obs.error, obs.progress) == ("failed", error, None)


def test_a_sync_job_cancelled_by_a_person_is_canceled_without_an_error() -> None:
    obs = normalize_job(TABLE, job("Failed", latest_error="Sync Cancelled By User"))
    assert (obs.state, obs.vendor_status, obs.error) == ("canceled", "Failed", None)


# --- pipeline-level infos ----------------------------------------------------------------


def test_export_info_field_by_field() -> None:
    body = {
        "interval": "hour",
        "model": "events",
        "destination": {"type": "S3"},
        "paused": False,
        "last_paused_at": "2026-11-19T08:00:00Z",
    }
    assert export_info(body) == {
        "interval": "hour",
        "model": "events",
        "destination": "S3",
        "paused": False,
        "last_paused_at": "2026-11-19T08:00:00Z",
        "paused_reason": "",
    }
    bare = {"interval": "", "model": "", "destination": "", "paused": False, "last_paused_at": ""}
    assert export_info({"destination": "S3", "paused": "yes"}) == {**bare, "paused_reason": ""}


@pytest.mark.parametrize(
    ("failed", "reason"),
    [
        (5, "most likely by PostHog itself: 5 of its 10 latest runs failed, "),
        (4, "by a person or through the API"),
    ],
)
def test_posthog_paused_it_when_half_its_latest_runs_failed(failed: int, reason: str) -> None:
    runs = [run("Failed")] * failed + [run("Completed")] * (10 - failed)
    info = export_info({"paused": True, "latest_runs": runs})
    assert info["paused_reason"].startswith(reason)


def test_posthog_pausing_an_export_is_explained_in_full() -> None:
    runs = [run("TimedOut"), run("Terminated"), run("SomethingNew"), {"status": 3}, "x"]
    assert export_info({"paused": True, "latest_runs": runs})["paused_reason"] == (
        "most likely by PostHog itself: 2 of its 4 latest runs failed, "
        "and PostHog pauses an export after ten failures in fifty runs"
    )


@pytest.mark.parametrize("latest", [None, {"status": "Failed"}, []])
def test_a_paused_export_without_a_list_of_latest_runs_was_paused_by_a_person(latest: Any) -> None:
    body = {"paused": True} if latest is None else {"paused": True, "latest_runs": latest}
    assert export_info(body)["paused_reason"] == "by a person or through the API"


def test_table_info_field_by_field() -> None:
    body = {
        "status": "Completed",
        "should_sync": True,
        "sync_type": "incremental",
        "sync_frequency": "6hour",
        "last_synced_at": "2026-11-20T09:00:00Z",
        "table": {"row_count": 1500},
        "latest_error": "  ",
    }
    assert table_info(body) == {
        "status": "Completed",
        "should_sync": True,
        "paused": False,
        "paused_reason": "",
        "sync_type": "incremental",
        "sync_frequency": "6hour",
        "last_synced_at": "2026-11-20T09:00:00Z",
        "row_count": 1500,
        "latest_error": "",
    }
    failing = table_info({"status": 7, "latest_error": "Stripe: 401", "table": "x"})
    assert (failing["status"], failing["latest_error"], failing["row_count"]) == ("", "Stripe: 401", None)


def test_a_table_paused_at_posthog_is_paused_though_it_should_sync() -> None:
    info = table_info({"status": "Paused", "should_sync": True})
    assert (info["paused"], info["paused_reason"]) == (True, "")


def test_backfill_info_field_by_field() -> None:
    row = {
        "id": "bf-1",
        "status": "Completed",
        "start_at": "2026-11-01T00:00:00Z",
        "end_at": "2026-11-02T00:00:00Z",
        "created_at": "2026-11-20T09:00:00Z",
        "finished_at": "2026-11-20T09:30:00Z",
        "progress": {"finished_runs": 24, "total_runs": 24},
    }
    assert backfill_info([row, {"id": 7, "progress": "x"}]) == [
        {**{k: v for k, v in row.items() if k != "progress"}, "finished_runs": 24, "total_runs": 24},
        {
            "id": "7",
            "status": "",
            "start_at": "",
            "end_at": "",
            "created_at": "",
            "finished_at": "",
            "finished_runs": None,
            "total_runs": None,
        },
    ]
