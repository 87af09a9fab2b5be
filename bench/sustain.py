"""2. Sustained scale: many pipelines on one cadence, polled by the real Celery worker and
beat (subprocesses), the simulator in a third process on the real clock.

Lag is due -> done, per pipeline poll, recorded by PostgreSQL itself: a bench-only trigger
on `jobs_pipeline` logs, whenever `last_polled_at` moves, the `next_poll_at` that was due
(OLD), when the poll started (NEW `last_polled_at`) and `clock_timestamp()` of the write
that finished it. Nothing is sampled, so no poll is missed or double counted. Lag includes
waiting for the next beat tick (POLL_TICK_SECONDS) and in the queue, as in production."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import db, procs
from .config import PYTHON, RESULTS, ROOT, Sizes
from .report import Report, Row, percentile

LOG_SECONDS = 30.0
# Polls due in the last seconds of the run may still be under way when it ends: the steady
# window stops this long before the end, and a poll due in it but not done by the end
# counts with its lag so far (a lower bound), so falling behind cannot hide.
TAIL_SECONDS = 20.0
# The first round (every pipeline's first poll) may take at most this many cadences.
WARMUP_LIMIT = 5

_TRIGGER = """
CREATE UNLOGGED TABLE bench_poll_log (
    pipeline_id bigint NOT NULL, due timestamptz NOT NULL, started timestamptz NOT NULL,
    done timestamptz NOT NULL
);
CREATE FUNCTION bench_log_poll() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_poll_log VALUES (NEW.id, OLD.next_poll_at, NEW.last_polled_at, clock_timestamp());
    RETURN NULL;
END $$;
CREATE TRIGGER bench_log_poll AFTER UPDATE OF last_polled_at ON jobs_pipeline FOR EACH ROW
    WHEN (NEW.last_polled_at IS DISTINCT FROM OLD.last_polled_at) EXECUTE FUNCTION bench_log_poll();
"""
_UNTRIGGER = """
DROP TRIGGER IF EXISTS bench_log_poll ON jobs_pipeline;
DROP FUNCTION IF EXISTS bench_log_poll();
DROP TABLE IF EXISTS bench_poll_log;
"""


def _sql(statements: str) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statements)


def _alive(workers: list[subprocess.Popen], beat: subprocess.Popen) -> None:
    for proc, name in [*((w, "worker") for w in workers), (beat, "beat")]:
        if proc.poll() is not None:
            raise RuntimeError(f"celery {name} exited ({proc.returncode}); see bench/results/{name}*.log")


def _shape(sizes: Sizes) -> str:
    shape = f"threads x{sizes.worker_concurrency}"
    return shape if sizes.sustain_workers == 1 else f"{sizes.sustain_workers} processes, {shape} each, summed"


def _polls() -> list[tuple[datetime, datetime, datetime]]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT due, started, done FROM bench_poll_log")
        return cur.fetchall()


def sustained(sizes: Sizes, report: Report, log: Callable[[str], None]) -> None:
    from django.db import connection

    from jobs.models import Pipeline, PollAttempt

    from .data import polled_accounts
    from .simserver import SimProcess

    db.flush_redis()
    n_accounts = max(1, sizes.sustain_pipelines // sizes.per_account)
    n = n_accounts * sizes.per_account
    cadence = sizes.cadence_seconds
    start = datetime.now(UTC)
    sim = SimProcess("cycle", n_accounts, sizes.per_account, start, history=3, frozen=False)
    workdir = Path(tempfile.mkdtemp(prefix="pipewatch-bench-"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "POLL_ACTIVE_SECONDS": f"{cadence:g}",
        "POLL_IDLE_SECONDS": f"{cadence:g}",
        "LOG_LEVEL": "INFO",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(workdir / "celerybeat-schedule"),
    }
    workers: list = []
    beat = None
    samples_rss: list[int] = []
    try:
        _sql(_UNTRIGGER + _TRIGGER)
        # The first round is due once the worker is up (it takes a few seconds to start),
        # spread over one cadence: a steady state, not a herd.
        t0 = datetime.now(UTC) + timedelta(seconds=10)
        polled_accounts(n_accounts, sizes.per_account, sim.url, first_poll=t0, spread_seconds=cadence)
        db.analyze()
        # One worker takes every queue; more (BENCH_SUSTAIN_WORKERS) poll only, as the
        # README's scale-out shape runs them.
        workers = [
            procs.start(
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "dashboard",
                    "worker",
                    "--pool=threads",
                    f"--concurrency={sizes.worker_concurrency}",
                    "-Q",
                    "polling,alerts,housekeeping" if i == 0 else "polling",
                    "-n",
                    f"bench{i}@%h",
                    "--loglevel=INFO",
                ],
                RESULTS / ("worker.log" if i == 0 else f"worker{i}.log"),
                env,
                ROOT,
            )
            for i in range(sizes.sustain_workers)
        ]
        beat = procs.start(
            [PYTHON, "-m", "celery", "-A", "dashboard", "beat", "--loglevel=INFO"], RESULTS / "beat.log", env, ROOT
        )
        # Warm-up: the first round sees every run for the first time (three per connector,
        # each a row, a snapshot and a state change): onboarding, timed apart. The window
        # measured starts once every pipeline has been polled once.
        began = time.monotonic()
        unpolled = n
        while unpolled and time.monotonic() - began < WARMUP_LIMIT * cadence:
            _alive(workers, beat)
            samples_rss.append(sum(procs.tree_rss(w.pid) for w in workers))
            time.sleep(1)
            unpolled = Pipeline.objects.filter(last_polled_at=None).count()
        first_round = time.monotonic() - began
        steady_from = datetime.now(UTC)
        log(f"  first round: {n - unpolled:,} of {n:,} pipelines polled once in {first_round:.0f} s; measuring")
        began = time.monotonic()
        next_log = began + LOG_SECONDS
        while time.monotonic() - began < sizes.sustain_seconds:
            _alive(workers, beat)
            samples_rss.append(sum(procs.tree_rss(w.pid) for w in workers))
            if time.monotonic() >= next_log:
                next_log += LOG_SECONDS
                with connection.cursor() as cur:
                    cur.execute("SELECT count(*) FROM bench_poll_log")
                    seen = cur.fetchone()[0]
                log(
                    f"  {time.monotonic() - began:4.0f} s: {seen:,} polls done,"
                    f" worker {max(samples_rss) / 2**20:.0f} MB"
                )
            time.sleep(0.5)
        ended = datetime.now(UTC)
        polls = _polls()
        pending = list(
            Pipeline.objects.filter(next_poll_at__lt=ended - timedelta(seconds=TAIL_SECONDS)).values_list(
                "next_poll_at", flat=True
            )
        )
        overdue = Pipeline.objects.filter(next_poll_at__lt=ended - timedelta(seconds=10)).count()
        outcomes = Counter(PollAttempt.objects.values_list("outcome", flat=True))
    finally:
        if beat is not None:
            procs.stop(beat)
        for worker in workers:
            procs.stop(worker)
        sim.stop()
        _sql(_UNTRIGGER)
        connection.close()
    cutoff = ended - timedelta(seconds=TAIL_SECONDS)
    steady = [(done - due).total_seconds() for due, _, done in polls if steady_from <= due < cutoff]
    unfinished = [(ended - due).total_seconds() for due in pending if due >= steady_from]
    steady += unfinished
    waited = [(started - due).total_seconds() for due, started, _ in polls if steady_from <= due < cutoff]
    every = [(done - due).total_seconds() for due, _, done in polls]
    window = (cutoff - steady_from).total_seconds()
    expected = n * max(0.0, window) / cadence
    p50, p95 = percentile(steady, 50), percentile(steady, 95)
    peak = max(samples_rss, default=0) / 2**20
    note = (
        f"first round (every pipeline's first poll, creating its runs) took {first_round:.0f} s"
        f"{f', {unpolled:,} pipelines never polled' if unpolled else ''};"
        f" {len(steady):,} steady-state polls (due after the first round and {TAIL_SECONDS:g} s before the end,"
        f" about {expected:,.0f} at the nominal cadence; {len(unfinished):,} of them not done by the end,"
        f" counted with their lag so far);"
        f" due -> started p95 {percentile(waited, 95):.1f} s; all {len(every):,} polls incl. the first round:"
        f" p95 {percentile(every, 95):.1f} s, max {max(every, default=0):.1f} s;"
        f" {overdue:,} pipelines >10 s overdue at the end; poll attempts {dict(outcomes)}"
    )
    label = f"{n:,} pipelines / {cadence:g} s, {sizes.sustain_seconds:g} s"
    report.add(Row(f"poll lag p50, due -> done ({label})", p50, "s", note=note))
    report.add(Row(f"poll lag p95, due -> done ({label})", p95, "s", target="< 10 s", met=p95 < 10))
    report.add(
        Row(
            f"worker peak RSS ({_shape(sizes)})",
            peak,
            "MB",
            target="< 300 MB",
            met=peak < 300,
            note=f"median {percentile(samples_rss, 50) / 2**20:.0f} MB over {len(samples_rss)} samples",
        )
    )
    report.details["sustain"] = {
        "pipelines": n,
        "accounts": n_accounts,
        "cadence_seconds": cadence,
        "seconds": sizes.sustain_seconds,
        "worker_concurrency": sizes.worker_concurrency,
        "worker_processes": sizes.sustain_workers,
        "first_round_seconds": first_round,
        "first_round_unpolled": unpolled,
        "polls_done": len(every),
        "steady_polls": len(steady),
        "steady_polls_due": expected,
        "steady_polls_unfinished": len(unfinished),
        "lag_p50": p50,
        "lag_p95": p95,
        "lag_p99": percentile(steady, 99),
        "lag_max": max(steady, default=None),
        "due_to_started_p50": percentile(waited, 50),
        "due_to_started_p95": percentile(waited, 95),
        "lag_p95_all": percentile(every, 95),
        "overdue_at_end": overdue,
        "poll_attempts": dict(outcomes),
        "worker_rss_peak_mb": peak,
        "worker_rss_series_mb": [round(v / 2**20) for v in samples_rss[::10]],
    }
