"""A poll slower than its lease (a slow vendor): never two polls of one account at once,
and a poll that lost its lease anyway writes nothing over the newer poll's results.

Real PostgreSQL (transactions, row locks), the real simulator slowed by its `latency`,
the real claim paths (tick, task, "poll now") in threads as in the worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from jobs import polling, scheduling, tasks
from jobs.models import Account, Pipeline, PollAttempt, Run, Snapshot
from vendors.mixpanel.simulator import ScriptedRun, SimConnector

from ..conftest import T0


@pytest.fixture
def slow_vendor(settings, sim, mp_account):
    """A one-second lease, vendor timeouts long enough to wait for a slow answer, and no
    discovery due (each poll sends exactly one request per pipeline)."""
    settings.POLL_LEASE_SECONDS = 1
    settings.VENDOR_READ_TIMEOUT = settings.VENDOR_TOTAL_TIMEOUT = 10
    Account.objects.filter(pk=mp_account.pk).update(next_discovery_at=timezone.now() + timedelta(days=1))
    mp_account.refresh_from_db()
    yield sim
    sim.simulator.latency = 0


def running(sim, connector_id: str) -> None:
    """A run that started at T0 and takes 6,000 s: its progress moves with the clock."""
    run = ScriptedRun(queued_at=T0, queue_seconds=0, run_seconds=6000, events=10**6)
    sim.mixpanel.projects["12345"].add(SimConnector(connector_id, runs=[run]))


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run `fn` in a worker-like thread with its own database connection."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["result"] = fn()
        except BaseException as exc:  # surfaced by the test's assertions
            out["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def restart(*, connections_allowed: bool) -> None:
    """What a PostgreSQL restart does to this process: while it lasts, every connection to
    the test database but this test's own is cut and new ones are refused."""
    import psycopg

    db = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        mine = cursor.fetchone()[0]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        name = psycopg.sql.Identifier(db["NAME"])
        admin.execute(
            psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                name, psycopg.sql.SQL("true" if connections_allowed else "false")
            )
        )
        if not connections_allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                [db["NAME"], mine],
            )


def wait_for_request(sim, path_part: str, timeout: float = 5) -> None:
    until = time.monotonic() + timeout
    while not any(path_part in path for _, path in sim.simulator.request_log):
        assert time.monotonic() < until, f"no request for {path_part} reached the simulator"
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
def test_a_poll_slower_than_its_lease_is_never_overlapped(slow_vendor, mp_account, make_pipeline) -> None:
    """One vendor answer takes 1.5 s, the lease is 1 s: the poll keeps its lease while it
    waits, so neither a tick nor "poll now" can claim the account until it is done."""
    sim = slow_vendor
    running(sim, "slow-0")
    make_pipeline("slow-0")
    sim.simulator.latency = 1.5
    token, claimed = scheduling.claim_due(timezone.now())  # the tick
    assert claimed == [mp_account.pk]
    started = time.monotonic()
    poll, out = in_thread(lambda: polling.poll_claimed(mp_account.pk, token))  # the task

    stolen = []
    while time.monotonic() - started < 1.4:  # the poll cannot be done before its answer (1.5 s)
        now = timezone.now()
        if scheduling.claim_due(now)[1] or scheduling.claim(mp_account.pk, now, ignore_backoff=True):
            stolen.append(round(time.monotonic() - started, 2))
            break
        time.sleep(0.05)
    poll.join()
    assert stolen == [], f"a second claim took the account {stolen[0]} s into a poll that was still running"
    assert "error" not in out and out["result"].outcome == "ok"
    assert Run.objects.filter(pipeline__external_id="slow-0").count() == 1
    assert scheduling.claim(mp_account.pk, timezone.now()) is not None  # released once done


@pytest.mark.django_db(transaction=True)
def test_a_slow_poll_stops_within_its_lease_and_records_what_it_has(slow_vendor, mp_account, make_pipeline) -> None:
    """Six pipelines at 0.3 s each would take 1.8 s; a poll stops asking once half its
    lease is spent, records what it got, and leaves the rest due for the next tick."""
    sim = slow_vendor
    ids = [f"slow-{i}" for i in range(6)]
    for cid in ids:
        running(sim, cid)
        make_pipeline(cid)
    sim.simulator.latency = 0.3
    token, claimed = scheduling.claim_due(timezone.now())
    started = time.monotonic()
    summary = polling.poll_claimed(mp_account.pk, token)
    took = time.monotonic() - started
    assert took < 1, f"the poll held the account {took:.2f} s, longer than its 1 s lease"

    polled = set(Run.objects.values_list("pipeline__external_id", flat=True))
    left = set(ids) - polled
    assert polled and left, (polled, left)
    assert "left for the next poll" in summary.message and f"{len(left)} of 6" in summary.message
    attempt = PollAttempt.objects.get()
    assert attempt.outcome == "deadline" and attempt.targets == 6
    account = Account.objects.get(pk=mp_account.pk)
    assert account.backoff_until is None and account.poll_error_kind == "" and account.lease_token is None
    now = timezone.now()
    assert {p.external_id for p in Pipeline.objects.filter(next_poll_at__lte=now)} == left  # still due
    assert not Pipeline.objects.filter(external_id__in=polled, next_poll_at__lte=now).exists()

    sim.simulator.latency = 0
    token, claimed = scheduling.claim_due(now)  # the next tick takes up the rest
    assert claimed == [mp_account.pk]
    assert polling.poll_claimed(mp_account.pk, token).pipelines == len(left)
    assert set(Run.objects.values_list("pipeline__external_id", flat=True)) == set(ids)


@pytest.mark.django_db(transaction=True)
def test_a_poll_that_lost_its_lease_writes_nothing_over_the_newer_poll(slow_vendor, mp_account, make_pipeline) -> None:
    """The vendor holds one answer for 3 s, longer than a poll may keep its lease; "poll
    now" then takes the account over and records newer progress. When the old answer
    finally arrives, the old poll must not write it over the newer one."""
    sim = slow_vendor
    running(sim, "slow-0")
    make_pipeline("slow-0")
    polling.poll_now(mp_account)  # the run exists, as in any later poll
    sim.advance(300)  # what the slow poll will see: 5 % done
    Pipeline.objects.update(next_poll_at=timezone.now())
    sim.simulator.latency = 3.0
    sim.simulator.request_log.clear()
    token, claimed = scheduling.claim_due(timezone.now())
    assert claimed == [mp_account.pk]
    started = time.monotonic()
    stale_poll, stale = in_thread(lambda: polling.poll_claimed(mp_account.pk, token))
    wait_for_request(sim, "/connectors/slow-0/history")
    sim.simulator.latency = 0  # the slow answer is on its way; the vendor is fast again
    sim.advance(600)  # the newer poll will see 15 %

    newer = None
    while newer is None or newer.outcome == "busy":
        assert time.monotonic() - started < 2.9, "the account stayed claimed while its poll was stuck"
        newer = polling.poll_now(Account.objects.get(pk=mp_account.pk))
        time.sleep(0.05)
    assert newer.outcome == "ok" and newer.stats.runs_changed == 1
    stale_poll.join()

    run = Run.objects.get(pipeline__external_id="slow-0")
    assert run.progress == 0.15, "the stale poll wrote its older answer over the newer poll's"
    assert list(Snapshot.objects.filter(run=run).order_by("observed_at").values_list("progress", flat=True)) == [
        0.0,
        0.15,
    ]
    assert "error" not in stale and stale["result"].outcome == "lost"
    assert PollAttempt.objects.count() == 2  # the first poll's and the newer one's
    assert Account.objects.get(pk=mp_account.pk).lease_token is None


@pytest.mark.django_db(transaction=True)
def test_a_poll_cut_off_by_a_database_restart_is_retried_not_left_leased(
    settings, sim, mp_account, make_pipeline
) -> None:
    """While a poll waits for the vendor, PostgreSQL drops every connection and refuses new
    ones for a while (a restart): the poll's next write fails and so does releasing its
    lease. The task is retried with its token and polls once the database is back,
    instead of leaving the account leased (POLL_LEASE_SECONDS) for the next ticks to skip."""
    from celery import signals
    from celery.contrib.testing.worker import start_worker

    from dashboard.celery import app

    settings.VENDOR_READ_TIMEOUT = settings.VENDOR_TOTAL_TIMEOUT = 10
    make_pipeline("seed-running")
    sim.simulator.latency = 1.0
    sim.simulator.request_log.clear()
    token, claimed = scheduling.claim_due(timezone.now())
    assert claimed == [mp_account.pk]
    outcomes: list[str] = []

    def finished(sender: Any = None, state: str | None = None, **kwargs: Any) -> None:
        if sender is not None and sender.name == "jobs.tasks.poll_account":
            outcomes.append(state or "")

    signals.task_postrun.connect(finished, weak=False)
    app.control.purge()
    try:
        with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, queues=["polling"]):
            tasks.poll_account.delay(mp_account.pk, str(token))
            wait_for_request(sim, "/connectors/seed-running/history", timeout=20)
            sim.simulator.latency = 0
            restart(connections_allowed=False)  # this test's own connection alone survives
            until = time.monotonic() + 30
            while not outcomes:  # the poll failed to write, and to release its lease
                assert time.monotonic() < until, "the poll never finished"
                time.sleep(0.1)
            assert Account.objects.get(pk=mp_account.pk).lease_token == token
            restart(connections_allowed=True)  # the database is back
            while Account.objects.get(pk=mp_account.pk).lease_token is not None:
                assert time.monotonic() < until, f"the account stayed leased after the database came back: {outcomes}"
                time.sleep(0.2)
    finally:
        signals.task_postrun.disconnect(finished)
        restart(connections_allowed=True)
        connection.close()
        connection.close_pool()  # its connections were cut: the next test starts with a fresh pool
    assert outcomes[0] == "RETRY" and outcomes[-1] == "SUCCESS", outcomes
    account = Account.objects.get(pk=mp_account.pk)
    assert account.last_poll_ok_at is not None and PollAttempt.objects.filter(outcome="ok").count() == 1
    assert Run.objects.filter(pipeline__external_id="seed-running").count() == 1
