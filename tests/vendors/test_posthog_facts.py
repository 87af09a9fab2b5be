"""What the pipeline page says about a PostHog export or table (vendors/posthog/facts.py), fact
by fact: the schedule in words, times to the minute, whether PostHog paused it itself, a backfill's
progress and whether it can be cancelled, a table's status and the billing note."""

from __future__ import annotations

from typing import Any

import pytest

from vendors.operations import Fact
from vendors.posthog.facts import _every, _when, backfill_fact, export_facts, paused_fact, sync_seconds, table_facts


@pytest.mark.parametrize(
    ("frequency", "seconds"),
    [
        ("5min", 300),
        (" 1hour ", 3600),
        ("6 hours", 21600),
        ("30day", 2592000),
        ("999mins", 59940),
        ("0min", None),
        ("1000min", None),
        ("5 weeks", None),
        ("hour", None),
        (300, None),
        (None, None),
    ],
)
def test_sync_seconds_reads_posthogs_sync_frequency(frequency: Any, seconds: int | None) -> None:
    assert sync_seconds(frequency) == seconds


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (86400, "every day"),
        (604800, "every 7 days"),
        (3600, "every hour"),
        (7200, "every 2 hours"),
        (60, "every minute"),
        (900, "every 15 minutes"),
        (5400, "every 90 minutes"),
        (90, "every 90 s"),
    ],
)
def test_a_schedule_in_words(seconds: int, words: str) -> None:
    assert _every(seconds) == words


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-11-30T07:47:12Z", "2026-11-30 07:47 UTC"),
        ("2026-11-30T07:47:12.345678+00:00", "2026-11-30 07:47 UTC"),
        ("2026-11-30T07:47Z", "2026-11-30 07:47 UTC"),
        ("2026-11-30T07:47:12+01:00", "2026-11-30T07:47:12+01:00"),  # not UTC: as it came
        ("2026-11-30 07:47:12Z", "2026-11-30 07:47:12Z"),
        ("2026-11-30T0747Z", "2026-11-30T0747Z"),
        ("yesterday", "yesterday"),
        ("Z", "Z"),
        (None, "None"),
    ],
)
def test_times_to_the_minute_in_utc_or_as_they_came(value: Any, shown: str) -> None:
    assert _when(value) == shown


@pytest.mark.parametrize(
    ("info", "facts"),
    [
        ({"paused": False, "paused_reason": "x"}, []),
        ({"paused": "yes"}, []),
        ({"paused": True}, [Fact("Paused at PostHog", "yes", tone="warn")]),
        (
            {"paused": True, "paused_reason": "by a person or through the API"},
            [Fact("Paused at PostHog", "by a person or through the API", tone="warn")],
        ),
        (
            {"paused": True, "paused_reason": "most likely by PostHog itself: 9 of its 10 latest runs failed"},
            [
                Fact(
                    "Paused at PostHog",
                    "most likely by PostHog itself: 9 of its 10 latest runs failed",
                    tone="error",
                )
            ],
        ),
    ],
)
def test_paused_fact(info: dict[str, Any], facts: list[Fact]) -> None:
    assert paused_fact(info) == facts


def test_export_facts_in_order() -> None:
    info = {
        "paused": True,
        "paused_reason": "",
        "interval": "every 5 minutes",
        "model": "persons",
        "destination": "BigQuery",
        "last_paused_at": "2026-11-30T07:47:12Z",
        "backfills": [{"id": "bf-1", "status": "Completed"}, "not a backfill"],
    }
    assert export_facts(info) == [
        Fact("Paused at PostHog", "yes", tone="warn"),
        Fact("Interval", "every 5 minutes"),
        Fact("Model", "persons"),
        Fact("Destination", "BigQuery"),
        Fact("Last paused", "2026-11-30 07:47 UTC"),
        Fact("Backfill ? → ?", "Completed"),
    ]


@pytest.mark.parametrize(
    ("interval", "facts"),
    [
        ("hour", [Fact("Interval", "every hour")]),
        ("week", [Fact("Interval", "every 7 days")]),
        ("every 2 hours", [Fact("Interval", "every 2 hours")]),  # one PostHog may add: as it came
        ("", []),
        (3600, []),
    ],
)
def test_an_exports_interval(interval: Any, facts: list[Fact]) -> None:
    assert export_facts({"interval": interval, "model": "", "destination": None}) == facts


@pytest.mark.parametrize(
    ("backfill", "fact"),
    [
        (
            {
                "id": "bf-1",
                "status": "Running",
                "start_at": "2026-11-01T00:00:00Z",
                "end_at": "2026-11-02T00:00:00Z",
                "created_at": "2026-11-20T09:00:00Z",
                "finished_runs": 3,
                "total_runs": 24,
            },
            Fact(
                "Backfill 2026-11-01 00:00 UTC → 2026-11-02 00:00 UTC",
                "Running · 3 of 24 intervals",
                note="created 2026-11-20 09:00 UTC",
                done=3,
                total=24,
                operation="cancel-backfill",
                values={"backfill_id": "bf-1"},
            ),
        ),
        (  # still going but PostHog has not counted yet: cancellable, no progress bar
            {"id": "bf-2", "status": "Starting", "finished_runs": None, "total_runs": 0},
            Fact("Backfill ? → ?", "Starting", operation="cancel-backfill", values={"backfill_id": "bf-2"}),
        ),
        (
            {"id": "bf-7", "status": "Running", "finished_runs": 0, "total_runs": 1},
            Fact(
                "Backfill ? → ?",
                "Running · 0 of 1 intervals",
                done=0,
                total=1,
                operation="cancel-backfill",
                values={"backfill_id": "bf-7"},
            ),
        ),
        (  # going, without an id to cancel it by
            {"status": "ContinuedAsNew", "finished_runs": 0, "total_runs": 5},
            Fact("Backfill ? → ?", "ContinuedAsNew · 0 of 5 intervals", done=0, total=5, values={"backfill_id": ""}),
        ),
        (  # going, the intervals done not counted yet: no "None of 5"
            {"id": "bf-8", "status": "Running", "finished_runs": None, "total_runs": 5},
            Fact("Backfill ? → ?", "Running", total=5, operation="cancel-backfill", values={"backfill_id": "bf-8"}),
        ),
        (  # going, only one of the counts known
            {"id": "bf-3", "status": "Running", "finished_runs": 2, "total_runs": None},
            Fact("Backfill ? → ?", "Running", done=2, operation="cancel-backfill", values={"backfill_id": "bf-3"}),
        ),
        (
            {"id": "bf-4", "status": "Failed", "finished_runs": 2, "total_runs": 4, "created_at": ""},
            Fact("Backfill ? → ?", "Failed · 2 of 4 intervals", tone="error"),
        ),
        (
            {"id": "bf-5", "status": "Cancelled", "start_at": "2026-11-01", "finished_runs": 1, "total_runs": 4},
            Fact("Backfill 2026-11-01 → ?", "Cancelled · 1 of 4 intervals"),
        ),
        ({"id": "bf-6", "finished_runs": 1, "total_runs": 4}, Fact("Backfill ? → ?", "unknown · 1 of 4 intervals")),
    ],
)
def test_backfill_fact(backfill: dict[str, Any], fact: Fact) -> None:
    assert backfill_fact(backfill) == fact


def test_table_facts_in_order() -> None:
    info = {
        "paused": False,
        "status": "Completed",
        "should_sync": True,
        "sync_frequency": "12hour",
        "sync_type": "incremental_append",
        "last_synced_at": "2026-11-30T07:47:12Z",
        "row_count": 1234567,
        "latest_error": "Stripe: 401 Unauthorized",
    }
    assert table_facts(info) == [
        Fact("Status", "Completed"),
        Fact("Syncs", "every 12 hours"),
        Fact("Sync type", "incremental append"),
        Fact("Last synced", "2026-11-30 07:47 UTC"),
        Fact("Rows in the table", "1,234,567"),
        Fact("Latest error", "Stripe: 401 Unauthorized", tone="error"),
    ]


@pytest.mark.parametrize(
    ("info", "facts"),
    [
        ({}, []),
        ({"sync_frequency": "1day", "row_count": 0}, [Fact("Syncs", "every day"), Fact("Rows in the table", "0")]),
        (
            {"should_sync": False, "sync_frequency": "1day", "paused": True},
            [Fact("Paused at PostHog", "yes", tone="warn")],
        ),
        ({"sync_frequency": "0min", "row_count": "5", "sync_type": "", "latest_error": ""}, []),
        ({"status": "Failed"}, [Fact("Status", "Failed", tone="error")]),
        ({"status": "Paused"}, [Fact("Status", "Paused")]),
        (
            {"status": "BillingLimitReached"},
            [
                Fact(
                    "Status",
                    "BillingLimitReached",
                    note="PostHog stopped the sync: the project reached its data warehouse billing limit",
                    tone="error",
                )
            ],
        ),
    ],
)
def test_table_facts(info: dict[str, Any], facts: list[Fact]) -> None:
    assert table_facts(info) == facts
