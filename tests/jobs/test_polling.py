"""The real poll path (claim, HTTP to the simulator, normalize, write) into PostgreSQL."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import polling
from jobs.models import Account, Pipeline, PollAttempt, Run, Snapshot, StateChange
from jobs.recording import Recording, record_observations, seen
from vendors import base as vb
from vendors.mixpanel.simulator import ScriptedRun, SimConnector
from vendors.simulator.core import Fault

from ..conftest import T0

GZIP = "No compression specified but Gzip detected. Please submit a new request with correct compression as param"


def poll(account: Account):
    account.refresh_from_db()
    return polling.poll_now(account)


def scripted(sim, connector_id: str, **kwargs) -> ScriptedRun:
    run = ScriptedRun(queued_at=T0, **kwargs)
    sim.mixpanel.projects["12345"].add(SimConnector(connector_id, runs=[run]))
    return run


@pytest.mark.django_db
def test_seed_samples_land_as_runs(mp_account, make_pipeline) -> None:
    for cid in ("seed-queued", "seed-running", "seed-success", "seed-failed"):
        make_pipeline(cid)
    summary = poll(mp_account)
    assert summary.outcome == "ok" and summary.stats.runs_created == 4
    runs = {r.pipeline.external_id: r for r in Run.objects.select_related("pipeline")}
    assert runs["seed-queued"].state == "queued" and runs["seed-queued"].started_at is None
    assert runs["seed-running"].progress == 0.25 and runs["seed-running"].percent == 25
    assert runs["seed-success"].counts == {"processed": 13, "succeeded": 13, "dropped": 0, "files": 4, "bytes": 1610}
    assert runs["seed-failed"].error_message == GZIP
    failed = Pipeline.objects.get(external_id="seed-failed")
    assert failed.last_failure_message == GZIP and failed.health().status == "failing"
    assert Pipeline.objects.get(external_id="seed-success").last_success_at is not None
    assert Pipeline.objects.get(external_id="seed-running").health().status == "running"


@pytest.mark.django_db
def test_a_hundred_unchanged_polls_add_no_rows(mp_account, make_pipeline) -> None:
    make_pipeline("seed-running")
    poll(mp_account)
    before = (Snapshot.objects.count(), StateChange.objects.count(), Run.objects.count())
    for _ in range(100):
        assert poll(mp_account).outcome == "ok"
    assert (Snapshot.objects.count(), StateChange.objects.count(), Run.objects.count()) == before
    assert Run.objects.get().last_seen_at > Run.objects.get().first_seen_at


def _moving_poll(sim, mp_account, connectors: list[str]) -> int:
    """Statements of one poll in which the run of every one of `connectors` moved."""
    sim.advance(60)
    with CaptureQueriesContext(connection) as queries:
        summary = poll(mp_account)
    assert summary.outcome == "ok" and summary.stats.runs_changed == len(connectors)
    assert summary.stats.snapshots == len(connectors) and summary.stats.runs_created == 0
    return len(queries)


@pytest.mark.django_db(transaction=True)
def test_a_poll_writes_moved_runs_in_the_same_statements_however_many_pipelines(sim, mp_account, make_pipeline) -> None:
    """Known runs that moved are written together: one transaction and a fixed set of
    statements per account poll, not a transaction and half a dozen statements per pipeline."""
    few = [f"few-{i}" for i in range(2)]
    many = few + [f"many-{i}" for i in range(6)]
    for cid in many:
        scripted(sim, cid, queue_seconds=0, run_seconds=6000, events=10**6)
    for cid in few:
        make_pipeline(cid)
    poll(mp_account)  # first sight: runs created
    with_few = _moving_poll(sim, mp_account, few)
    for cid in many[len(few) :]:
        make_pipeline(cid)
    poll(mp_account)
    with_many = _moving_poll(sim, mp_account, many)
    assert with_many == with_few

    # ... and what the batch wrote is all there, as a poll of one pipeline would write it.
    run = Run.objects.get(pipeline__external_id="many-5")
    assert run.state == "running" and run.progress == 0.02 and run.last_change_at == run.last_seen_at
    assert run.raw["status"] == "running" and run.counts["processed"] > 0
    assert list(run.snapshots.order_by("observed_at").values_list("changed", flat=True))[-1] == ["progress", "counts"]
    pipeline = Pipeline.objects.get(external_id="many-5")
    assert pipeline.current_run_id == run.pk and pipeline.last_polled_at == run.last_seen_at


@pytest.mark.django_db
def test_a_run_listed_twice_in_one_reply_is_one_run(make_pipeline) -> None:
    """A vendor page that shifted while read can list a run twice: one row (the last
    listing wins), not a failed poll on the unique key, on first sight and after."""
    pipeline = make_pipeline("twice")

    def running(progress: float) -> vb.Observation:
        raw = {"run_id": "dup", "status": "running", "progress": progress}
        return vb.Observation(pipeline.target(), "dup", "running", "running", progress=progress, raw=raw)

    now = timezone.now()
    stats = record_observations(pipeline, [running(0.1), running(0.2)], now)
    assert stats.runs_created == 1 and Run.objects.get().progress == 0.2
    pipeline.refresh_from_db()
    recording = Recording(now)
    recording.observe(pipeline, seen([running(0.3), running(0.4)]), {"dup": Run.objects.get()})
    recording.write()
    assert recording.stats.runs_changed == 1 and Run.objects.get().progress == 0.4


@pytest.mark.django_db
def test_a_run_moves_through_its_states_as_one_row(sim, mp_account, make_pipeline) -> None:
    scripted(sim, "moving", queue_seconds=10, run_seconds=100, events=1000)
    make_pipeline("moving")
    poll(mp_account)  # queued: no id, no start time -> provisional key
    run = Run.objects.get()
    assert (run.state, run.provisional_key) == ("queued", True)

    sim.advance(10 + 40)
    poll(mp_account)
    sim.advance(30)
    poll(mp_account)
    sim.advance(100)
    poll(mp_account)

    run = Run.objects.get()  # still exactly one row: the queued run was re-keyed, not duplicated
    assert run.state == "succeeded" and not run.provisional_key
    assert run.counts["succeeded"] == 1000
    snaps = list(run.snapshots.order_by("observed_at"))
    assert [s.state for s in snaps] == ["queued", "running", "running", "succeeded"]
    assert [s.progress for s in snaps] == [0.0, 0.4, 0.7, 1.0]
    assert snaps[2].changed == ["progress", "counts"]
    assert list(run.state_changes.order_by("at").values_list("old_state", "new_state")) == [
        ("", "queued"),
        ("queued", "running"),
        ("running", "succeeded"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fault", "outcome", "reason"),
    [
        (Fault("status", status=500, body={"status": "error", "error": "boom"}), "transient", "Vendor unreachable"),
        (Fault("html", status=502), "transient", "502 Bad Gateway"),
        (Fault("timeout", seconds=3), "transient", "did not answer"),
        (
            Fault("status", status=401, body={"status": "error", "error": "Invalid credentials"}),
            "auth",
            "Credentials rejected",
        ),
        (Fault("status", status=403, body={"status": "error", "error": "no access"}), "auth", "no access"),
    ],
)
def test_account_failures_are_recorded_shown_and_lose_nothing(
    sim, mp_account, make_pipeline, fault, outcome, reason
) -> None:
    pipeline = make_pipeline("seed-running")
    poll(mp_account)
    run_before = Run.objects.values().get()
    snaps_before = list(Snapshot.objects.values())

    sim.simulator.inject(fault)
    summary = poll(mp_account)

    assert summary.outcome == outcome
    attempt = PollAttempt.objects.order_by("-at", "-id").first()
    assert attempt.outcome == outcome and attempt.message
    mp_account.refresh_from_db()
    assert mp_account.poll_error_kind == outcome and mp_account.backoff_until is not None
    pipeline = Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk)
    health = pipeline.health()
    assert health.status == "unknown" and reason in health.reason
    assert Run.objects.values().get() == run_before
    assert list(Snapshot.objects.values()) == snaps_before

    sim.simulator.clear_faults()
    assert poll(mp_account).outcome == "ok"
    pipeline = Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk)
    assert pipeline.health().status == "running"


@pytest.mark.django_db
@pytest.mark.parametrize("fault", [Fault("not_json"), Fault("wrong_shape"), Fault("bad_utf8")])
def test_unreadable_replies_mark_the_pipeline_not_the_data(sim, mp_account, make_pipeline, fault) -> None:
    pipeline = make_pipeline("seed-running")
    poll(mp_account)
    sim.simulator.inject(fault)
    poll(mp_account)
    pipeline = Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk)
    assert pipeline.poll_error_kind == "bad_response"
    assert pipeline.health().status == "unknown"
    assert Run.objects.get().progress == 0.25
    assert PollAttempt.objects.order_by("-at", "-id").first().outcome == "bad_response"


@pytest.mark.django_db
def test_unknown_connector_is_a_pipeline_problem(mp_account, make_pipeline) -> None:
    gone = make_pipeline("no-such-connector")
    fine = make_pipeline("seed-success")
    summary = poll(mp_account)
    assert summary.outcome == "ok"
    gone = Pipeline.objects.select_related("account", "current_run").get(pk=gone.pk)
    # A 404 from the legacy connectors API: most likely the API Mixpanel removed, maybe the id.
    reason = gone.health().reason
    assert gone.health().status == "unknown" and "removed" in reason and "connector id is wrong" in reason
    assert "Connector no-such-connector not found" in reason
    assert Pipeline.objects.select_related("account", "current_run").get(pk=fine.pk).health().status == "healthy"


@pytest.mark.django_db
def test_429_backs_off_for_at_least_retry_after(sim, mp_account, make_pipeline) -> None:
    make_pipeline("seed-running")
    sim.simulator.inject(Fault("status", status=429, body={"error": "slow"}, headers={"Retry-After": "120"}))
    before = timezone.now()
    assert poll(mp_account).outcome == "rate_limited"
    mp_account.refresh_from_db()
    assert mp_account.backoff_until >= before + timedelta(seconds=120)
    assert PollAttempt.objects.get().retry_after == 120
    # one 429 is routine: the pipeline does not go unknown for it
    assert (
        Pipeline.objects.select_related("account", "current_run").get().health().status == "unknown"
    )  # never polled OK yet


@pytest.mark.django_db
def test_errors_back_off_exponentially_and_reset_on_success(sim, mp_account, make_pipeline, settings) -> None:
    settings.POLL_ACTIVE_SECONDS = 10
    make_pipeline("seed-running")
    sim.simulator.inject(Fault("status", status=500))
    delays = []
    for _ in range(4):
        now = timezone.now()
        poll(mp_account)
        mp_account.refresh_from_db()
        delays.append(round((mp_account.backoff_until - now).total_seconds()))
    assert delays == [10, 20, 40, 80]
    sim.simulator.clear_faults()
    poll(mp_account)
    mp_account.refresh_from_db()
    assert (mp_account.consecutive_errors, mp_account.backoff_until, mp_account.poll_error_kind) == (0, None, "")


@pytest.mark.django_db
def test_next_poll_is_sooner_while_a_run_is_active(mp_account, make_pipeline, settings) -> None:
    settings.POLL_ACTIVE_SECONDS, settings.POLL_IDLE_SECONDS = 10, 600
    active, idle = make_pipeline("seed-running"), make_pipeline("seed-success")
    now = timezone.now()
    poll(mp_account)
    active.refresh_from_db()
    idle.refresh_from_db()
    assert (active.next_poll_at - now).total_seconds() < 12
    assert (idle.next_poll_at - now).total_seconds() > 500


@pytest.mark.django_db
def test_paused_pipelines_are_not_polled(sim, mp_account, make_pipeline) -> None:
    make_pipeline("seed-running", paused=True)
    poll(mp_account)
    assert Run.objects.count() == 0
    assert not any("seed-running" in path for _, path in sim.simulator.request_log)


@pytest.mark.django_db
def test_an_account_pointing_outside_the_allow_list_is_not_polled(sim, mp_account, make_pipeline, settings) -> None:
    make_pipeline("seed-running")
    settings.VENDOR_HOST_ALLOWLIST = []
    summary = poll(mp_account)
    assert summary.outcome == "rejected" and "VENDOR_HOST_ALLOWLIST" in summary.message
    assert sim.simulator.request_log == []
    mp_account.refresh_from_db()
    assert mp_account.poll_error_kind == "rejected"
