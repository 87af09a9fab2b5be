"""Mixpanel data pipeline (nessie) normalizer details the broad tests leave open (found by
`make mutation`): what a bad answer's message names, defaults, ordering and newest attempts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vendors.base import BadResponse, Target
from vendors.mixpanel.nessie_normalize import (
    normalize_jobs,
    normalize_status,
    normalize_summary,
    normalize_task,
    normalize_timeline,
)

TARGET = Target("export_pipeline", "events-daily")
DAY = "2026-11-19"


def refusal(fn, *args) -> str:
    with pytest.raises(BadResponse) as caught:
        fn(*args)
    return str(caught.value)


def task(state=None, run_at="2026-11-20T08:30:00Z", last_finish="", day=DAY, **extra):
    fields = {"run_at": run_at, "last_finish": last_finish, "from_date": day, "to_date": day, **extra}
    if state is not None:
        fields["state"] = state
    return fields


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected shape: status response should be a dict, got list"),
        ({"running": {}}, "unexpected shape: status['running'] should be a list, got dict"),
        ({"running": [task(), 2]}, "unexpected shape: status['running'][1] should be a dict, got int"),
        ({"running": [task(state=4)]}, "status['running'][0].state: expected a string, got int"),
        ({"running": [task(from_date=7)]}, "status['running'][0].from_date: expected a string, got int"),
        ({"running": [task(to_date="later")]}, "status['running'][0].to_date: unreadable timestamp 'later'"),
        ({"running": [task(run_at="soon")]}, "status['running'][0].run_at: unreadable timestamp 'soon'"),
        ({"running": [task(last_finish="soon")]}, "status['running'][0].last_finish: unreadable timestamp 'soon'"),
        (
            {"running": [{"state": "running"}]},
            "status['running'][0]: a task without from_date, to_date or run_at",
        ),
    ],
)
def test_a_bad_status_answer_names_what_is_wrong(body, message) -> None:
    assert refusal(normalize_status, TARGET, body) == message


def test_a_task_without_a_state_takes_its_groups() -> None:
    [obs] = normalize_status(TARGET, {"failed": [task()]})
    assert (obs.state, obs.vendor_status, obs.error.code, obs.error.kind) == ("failed", "failed", "failed", "unknown")
    assert obs.error.message == "Mixpanel reports the export task failed"
    [obs] = normalize_status(TARGET, {"timed_out": [task(state=None)]})
    assert obs.error.message == "Mixpanel reports the export task timed out (retryable)"


def test_a_window_is_keyed_by_its_dates_and_a_dateless_task_by_its_start() -> None:
    obs, _ = normalize_task(TARGET, task("running", day=" 2026-11-19 "), "running", "w")
    assert obs.run_key == "2026-11-19..2026-11-19"
    obs, _ = normalize_task(TARGET, {"from_date": DAY, "run_at": "2026-11-20T08:30:00Z"}, "running", "w")
    assert obs.run_key == "2026-11-19.."
    obs, _ = normalize_task(TARGET, {"to_date": DAY}, "running", "w")
    assert obs.run_key == "..2026-11-19"
    obs, _ = normalize_task(TARGET, {"run_at": "2026-11-20T08:30:00Z"}, "running", "w")
    assert obs.run_key == "run:2026-11-20T08:30:00+00:00"


def test_a_task_carries_its_times_target_and_raw() -> None:
    raw = task("succeeded", last_finish="2026-11-20T08:40:00Z")
    obs, order = normalize_task(TARGET, raw, "succeeded", "w")
    assert (obs.target, obs.raw, obs.progress, obs.flags, obs.error) == (TARGET, raw, 1.0, (), None)
    assert obs.started_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert obs.finished_at == datetime(2026, 11, 20, 8, 40, tzinfo=UTC)
    assert order == (obs.started_at.timestamp(), obs.finished_at.timestamp(), 4)
    unknown, order = normalize_task(TARGET, {"from_date": DAY}, "exploded", "w")
    assert (unknown.state, unknown.progress) == ("unknown", None)
    assert order == (float("-inf"), float("-inf"), -1)


def test_attempts_of_a_window_started_together_end_on_the_later_state() -> None:
    # same run_at and last_finish: the state later in a task's life is the newer attempt
    body = {"succeeded": [task("succeeded")], "running": [task("running")], "retried": [task("retried")]}
    [obs] = normalize_status(TARGET, body)
    assert (obs.state, obs.flags) == ("succeeded", ())
    [obs] = normalize_status(TARGET, {"running": [task("running")], "pending": [task("pending")]})
    assert obs.state == "running"


def test_attempts_are_ordered_by_finish_when_they_started_together() -> None:
    older = task("failed", last_finish="2026-11-20T08:35:00Z")
    newer = task("failed", last_finish="2026-11-20T08:50:00Z", note="second")
    [obs] = normalize_status(TARGET, {"failed": [newer, older]})
    assert obs.raw["note"] == "second"


def test_a_pending_retry_of_a_retried_window_is_flagged_once() -> None:
    body = {"retried": [task("retried", run_at="2026-11-20T08:00:00Z")], "pending": [task("pending")]}
    [obs] = normalize_status(TARGET, body)
    assert (obs.state, obs.flags) == ("queued", ("retrying",))
    lone = normalize_status(TARGET, {"pending": [task("pending")]})
    assert lone[0].flags == ()


def test_windows_come_newest_first_and_a_startless_one_last() -> None:
    body = {
        "succeeded": [task("succeeded", run_at="2026-11-18T08:30:00Z", day="2026-11-17")],
        "pending": [task("pending", run_at="", day="2026-11-20")],
        "running": [task("running", run_at="2026-11-20T08:30:00Z", day="2026-11-19")],
    }
    keys = [o.run_key.split("..")[0] for o in normalize_status(TARGET, body)]
    assert keys == ["2026-11-19", "2026-11-17", "2026-11-20"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected shape: status summary should be a dict, got list"),
        ({"failed": "x"}, "summary['failed']: expected a number, got 'x'"),
        ({"failed": None}, "summary['failed']: expected a count"),
    ],
)
def test_a_bad_summary_names_what_is_wrong(body, message) -> None:
    assert refusal(normalize_summary, body) == message


def test_a_summary_counts_lists_and_numbers() -> None:
    assert normalize_summary({"failed": [{}, {}], "succeeded": "3", "canceled": 0}) == {
        "failed": 2,
        "succeeded": 3,
        "canceled": 0,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected shape: timeline response should be a dict, got list"),
        ({"day_syncs": {}}, "unexpected shape: day_syncs should be a list, got dict"),
        ({"day_syncs": [1]}, "unexpected shape: day_syncs[0] should be a dict, got int"),
        ({"day_syncs": [{}]}, "unexpected shape: day_syncs[0].date should be a str, got nothing"),
        (
            {"day_syncs": [{"date": DAY, "sync_times": "x"}]},
            "unexpected shape: day_syncs[0].sync_times should be a list, got str",
        ),
        (
            {"day_syncs": [{"date": DAY, "sync_times": ["", "x"]}]},
            "day_syncs[0].sync_times[1]: unreadable timestamp 'x'",
        ),
    ],
)
def test_a_bad_timeline_names_what_is_wrong(body, message) -> None:
    assert refusal(normalize_timeline, body) == message


def test_a_timeline_reads_days_in_order_and_skips_empty_times() -> None:
    body = {
        "day_syncs": [
            {"date": " 2026-11-19 ", "sync_times": ["2026-11-19T10:00:00Z", "", None], "status": " ok "},
            {"date": "2026-11-18", "sync_times": None},
        ]
    }
    assert normalize_timeline(body) == [
        {"date": "2026-11-18", "status": "", "sync_times": []},
        {"date": "2026-11-19", "status": "ok", "sync_times": ["2026-11-19T10:00:00+00:00"]},
    ]
    assert normalize_timeline({}) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected shape: jobs response should be a dict, got list"),
        ({"42": {}}, "unexpected shape: jobs['42'] should be a list, got dict"),
        ({"42": [1]}, "unexpected shape: jobs['42'][0] should be a dict, got int"),
        ({"42": [{"name": 1}]}, "unexpected shape: jobs['42'][0].name should be a str, got int"),
        ({"42": [{"name": " "}]}, "jobs['42'][0].name: empty pipeline name"),
        ({"42": [{"name": "p", "last_dispatched": "x"}]}, "jobs['42'][0].last_dispatched: unreadable timestamp 'x'"),
        ({7: [{"name": ""}]}, "jobs['7'][0].name: empty pipeline name"),
    ],
)
def test_a_bad_jobs_list_names_what_is_wrong(body, message) -> None:
    assert refusal(normalize_jobs, body, "42") == message


def test_jobs_read_every_field_and_a_name_once() -> None:
    body = {
        "42": [
            {"name": " p ", "frequency": "hourly", "sync_enabled": "TRUE ", "Dispatcher": "gcs"},
            {"name": "q", "sync_enabled": False, "dispatcher": "s3", "last_dispatched": "2026-11-20T08:00:00Z"},
            {"name": "p", "sync_enabled": "maybe"},
        ],
        "other": [{"name": "not ours"}],
    }
    assert normalize_jobs(body, "42") == [
        {"name": "p", "frequency": "", "sync_enabled": None, "last_dispatched": None, "dispatcher": ""},
        {
            "name": "q",
            "frequency": "",
            "sync_enabled": False,
            "last_dispatched": "2026-11-20T08:00:00+00:00",
            "dispatcher": "s3",
        },
    ]
    assert normalize_jobs({"42": None}, "42") == []
    assert normalize_jobs({"42": [{"name": "p", "sync_enabled": " false"}]}, "42")[0]["sync_enabled"] is False
    assert normalize_jobs({"42": [{"name": "p", "sync_enabled": True}]}, "42")[0]["sync_enabled"] is True
    assert normalize_jobs({"42": [{"name": "p", "sync_enabled": "true"}]}, "42")[0]["sync_enabled"] is True
    first = normalize_jobs({"42": [{"name": "p", "frequency": "daily", "Dispatcher": "gcs"}]}, "42")[0]
    assert (first["frequency"], first["dispatcher"]) == ("daily", "gcs")


def test_a_task_with_a_null_state_takes_its_groups() -> None:
    [obs] = normalize_status(TARGET, {"canceled": [{**task(), "state": None}]})
    assert (obs.state, obs.vendor_status) == ("canceled", "canceled")


def test_an_empty_list_under_another_key_does_not_hide_the_next() -> None:
    assert [j["name"] for j in normalize_jobs({"a": None, "b": [{"name": "p"}]}, "42")] == ["p"]


def test_observations_are_for_the_target_asked_about() -> None:
    assert [o.target for o in normalize_status(TARGET, {"running": [task()]})] == [TARGET]


def test_a_retry_anywhere_before_the_newest_attempt_counts() -> None:
    body = {
        "pending": [task("pending", run_at="2026-11-20T07:00:00Z"), task("pending", run_at="2026-11-20T09:00:00Z")],
        "retried": [task("retried", run_at="2026-11-20T08:00:00Z")],
    }
    [obs] = normalize_status(TARGET, body)
    assert (obs.state, obs.flags) == ("queued", ("retrying",))


def test_a_retried_attempt_after_another_is_flagged_once() -> None:
    body = {"retried": [task("retried", run_at="2026-11-20T07:00:00Z"), task("retried")]}
    [obs] = normalize_status(TARGET, body)
    assert (obs.state, obs.flags) == ("running", ("retrying",))
