"""Mixpanel import-connector history details the seed samples leave open (found by `make
mutation`): what a bad answer's message names, both answer shapes, keys, progress and errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vendors.base import BadResponse, Target
from vendors.mixpanel.normalize import PENDING_KEY, normalize_connector_run, normalize_history

TARGET = Target("import_connector", "c0ffee")
START = "2026-11-20T12:00:00Z"


def history(*runs, **envelope):
    return {"status": "ok", "results": {"data": list(runs)}, **envelope}


def refusal(body) -> str:
    with pytest.raises(BadResponse) as caught:
        normalize_history(TARGET, body)
    return str(caught.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected shape: history response should be a dict, got list"),
        ({"status": "error", "results": {"data": []}}, "history answered status 'error'"),
        ({}, "unexpected shape: results should be a dict, got nothing"),
        ({"results": {}}, "unexpected shape: results.data should be a list, got nothing"),
        ({"data": {}}, "unexpected shape: data should be a list, got dict"),
        (history({}, 3), "unexpected shape: results.data[1] should be a dict, got int"),
        (history({"status": 1}), "results.data[0].status: expected a string, got int"),
        (history({"start_time": "soon"}), "results.data[0].start_time: unreadable timestamp 'soon'"),
        (history({"end_time": "soon"}), "results.data[0].end_time: unreadable timestamp 'soon'"),
        (history({"progress": "half"}), "results.data[0].progress: expected a number, got 'half'"),
        (
            history({"connector_properties": []}),
            "unexpected shape: results.data[0].connector_properties should be an object",
        ),
        (
            history({"connector_properties": {"num_events_dropped": -1}}),
            "results.data[0].connector_properties.num_events_dropped: negative count -1",
        ),
        (history({"error": "gzip"}), "results.data[0].error: expected an object, got str"),
    ],
)
def test_a_bad_answer_names_what_is_wrong(body, message) -> None:
    assert refusal(body) == message


def test_the_bare_runs_list_and_the_envelope_read_alike() -> None:
    run = {"id": "r1", "status": "running", "start_time": START}
    bare = normalize_history(TARGET, {"url": "/x", "has_more": False, "data": [run]})
    wrapped = normalize_history(TARGET, history(run))
    assert [o.run_key for o in bare] == [o.run_key for o in wrapped] == ["r1"]
    assert [o.target for o in bare] == [o.target for o in wrapped] == [TARGET]
    # both present: the envelope is the answer
    both = normalize_history(TARGET, {"results": {"data": [run]}, "data": [{"id": "other"}]})
    assert [o.run_key for o in both] == ["r1"]
    assert normalize_history(TARGET, {"results": {"data": []}}) == []


def test_a_run_the_vendor_gave_nothing_for() -> None:
    obs = normalize_connector_run(TARGET, {})
    assert (obs.target, obs.state, obs.vendor_status, obs.progress, obs.counts) == (TARGET, "unknown", "", None, {})
    assert (obs.started_at, obs.finished_at, obs.error, obs.flags, obs.raw) == (None, None, None, (), {})
    assert (obs.run_key, obs.provisional_key) == (PENDING_KEY, True)


@pytest.mark.parametrize(
    ("run", "key"),
    [
        ({"id": " r1 ", "run_id": "r2", "start_time": START}, "r1"),
        ({"run_id": 42, "start_time": START}, "42"),
        ({"start_time": START}, "t:2026-11-20T12:00:00+00:00"),
    ],
)
def test_the_run_key_is_the_id_then_the_start(run, key) -> None:
    obs = normalize_connector_run(TARGET, run)
    assert (obs.run_key, obs.provisional_key) == (key, False)


def test_paused_is_queued_and_flagged() -> None:
    obs = normalize_connector_run(TARGET, {"status": "paused"})
    assert (obs.state, obs.flags, obs.vendor_status) == ("queued", ("paused",), "paused")


@pytest.mark.parametrize(
    ("status", "progress", "expected"),
    [
        ("success", None, 1.0),
        ("success", 0.5, 0.5),  # the vendor's own figure is kept
        ("running", None, None),
        ("running", 1.7, 1.0),
        ("running", -2, 0.0),
        ("failed", None, None),
    ],
)
def test_progress(status, progress, expected) -> None:
    assert normalize_connector_run(TARGET, {"status": status, "progress": progress}).progress == expected


def test_finish_time_is_read() -> None:
    obs = normalize_connector_run(TARGET, {"status": "success", "end_time": "2026-11-20T13:00:00Z"})
    assert obs.finished_at == datetime(2026, 11, 20, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("failed", {"message": " Access denied ", "code": "E1"}, ("Access denied", "E1", "auth")),
        ("failed", {"type": "bad_gzip"}, ("", "bad_gzip", "unknown")),
        ("failed", {"code": "E2", "type": "t"}, ("", "E2", "unknown")),
        ("running", {"message": "transient timeout"}, ("transient timeout", "", "")),  # not failed: no kind
    ],
)
def test_the_error_object(status, error, expected) -> None:
    err = normalize_connector_run(TARGET, {"status": status, "error": error}).error
    assert (err.message, err.code, err.kind) == expected


@pytest.mark.parametrize("error", [{}, {"message": " "}, None, ""])
def test_an_empty_error_is_no_error(error) -> None:
    assert normalize_connector_run(TARGET, {"status": "failed", "error": error}).error is None


def test_id_less_runs_that_started_together_keep_distinct_stable_keys() -> None:
    same = {"status": "success", "start_time": START}
    keys = [o.run_key for o in normalize_history(TARGET, history(same, same, same))]
    bare = "t:2026-11-20T12:00:00+00:00"
    # newest first: the oldest keeps the bare key, so keys do not shift when a newer run arrives
    assert keys == [f"{bare}#2", f"{bare}#1", bare]
    other = normalize_history(TARGET, history({"id": "a"}, same))
    assert [o.run_key for o in other] == ["a", bare]
