"""Micro import job details the broad tests leave open (found by `make mutation`): what a bad
answer's message names, progress and errors at their edges, and the per-row results kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vendors.base import BadResponse, Target
from vendors.micro.normalize import normalize_job

STREAM = Target("import", "import")
STAMP = "2026-11-20T12:00:00Z"
AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def refusal(body, run_key: str = "") -> str:
    with pytest.raises(BadResponse) as caught:
        normalize_job(STREAM, body, run_key)
    return str(caught.value)


def job(status: str | None = "processing", **fields):
    return {"job_id": "j1", "status": status, **fields}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected shape: import job should be a dict, got list"),
        ({"status": "complete"}, "unexpected shape: job_id is missing"),
        ({"job_id": "j"}, "unexpected shape: the import job has no status"),
        (job(3), "status: expected a string, got int"),
        (job(total="lots"), "job.total: expected a number, got 'lots'"),
        (job(error="boom"), "error: expected an object"),
        (job("failed", error=["boom"]), "error: expected an object"),
        (job(results={}), "unexpected shape: results should be a list, got dict"),
        (job(results=[{}, 1]), "unexpected shape: results[1] should be a dict, got int"),
        (job(created_at="soon"), "created_at: unreadable timestamp 'soon'"),
        (job("complete", updated_at="soon"), "updated_at: unreadable timestamp 'soon'"),
        (job(expires_at="soon"), "expires_at: unreadable timestamp 'soon'"),
    ],
)
def test_a_bad_answer_names_what_is_wrong(body, message) -> None:
    assert refusal(body) == message


def test_the_run_key_stands_in_for_a_missing_job_id() -> None:
    assert normalize_job(STREAM, {"status": "processing"}, "asked-for").run_key == "asked-for"
    assert normalize_job(STREAM, {"job_id": " j2 ", "status": "processing"}, "asked-for").run_key == "j2"


def test_a_job_with_a_null_status_is_unknown_with_nothing_else() -> None:
    obs = normalize_job(STREAM, job(None))
    assert (obs.state, obs.vendor_status, obs.progress, obs.counts, obs.flags) == ("unknown", "", None, {}, ())
    assert (obs.error, obs.items, obs.started_at, obs.finished_at, obs.expires_at) == (None, None, None, None, None)
    assert (obs.target, obs.run_key, obs.raw) == (STREAM, "j1", job(None))


@pytest.mark.parametrize(
    ("counts", "progress"),
    [
        ({"total": 4, "processed": 1}, 0.25),
        ({"total": 4, "processed": 0}, 0.0),
        ({"total": 4, "processed": 9}, 1.0),  # the vendor over-counts: never more than done
        ({"total": 0, "processed": 0}, None),
        ({"total": 4}, None),
        ({"processed": 4}, None),
    ],
)
def test_progress_of_a_running_job(counts, progress) -> None:
    assert normalize_job(STREAM, job(**counts)).progress == progress


def test_a_finished_job_has_its_finish_time_and_a_running_one_none() -> None:
    times = {"created_at": STAMP, "updated_at": "2026-11-20T12:05:00Z", "expires_at": "2026-11-27T12:00:00Z"}
    done = normalize_job(STREAM, job("complete", **times))
    assert (done.started_at, done.finished_at) == (AT, datetime(2026, 11, 20, 12, 5, tzinfo=UTC))
    assert done.expires_at == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert normalize_job(STREAM, job("failed", **times)).finished_at == datetime(2026, 11, 20, 12, 5, tzinfo=UTC)
    assert normalize_job(STREAM, job("processing", **times)).finished_at is None


def test_a_failed_job_classifies_the_vendors_message() -> None:
    obs = normalize_job(STREAM, job("failed", error={"message": " Permission denied ", "code": 403}))
    assert (obs.error.message, obs.error.code, obs.error.kind) == ("Permission denied", "403", "auth")
    assert obs.progress is None and obs.flags == ()


def test_a_failed_job_without_an_error_object_has_no_error() -> None:
    assert normalize_job(STREAM, job("failed", error="")).error is None


def test_a_complete_job_with_failed_rows_is_partial_and_says_how_many() -> None:
    obs = normalize_job(STREAM, job("complete", total=10, failed=3))
    assert (obs.flags, obs.error.message, obs.error.kind, obs.error.code) == (
        ("partial",),
        "3 of 10 rows failed",
        "config",
        "",
    )
    unknown_total = normalize_job(STREAM, job("complete", failed=2)).error
    assert unknown_total.message == "2 of ? rows failed"
    assert normalize_job(STREAM, job("complete", total=10, failed=0)).error is None


def test_counts_keep_what_was_sent_under_our_names() -> None:
    obs = normalize_job(STREAM, job(total=10, processed=6, succeeded=5, failed=1))
    assert obs.counts == {"total": 10, "processed": 6, "succeeded": 5, "failed": 1}


def test_results_are_kept_per_row_numbered_from_one() -> None:
    rows = [
        {"id": "a", "created": True, "existing": False},
        {"id": "b", "error": {"message": " bad email ", "code": "invalid"}},
        {"id": "c", "error": "not an object"},
    ]
    items = normalize_job(STREAM, job("complete", results=rows)).items
    assert [(i.kind, i.message, i.code, i.data) for i in items] == [
        ("result", "", "", {"row": 1, "id": "a", "created": True, "existing": False}),
        ("result", "bad email", "invalid", {"row": 2, "id": "b", "created": None, "existing": None}),
        ("result", "", "", {"row": 3, "id": "c", "created": None, "existing": None}),
    ]
    assert normalize_job(STREAM, job(results=[])).items == []
