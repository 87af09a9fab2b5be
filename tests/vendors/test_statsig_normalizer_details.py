"""Statsig normalizer details the broad tests leave open (found by `make mutation`): what a bad
answer's message names, defaults, and the edges of days, attempts and backfill runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from vendors.base import BadResponse, Target
from vendors.statsig.normalize import ingestion_state, normalize_ingestion, parse_status_page
from vendors.statsig.runs import QUIET_OVER, backfill_run_id, normalize_run, run_state

BACKFILLS = Target("backfill", "backfills")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def refusal(fn, *args) -> str:
    with pytest.raises(BadResponse) as caught:
        fn(*args)
    return str(caught.value)


def row(status="IMPORT_STARTED", ds="2026-11-19", ts="2026-11-20T01:00:00Z", **extra):
    return {"status": status, "ds": ds, "timestamp": ts, "ingestion_dataset": "events", **extra}


def day(*rows):
    [group] = normalize_ingestion(list(rows))
    [obs] = group.observations
    return obs


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({}, "unexpected shape: data should be a list, got dict"),
        ([row(), 1], "unexpected shape: data[1] should be a dict, got int"),
        ([row(source_name=[])], "data[0].source_name: expected a string, got list"),
        ([row(ingestion_source=True)], "data[0].ingestion_source: expected a string, got bool"),
        ([row(ingestion_dataset={})], "data[0].ingestion_dataset: expected a string, got dict"),
        ([row(status=5)], "data[0].status: expected a string, got int"),
        ([row(ts="soon")], "data[0].timestamp: unreadable timestamp 'soon'"),
        ([row(ds="2026-13-40")], "data[0].ds: unreadable date '2026-13-40'"),
        ([row(ds="tomorrow")], "data[0].ds: unreadable timestamp 'tomorrow'"),
        ([row(error_message=3)], "data[0].error_message: expected a string, got int"),
        ([row(message=[])], "data[0].message: expected a string, got list"),
        ([row(metricCount="x")], "data[0].metricCount: expected a number, got 'x'"),
        ([row(rowCount="x")], "data[0].rowCount: expected a number, got 'x'"),
    ],
)
def test_a_bad_row_names_what_is_wrong(rows, message) -> None:
    assert refusal(normalize_ingestion, rows) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x", "unexpected shape: ingestion status response should be a dict, got str"),
        ({}, "unexpected shape: data should be a list, got nothing"),
        ({"data": [], "pagination": []}, "unexpected shape: pagination should be a dict, got list"),
        ({"data": [], "pagination": {"nextPage": 2}}, "unexpected shape: pagination.nextPage should be a str, got int"),
    ],
)
def test_a_bad_status_page_names_what_is_wrong(body, message) -> None:
    assert refusal(parse_status_page, body) == message


def test_a_status_page_without_a_next_page_is_the_last() -> None:
    assert parse_status_page([{"a": 1}]) == ([{"a": 1}], None)
    assert parse_status_page({"data": [1]}) == ([1], None)
    assert parse_status_page({"data": [1], "pagination": {}}) == ([1], None)
    assert parse_status_page({"data": [1], "pagination": {"nextPage": ""}}) == ([1], None)


def test_a_group_is_named_by_its_source_and_dataset() -> None:
    [group] = normalize_ingestion([row(source_name=" warehouse ", ingestion_dataset="Events")])
    assert (group.source, group.dataset, group.name) == ("warehouse", "events", "events from warehouse")
    assert group.target == Target("ingestion", "warehouse/events")
    assert group.info == {"source": "warehouse", "dataset": "events"}
    [numbered] = normalize_ingestion([row(ingestion_source=12, ingestion_dataset=None)])
    assert (numbered.source, numbered.dataset) == ("12", "unknown")


def test_rows_without_a_day_make_a_group_without_runs() -> None:
    [group] = normalize_ingestion([row(ds=None, ts=None)])
    assert group.observations == []
    assert normalize_ingestion([]) == []


def test_ds_gives_the_day_whatever_its_offset_and_the_timestamp_stands_in() -> None:
    assert day(row(ds="2026-11-19T23:00:00-08:00")).run_key == "2026-11-19"
    assert day(row(ds="2026-11-19 00:00:00")).run_key == "2026-11-19"
    assert day(row(ds="", ts="2026-11-18T23:30:00Z")).run_key == "2026-11-18"
    assert day(row(ds=1763596800, ts=None)).run_key == "2025-11-20"  # epoch seconds


def test_a_failed_day_reports_the_error_message_over_the_message() -> None:
    obs = day(row("QUERY_ERROR", error_message="syntax error", message="ignored", rowCount=0))
    assert (obs.error.message, obs.error.code, obs.error.kind) == ("syntax error", "QUERY_ERROR", "query")
    assert obs.counts == {"rows": 0}
    assert day(row("ERROR", message=" as sent ")).error.message == " as sent "
    assert day(row("ERROR")).error.message == ""


def test_a_running_day_has_no_finish_and_a_succeeded_one_its_last_row() -> None:
    running = day(row("IMPORT_SCHEDULED", ts="2026-11-20T00:00:00Z"), row("IMPORT_STARTED"))
    assert (running.state, running.progress, running.finished_at, running.counts) == ("running", None, None, {})
    assert running.started_at == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    done = day(row("IMPORT_STARTED"), row("IMPORT_SUCCESSFUL", ts="2026-11-20T02:00:00Z", rowCount=9))
    assert (done.state, done.progress, done.counts) == ("succeeded", 1.0, {"rows": 9})
    assert (done.started_at, done.finished_at) == (
        datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
    )
    assert done.raw["day"] == "2026-11-19" and done.raw["latest"]["rowCount"] == 9
    assert done.raw["statuses"] == [
        {"status": "IMPORT_STARTED", "timestamp": "2026-11-20T01:00:00Z", "rowCount": None},
        {"status": "IMPORT_SUCCESSFUL", "timestamp": "2026-11-20T02:00:00Z", "rowCount": 9},
    ]


def test_a_reopened_day_starts_at_its_reload() -> None:
    obs = day(
        row("IMPORT_STARTED", ts="2026-11-20T01:00:00Z"),
        row("IMPORT_SUCCESSFUL", ts="2026-11-20T02:00:00Z"),
        row("IMPORT_SCHEDULED", ts="2026-11-20T05:00:00Z"),
        row("IMPORT_STARTED", ts="2026-11-20T06:00:00Z"),
    )
    assert (obs.state, obs.started_at) == ("running", datetime(2026, 11, 20, 6, 0, tzinfo=UTC))


def test_a_day_only_scheduled_has_no_start_and_rows_without_a_time_count_as_oldest() -> None:
    assert day(row("IMPORT_SCHEDULED")).started_at is None
    obs = day(row("IMPORT_SUCCESSFUL", ts=None), row("IMPORT_STARTED", ts="2026-11-20T01:00:00Z"))
    assert obs.state == "running"
    tie = day(row("IMPORT_STARTED"), row("IMPORT_SUCCESSFUL"))  # same time: later in the answer wins
    assert tie.state == "succeeded"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, ("unknown", (), "")),
        ("", ("unknown", (), "")),
        ("IMPORT_RESCHEDULED", ("queued", ("retrying",), "")),
        (" loaded_empty_data ", ("succeeded", ("empty",), "")),
        ("NEW_THING_FAILURE", ("failed", (), "unknown")),
        ("EXPORT_QUEUED", ("queued", (), "")),
        ("DEDUPE_RUNNING", ("running", (), "")),
        ("ENQUEUED", ("queued", (), "")),
        ("SOMETHING", ("unknown", (), "")),
    ],
)
def test_ingestion_state_of_a_name(name, expected) -> None:
    assert ingestion_state(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, ("unknown", (), "")),
        ("", ("unknown", (), "")),
        (" Metrics_Error ", ("failed", (), "vendor")),
        ("enqueued", ("queued", (), "")),
        ("export_pending", ("queued", (), "")),
        ("export_failed", ("failed", (), "unknown")),
    ],
)
def test_run_state_of_a_name(name, expected) -> None:
    assert run_state(name) == expected


def test_backfill_run_id() -> None:
    assert backfill_run_id({"message": "ok", "data": {"runID": " r-9 "}}) == "r-9"
    assert backfill_run_id({"data": {"runID": 12}}) == "12"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected shape: backfill response should be a dict, got list"),
        ({}, "unexpected shape: data should be a dict, got nothing"),
        ({"data": {"runID": []}}, "data.runID: expected a string, got list"),
        ({"data": {}}, "backfill response: data.runID is missing"),
    ],
)
def test_a_bad_backfill_answer_names_what_is_wrong(body, message) -> None:
    assert refusal(backfill_run_id, body) == message


def run(**data):
    return {"message": "ok", "data": {"runID": "r-1", **data}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected shape: run response should be a dict, got list"),
        ({"data": 1}, "unexpected shape: data should be a dict, got int"),
        ({"data": {"runID": 1.5j}}, "data.runID: expected a string, got complex"),
        ({"data": {}}, "data.runID: missing"),
        (run(runHistory={}), "unexpected shape: data.runHistory should be a list, got dict"),
        (run(runHistory=[{}, 3]), "unexpected shape: data.runHistory[1] should be a dict, got int"),
        (run(runHistory=[{"status": 3}]), "data.runHistory[0].status: expected a string, got int"),
        (run(runHistory=[{"statusTimestamp": "x"}]), "data.runHistory[0].statusTimestamp: unreadable timestamp 'x'"),
        (run(latestStatus=1), "data.latestStatus: expected a string, got int"),
        (run(lastUpdatedAt="x"), "data.lastUpdatedAt: unreadable timestamp 'x'"),
        (run(createdAt="x"), "data.createdAt: unreadable timestamp 'x'"),
        (run(sources="s"), "unexpected shape: data.sources should be a list, got str"),
        (run(dateStamps="d"), "unexpected shape: data.dateStamps should be a list, got str"),
        (run(granularHistory={}), "unexpected shape: data.granularHistory should be a list, got dict"),
    ],
)
def test_a_bad_run_names_what_is_wrong(body, message) -> None:
    assert refusal(normalize_run, BACKFILLS, body, NOW) == message


def test_a_run_the_vendor_said_little_about() -> None:
    obs = normalize_run(BACKFILLS, {"data": {}}, NOW, "asked-for")
    assert (obs.run_key, obs.state, obs.vendor_status, obs.progress) == ("asked-for", "unknown", "", None)
    assert (obs.started_at, obs.finished_at, obs.error, obs.flags, obs.target) == (None, None, None, (), BACKFILLS)
    assert obs.raw == {}


def test_times_fall_back_to_the_history() -> None:
    history = [
        {"status": "started", "statusTimestamp": "2026-11-20T10:00:00Z"},
        {"status": "pulse_complete", "statusTimestamp": "2026-11-20T11:00:00Z"},
        {"status": "enqueued", "statusTimestamp": "2026-11-20T09:00:00Z"},
    ]
    obs = normalize_run(BACKFILLS, run(runHistory=history), NOW)
    assert (obs.state, obs.vendor_status, obs.progress) == ("succeeded", "pulse_complete", 1.0)
    assert obs.started_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert obs.finished_at == datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    own = run(runHistory=history, createdAt="2026-11-20T08:00:00Z", lastUpdatedAt="2026-11-20T11:30:00Z")
    obs = normalize_run(BACKFILLS, own, NOW)
    assert (obs.started_at, obs.finished_at) == (
        datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 11, 30, tzinfo=UTC),
    )


def test_history_entries_without_a_time_are_oldest_and_ties_keep_the_answers_order() -> None:
    history = [{"status": "pulse_complete"}, {"status": "started", "statusTimestamp": "2026-11-20T10:00:00Z"}]
    assert normalize_run(BACKFILLS, run(runHistory=history), NOW).vendor_status == "started"
    tied = [
        {"status": "started", "statusTimestamp": "2026-11-20T10:00:00Z"},
        {"status": "download_started", "statusTimestamp": "2026-11-20T10:00:00Z"},
    ]
    assert normalize_run(BACKFILLS, run(runHistory=tied), NOW).vendor_status == "download_started"


def test_an_error_is_a_failure_once_quiet_and_without_a_time_at_once() -> None:
    settled = normalize_run(BACKFILLS, run(latestStatus="pulse_error"), NOW)
    assert (settled.state, settled.flags, settled.finished_at) == ("failed", (), None)
    assert (settled.error.message, settled.error.code, settled.error.kind) == (
        "Statsig backfill run stopped at pulse_error",
        "pulse_error",
        "vendor",
    )
    assert settled.raw == {"runID": "r-1", "latestStatus": "pulse_error"}  # verbatim: the verdict is apart
    assert settled.verdict == QUIET_OVER
    updated = (NOW - timedelta(minutes=10, seconds=1)).isoformat()
    assert normalize_run(BACKFILLS, run(latestStatus="pulse_error", lastUpdatedAt=updated), NOW).state == "failed"
    recent = (NOW - timedelta(minutes=3)).isoformat()
    retrying = normalize_run(BACKFILLS, run(latestStatus="metrics_error", lastUpdatedAt=recent), NOW)
    assert (retrying.state, retrying.flags, retrying.error, retrying.finished_at) == (
        "running",
        ("retrying",),
        None,
        None,
    )
    assert retrying.progress is None


def test_progress_of_a_step_ignores_case() -> None:
    assert normalize_run(BACKFILLS, run(latestStatus="Metrics_Started"), NOW).progress == 0.57
    assert normalize_run(BACKFILLS, run(latestStatus="pulse_started"), NOW).progress == 0.86
    assert normalize_run(BACKFILLS, run(latestStatus="dedupe_started"), NOW).progress is None


def test_a_day_is_a_date() -> None:
    assert day(row()).run_key == date(2026, 11, 19).isoformat()
