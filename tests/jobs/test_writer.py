"""An account poll's outcome, as a vendor client hands it over, written by `jobs.writer` into
PostgreSQL: the account's and its pipelines' poll state, errors, deadlines, listings and the
lease. No HTTP, so they are fast: `make mutation` runs them against the recording code
(tests/jobs/test_recording.py has the runs' side)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from jobs import polling, scheduling
from jobs.leases import Lease, LeaseLost
from jobs.models import Account, Pipeline, PollAttempt, Run, Snapshot
from jobs.writer import EXTERNAL_ID_MAX, PollerBug, PollOutcome, PollSummary, write
from vendors import base as vb

from ..conftest import T0
from .outcomes import EXPORT, answer, pipeline, poll, seen


@pytest.fixture
def account(db: None) -> Account:
    return Account.objects.create(name="acme", vendor="mixpanel", settings={"project_id": "1"})


def attempt() -> PollAttempt:
    return PollAttempt.objects.order_by("-at", "-id").first()


def between(value, now, seconds: float) -> bool:
    """`value` is `now` plus `seconds` with the cadence's jitter (±10 %)."""
    return now + timedelta(seconds=seconds * 0.9) <= value <= now + timedelta(seconds=seconds * 1.1)


def test_a_poll_records_the_account_the_attempt_and_each_pipelines_next_poll(account) -> None:
    active, idle = pipeline(account, "active"), pipeline(account, "idle")
    summary = poll(account, answer(active, seen(active, "a1")), answer(idle))

    assert (summary.account, summary.outcome, summary.message, summary.pipelines) == ("acme", "ok", "", 2)
    assert (summary.discovered, summary.duration_ms) == (0, 7)
    a = Account.objects.get(pk=account.pk)
    assert (a.last_poll_at, a.last_poll_ok_at, a.poll_error_kind, a.consecutive_errors) == (T0, T0, "", 0)
    assert a.next_discovery_at is None  # nothing was listed
    done = attempt()
    assert (done.at, done.outcome, done.targets, done.duration_ms, done.http_status, done.message) == (
        T0,
        "ok",
        2,
        7,
        None,
        "",
    )
    active.refresh_from_db()
    idle.refresh_from_db()
    assert active.last_polled_at == idle.last_polled_at == T0
    assert between(active.next_poll_at, T0, settings.POLL_ACTIVE_SECONDS)  # its run is running
    assert between(idle.next_poll_at, T0, settings.POLL_IDLE_SECONDS)
    assert active.current_run == Run.objects.get(external_id="a1") and idle.current_run is None


def test_an_account_error_is_recorded_with_its_backoff_and_what_came_before_stays(account) -> None:
    first, second = pipeline(account, "first"), pipeline(account, "second")
    elsewhere = pipeline(account, "not-polled", paused=True)
    Pipeline.objects.filter(pk=elsewhere.pk).update(next_check_at=None)
    error = vb.Transient("vendor down", http_status=503, retry_after=2.5)
    summary = poll(account, answer(first, seen(first, "f1")), error=error)

    assert (summary.outcome, summary.message) == ("transient", "HTTP 503: vendor down")
    a = Account.objects.get(pk=account.pk)
    assert (a.poll_error_kind, a.poll_error_message, a.poll_error_status) == ("transient", "HTTP 503: vendor down", 503)
    assert (a.last_poll_at, a.poll_error_since, a.consecutive_errors, a.last_poll_ok_at) == (T0, T0, 1, None)
    assert a.backoff_until == T0 + timedelta(seconds=scheduling.error_backoff(1, 2.5))
    done = attempt()
    assert (done.outcome, done.http_status, done.retry_after, done.message, done.targets) == (
        "transient",
        503,
        2.5,
        "HTTP 503: vendor down",
        2,
    )
    assert Run.objects.filter(external_id="f1").exists()  # answered before the error: kept
    assert Pipeline.objects.get(pk=first.pk).last_polled_at == T0
    assert Pipeline.objects.get(pk=second.pk).last_polled_at is None  # never answered
    # The account's error changed: every pipeline of it is looked at by the next alert scan.
    assert set(Pipeline.objects.values_list("next_check_at", flat=True)) == {T0}
    assert Pipeline.objects.get(pk=second.pk).health_status == "unknown"

    later = T0 + timedelta(minutes=1)
    poll(account, error=vb.Transient("still down"), now=later)
    a = Account.objects.get(pk=account.pk)
    assert (a.consecutive_errors, a.poll_error_since, a.poll_error_status) == (2, T0, None)
    assert a.backoff_until == later + timedelta(seconds=scheduling.error_backoff(2))
    poll(account, error=vb.AuthError("bad key", http_status=401), now=later)
    a = Account.objects.get(pk=account.pk)
    assert (a.poll_error_kind, a.poll_error_since, a.consecutive_errors) == ("auth", later, 3)


def test_a_good_poll_after_errors_clears_them(account) -> None:
    p = pipeline(account, "p")
    poll(account, error=vb.Transient("down", http_status=502))
    Pipeline.objects.update(next_check_at=None)
    later = T0 + timedelta(minutes=5)
    poll(account, answer(p), now=later)
    a = Account.objects.get(pk=account.pk)
    assert (a.poll_error_kind, a.poll_error_message, a.poll_error_status, a.poll_error_since) == ("", "", None, None)
    assert (a.consecutive_errors, a.backoff_until, a.last_poll_ok_at) == (0, None, later)
    assert Pipeline.objects.get(pk=p.pk).next_check_at == later  # fixed: looked at again


def test_an_unchanged_error_kind_does_not_make_every_pipeline_due_for_a_look(account) -> None:
    pipeline(account, "p", paused=True)
    poll(account, error=vb.Transient("down"))
    Pipeline.objects.update(next_check_at=None)
    poll(account, error=vb.Transient("down again"), now=T0 + timedelta(minutes=1))
    assert Pipeline.objects.get().next_check_at is None


def test_a_pipelines_own_error_is_its_own_and_the_attempt_tells_the_first(account) -> None:
    unknown, removed, garbled, fine = (pipeline(account, x) for x in ("unknown", "removed", "garbled", "fine"))
    summary = poll(
        account,
        answer(unknown, error=vb.NotFound("no such connector", http_status=404)),
        answer(removed, error=vb.RemovedApi("the API is gone", http_status=404)),
        answer(garbled, error=vb.BadResponse("not JSON")),
        answer(fine, seen(fine, "ok-1")),
    )
    assert (summary.outcome, summary.message) == ("ok", "not_found: HTTP 404: no such connector")
    rows = {p.external_id: p for p in Pipeline.objects.all()}
    assert (rows["unknown"].poll_error_kind, rows["unknown"].poll_error_message) == (
        "not_found",
        "The vendor does not know import_connector 'unknown' (HTTP 404: no such connector)",
    )
    assert (rows["removed"].poll_error_kind, rows["removed"].poll_error_message) == (
        "not_found",
        "HTTP 404: the API is gone",
    )
    assert (rows["garbled"].poll_error_kind, rows["garbled"].poll_error_message) == ("bad_response", "not JSON")
    assert rows["fine"].poll_error_kind == "" and rows["fine"].current_run is not None
    assert all(p.last_polled_at == T0 for p in rows.values())  # polled, errors or not
    done = attempt()
    assert (done.outcome, done.http_status, done.message) == ("not_found", 404, "HTTP 404: no such connector")
    a = Account.objects.get(pk=account.pk)
    assert (a.poll_error_kind, a.last_poll_ok_at) == ("", T0)  # the account itself is fine

    poll(account, answer(unknown), now=T0 + timedelta(minutes=1))
    assert Pipeline.objects.get(pk=unknown.pk).poll_error_kind == ""  # answered again: cleared
    assert Pipeline.objects.get(pk=unknown.pk).poll_error_message == ""


def test_facts_about_a_pipeline_are_merged_and_kept(account) -> None:
    p = pipeline(account, "p", vendor_info={"frequency": "daily", "kept": 1})
    poll(account, answer(p, info={"frequency": "hourly", "new": True}))
    assert Pipeline.objects.get(pk=p.pk).vendor_info == {"frequency": "hourly", "kept": 1, "new": True}
    poll(account, answer(p), now=T0 + timedelta(minutes=1))
    assert Pipeline.objects.get(pk=p.pk).vendor_info == {"frequency": "hourly", "kept": 1, "new": True}


def test_a_poll_writes_only_what_it_changed_on_a_pipeline(account) -> None:
    """Someone cancels the pipeline at the vendor while a poll is under way: the poll, which
    did not change `vendor_info`, must not write back the copy it read."""
    p = pipeline(account, "p")
    account = Account.objects.get(pk=account.pk)
    pipelines = polling.pipelines_to_poll(account, T0, only_due=False)
    Pipeline.objects.filter(pk=p.pk).update(vendor_info={"canceled_at": "now"}, name="renamed")
    write(PollOutcome(account, T0, pipelines, [answer(p)]), None)
    row = Pipeline.objects.get(pk=p.pk)
    assert (row.vendor_info, row.name, row.last_polled_at) == ({"canceled_at": "now"}, "renamed", T0)


def test_a_deadline_leaves_the_rest_due_and_says_how_many(account) -> None:
    answered, left = pipeline(account, "answered"), pipeline(account, "left")
    Account.objects.filter(pk=account.pk).update(next_discovery_at=None)
    summary = poll(account, answer(answered), cut=vb.OutOfTime("stopped after 5.0 s"), listed=True)
    expected = "stopped after 5.0 s: 1 of 2 pipeline(s) left for the next poll"
    assert (summary.outcome, summary.message) == ("ok", f"deadline: {expected}")
    assert (attempt().outcome, attempt().message) == ("deadline", expected)
    a = Account.objects.get(pk=account.pk)
    assert (a.poll_error_kind, a.backoff_until, a.next_discovery_at) == ("", None, None)  # listing cut short
    assert Pipeline.objects.get(pk=left.pk).last_polled_at is None
    assert Pipeline.objects.get(pk=answered.pk).last_polled_at == T0


def test_a_listing_is_asked_for_again_after_its_interval(account) -> None:
    poll(account, listed=True)
    assert between(Account.objects.get(pk=account.pk).next_discovery_at, T0, settings.DISCOVERY_SECONDS)


def test_listed_pipelines_are_tracked_and_paused_ones_left_alone(account) -> None:
    pipeline(account, "due", kind=EXPORT, next_poll_at=T0 - timedelta(minutes=1))
    quiet = pipeline(account, "quiet", kind=EXPORT, next_poll_at=T0 + timedelta(hours=1))
    stopped = pipeline(account, "stopped", kind=EXPORT, paused=True)
    account = Account.objects.get(pk=account.pk)
    pipelines = polling.pipelines_to_poll(account, T0, only_due=True)
    assert [p.external_id for p in pipelines] == ["due"]

    def listed(external_id: str, *observations: vb.Observation, **kwargs: object) -> vb.TargetResult:
        return vb.TargetResult(vb.Target(EXPORT, external_id), list(observations), name=f"Job {external_id}", **kwargs)

    new_with_runs = vb.Observation(vb.Target(EXPORT, "new-1"), "2026-11-19", vb.SUCCEEDED, "ok", raw={"d": 1})
    too_long = "x" * (EXTERNAL_ID_MAX + 1)
    results = [
        listed("due"),
        listed(too_long),
        listed("new-1", new_with_runs),
        listed("new-2"),
        listed("quiet", vb.Observation(vb.Target(EXPORT, "quiet"), "2026-11-19", vb.RUNNING, "run", raw={})),
        listed("stopped", vb.Observation(vb.Target(EXPORT, "stopped"), "2026-11-19", vb.RUNNING, "run", raw={})),
        listed("broken", error=vb.BadResponse("garbled")),
        listed(""),
    ]
    summary = write(PollOutcome(account, T0, pipelines, results, listed=True), None)

    assert summary.discovered == 2 and summary.pipelines == 1
    assert summary.message == (
        f"bad_response: the vendor listed a pipeline (export_pipeline) whose id is {len(too_long):,} characters"
        f" long (at most {EXTERNAL_ID_MAX} are kept): not tracked"
    )
    rows = {p.external_id: p for p in Pipeline.objects.all()}
    assert set(rows) == {"due", "quiet", "stopped", "new-1", "new-2"}
    assert (rows["new-1"].name, rows["new-1"].source, rows["new-1"].last_polled_at) == ("Job new-1", "discovered", T0)
    assert rows["new-2"].last_polled_at is None  # listed without runs: polled at the next tick
    assert rows["new-2"].next_poll_at <= timezone.now()
    assert rows["quiet"].last_polled_at is None  # not due: its runs are recorded, its pace kept
    assert rows["quiet"].next_poll_at == quiet.next_poll_at and rows["quiet"].current_run is not None
    assert rows["stopped"].current_run is None and rows["stopped"].next_poll_at == stopped.next_poll_at
    assert rows["due"].last_polled_at == T0
    assert Run.objects.filter(pipeline=rows["new-1"]).get().state == vb.SUCCEEDED
    assert rows["new-1"].last_success_at == T0  # no finish time given: when we saw it
    assert rows["new-1"].health_status == "healthy"


def test_a_pipeline_answered_twice_in_one_poll_is_recorded_once(account) -> None:
    p = pipeline(account, "p")
    summary = poll(account, answer(p, seen(p, "r1")), answer(p, seen(p, "r1", status="OTHER")))
    assert summary.stats.runs_created == 1 and Run.objects.get().vendor_status == "RUNNING"


def test_the_poll_gives_its_lease_back_in_its_own_transaction(account) -> None:
    p = pipeline(account, "p")
    token = scheduling.claim(account.pk, timezone.now())
    lease = Lease(account.pk, token)
    assert lease.take() is not None and not lease.released
    poll(account, answer(p), lease=lease)
    a = Account.objects.get(pk=account.pk)
    assert lease.released and (a.lease_token, a.lease_until) == (None, None)


def test_a_poll_whose_lease_was_taken_over_writes_nothing(account) -> None:
    p = pipeline(account, "p")
    token = scheduling.claim(account.pk, timezone.now())
    lease = Lease(account.pk, token)
    Account.objects.filter(pk=account.pk).update(lease_token=None, lease_until=None)
    newer = scheduling.claim(account.pk, timezone.now())
    with pytest.raises(LeaseLost):
        poll(account, answer(p, seen(p, "r1")), lease=lease)
    assert not lease.released
    assert not Run.objects.exists() and not PollAttempt.objects.exists()
    assert Account.objects.get(pk=account.pk).lease_token == newer


def test_our_own_bug_is_recorded_as_the_accounts_poll_error(account) -> None:
    pipeline(account, "p")
    poll(account, error=PollerBug("KeyError: 'x'"))
    a = Account.objects.get(pk=account.pk)
    assert (a.poll_error_kind, a.poll_error_message, a.consecutive_errors) == ("internal", "KeyError: 'x'", 1)
    assert a.poll_problem() == "Our poller failed: KeyError: 'x'"
    assert Pipeline.objects.get().health_status == "unknown"


def test_a_summary_line_says_what_happened() -> None:
    summary = PollSummary(account="acme", pipelines=3, duration_ms=12, discovered=1, message="not_found: x")
    summary.stats.runs_created, summary.stats.runs_changed, summary.stats.snapshots = 2, 1, 3
    assert summary.line() == (
        "acme: ok, 3 pipeline(s), 2 new run(s), 1 changed, 3 snapshot(s) in 12 ms, 1 discovered: not_found: x"
    )
    for outcome, message in (("idle", "nothing due"), ("busy", "a worker is polling it"), ("lost", "lease lost")):
        assert PollSummary(account="acme", outcome=outcome, message=message).line() == f"acme: {outcome} ({message})"
    assert (
        PollSummary(account="acme").line() == "acme: ok, 0 pipeline(s), 0 new run(s), 0 changed, 0 snapshot(s) in 0 ms"
    )


def test_nothing_moved_writes_no_snapshot(account) -> None:
    p = pipeline(account, "p")
    poll(account, answer(p, seen(p, "r1", progress=0.5)))
    poll(account, answer(p, seen(p, "r1", progress=0.5)), now=T0 + timedelta(minutes=1))
    assert Snapshot.objects.count() == 1
