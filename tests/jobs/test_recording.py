"""What the vendor said about runs, written by `jobs.recording` through the writer: rows only
when something changed, one row per run however it was keyed, jobs the vendor forgot, row-level
items, the pipeline's rollup and missing days. No HTTP (fast: `make mutation` runs these)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext

from jobs.bulk import insert, update_fields
from jobs.models import EMPTY, Account, Pipeline, Run, RunItem, Snapshot, StateChange
from jobs.recording import GONE, HISTORY, SNAPSHOT_FIELDS, record_observations, storable_run_key
from jobs.rollup import threshold
from vendors import base as vb

from ..conftest import T0
from .outcomes import EXPORT, answer, pipeline, poll, seen

T1, T2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)


@pytest.fixture
def account(db: None) -> Account:
    return Account.objects.create(name="acme", vendor="mixpanel", settings={"project_id": "1"})


def run(key: str) -> Run:
    return Run.objects.get(external_id=key)


def test_runs_seen_for_the_first_time_are_created_with_their_history(account) -> None:
    p = pipeline(account, "p")
    started, finished = T0 - timedelta(hours=2), T0 - timedelta(hours=1)
    error = vb.RunError("disk full", "E" * 150, "vendor")
    summary = poll(
        account,
        answer(
            p,
            seen(p, "done", vb.FAILED, started_at=started, finished_at=finished, error=error, counts={"rows": 3}),
            seen(p, "queued", vb.QUEUED, status="Q" * 150, flags=("retrying",), expires_at=T0 + timedelta(days=7)),
            seen(p, "gone-already", vb.RUNNING, flags=("expired",), started_at=T0 - timedelta(hours=3)),
        ),
    )
    assert (summary.stats.runs_created, summary.stats.runs_changed) == (3, 0)
    assert (summary.stats.snapshots, summary.stats.state_changes) == (3, 3)
    done = run("done")
    assert (done.state, done.started_at, done.finished_at, done.sort_at) == (vb.FAILED, started, finished, started)
    assert (done.error_message, done.error_code, done.error_kind) == ("disk full", "E" * 100, "vendor")
    assert (done.counts, done.closed, done.provisional_key) == ({"rows": 3}, True, False)
    assert (done.first_seen_at, done.last_seen_at, done.last_change_at) == (T0, T0, T0)
    assert done.raw["id"] == "done" and done.fingerprint and done.items_count == 0
    queued = run("queued")
    assert (queued.vendor_status, queued.flags, queued.closed) == ("Q" * 100, ["retrying"], False)
    assert (queued.sort_at, queued.expires_at, queued.started_at) == (T0, T0 + timedelta(days=7), None)
    assert run("gone-already").closed  # expired at the vendor: nothing more will come
    snaps = {s.run.external_id: s for s in Snapshot.objects.select_related("run")}
    assert snaps["done"].changed == ["created"] and snaps["done"].raw == done.raw
    assert (snaps["queued"].state, snaps["queued"].vendor_status, snaps["queued"].flags) == (
        vb.QUEUED,
        "Q" * 100,
        ["retrying"],
    )
    assert (snaps["done"].error_message, snaps["done"].counts, snaps["done"].observed_at) == (
        "disk full",
        {"rows": 3},
        T0,
    )
    changes = list(StateChange.objects.order_by("id").values_list("old_state", "new_state", "reason", "at"))
    assert changes == [("", vb.FAILED, HISTORY, T0), ("", vb.QUEUED, HISTORY, T0), ("", vb.RUNNING, HISTORY, T0)]
    p.refresh_from_db()
    assert (p.last_failure_at, p.last_failure_message, p.last_success_at) == (finished, "disk full", None)
    assert p.current_run == queued  # the newest active run

    poll(account, answer(p, seen(p, "later", vb.RUNNING)), now=T1)
    assert StateChange.objects.get(run__external_id="later").reason == "first seen"  # not history any more


def test_a_run_that_moved_gets_a_snapshot_of_what_moved_and_one_that_did_not_only_a_touch(account) -> None:
    p = pipeline(account, "p")
    poll(account, answer(p, seen(p, "r", progress=0.1), seen(p, "still", vb.SUCCEEDED)))
    with CaptureQueriesContext(connection) as queries:
        summary = poll(account, answer(p, seen(p, "r", progress=0.2), seen(p, "still", vb.SUCCEEDED)), now=T1)
    assert (summary.stats.runs_changed, summary.stats.snapshots, summary.stats.state_changes) == (1, 1, 0)
    moved = run("r")
    assert (moved.progress, moved.last_change_at, moved.last_seen_at, moved.first_seen_at) == (0.2, T1, T1, T0)
    assert moved.raw["progress"] == "0.2"
    assert [s.changed for s in Snapshot.objects.filter(run=moved).order_by("id")] == [["created"], ["progress"]]
    still = run("still")
    assert (still.last_seen_at, still.last_change_at) == (T1, T0)
    assert Snapshot.objects.filter(run=still).count() == 1
    # Only the columns that moved are written (and what every change writes).
    [update] = [q["sql"] for q in queries.captured_queries if 'UPDATE "jobs_run" SET "progress"' in q["sql"]]
    assert '"raw"' in update and '"error_message"' not in update and '"state"' not in update

    more = seen(p, "r", progress=0.2)
    more.raw["extra"] = "x"
    poll(account, answer(p, more, seen(p, "still", vb.SUCCEEDED)), now=T2)
    assert Snapshot.objects.filter(run=moved).order_by("-id").first().changed == ["raw"]  # only the payload moved


def test_a_state_change_gives_its_reason_and_the_pipelines_last_outcomes(account) -> None:
    p = pipeline(account, "p")
    poll(account, answer(p, seen(p, "a", started_at=T0), seen(p, "b", started_at=T0 + timedelta(seconds=1))))
    ended = T1 - timedelta(seconds=5)
    poll(
        account,
        answer(
            p,
            seen(p, "a", vb.SUCCEEDED, status="Finished", started_at=T0, finished_at=ended),
            seen(p, "b", vb.FAILED, started_at=T0 + timedelta(seconds=1), error=vb.RunError("bad rows")),
        ),
        now=T1,
    )
    changes = {c.run.external_id: c for c in StateChange.objects.filter(old_state=vb.RUNNING)}
    assert (changes["a"].new_state, changes["a"].reason, changes["a"].at) == (vb.SUCCEEDED, "Finished", T1)
    assert (changes["b"].new_state, changes["b"].reason) == (vb.FAILED, "bad rows")
    assert Snapshot.objects.filter(run__external_id="a").order_by("-id").first().changed == [
        "state",
        "vendor_status",
        "finished_at",
    ]
    p.refresh_from_db()
    assert (p.last_success_at, p.last_failure_at, p.last_failure_message) == (ended, T1, "bad rows")
    assert p.current_run == run("b")  # nothing active: the newest

    # An older success does not move the last success back; a failure without a message says its status.
    poll(
        account,
        answer(p, seen(p, "old", vb.SUCCEEDED, finished_at=T0 - timedelta(days=1)), seen(p, "c", vb.FAILED)),
        now=T2,
    )
    p.refresh_from_db()
    assert (p.last_success_at, p.last_failure_at, p.last_failure_message) == (ended, T2, "Run FAILED")


def test_the_newest_active_run_is_current_and_ties_go_to_the_later_one(account) -> None:
    p = pipeline(account, "p")
    same = T0 - timedelta(minutes=5)
    poll(
        account,
        answer(
            p,
            seen(p, "finished-newest", vb.SUCCEEDED, started_at=T0),
            seen(p, "first", vb.RUNNING, started_at=same),
            seen(p, "second", vb.RUNNING, started_at=same),
        ),
    )
    assert Pipeline.objects.get(pk=p.pk).current_run == run("second")


def test_a_queued_run_without_an_id_becomes_the_run_it_started_as(account) -> None:
    p = pipeline(account, "p")
    queued = vb.Observation(p.target(), "queued@T0", vb.QUEUED, "QUEUED", raw={"q": 1}, provisional_key=True)
    poll(account, answer(p, queued))
    assert run("queued@T0").provisional_key
    poll(account, answer(p, seen(p, "run-42", vb.RUNNING, started_at=T1)), now=T1)
    only = Run.objects.get()
    assert (only.external_id, only.provisional_key, only.state, only.first_seen_at) == ("run-42", False, vb.RUNNING, T0)
    assert StateChange.objects.filter(run=only).order_by("id").last().old_state == vb.QUEUED
    assert Pipeline.objects.get(pk=p.pk).current_run == only


def test_a_run_listed_twice_keeps_the_last_and_an_absurd_key_becomes_a_digest(account) -> None:
    p = pipeline(account, "p")
    long = "k" * 300
    poll(account, answer(p, seen(p, "dup", progress=0.1), seen(p, long), seen(p, "dup", progress=0.3)))
    assert run("dup").progress == 0.3 and Run.objects.count() == 2
    digest = storable_run_key(long)
    assert digest.startswith("sha256:") and run(digest).raw["id"] == long and storable_run_key("short") == "short"
    summary = poll(account, answer(p, seen(p, long)), now=T1)
    assert summary.stats.runs_changed == 0 and run(digest).last_seen_at == T1  # found again under its digest


def test_row_level_items_are_replaced_as_a_set(account) -> None:
    p = pipeline(account, "p")

    def job(*items: vb.RunItem | None, progress: float = 1.0) -> vb.Observation:
        given = None if items == (None,) else list(items)
        return vb.Observation(p.target(), "job", vb.SUCCEEDED, "done", raw={"p": progress}, items=given)

    bad = vb.RunItem("error", "row 1 is bad", "E" * 150, {"row": 1})
    poll(account, answer(p, job(bad, vb.RunItem("errorlong", "row 2"))))
    items = list(RunItem.objects.order_by("position").values_list("position", "kind", "code", "message", "data"))
    assert items == [(0, "error", "E" * 100, "row 1 is bad", {"row": 1}), (1, "errorlong", "", "row 2", None)]
    assert run("job").items_count == 2 and run("job").items_fingerprint

    summary = poll(account, answer(p, job(bad, vb.RunItem("error", "row 2"))), now=T1)
    assert summary.stats.runs_changed == 1
    assert Snapshot.objects.filter(run=run("job")).order_by("-id").first().changed == ["items"]
    assert list(RunItem.objects.order_by("position").values_list("kind", "message")) == [
        ("error", "row 1 is bad"),
        ("error", "row 2"),
    ]
    fingerprint = run("job").items_fingerprint
    assert poll(account, answer(p, job(bad, vb.RunItem("error", "row 2"))), now=T2).stats.runs_changed == 0
    assert poll(account, answer(p, job(None)), now=T2).stats.runs_changed == 0  # no items given: kept
    assert run("job").items_fingerprint == fingerprint and RunItem.objects.count() == 2
    poll(account, answer(p, job()), now=T2 + timedelta(minutes=1))  # the vendor says: none any more
    assert (run("job").items_count, RunItem.objects.count()) == (0, 0)


def test_jobs_the_vendor_forgot_are_closed_as_expired_and_keep_what_we_saw(account) -> None:
    p = pipeline(account, "p")
    poll(account, answer(p, seen(p, "running", progress=0.4), seen(p, "odd", vb.UNKNOWN), seen(p, "done", vb.FAILED)))
    assert run("done").closed  # finished: closed already
    summary = poll(account, answer(p, gone=["running", "odd", "done", "never-seen"]), now=T1)
    assert summary.stats.snapshots == 2 and summary.stats.state_changes == 1
    forgotten = run("running")
    assert (forgotten.state, forgotten.flags, forgotten.closed, forgotten.progress) == (
        vb.UNKNOWN,
        ["expired"],
        True,
        0.4,
    )
    assert (forgotten.last_change_at, forgotten.last_seen_at) == (T1, T1)
    snap = Snapshot.objects.filter(run=forgotten).order_by("-id").first()
    assert (snap.state, snap.flags, snap.changed, snap.raw, snap.progress) == (
        vb.UNKNOWN,
        ["expired"],
        ["flags"],
        None,
        0.4,
    )
    assert (snap.vendor_status, snap.observed_at) == ("RUNNING", T1)
    change = StateChange.objects.get(run=forgotten, old_state=vb.RUNNING)
    assert (change.new_state, change.reason, change.at) == (vb.UNKNOWN, GONE, T1)
    odd = run("odd")
    assert (odd.state, odd.flags, odd.closed) == (vb.UNKNOWN, ["expired"], True)  # no state change
    assert run("done").flags == []  # closed already: left alone
    # Its health reads the state just set (the current run was the one forgotten).
    assert Pipeline.objects.get(pk=p.pk).health_status == "healthy"


def test_a_run_that_became_current_without_changing_is_read_in_full(account) -> None:
    p = pipeline(account, "p")
    poll(account, answer(p, seen(p, "old", vb.SUCCEEDED, started_at=T0), seen(p, "new", vb.FAILED, started_at=T1)))
    Pipeline.objects.filter(pk=p.pk).update(current_run=run("old"), health_status="healthy")
    poll(
        account,
        answer(p, seen(p, "old", vb.SUCCEEDED, started_at=T0), seen(p, "new", vb.FAILED, started_at=T1)),
        now=T2,
    )
    p = Pipeline.objects.get(pk=p.pk)
    assert p.current_run == run("new") and p.health_status == "failing"


def test_a_failed_day_is_missing_until_that_same_day_lands(account) -> None:
    p = pipeline(account, "daily", kind=EXPORT)
    day, other = "2026-11-18", "2026-11-19"
    poll(account, answer(p, seen(p, day, vb.FAILED, error=vb.RunError("quota", "Q1", "rate_limit"), finished_at=T0)))
    p.refresh_from_db()
    entry = p.missing_days[day]
    assert entry == {
        "at": T0.isoformat(),
        "run": str(run(day).uuid),
        "code": "Q1",
        "kind": "rate_limit",
        "message": "quota",
    }
    assert p.missing_since == T0
    poll(account, answer(p, seen(p, other, vb.SUCCEEDED)), now=T1)
    assert day in Pipeline.objects.get(pk=p.pk).missing_days  # another day landing is not it
    poll(account, answer(p, seen(p, day, vb.SUCCEEDED)), now=T2)
    p.refresh_from_db()
    assert (p.missing_days, p.missing_since) == ({}, None)


def test_an_empty_day_is_missing_where_empty_days_count_as_failures(account) -> None:
    p = pipeline(account, "daily", kind=EXPORT, empty_day_is_failure=True)
    day = "2026-11-18"
    poll(account, answer(p, seen(p, day, vb.SUCCEEDED, status="0 rows", counts={"rows": 0})))
    p.refresh_from_db()
    assert p.missing_days[day]["kind"] == EMPTY and p.missing_days[day]["code"] == "0 rows"
    assert p.missing_days[day]["message"] == "The day loaded no data (0 rows)"
    # Reloaded with rows: it lands, though its state did not change (succeeded both times).
    poll(account, answer(p, seen(p, day, vb.SUCCEEDED, status="0 rows", counts={"rows": 5})), now=T1)
    assert Pipeline.objects.get(pk=p.pk).missing_days == {}


def test_the_stuck_threshold_is_learned_from_the_last_successes(account, settings) -> None:
    settings.STUCK_MIN_SECONDS, settings.STUCK_HISTORY_FACTOR = 60, 3
    p = pipeline(account, "p")
    minutes = [10, 20, 30, 40]
    for i, m in enumerate(minutes[:2]):
        started = T0 + timedelta(hours=i)
        poll(
            account,
            answer(p, seen(p, f"r{i}", vb.SUCCEEDED, started_at=started, finished_at=started + timedelta(minutes=m))),
            now=started,
        )
    assert Pipeline.objects.get(pk=p.pk).stuck_after_learned is None  # two successes: too few
    started = T0 + timedelta(hours=5)
    poll(account, answer(p, seen(p, "r2", vb.RUNNING, started_at=started)), now=started)
    poll(
        account,
        answer(p, seen(p, "r2", vb.SUCCEEDED, started_at=started, finished_at=started + timedelta(minutes=30))),
        now=started + timedelta(hours=1),
    )
    assert Pipeline.objects.get(pk=p.pk).stuck_after_learned == 20 * 60 * 3  # the median, three times


def test_a_threshold_needs_three_positive_durations_and_a_floor(settings) -> None:
    settings.STUCK_MIN_SECONDS, settings.STUCK_HISTORY_FACTOR = 900, 3
    assert threshold([60.0, 120.0]) is None
    assert threshold([60.0, 120.0, 100.0]) == 900  # 300 s is under the floor
    assert threshold([600.0, 300.0, 1200.0, 900.0]) == 2700  # the upper median of four


def test_observations_outside_a_poll_save_the_rollup(account) -> None:
    p = pipeline(account, "stream")
    stats = record_observations(p, [seen(p, "job-1", vb.SUCCEEDED, finished_at=T0)], T0)
    assert (stats.runs_created, stats.snapshots, stats.state_changes) == (1, 1, 1)
    row = Pipeline.objects.get(pk=p.pk)
    assert (row.current_run, row.last_success_at) == (run("job-1"), T0)
    assert record_observations(p, [], T0).runs_created == 0


@pytest.mark.parametrize("rows", [1, 3])
def test_a_value_too_long_for_its_column_fails_as_save_would(account, rows: int) -> None:
    """One row or many (one UPDATE ... FROM VALUES): never cut to fit."""
    pipelines = [pipeline(account, f"p{i}") for i in range(rows)]
    for p in pipelines:
        p.poll_error_kind = "k" * 21
    with pytest.raises(DataError):
        update_fields(pipelines, ["poll_error_kind"])


def test_rows_are_inserted_in_batches(account) -> None:
    p = pipeline(account, "p")
    poll(account, answer(p, seen(p, "r")))
    r = run("r")
    snapshots = [Snapshot(run=r, observed_at=T0 + timedelta(seconds=i), state=vb.RUNNING) for i in range(5)]
    with CaptureQueriesContext(connection) as queries:
        insert(snapshots, SNAPSHOT_FIELDS, batch=2)
    assert len(queries) == 3 and Snapshot.objects.filter(run=r).count() == 6
