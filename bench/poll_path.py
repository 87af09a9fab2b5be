"""1. Poll-path throughput: the real engine vs bare `requests` on the same URLs.
4. Storage: rows from unchanged polls, and rows and bytes of a typical pipeline's day.

The real path is what a worker runs per account: `scheduling.claim`, then
`polling.poll_claimed` (re-read rows, HTTP to the simulator, normalize, one transaction
per pipeline, PollAttempt, release). The baseline is one `requests.Session` per account
fetching the same history URLs with the same thread pool. The simulator runs in its own
process with a frozen clock; advancing it a minute makes every active run progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from . import db
from .config import Sizes
from .report import Report, Row, median
from .simserver import SECRET, USERNAME, SimProcess, connector_id, project_id, start_thread

Log = Callable[[str], None]


def _timed(pool: ThreadPoolExecutor, work: Callable[[Any], Any], items: list[Any]) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    results = list(pool.map(work, items))
    return time.perf_counter() - started, results


def _make_due() -> None:
    from django.utils import timezone

    from jobs.models import Pipeline

    Pipeline.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))


def _poll_real(account_id: int) -> str:
    """One worker task's worth: claim the account, poll what is due, release."""
    from django.utils import timezone

    from jobs import polling, scheduling

    token = scheduling.claim(account_id, timezone.now())
    if token is None:
        return "busy"
    summary = polling.poll_claimed(account_id, token)
    return summary.outcome if summary else "lost"


def _close_clients() -> None:
    from jobs import polling

    for _, client in polling._clients.values():
        client.close()
    polling._clients.clear()


def throughput(sizes: Sizes, report: Report, log: Log) -> None:
    """Twice: with a simulator that answers at once (our own cost laid bare: CPU-bound, the
    simulator and PostgreSQL on the same two cores) and with one that answers in a vendor's
    time (how a worker spends its day). The same for the baseline, each time."""
    for latency_ms in sizes.latencies_ms:
        db.empty_jobs()
        log(f"  vendor answers in {latency_ms:g} ms")
        _throughput(sizes, report, log, latency_ms)


def _throughput(sizes: Sizes, report: Report, log: Log, latency_ms: float) -> None:
    import requests

    from jobs.models import Account

    n_accounts = max(1, sizes.poll_pipelines // sizes.per_account)
    n = n_accounts * sizes.per_account
    start = datetime.now(UTC).replace(microsecond=0)
    sim = SimProcess("progress", n_accounts, sizes.per_account, start, sizes.history_runs, True, latency_ms)
    try:
        from .data import polled_accounts

        polled_accounts(n_accounts, sizes.per_account, sim.url, first_poll=start - timedelta(seconds=1))
        db.analyze()
        ids = {int(name.split("-")[1]): pk for name, pk in Account.objects.values_list("name", "pk")}
        account_ids = [ids[a] for a in range(n_accounts)]
        urls = {
            a: [
                f"{sim.url}/api/app/projects/{project_id(a)}/connectors/{connector_id(a, i)}/history"
                for i in range(sizes.per_account)
            ]
            for a in range(n_accounts)
        }
        sessions: dict[int, requests.Session] = {}

        def bare(a: int) -> int:
            session = sessions.get(a)
            if session is None:
                session = sessions[a] = requests.Session()
            ok = 0
            for url in urls[a]:
                resp = session.get(url, auth=(USERNAME, SECRET), timeout=(5, 20))
                _ = resp.content
                ok += resp.status_code == 200
            return ok

        with ThreadPoolExecutor(sizes.threads) as pool:
            # Warm-up: sessions and connections on both sides; the first real poll creates
            # every run (history included), so it is reported apart.
            _timed(pool, bare, list(range(n_accounts)))
            before = db.row_counts()
            first, outcomes = _timed(pool, _poll_real, account_ids)
            _check(outcomes, "first poll")
            after = db.row_counts()
            log(f"  first poll: {n / first:,.0f} polls/s, {after['jobs_run'] - before['jobs_run']:,} runs created")
            baseline, changed, unchanged = [], [], []
            changed_snaps, unchanged_snaps = [], []
            for rep in range(sizes.reps):
                sim.advance(60)  # every active run moves 1 %
                _make_due()
                s0 = db.row_counts(("jobs_snapshot",))["jobs_snapshot"]
                t, outcomes = _timed(pool, _poll_real, account_ids)
                _check(outcomes, "changed round")
                changed.append(n / t)
                s1 = db.row_counts(("jobs_snapshot",))["jobs_snapshot"]
                changed_snaps.append(s1 - s0)
                t, oks = _timed(pool, bare, list(range(n_accounts)))
                if sum(oks) != n:
                    raise RuntimeError(f"baseline: {n - sum(oks)} request(s) failed")
                baseline.append(n / t)
                _make_due()
                t, outcomes = _timed(pool, _poll_real, account_ids)
                _check(outcomes, "unchanged round")
                unchanged.append(n / t)
                unchanged_snaps.append(db.row_counts(("jobs_snapshot",))["jobs_snapshot"] - s1)
                log(
                    f"  rep {rep + 1}/{sizes.reps}: bare {baseline[-1]:,.0f}, changed {changed[-1]:,.0f}"
                    f" (+{changed_snaps[-1]:,} snapshots), unchanged {unchanged[-1]:,.0f} polls/s"
                    f" (+{unchanged_snaps[-1]} snapshots)"
                )
            for session in sessions.values():
                session.close()
    finally:
        _close_clients()
        sim.stop()
    b = median(baseline)
    answers = f"vendor answers in {latency_ms:g} ms"
    report.add(Row(f"bare requests, {n:,} pipelines, {sizes.threads} threads, {answers}", b, "polls/s"))
    for label, values, snaps in (
        (f"poll path, runs changed, {answers}", changed, changed_snaps),
        (f"poll path, runs unchanged, {answers}", unchanged, unchanged_snaps),
    ):
        v = median(values)
        report.add(
            Row(
                label,
                v,
                "polls/s",
                baseline=b,
                ratio=v / b,
                target=">= 0.70",
                met=v / b >= 0.70,
                note=f"{median(snaps):,.0f} snapshots written per round of {n:,} polls",
            )
        )
    report.details.setdefault("throughput", {})[f"{latency_ms:g} ms"] = {
        "pipelines": n,
        "accounts": n_accounts,
        "threads": sizes.threads,
        "first_poll_polls_per_s": n / first,
        "baseline_polls_per_s": baseline,
        "changed_polls_per_s": changed,
        "unchanged_polls_per_s": unchanged,
        "changed_snapshots_per_round": changed_snaps,
        "unchanged_snapshots_per_round": unchanged_snaps,
    }


def _check(outcomes: list[str], what: str) -> None:
    bad = [o for o in outcomes if o not in ("ok", "idle")]
    if bad:
        raise RuntimeError(f"{what}: {len(bad)} account poll(s) did not succeed: {sorted(set(bad))}")


def storage(sizes: Sizes, report: Report, log: Log) -> None:
    """Rows added by unchanged polls, then one simulated day of a typical connector."""
    from jobs import polling, scheduling
    from jobs.models import Account, Pipeline

    from .data import polled_accounts

    start = datetime.now(UTC).replace(microsecond=0)
    # -- unchanged: the same runs, polled again and again --------------------------------
    server = start_thread("progress", 1, sizes.per_account, start, sizes.history_runs)
    try:
        polled_accounts(1, sizes.per_account, server.url, first_poll=start - timedelta(seconds=1))
        account_id = Account.objects.get().pk
        _make_due()
        _poll_real(account_id)  # the first poll creates the runs
        before, bytes_before = db.row_counts(), db.sizes()
        rounds = max(1, sizes.unchanged_polls // sizes.per_account)
        for _ in range(rounds):
            _make_due()
            outcome = _poll_real(account_id)
            if outcome != "ok":
                raise RuntimeError(f"unchanged poll: {outcome}")
        after, bytes_after = db.row_counts(), db.sizes()
    finally:
        _close_clients()
        server.stop()
    added = {t: after[t] - before[t] for t in after}
    polls = rounds * sizes.per_account
    report.add(
        Row(
            f"snapshot rows from {polls:,} unchanged polls",
            added["jobs_snapshot"],
            "rows",
            target="= 0",
            met=added["jobs_snapshot"] == 0,
            note=(
                f"other rows: {added['jobs_statechange']} state changes, {added['jobs_run']} runs, "
                f"{added['jobs_pollattempt']} poll attempts (one per account poll of {sizes.per_account})"
            ),
        )
    )
    report.details["unchanged"] = {
        "polls": polls,
        "rows_added": added,
        "bytes_added": {t: bytes_after[t] - bytes_before[t] for t in bytes_after},
    }
    db.empty_jobs()

    # -- a typical day: a run every hour, 10 minutes long, default cadences -------------------
    from django.conf import settings

    server = start_thread("day", 1, sizes.day_pipelines, start, history=3)
    clock = server.simulator.clock
    try:
        polled_accounts(1, sizes.day_pipelines, server.url, first_poll=start)
        account = Account.objects.get()

        def poll_at(now: datetime) -> None:
            token = scheduling.claim(account.pk, now)
            try:
                summary = polling.poll_account(Account.objects.get(pk=account.pk), now=now)
            finally:
                scheduling.release(account.pk, token)
            if summary.outcome not in ("ok", "idle"):
                raise RuntimeError(f"day poll: {summary.line()}")

        poll_at(start)  # the first poll takes in the history; the day starts after it
        before, bytes_before = db.row_counts(), db.sizes()
        now, end, tick, polls = start, start + timedelta(seconds=sizes.day_seconds), settings.POLL_TICK_SECONDS, 0
        wall = time.perf_counter()
        while True:
            due = Pipeline.objects.order_by("next_poll_at").values_list("next_poll_at", flat=True).first()
            # the tick runs every POLL_TICK_SECONDS: a due pipeline waits for the next one
            step = max(tick, (due - now).total_seconds())
            step = tick * -(-step // tick)
            if now + timedelta(seconds=step) > end:
                break
            now += timedelta(seconds=step)
            clock.advance(step)
            poll_at(now)
            polls += 1
        after, bytes_after = db.row_counts(), db.sizes()
        log(
            f"  simulated {sizes.day_seconds / 3600:g} h: {polls:,} account polls in {time.perf_counter() - wall:.0f} s"
        )
    finally:
        _close_clients()
        server.stop()
    days = sizes.day_seconds / 86_400
    per = sizes.day_pipelines * days
    rows = {t: (after[t] - before[t]) / per for t in after}
    nbytes = {t: (bytes_after[t] - bytes_before[t]) / per for t in after}
    runs_per_day = rows["jobs_run"]
    report.add(
        Row(
            "rows per pipeline-day (hourly 10-min run)",
            sum(rows.values()),
            "rows",
            note=(
                f"{runs_per_day:.0f} runs/day; per run: "
                + ", ".join(f"{t.removeprefix('jobs_')} {v / max(runs_per_day, 1):.1f}" for t, v in rows.items())
                + f"; cadences active {settings.POLL_ACTIVE_SECONDS:g} s, idle {settings.POLL_IDLE_SECONDS:g} s"
            ),
        )
    )
    report.add(
        Row(
            "bytes per pipeline-day (tables + indexes)",
            sum(nbytes.values()) / 1024,
            "KiB",
            note=(
                "per run: "
                + ", ".join(
                    f"{t.removeprefix('jobs_')} {v / max(runs_per_day, 1) / 1024:.1f} KiB" for t, v in nbytes.items()
                )
            ),
        )
    )
    report.details["day"] = {
        "pipelines": sizes.day_pipelines,
        "simulated_seconds": sizes.day_seconds,
        "account_polls": polls,
        "rows_per_pipeline_day": rows,
        "bytes_per_pipeline_day": nbytes,
        "runs_per_pipeline_day": runs_per_day,
        "poll_active_seconds": settings.POLL_ACTIVE_SECONDS,
        "poll_idle_seconds": settings.POLL_IDLE_SECONDS,
    }
