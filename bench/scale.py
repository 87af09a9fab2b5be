"""5. Central paths at scale (ADR 14): beat's tick (due scan, claim, enqueue), the alert scan,
housekeeping and the five pages, on data built in bulk inside PostgreSQL at each size of
BENCH_SCALE_PIPELINES (default 100,000 and 1,000,000; `--quick` 10,000).

The tick is timed in steady state (first polls spread over a minute: a 5 s tick finds 1/12
due) with fresh statistics, then with a backlog of a quarter of the pipelines made due by
one bulk UPDATE, before ANALYZE (autovacuum off: stale statistics) and after. The pages are
compared with the same data built for 50 pipelines: same query count, time ratio."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from . import db
from .config import Sizes
from .report import Report, Row, median

REPS = 3


def _sizes(quick: bool) -> list[int]:
    raw = os.environ.get("BENCH_SCALE_PIPELINES", "10000" if quick else "100000,1000000")
    return [int(x.replace("_", "")) for x in raw.split(",") if x.strip()]


def _ms(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return (time.perf_counter() - started) * 1000, out


def _release() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("UPDATE jobs_account SET lease_until = NULL, lease_token = NULL WHERE lease_token IS NOT NULL")
    db.flush_redis()


def _tick(at: datetime) -> dict[str, float]:
    """Scan, claim and enqueue as `tasks.tick` does them, each timed; medians of REPS."""
    from django.conf import settings

    from jobs import scheduling, tasks

    out: dict[str, list[float]] = {"scan": [], "claim": [], "enqueue": [], "shard fan-out": []}
    accounts = pipelines_read = 0
    for _ in range(REPS):
        scan_ms, ids = _ms(lambda: scheduling.due_candidates(at))
        claim_ms, (token, won) = _ms(lambda: scheduling.claim_due(at))
        size = settings.POLL_SHARD_SIZE
        shards = [won[i : i + size] for i in range(0, len(won), size)]
        enqueue_ms, _ = _ms(lambda t=token, sh=shards: [tasks.poll_shard.delay(str(t), s) for s in sh])
        fan_ms, _ = _ms(lambda t=token, sh=shards: tasks.poll_shard(str(t), sh[0]) if sh else 0)
        out["scan"].append(scan_ms)
        out["claim"].append(claim_ms - scan_ms)  # claim_due scans again, then claims
        out["enqueue"].append(enqueue_ms)
        out["shard fan-out"].append(fan_ms)
        accounts, pipelines_read = len(won), len(ids)
        _release()
    result = {k: median(v) for k, v in out.items()}
    result.update(accounts=accounts, candidates=pipelines_read)
    return result


def _legacy_scan(at: datetime, timeout_s: int) -> float | None:
    """The due scan's former shape (`id IN (subquery) OR discovery-due`), for comparison; None
    when it ran past `timeout_s`."""
    from django.db import OperationalError, connection, transaction
    from django.db.models import Q

    from jobs.models import Account, Pipeline

    due = Pipeline.objects.filter(paused=False, next_poll_at__lte=at).values("account_id")
    disc = Q(vendor__in=["mixpanel", "statsig"]) & (Q(next_discovery_at__isnull=True) | Q(next_discovery_at__lte=at))
    qs = (
        Account.objects.filter(Q(pk__in=due) | disc)
        .filter(Q(backoff_until__isnull=True) | Q(backoff_until__lte=at))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=at))
        .values_list("pk", flat=True)
    )
    try:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(f"SET LOCAL statement_timeout = '{timeout_s}s'")
            return _ms(lambda: list(qs))[0]
    except OperationalError:
        return None


def _alerts(at: datetime) -> tuple[float, int]:
    from jobs import alerts
    from jobs.models import Pipeline

    due = Pipeline.objects.filter(next_check_at__lte=at).count()
    ms, _ = _ms(lambda: alerts.evaluate(at, scan_all=False, checks_due=True))
    return ms, due


def _row(report: Report, name: str, value: float, unit: str = "ms", note: str = "", **kw: object) -> None:
    report.add(Row(name, value, unit, note=note, **kw))


def scale(sizes: Sizes, report: Report, log: Callable[[str], None], quick: bool = False) -> None:
    from django.db import connection

    from .pages import PAGES, run_pages
    from .scale_data import autovacuum, build

    results: dict[str, dict] = {}
    db.empty_jobs()
    small = build(50, datetime.now(UTC))
    small_pages = run_pages(small, sizes.page_reps)
    results["50"] = {"data": small, "pages": small_pages}
    for n in _sizes(quick):
        label = f"{n:,}"
        db.empty_jobs()
        now = datetime.now(UTC)
        built_ms, data = _ms(lambda n=n, now=now: build(n, now))
        log(f"  {label} pipelines built in {built_ms / 1000:.0f} s: {data['counts']}")
        r: dict[str, object] = {"data": data, "build_s": built_ms / 1000}
        steady = _tick(now + timedelta(seconds=4.5))
        r["tick steady"] = steady
        log(f"  {label} steady tick: {steady}")
        alert_ms, alert_due = _alerts(now + timedelta(seconds=30))
        r["alert scan steady"] = {"ms": alert_ms, "due": alert_due}
        pages = run_pages(data, sizes.page_reps)
        r["pages"] = pages
        log(f"  {label} pages: { {k: (round(v['ms'], 1), v['queries']) for k, v in pages.items()} }")
        # A backlog: a quarter of the pipelines due at once, statistics not told.
        autovacuum(False)
        with connection.cursor() as cur:
            cur.execute("UPDATE jobs_pipeline SET next_poll_at = %s WHERE id %% 4 = 0", [now - timedelta(minutes=1)])
        stale = _tick(now + timedelta(seconds=4.5))
        r["tick backlog, stale statistics"] = stale
        r["legacy scan backlog, stale statistics"] = _legacy_scan(now + timedelta(seconds=4.5), 60)
        log(
            f"  {label} backlog tick, stale statistics: {stale};"
            f" legacy scan {r['legacy scan backlog, stale statistics']}"
        )
        db.analyze()
        fresh = _tick(now + timedelta(seconds=4.5))
        r["tick backlog, fresh statistics"] = fresh
        r["legacy scan backlog, fresh statistics"] = _legacy_scan(now + timedelta(seconds=4.5), 60)
        log(
            f"  {label} backlog tick, fresh statistics: {fresh};"
            f" legacy scan {r['legacy scan backlog, fresh statistics']}"
        )
        autovacuum(True)
        # Every check due at once (as right after the migration): one scan takes a batch.
        with connection.cursor() as cur:
            cur.execute("UPDATE jobs_pipeline SET next_check_at = %s", [now])
        batch_ms, batch_due = _alerts(now + timedelta(seconds=60))
        r["alert scan, all due"] = {"ms": batch_ms, "due": batch_due}
        from jobs import health_counts, retention

        house_ms, thinned = _ms(lambda now=now: retention.run(now))
        r["housekeeping"] = {"ms": house_ms, "result": thinned.line()}
        log(
            f"  {label} alert scan {alert_ms:.0f} ms ({alert_due} due), all due {batch_ms:.0f} ms; housekeeping"
            f" {house_ms:.0f} ms: {thinned.line()}"
        )
        # The failures page with the baseline's 5 incidents, as part 3 does: what the data's size
        # costs apart from rendering a longer page (50 incidents, ten times the HTML).
        with connection.cursor() as cur:
            cur.execute(
                "UPDATE jobs_pipeline SET health_status = 'healthy', incident_since = NULL WHERE health_status"
                " = 'failing' AND id NOT IN (SELECT id FROM jobs_pipeline WHERE health_status = 'failing'"
                " ORDER BY id LIMIT 5)"
            )
        health_counts.compact()  # as beat's next tick does
        few = run_pages(data, sizes.page_reps, only=("failures page",))["failures page"]
        r["failures page, 5 incidents"] = few
        log(f"  {label} failures page with 5 incidents: {few['ms']:.1f} ms, {few['queries']:g} queries")
        results[label] = r
        for part, t in (("steady", steady), ("backlog, stale statistics", stale), ("backlog, fresh statistics", fresh)):
            for step in ("scan", "claim", "enqueue", "shard fan-out"):
                _row(
                    report,
                    f"{label}: tick {part}: {step}",
                    t[step],
                    note=f"{t['accounts']:,} accounts claimed, {t['candidates']:,} candidates",
                )
        _row(report, f"{label}: alert scan (steady, 30 s)", alert_ms, note=f"{alert_due:,} checks due")
        _row(report, f"{label}: alert scan (a batch)", batch_ms, note=f"{batch_due:,} due, batch of 5,000")
        _row(report, f"{label}: housekeeping", house_ms, note=thinned.line())
        for page in PAGES:
            s, g = small_pages[page], pages[page]
            ratio = g["ms"] / s["ms"] if s["ms"] else float("nan")
            _row(
                report,
                f"{label}: {page}",
                g["ms"],
                baseline=s["ms"],
                ratio=ratio,
                target="<= 1.5x",
                met=ratio <= 1.5,
                note=f"queries {s['queries']:g} vs {g['queries']:g}",
            )
            report.add(
                Row(
                    f"{label}: {page}: queries",
                    g["queries"],
                    "",
                    baseline=s["queries"],
                    target="identical",
                    met=s["queries"] == g["queries"],
                )
            )
        few, base = r["failures page, 5 incidents"], small_pages["failures page"]
        _row(
            report,
            f"{label}: failures page, 5 incidents",
            few["ms"],
            baseline=base["ms"],
            ratio=few["ms"] / base["ms"] if base["ms"] else float("nan"),
            target="<= 1.5x",
            met=few["ms"] <= 1.5 * base["ms"],
            note=f"queries {base['queries']:g} vs {few['queries']:g}",
        )
    report.details["scale"] = results
