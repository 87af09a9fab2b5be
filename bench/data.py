"""Data built in bulk: accounts and pipelines that point at the simulator, and the page
data set (runs and snapshots generated inside PostgreSQL with INSERT ... SELECT)."""

from __future__ import annotations

from datetime import datetime, timedelta

from . import db
from .simserver import SECRET, USERNAME, connector_id, project_id

BATCH = 5_000


def polled_accounts(
    accounts: int,
    per_account: int,
    base_url: str,
    *,
    first_poll: datetime,
    spread_seconds: float = 0,
) -> list[int]:
    """Mixpanel accounts `bench-<a>` with `per_account` import connectors each.

    Discovery is pushed a year out so that only the pipelines' own polls are measured;
    the first polls are spread evenly over `spread_seconds` (a steady state, not a herd)."""
    from jobs.models import Account, Pipeline

    token = Account(name="x")
    token.credentials = {"username": USERNAME, "secret": SECRET}
    later = first_poll + timedelta(days=365)
    rows = [
        Account(
            name=f"bench-{a:05d}",
            vendor="mixpanel",
            base_url=base_url,
            settings={"project_id": project_id(a)},
            credentials_token=token.credentials_token,
            next_discovery_at=later,
        )
        for a in range(accounts)
    ]
    Account.objects.bulk_create(rows, batch_size=BATCH)
    ids = {a.name: a.pk for a in Account.objects.filter(name__startswith="bench-")}
    total = accounts * per_account
    pipelines = []
    for a in range(accounts):
        for i in range(per_account):
            n = a * per_account + i
            pipelines.append(
                Pipeline(
                    account_id=ids[f"bench-{a:05d}"],
                    kind="import_connector",
                    external_id=connector_id(a, i),
                    name=f"connector {a}-{i}",
                    next_poll_at=first_poll + timedelta(seconds=spread_seconds * n / max(1, total)),
                )
            )
    Pipeline.objects.bulk_create(pipelines, batch_size=BATCH)
    return sorted(ids.values())


def page_data(pipelines: int, per_account: int, runs_per_pipeline: int, snapshots: int, now: datetime) -> dict:
    """Pipelines with history, like a long-running install: every tenth failing, three in
    ten running, the rest healthy; `runs_per_pipeline` runs each; `snapshots` spread evenly."""
    from django.db import connection

    from jobs.models import Account, Pipeline

    accounts = max(1, pipelines // per_account)
    token = Account(name="x")
    token.credentials = {"username": USERNAME, "secret": SECRET}
    Account.objects.bulk_create(
        [
            Account(
                name=f"pages-{a:05d}",
                vendor="mixpanel",
                base_url="http://127.0.0.1:9",
                settings={"project_id": project_id(a)},
                credentials_token=token.credentials_token,
                last_poll_at=now,
                last_poll_ok_at=now,
            )
            for a in range(accounts)
        ],
        batch_size=BATCH,
    )
    account_ids = list(Account.objects.filter(name__startswith="pages-").order_by("name").values_list("pk", flat=True))
    Pipeline.objects.bulk_create(
        [
            Pipeline(
                account_id=account_ids[n % accounts],
                kind="import_connector",
                external_id=f"conn-{n:06d}",
                name=f"Connector {n:06d}",
                next_poll_at=now + timedelta(seconds=60),
                last_polled_at=now,
            )
            for n in range(pipelines)
        ],
        batch_size=BATCH,
    )
    runs = pipelines * runs_per_pipeline
    per_run = max(1, round(snapshots / runs))
    last = runs_per_pipeline - 1
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO jobs_run (uuid, pipeline_id, external_id, provisional_key, state, vendor_status, progress,
                counts, started_at, finished_at, error_code, error_message, error_kind, flags, raw, fingerprint,
                first_seen_at, last_seen_at, last_change_at, sort_at, expires_at, closed, items_fingerprint,
                items_count)
            SELECT gen_random_uuid(), s.pid, 't:' || s.k, false, s.state,
                CASE s.state WHEN 'succeeded' THEN 'success' ELSE s.state END,
                CASE s.state WHEN 'running' THEN 0.42 WHEN 'failed' THEN 0.0 ELSE 1.0 END,
                jsonb_build_object('processed', 120000 + s.k, 'succeeded', 119000 + s.k, 'dropped', 1000,
                                   'files', 4, 'bytes', 14280000),
                s.t, CASE WHEN s.state = 'running' THEN NULL ELSE s.t + interval '10 minutes' END,
                '', CASE WHEN s.state = 'failed' THEN {_sql(_GZIP)} ELSE '' END,
                CASE WHEN s.state = 'failed' THEN 'config' ELSE '' END, '[]'::jsonb,
                jsonb_build_object('id', '', 'status', s.state, 'start_time', s.t::text, 'progress', 1,
                    'error', jsonb_build_object('message', '', 'code', ''),
                    'connector_properties', jsonb_build_object('num_events_imported', 119000,
                        'num_events_processed', 120000, 'num_events_dropped', 1000, 'num_files_imported', 4,
                        'size_imported', 14280000)),
                md5(s.pid::text || ':' || s.k), s.t, %(now)s, s.t, s.t, NULL, s.state <> 'running', '', 0
            FROM (
                SELECT p.id AS pid, k,
                    CASE WHEN k = {last} AND p.id %% 10 = 0 THEN 'failed'
                         WHEN k = {last} AND p.id %% 10 IN (1, 2, 3) THEN 'running'
                         ELSE 'succeeded' END AS state,
                    %(now)s - ({runs_per_pipeline} - k) * interval '1 hour' AS t
                FROM jobs_pipeline p CROSS JOIN generate_series(0, {last}) AS k
                WHERE p.external_id LIKE 'conn-%%'
            ) AS s
            """,
            {"now": now},
        )
        cur.execute(
            f"""
            INSERT INTO jobs_snapshot (run_id, observed_at, state, vendor_status, progress, counts, error_message,
                flags, changed, raw)
            SELECT r.id, r.started_at + g * interval '15 seconds',
                CASE WHEN g = {per_run} THEN r.state ELSE 'running' END,
                CASE WHEN g = {per_run} THEN r.vendor_status ELSE 'running' END,
                round((g::numeric / {per_run}), 2),
                jsonb_build_object('processed', g * 12000, 'succeeded', g * 11900, 'dropped', g * 100),
                CASE WHEN g = {per_run} THEN r.error_message ELSE '' END,
                '[]'::jsonb, '["progress", "counts"]'::jsonb, r.raw
            FROM jobs_run r CROSS JOIN generate_series(1, {per_run}) AS g
            """
        )
        # The rollup the poll path keeps: newest run current, last success and failure.
        cur.execute(
            """
            UPDATE jobs_pipeline p SET current_run_id = r.id, last_polled_at = %(now)s,
                last_success_at = %(now)s - interval '50 minutes',
                last_failure_at = CASE WHEN r.state = 'failed' THEN r.finished_at END,
                last_failure_message = CASE WHEN r.state = 'failed' THEN r.error_message ELSE '' END
            FROM (SELECT DISTINCT ON (pipeline_id) id, pipeline_id, state, finished_at, error_message
                  FROM jobs_run ORDER BY pipeline_id, sort_at DESC, id DESC) AS r
            WHERE r.pipeline_id = p.id
            """,
            {"now": now},
        )
        cur.execute("ANALYZE")
        cur.execute("SELECT count(*) FROM jobs_run")
        run_count = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM jobs_snapshot")
        snapshot_count = cur.fetchone()[0]
    # Health as the poll path and every tick store it (pages filter on it).
    from jobs import health

    health.store(Pipeline.objects.select_related("account", "current_run").defer("current_run__raw"), now)
    # The pages measured: a running pipeline (the live parts render) and its current run.
    pipeline = (
        Pipeline.objects.filter(current_run__state="running").select_related("current_run").order_by("pk").first()
    )
    return {
        "pipelines": pipelines,
        "runs": run_count,
        "snapshots": snapshot_count,
        "pipeline_uuid": str(pipeline.uuid),
        "run_uuid": str(pipeline.current_run.uuid),
    }


def recover_failing(keep: int, now: datetime) -> int:
    """All but the first `keep` failing pipelines recover: their failed current run becomes a
    success, as a re-run that worked would leave it. Returns how many still fail. Lets the
    failures page be timed on the large data set with the small set's number of incidents."""
    from django.db import connection

    from jobs import health
    from jobs.models import FAILING, Pipeline

    failing = Pipeline.objects.filter(health_status=FAILING).order_by("pk")
    recovered = list(failing.values_list("pk", flat=True)[keep:])
    with connection.cursor() as cur:
        cur.execute(
            """
            UPDATE jobs_run r SET state = 'succeeded', vendor_status = 'success', progress = 1.0,
                error_message = '', error_kind = ''
            FROM jobs_pipeline p WHERE p.current_run_id = r.id AND p.id = ANY(%(ids)s)
            """,
            {"ids": recovered},
        )
        cur.execute(
            "UPDATE jobs_pipeline SET last_failure_at = NULL, last_failure_message = '' WHERE id = ANY(%(ids)s)",
            {"ids": recovered},
        )
    health.store(Pipeline.objects.filter(pk__in=recovered).select_related("account", "current_run"), now)
    # As after building the data: statistics that still counted 500 failing pipelines made
    # the planner scan the table for the 5 left (2.5 ms a query, twice a page).
    db.analyze()
    return failing.count()


_GZIP = "No compression specified but Gzip detected. Please submit a new request with correct compression as param"


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
