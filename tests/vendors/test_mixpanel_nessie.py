"""Nessie status, summary, timeline and jobs JSON -> Observations and pipeline facts.

Table-driven over every task state, the seed's samples verbatim, and arbitrary JSON.
"""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendors.base import BadResponse, Target
from vendors.mixpanel.nessie_normalize import (
    TASK_STATES,
    normalize_jobs,
    normalize_status,
    normalize_summary,
    normalize_timeline,
)
from vendors.mixpanel.nessie_seed import (
    SEED_PIPELINE,
    SEED_TIMELINE,
    seed_canceled_task,
    seed_jobs_text,
    seed_summary_text,
)

TARGET = Target("export_pipeline", SEED_PIPELINE)
DAY = "2026-11-19T00:00:00-08:00"


def task(state, run_at="2026-11-20T00:30:00-08:00", last_finish="0000-12-31T16:00:00-08:00", day=DAY):
    return {"name": "p", "state": state, "last_finish": last_finish, "run_at": run_at, "from_date": day, "to_date": day}


# vendor state -> (state, flags, error kind or None): written out, not derived from TASK_STATES.
EXPECTED = {
    "pending": ("queued", (), None),
    "running": ("running", (), None),
    "retried": ("running", ("retrying",), None),
    "failed": ("failed", (), "unknown"),
    "canceled": ("canceled", (), None),
    "timed_out": ("failed", (), "timeout"),
    "succeeded": ("succeeded", (), None),
    "exploded": ("unknown", (), None),
}


def test_the_mapping_table_covers_every_documented_state() -> None:
    assert set(TASK_STATES) == set(EXPECTED) - {"exploded"}


@pytest.mark.parametrize(("vendor", "expected"), EXPECTED.items())
def test_task_state_mapping(vendor: str, expected: tuple) -> None:
    [obs] = normalize_status(TARGET, {vendor: [task(vendor)]})
    state, flags, error_kind = expected
    assert (obs.state, obs.flags, obs.vendor_status) == (state, flags, vendor)
    assert (obs.error.kind if obs.error else None) == error_kind
    assert obs.run_key == f"{DAY}..{DAY}"
    assert obs.started_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def test_a_finished_task_has_its_finish_and_an_active_one_has_none() -> None:
    done = task("succeeded", last_finish="2026-11-20T01:00:00-08:00")
    [obs] = normalize_status(TARGET, {"succeeded": [done]})
    assert obs.finished_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    running = task("running", last_finish="2026-11-19T01:00:00-08:00")  # an earlier attempt's finish
    [obs] = normalize_status(TARGET, {"running": [running]})
    assert obs.finished_at is None


def test_seed_canceled_task_with_go_zero_finish() -> None:
    seed = seed_canceled_task()
    assert seed["last_finish"] == "0000-12-31T16:00:00-08:00" and "project_id" not in seed
    [obs] = normalize_status(TARGET, {"canceled": [seed]})
    assert obs.state == "canceled"
    assert obs.finished_at is None
    assert obs.started_at == datetime(2016, 7, 26, 7, 0, tzinfo=UTC)
    assert obs.run_key == "2016-07-26T00:00:00-07:00..2016-07-26T00:00:00-07:00"
    assert obs.raw == seed


def test_seed_summary_verbatim() -> None:
    text = seed_summary_text()
    assert text == '{\n"canceled": 933,\n"retried": 80,\n"succeeded": 1\n}'
    assert normalize_summary(json.loads(text)) == {"canceled": 933, "retried": 80, "succeeded": 1}


def test_the_task_state_field_wins_over_its_group_and_falls_back_to_it() -> None:
    without_state = {k: v for k, v in task("x").items() if k != "state"}
    [obs] = normalize_status(TARGET, {"failed": [without_state]})
    assert obs.state == "failed"
    [obs] = normalize_status(TARGET, {"failed": [task("succeeded")]})
    assert obs.state == "succeeded"


def test_a_retried_window_that_later_succeeded_is_a_success() -> None:
    body = {
        "retried": [task("retried", run_at="2026-11-20T00:30:00-08:00", last_finish="2026-11-20T00:50:00-08:00")],
        "succeeded": [task("succeeded", run_at="2026-11-20T01:10:00-08:00", last_finish="2026-11-20T01:30:00-08:00")],
    }
    [obs] = normalize_status(TARGET, body)
    assert (obs.state, obs.flags, obs.error) == ("succeeded", (), None)
    assert obs.started_at == datetime(2026, 11, 20, 9, 10, tzinfo=UTC)


def test_a_retried_window_waiting_for_its_next_attempt_stays_retrying() -> None:
    body = {
        "retried": [task("retried", run_at="2026-11-20T00:30:00-08:00", last_finish="2026-11-20T00:50:00-08:00")],
        "pending": [task("pending", run_at="2026-11-20T01:10:00-08:00")],
    }
    [obs] = normalize_status(TARGET, body)
    assert (obs.state, obs.flags) == ("queued", ("retrying",))


def test_a_retried_window_whose_last_attempt_failed_is_a_failure() -> None:
    body = {
        "timed_out": [task("timed_out", run_at="2026-11-20T01:10:00-08:00", last_finish="2026-11-20T02:00:00-08:00")],
        "retried": [task("retried", run_at="2026-11-20T00:30:00-08:00", last_finish="2026-11-20T00:50:00-08:00")],
    }
    [obs] = normalize_status(TARGET, body)
    assert (obs.state, obs.vendor_status, obs.error.kind) == ("failed", "timed_out", "timeout")


def test_run_keys_are_per_window_stable_and_newest_first() -> None:
    body = {
        "succeeded": [task("succeeded", run_at="2026-11-19T00:30:00-08:00", day="2026-11-18T00:00:00-08:00")],
        "running": [task("running")],
    }
    first = [o.run_key for o in normalize_status(TARGET, body)]
    again = [o.run_key for o in normalize_status(TARGET, json.loads(json.dumps(body)))]
    assert first == again == [f"{DAY}..{DAY}", "2026-11-18T00:00:00-08:00..2026-11-18T00:00:00-08:00"]


def test_timeline_spec_version_to_utc() -> None:
    days = normalize_timeline(SEED_TIMELINE)
    assert days == [
        {"date": "2019-08-19", "status": "synced", "sync_times": ["2019-08-19T21:27:46.044605+00:00"]},
        {"date": "2019-08-20", "status": "synced", "sync_times": ["2019-08-20T21:33:09.315098+00:00"]},
    ]
    assert normalize_timeline({"day_syncs": None}) == []


def test_seed_jobs_example_verbatim() -> None:
    [job] = normalize_jobs(json.loads(seed_jobs_text()), "9876543210")
    assert job == {
        "name": "events-daily-bigquery-monoschema",
        "frequency": "hourly",
        "sync_enabled": True,
        "last_dispatched": "2019-02-01T20:00:00+00:00",
        "dispatcher": "backfill",
    }


def test_jobs_under_another_key_still_count() -> None:
    body = {"111": [{"name": "a", "sync_enabled": "false"}], "222": [{"name": "b", "sync_enabled": True}]}
    jobs = {j["name"]: j["sync_enabled"] for j in normalize_jobs(body, "9876543210")}
    assert jobs == {"a": False, "b": True}
    assert [j["name"] for j in normalize_jobs(body, "222")] == ["b"]


@pytest.mark.parametrize(
    ("normalizer", "body"),
    [
        (normalize_status, []),
        (normalize_status, {"status": "error", "error": "boom"}),
        (normalize_status, {"running": [{"state": "running"}]}),  # no window, no run_at
        (normalize_status, {"running": [dict(task("running"), run_at="yesterday-ish")]}),
        (normalize_status, {"running": [dict(task("running"), from_date=20161)]}),
        (normalize_status, {"running": [dict(task("running"), state=7)]}),
        (normalize_summary, {"canceled": "many"}),
        (normalize_summary, {"canceled": -1}),
        (normalize_summary, {"canceled": None}),
        (normalize_timeline, {"day_syncs": [{"date": 20190819}]}),
        (normalize_timeline, {"day_syncs": [{"date": "2019-08-19", "sync_times": ["at noon"]}]}),
        (normalize_jobs, {"9876543210": [{"Dispatcher": "backfill"}]}),
        (normalize_jobs, {"9876543210": "events-daily"}),
    ],
)
def test_wrong_shapes_are_bad_responses(normalizer, body: object) -> None:
    with pytest.raises(BadResponse):
        if normalizer is normalize_status:
            normalizer(TARGET, body)
        elif normalizer is normalize_jobs:
            normalizer(body, "9876543210")
        else:
            normalizer(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
times = st.sampled_from(["0000-12-31T16:00:00-08:00", "2016-07-26T00:00:00-07:00", "", "x", "2019-13-01"]) | json_values
task_like = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values,
        "state": st.sampled_from([*EXPECTED, ""]) | json_values,
        "last_finish": times,
        "run_at": times,
        "from_date": times,
        "to_date": times,
        "project_id": json_values,
    },
)
status_like = st.dictionaries(st.sampled_from([*EXPECTED, "x"]), st.lists(task_like, max_size=3), max_size=4)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, status_like))
def test_status_arbitrary_json_only_ever_raises_bad_response(body: object) -> None:
    try:
        observations = normalize_status(TARGET, body)
    except BadResponse:
        return
    assert len({o.run_key for o in observations}) == len(observations)
    for obs in observations:
        assert obs.state in ("queued", "running", "succeeded", "failed", "canceled", "unknown")


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_values, st.dictionaries(st.text(max_size=8), json_values, max_size=4)))
def test_summary_arbitrary_json_only_ever_raises_bad_response(body: object) -> None:
    try:
        summary = normalize_summary(body)
    except BadResponse:
        return
    assert all(isinstance(v, int) and v >= 0 for v in summary.values())


day_like = st.fixed_dictionaries(
    {}, optional={"date": json_values, "sync_times": st.lists(times, max_size=3) | json_values, "status": json_values}
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"day_syncs": st.lists(day_like, max_size=3) | json_values})))
def test_timeline_arbitrary_json_only_ever_raises_bad_response(body: object) -> None:
    try:
        days = normalize_timeline(body)
    except BadResponse:
        return
    assert all(isinstance(d["date"], str) for d in days)


job_like = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values,
        "Dispatcher": json_values,
        "last_dispatched": st.just("2019-02-01 12:00:00 US/Pacific") | times,
        "frequency": json_values,
        "sync_enabled": json_values,
    },
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_values, st.dictionaries(st.sampled_from(["9876543210", "1"]), st.lists(job_like, max_size=3))))
def test_jobs_arbitrary_json_only_ever_raises_bad_response(body: object) -> None:
    try:
        jobs = normalize_jobs(body, "9876543210")
    except BadResponse:
        return
    assert all(j["name"] and j["sync_enabled"] in (True, False, None) for j in jobs)
