"""FullStory normalizer details the broad tests leave open (found by `make mutation`): what a
bad answer's message names (it is the poll error an operator reads), defaults of absent fields,
and the id of a created job."""

from __future__ import annotations

import pytest

from vendors.base import BadResponse, Target
from vendors.fullstory.normalize import created_job_id, normalize_errors_page, normalize_job

TARGET = Target("events_import", "stream")


def refusal(fn, *args) -> str:
    with pytest.raises(BadResponse) as caught:
        fn(*args)
    return str(caught.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected shape: job response should be a dict, got list"),
        ({}, "unexpected shape: job should be a dict, got nothing"),
        ({"job": {"id": " "}}, "unexpected shape: job.id is missing"),
        ({"job": {"id": "j", "status": 3}}, "job.status: expected a string, got int"),
        ({"job": {"id": "j"}, "imports": "x"}, "imports: expected a number, got 'x'"),
        ({"job": {"id": "j"}, "errors": "x"}, "errors: expected a number, got 'x'"),
        ({"job": {"id": "j", "created": "soon"}}, "job.created: unreadable timestamp 'soon'"),
        ({"job": {"id": "j", "finished": "soon"}}, "job.finished: unreadable timestamp 'soon'"),
    ],
)
def test_a_bad_job_answer_names_what_is_wrong(body, message) -> None:
    assert refusal(normalize_job, TARGET, body) == message


def test_job_without_status_or_counts_is_unknown_and_keeps_the_items() -> None:
    items = []
    obs = normalize_job(TARGET, {"job": {"id": " j9 "}}, items)
    assert (obs.run_key, obs.state, obs.vendor_status, obs.progress) == ("j9", "unknown", "", None)
    assert (obs.counts, obs.flags, obs.error, obs.started_at, obs.finished_at) == ({}, (), None, None, None)
    assert obs.items is items and obs.target == TARGET


def test_a_failed_job_with_only_errors_counted_is_not_partial() -> None:
    obs = normalize_job(TARGET, {"job": {"id": "j", "status": "FAILED"}, "errors": 4})
    assert (obs.counts, obs.flags) == ({"failed": 4}, ())
    assert (obs.error.message, obs.error.kind) == ("4 of 4 rows failed", "config")


def test_created_job_id_reads_the_new_jobs_id() -> None:
    assert created_job_id({"job": {"id": " abc= ", "status": "PROCESSING"}}) == "abc="


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "unexpected shape: response should be a dict, got nothing"),
        ({"job": "j"}, "unexpected shape: job should be a dict, got str"),
        ({"job": {"status": "PROCESSING"}}, "unexpected shape: the created job has no id"),
        ({"job": {"id": ""}}, "unexpected shape: the created job has no id"),
    ],
)
def test_created_job_without_an_id_is_refused(body, message) -> None:
    assert refusal(created_job_id, body) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected shape: errors response should be a dict, got list"),
        ({"results": {}}, "unexpected shape: results should be a list, got dict"),
        ({"results": [{}, "x"]}, "unexpected shape: results[1] should be a dict, got str"),
        ({"total_records": "lots"}, "total_records: expected a number, got 'lots'"),
        ({"next_page_token": 2}, "next_page_token: expected a string, got int"),
    ],
)
def test_a_bad_errors_page_names_what_is_wrong(body, message) -> None:
    assert refusal(normalize_errors_page, body) == message


def test_an_empty_errors_page_is_the_last_one() -> None:
    assert normalize_errors_page({}) == ([], "", None)
    assert normalize_errors_page({"results": [], "next_page_token": None}) == ([], "", None)


def test_an_error_row_prefers_the_event_and_may_name_nothing() -> None:
    rows = [{"event": {"name": "e"}, "user": {"uid": "u"}}, {"code": 12}]
    items, _, _ = normalize_errors_page({"results": rows})
    assert [(i.kind, i.message, i.code, i.data) for i in items] == [
        ("error", "", "", {"name": "e"}),
        ("error", "", "12", None),
    ]
