"""Every status string PostHog's models define, written out by hand from its code (VENDORS.md
section 7 [PH2, PH3]: BatchExportRun.Status, BatchExportBackfill.Status, ExternalDataJob.Status,
ExternalDataSchema.Status, ExternalDataSource.Status), not taken from our tables: the mapping
tables cover exactly them, each one reads as the contract says wherever it appears, and the
simulator answers no status PostHog does not have."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from vendors.base import FAILED, Target
from vendors.posthog.normalize import JOB_STATES, RUN_STATES, export_info, normalize_interval, normalize_job, table_info
from vendors.posthog.sim_demo import demo_project
from vendors.posthog.sim_exports import RUN_STATUSES
from vendors.posthog.sim_tables import JOB_STATUSES

from ..conftest import T0

RUN = (
    "Cancelled",
    "Completed",
    "ContinuedAsNew",
    "Failed",
    "FailedRetryable",
    "FailedBilling",
    "Terminated",
    "TimedOut",
    "Running",
    "Starting",
)
BACKFILL = tuple(s for s in RUN if s != "FailedBilling")
JOB = ("Running", "Failed", "Completed", "BillingLimitReached", "BillingLimitTooLow")
SCHEMA = ("Running", "Paused", "Failed", "Completed", "BillingLimitReached", "BillingLimitTooLow")
SOURCE = ("Running", "Paused", "Error", "Completed", "Cancelled")
# VENDORS.md section 7's table, by hand: (state, error kind)
RUN_CONTRACT = {
    "Starting": ("queued", ""),
    "Running": ("running", ""),
    "ContinuedAsNew": ("running", ""),
    "Completed": ("succeeded", ""),
    "Failed": ("failed", "unknown"),
    "FailedRetryable": ("failed", "vendor"),
    "FailedBilling": ("failed", "config"),
    "TimedOut": ("failed", "timeout"),
    "Terminated": ("failed", "vendor"),
    "Cancelled": ("canceled", ""),
}
EXPORT = Target("batch_export", "e")
TABLE = Target("warehouse_table", "s/t")


def run(status: Any, created: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"run-{created}",
        "status": status,
        "records_completed": 40,
        "records_total_count": 80,
        "data_interval_start": "2026-11-20T10:00:00Z",
        "data_interval_end": "2026-11-20T11:00:00Z",
        "created_at": created,
        **extra,
    }


def test_the_tables_cover_exactly_posthogs_statuses() -> None:
    assert set(RUN_STATES) == set(RUN) == set(RUN_CONTRACT) and len(RUN) == 10
    assert set(JOB_STATES) == set(JOB)
    assert set(RUN_STATUSES) == set(RUN) and set(JOB_STATUSES) == set(JOB)  # what the simulator may answer


@pytest.mark.parametrize("status", RUN)
def test_every_run_status_as_the_newest_attempt_of_a_retried_interval(status: str) -> None:
    failed = run("Failed", "2026-11-20T11:00:01Z", latest_error="S3: AccessDenied")
    newest = run(status, "2026-11-20T12:30:00Z", latest_error="boom", backfill="bf-1")
    obs = normalize_interval(EXPORT, [failed, newest])
    state, kind = RUN_CONTRACT[status]
    assert (obs.state, obs.vendor_status) == (state, status)
    assert (obs.error.kind if obs.error else "") == kind
    assert ("retrying" in obs.flags) == (state in ("queued", "running"))
    assert obs.raw == {"attempts": [failed, newest]}
    assert obs.progress == {"succeeded": 1.0, "running": 0.5}.get(state)


@pytest.mark.parametrize("status", RUN)
def test_a_paused_export_says_posthog_paused_it_when_its_latest_runs_failed(status: str) -> None:
    info = export_info({"paused": True, "latest_runs": [run(status, "2026-11-20T11:00:01Z")] * 10})
    by_posthog = "most likely by PostHog itself" in info["paused_reason"]
    assert by_posthog == (RUN_CONTRACT[status][0] == FAILED)


@pytest.mark.parametrize("status", JOB)
@pytest.mark.parametrize("error", [None, "Stripe: 401 Unauthorized", "Sync cancelled by user"])
def test_every_job_status(status: str, error: str | None) -> None:
    body = {
        "id": "job-1",
        "status": status,
        "rows_synced": 0,
        "latest_error": error,
        "created_at": "2026-11-20T10:00:00Z",
    }
    obs = normalize_job(TABLE, body)
    state, kind = JOB_STATES[status]
    if state == FAILED and error == "Sync cancelled by user":
        state, kind = "canceled", ""  # PostHog writes a user's cancel as Failed
    assert (obs.state, obs.vendor_status, obs.error.kind if obs.error else "") == (state, status, kind)
    assert obs.flags == (("empty",) if state == "succeeded" else ())
    if status.startswith("BillingLimit") and error is None:
        assert "billing limit" in obs.error.message.lower()


@pytest.mark.parametrize("status", [*SCHEMA, None, 7])
def test_every_table_status_is_kept_as_posthog_sent_it(status: Any) -> None:
    info = table_info({"status": status, "should_sync": status != "Paused"})
    assert info["status"] == (status if isinstance(status, str) else "")
    assert info["should_sync"] is (status != "Paused")


def test_the_demo_answers_only_statuses_posthog_has() -> None:
    project = demo_project(4242, T0)
    seen: dict[str, set[Any]] = {"run": set(), "backfill": set(), "job": set(), "schema": set(), "source": set()}
    for minutes in (0, 1, 3, 10, 60, 600):
        now = T0 + timedelta(minutes=minutes)
        project.advance(now)
        for export in project.exports.values():
            seen["run"] |= {r.body(now)["status"] for r in export.runs if r.created_at <= now}
            seen["backfill"] |= {b.body(now)["status"] for b in export.backfills}
        for source in project.sources.values():
            body = source.body(now)
            seen["source"].add(body["status"])
            seen["schema"] |= {s["status"] for s in body["schemas"]}
            seen["job"] |= {j.body(now)["status"] for s in source.schemas for j in s.jobs if j.created_at <= now}
    assert seen["run"] <= set(RUN) and seen["backfill"] <= set(BACKFILL)
    assert seen["job"] <= set(JOB) and seen["schema"] <= {*SCHEMA, None} and seen["source"] <= set(SOURCE)
    assert {"Completed", "Failed", "FailedRetryable"} <= seen["run"] and "BillingLimitReached" in seen["job"]


@pytest.mark.parametrize("status", BACKFILL)
def test_every_backfill_status_reads_on_the_page(status: str) -> None:
    """A backfill still going shows its progress and can be cancelled; an ended one cannot."""
    from vendors.posthog.facts import export_facts
    from vendors.posthog.normalize import backfill_info

    body = [{"id": "b1", "status": status, "progress": {"finished_runs": 1, "total_runs": 3}}]
    (fact,) = export_facts({"backfills": backfill_info(body)})
    going = status in ("Starting", "Running", "ContinuedAsNew")
    assert fact.value.startswith(status) and "1 of 3 intervals" in fact.value
    assert (fact.operation == "cancel-backfill") == going and (fact.total == 3) == going
    assert (fact.tone == "error") == (status in ("Failed", "FailedRetryable", "TimedOut", "Terminated"))
