"""jobs.health: which status a pipeline row stores and when its trouble began (`incident_since`).

derive() works on unsaved rows with the health given, so these run without the database; store()
is checked against PostgreSQL (it writes only the rows that moved)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs import health
from jobs.models import FAILING, HEALTHY, LATE, PAUSED, RUNNING, STUCK, UNKNOWN, Account, Health, Pipeline, Run

from ..conftest import T0

NOW = T0
EARLIER = T0 - timedelta(hours=5)
MUCH_EARLIER = T0 - timedelta(days=2)


def pipeline(**fields: object) -> Pipeline:
    fields.setdefault("created_at", MUCH_EARLIER - timedelta(days=1))
    fields.setdefault("health_status", HEALTHY)
    fields.setdefault("next_check_at", None)  # no look owed: only what the test changes moves
    # An unsaved account: derive() reads its thresholds for the next time-based check (next_check_at).
    return Pipeline(account=Account(name="h", vendor="mixpanel"), kind="import_connector", external_id="p", **fields)


def with_run(p: Pipeline, **fields: object) -> Pipeline:
    p.current_run = Run(external_id="r1", state="running", **fields)
    return p


@pytest.mark.parametrize("status", [HEALTHY, RUNNING, PAUSED])
def test_no_trouble_has_no_since_and_clears_an_old_one(status: str) -> None:
    p = pipeline(health_status=FAILING, incident_since=EARLIER)
    assert health.derive(p, NOW, Health(status)) is True
    assert (p.health_status, p.incident_since) == (status, None)


def test_unchanged_healthy_row_did_not_move() -> None:
    p = pipeline(health_status=HEALTHY, incident_since=None)
    assert health.derive(p, NOW, Health(HEALTHY)) is False
    assert (p.health_status, p.incident_since) == (HEALTHY, None)


def test_failing_begins_when_days_went_missing_first() -> None:
    p = with_run(pipeline(missing_since=MUCH_EARLIER, last_failure_at=EARLIER), finished_at=NOW)
    assert health.derive(p, NOW, Health(FAILING)) is True
    assert (p.health_status, p.incident_since) == (FAILING, MUCH_EARLIER)


def test_failing_begins_at_the_last_failure_without_missing_days() -> None:
    p = with_run(pipeline(last_failure_at=EARLIER), finished_at=NOW - timedelta(minutes=1))
    health.derive(p, NOW, Health(FAILING))
    assert p.incident_since == EARLIER


def test_failing_without_a_recorded_failure_begins_when_the_run_finished() -> None:
    p = with_run(pipeline(), finished_at=EARLIER)
    health.derive(p, NOW, Health(FAILING))
    assert p.incident_since == EARLIER


def test_failing_with_nothing_recorded_begins_now() -> None:
    p = pipeline()
    health.derive(p, NOW, Health(FAILING))
    assert p.incident_since == NOW


def test_failing_run_not_finished_begins_now() -> None:
    p = with_run(pipeline(), finished_at=None)
    health.derive(p, NOW, Health(FAILING))
    assert p.incident_since == NOW


def test_stuck_begins_at_the_runs_last_change() -> None:
    p = with_run(pipeline(), last_change_at=EARLIER, finished_at=MUCH_EARLIER)
    health.derive(p, NOW, Health(STUCK))
    assert (p.health_status, p.incident_since) == (STUCK, EARLIER)


def test_stuck_without_a_run_begins_now() -> None:
    p = pipeline(last_success_at=EARLIER)
    health.derive(p, NOW, Health(STUCK))
    assert p.incident_since == NOW


def test_late_begins_at_the_last_success() -> None:
    p = pipeline(last_success_at=EARLIER)
    health.derive(p, NOW, Health(LATE))
    assert (p.health_status, p.incident_since) == (LATE, EARLIER)


def test_late_never_succeeded_begins_at_creation() -> None:
    p = pipeline(created_at=MUCH_EARLIER)
    health.derive(p, NOW, Health(LATE))
    assert p.incident_since == MUCH_EARLIER


def test_unknown_begins_now() -> None:
    p = with_run(pipeline(last_success_at=EARLIER, last_failure_at=EARLIER), last_change_at=EARLIER)
    health.derive(p, NOW, Health(UNKNOWN, "gone"))
    assert (p.health_status, p.incident_since) == (UNKNOWN, NOW)


def test_lasting_trouble_keeps_its_start() -> None:
    p = pipeline(health_status=FAILING, incident_since=MUCH_EARLIER, last_failure_at=EARLIER)
    assert health.derive(p, NOW, Health(FAILING)) is False
    assert p.incident_since == MUCH_EARLIER


def test_same_trouble_without_a_stored_start_gets_one() -> None:
    p = pipeline(health_status=LATE, incident_since=None, last_success_at=EARLIER)
    assert health.derive(p, NOW, Health(LATE)) is True
    assert p.incident_since == EARLIER


def test_new_kind_of_trouble_starts_again() -> None:
    p = pipeline(health_status=LATE, incident_since=MUCH_EARLIER, last_failure_at=EARLIER)
    assert health.derive(p, NOW, Health(FAILING)) is True
    assert (p.health_status, p.incident_since) == (FAILING, EARLIER)


def test_without_a_given_health_the_rows_own_is_derived() -> None:
    p = pipeline(paused=True, health_status=FAILING, incident_since=EARLIER)
    assert health.derive(p, NOW) is True
    assert (p.health_status, p.incident_since) == (PAUSED, None)


def test_every_trouble_status_is_trouble() -> None:
    assert set(health.TROUBLE) == {FAILING, STUCK, LATE, UNKNOWN}


@pytest.mark.django_db
def test_store_writes_only_the_rows_that_moved() -> None:
    account = Account.objects.create(name="h", vendor="mixpanel", base_url="http://127.0.0.1:9", settings={})
    moved = Pipeline.objects.create(account=account, kind="k", external_id="a", paused=True, health_status=FAILING)
    steady = Pipeline.objects.create(account=account, kind="k", external_id="b", paused=True, health_status=PAUSED)
    # A saved row is owed a look by the alert scan (next_check_at); paused ones owe none.
    Pipeline.objects.update(next_check_at=None)
    rows = list(Pipeline.objects.select_related("account", "current_run").order_by("external_id"))
    # Written by someone else after loading: a row whose health did not move is not written back.
    Pipeline.objects.filter(pk=steady.pk).update(health_status=LATE)

    assert health.store(rows, NOW) == 1
    moved.refresh_from_db()
    steady.refresh_from_db()
    assert (moved.health_status, moved.incident_since) == (PAUSED, None)
    assert steady.health_status == LATE


@pytest.mark.django_db
def test_store_with_nothing_changed_writes_nothing() -> None:
    assert health.store([], NOW) == 0


# --- what the health means as trouble: condition() and alert_condition() ---------------------


def unpolled(kind: str = "", errors: int = 1, pipeline_kind: str = "") -> Pipeline:
    """A pipeline whose account (and itself) last polled with these errors."""
    account = Account(
        name="h", vendor="mixpanel", poll_error_kind=kind, poll_error_message="401", consecutive_errors=errors
    )
    return Pipeline(account=account, kind="import_connector", external_id="p", poll_error_kind=pipeline_kind)


@pytest.mark.parametrize(
    ("kind", "errors", "found"),
    [
        ("", 5, None),
        ("auth", 1, "credentials"),
        ("vendor", 1, "unpollable"),
        ("rate_limited", 2, None),  # one 429 is routine: obeyed, not a problem yet
        ("rate_limited", 3, "unpollable"),
    ],
)
def test_account_condition(kind: str, errors: int, found: str | None) -> None:
    assert health.account_condition(unpolled(kind, errors).account) == found


@pytest.mark.parametrize(
    ("status", "run_state", "flags", "found"),
    [
        (FAILING, "failed", [], "failed"),
        (FAILING, "failed", ["empty", "partial"], "partial"),
        (FAILING, "succeeded", ["partial"], "failed"),  # the failing health is another run's
        (FAILING, None, [], "failed"),
        (STUCK, "running", [], "stuck"),
        (LATE, None, [], "late"),
        (HEALTHY, "failed", ["partial"], None),
        (RUNNING, "running", [], None),
        (PAUSED, None, [], None),
    ],
)
def test_condition_names_the_trouble(status: str, run_state: str | None, flags: list[str], found: str | None) -> None:
    p = pipeline()
    if run_state is not None:
        p.current_run = Run(external_id="r1", state=run_state, flags=flags)
    assert health.condition(p, Health(status)) == found


@pytest.mark.parametrize(
    ("account_kind", "pipeline_kind", "found"),
    [
        ("auth", "", "credentials"),
        ("vendor", "", "unpollable"),
        ("", "not_found", "unpollable"),  # the vendor no longer knows this one
        ("", "", None),  # waiting for a first poll, or a status we do not know
    ],
)
def test_an_unknown_health_is_named_by_what_keeps_us_from_seeing_it(
    account_kind: str, pipeline_kind: str, found: str | None
) -> None:
    assert health.condition(unpolled(account_kind, pipeline_kind=pipeline_kind), Health(UNKNOWN)) == found


@pytest.mark.parametrize(
    ("status", "account_kind", "pipeline_kind", "said"),
    [
        (FAILING, "", "", "failed"),
        (STUCK, "", "", "stuck"),
        (LATE, "", "", "late"),
        (UNKNOWN, "auth", "", "credentials"),
        (UNKNOWN, "vendor", "", None),  # unpollable: shown, never alerted; what was said stands
        (UNKNOWN, "", "not_found", None),
        (UNKNOWN, "", "", None),
        (HEALTHY, "", "", "ok"),
        (RUNNING, "", "", "ok"),
        (PAUSED, "", "", "ok"),
    ],
)
def test_alert_condition_says_what_people_should_be_told(
    status: str, account_kind: str, pipeline_kind: str, said: str | None
) -> None:
    assert health.alert_condition(unpolled(account_kind, pipeline_kind=pipeline_kind), Health(status)) == said


def test_a_partial_failure_is_alerted_as_partial() -> None:
    p = pipeline()
    p.current_run = Run(external_id="r1", state="failed", flags=["partial"])
    assert health.alert_condition(p, Health(FAILING)) == "partial"


# --- when the alert scan must look again: next_time_change() and next_check_at ----------------

TICK = timedelta(microseconds=1)  # a boundary is past once health() sees it: one tick after


def timed(**fields: object) -> Pipeline:
    """A pipeline stuck after 10 minutes of quiet and expected to succeed hourly (late 90 minutes
    after its last success: the hour and half an hour's grace)."""
    fields.setdefault("last_success_at", NOW)
    return pipeline(stuck_after_seconds=600, expected_every_seconds=3600, **fields)


def test_a_running_run_is_looked_at_again_when_it_would_become_stuck() -> None:
    p = with_run(timed(), last_change_at=NOW - timedelta(minutes=5))
    assert health.next_time_change(p, NOW) == NOW + timedelta(minutes=5) + TICK  # before being late


def test_a_pipeline_is_looked_at_again_when_it_would_become_late() -> None:
    p = timed(last_success_at=NOW - timedelta(hours=1))
    assert health.next_time_change(p, NOW) == NOW + timedelta(minutes=30) + TICK
    finished = with_run(timed(last_success_at=NOW - timedelta(hours=1)), last_change_at=NOW)
    finished.current_run.state = "succeeded"  # only a running run becomes stuck
    assert health.next_time_change(finished, NOW) == NOW + timedelta(minutes=30) + TICK
    long_quiet = with_run(timed(last_success_at=NOW - timedelta(hours=1)), last_change_at=NOW - timedelta(hours=2))
    assert health.next_time_change(long_quiet, NOW) == NOW + timedelta(minutes=30) + TICK  # stuck already


def test_a_boundary_reached_now_is_not_a_next_change() -> None:
    p = timed(last_success_at=NOW - timedelta(minutes=90) - TICK)
    assert health.next_time_change(p, NOW) is None
    assert health.next_time_change(timed(paused=True), NOW) is None


def test_health_that_moved_unannounced_is_looked_at_by_the_next_scan_at_once() -> None:
    p = with_run(timed(health_status=HEALTHY), last_change_at=NOW - timedelta(hours=1))
    assert health.derive(p, NOW, Health(STUCK)) is True and p.next_check_at == NOW
    scanned = with_run(timed(health_status=HEALTHY), last_change_at=NOW - timedelta(minutes=5))
    health.derive(scanned, NOW, Health(STUCK), scanned=True)  # the scan itself: the next boundary
    assert scanned.next_check_at == NOW + timedelta(minutes=5) + TICK
    resumed = timed(health_status=UNKNOWN, paused=True)  # paused: nothing to look at
    health.derive(resumed, NOW, Health(PAUSED))
    assert resumed.next_check_at is None


def test_an_announced_move_waits_for_the_next_boundary() -> None:
    p = timed(health_status=HEALTHY)  # a failure comes with its StateChange
    health.derive(p, NOW, Health(FAILING))
    assert p.next_check_at == NOW + timedelta(minutes=90) + TICK
    steady = timed(health_status=HEALTHY)
    assert health.derive(steady, NOW, Health(HEALTHY)) is True  # only next_check_at moved
    assert steady.next_check_at == NOW + timedelta(minutes=90) + TICK


@pytest.mark.parametrize("owed", [NOW, NOW - timedelta(minutes=3)])
def test_a_look_still_owed_is_kept_by_a_poll_and_cleared_by_the_scan(owed) -> None:
    p = timed(health_status=HEALTHY, next_check_at=owed)
    health.derive(p, NOW, Health(HEALTHY))
    assert p.next_check_at == owed
    health.derive(p, NOW, Health(HEALTHY), scanned=True)
    assert p.next_check_at == NOW + timedelta(minutes=90) + TICK


def test_without_a_given_health_it_is_the_rows_health_at_that_moment() -> None:
    p = with_run(timed(last_polled_at=NOW), last_change_at=NOW - timedelta(minutes=9))
    health.derive(p, NOW)
    assert p.health_status == RUNNING  # not yet stuck at NOW, whatever the clock says


def test_rederive_returns_what_moved_and_a_recheck_makes_the_scan_look_at_every_one() -> None:
    p = timed(health_status=HEALTHY, last_polled_at=NOW, next_check_at=NOW + timedelta(minutes=90) + TICK)
    assert health.rederive([p], NOW) == [] and p.next_check_at == NOW + timedelta(minutes=90) + TICK
    assert health.rederive([p], NOW, recheck=True) == [p] and p.next_check_at == NOW
    assert health.rederive([p], NOW, recheck=True) == []  # owed already: nothing moved


@pytest.mark.django_db
def test_store_with_a_recheck_writes_the_look_owed_now() -> None:
    account = Account.objects.create(name="h", vendor="mixpanel", base_url="http://127.0.0.1:9", settings={})
    Pipeline.objects.create(account=account, kind="k", external_id="a", paused=True, health_status=PAUSED)
    Pipeline.objects.update(next_check_at=None)
    rows = list(Pipeline.objects.select_related("account", "current_run"))
    assert health.store(rows, NOW, recheck=True) == 1
    assert Pipeline.objects.get().next_check_at == NOW
