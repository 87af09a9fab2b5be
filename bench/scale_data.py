"""The scale data set, built in bulk inside PostgreSQL (INSERT ... SELECT generate_series):
10 pipelines per account, first polls spread over a minute, next checks over a day, a
current run each (every tenth failed, three in ten running) with two snapshots, and for one
pipeline in a hundred an old run of five snapshots and old poll attempts for housekeeping."""

from __future__ import annotations

from datetime import datetime, timedelta

PER_ACCOUNT = 10
TABLES = ("jobs_account", "jobs_pipeline", "jobs_run", "jobs_snapshot", "jobs_pollattempt")


def build(pipelines: int, now: datetime) -> dict:
    from django.db import connection

    from jobs import health_counts, partitions

    accounts = max(1, pipelines // PER_ACCOUNT)
    p = {"now": now, "accounts": accounts, "per": PER_ACCOUNT}
    # A day partition for every day the data covers, as a deployment running for weeks has.
    partitions.ensure(now, since=(now - timedelta(days=41)).date())
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO jobs_account (uuid, name, vendor, region, base_url, settings, credentials_token, created_at,
                updated_at, poll_error_kind, poll_error_message, consecutive_errors, next_discovery_at, last_poll_at,
                last_poll_ok_at)
            SELECT gen_random_uuid(), 'scale-' || lpad(a::text, 7, '0'), 'mixpanel', '', 'http://127.0.0.1:9',
                jsonb_build_object('project_id', a::text), '', %(now)s, %(now)s, '', '', 0,
                %(now)s + interval '365 days', %(now)s, %(now)s
            FROM generate_series(1, %(accounts)s) AS a
            """,
            p,
        )
        cur.execute(
            """
            INSERT INTO jobs_pipeline (uuid, kind, external_id, name, config, source, paused, created_at, next_poll_at,
                last_polled_at, poll_error_kind, poll_error_message, last_failure_message, account_id, vendor_info,
                alerted_condition, consecutive_failures, health_status, missing_days, next_check_at,
                last_success_at)
            SELECT gen_random_uuid(), 'import_connector', 'conn-' || n, 'Connector ' || lpad(n::text, 7, '0'),
                '{}'::jsonb, 'config', false, %(now)s - interval '30 days',
                %(now)s + (n %% 60) * interval '1 second', %(now)s, '', '', '', a.id,
                jsonb_build_object('frequency', 'daily'), 'ok', 0, 'healthy', '{}'::jsonb,
                %(now)s + (n %% 86400) * interval '1 second', %(now)s - interval '50 minutes'
            FROM jobs_account a CROSS JOIN generate_series(0, %(per)s - 1) AS k,
                LATERAL (SELECT (a.id - 1) * %(per)s + k AS n) AS x
            """,
            p,
        )
        # The current run: every tenth failed, three in ten running, the rest succeeded.
        cur.execute(
            """
            INSERT INTO jobs_run (uuid, pipeline_id, external_id, provisional_key, state, vendor_status, progress,
                counts, started_at, finished_at, error_code, error_message, error_kind, flags, raw, fingerprint,
                first_seen_at, last_seen_at, last_change_at, sort_at, expires_at, closed, items_fingerprint,
                items_count)
            SELECT gen_random_uuid(), s.id, 'run-' || s.id, false, s.state,
                CASE s.state WHEN 'succeeded' THEN 'success' ELSE s.state END,
                CASE s.state WHEN 'running' THEN 0.42 ELSE 1.0 END,
                jsonb_build_object('processed', 120000, 'succeeded', 119000, 'dropped', 1000),
                s.t, CASE WHEN s.state = 'running' THEN NULL ELSE s.t + interval '10 minutes' END, '',
                CASE WHEN s.state = 'failed' THEN 'Gzip detected: submit a new request' ELSE '' END,
                CASE WHEN s.state = 'failed' THEN 'config' ELSE '' END, '[]'::jsonb,
                jsonb_build_object('status', s.state), md5(s.id::text), s.t, %(now)s, s.t, s.t, NULL,
                s.state <> 'running', '', 0
            FROM (SELECT id, %(now)s - interval '20 minutes' AS t,
                    CASE WHEN id %% 10 = 0 THEN 'failed' WHEN id %% 10 IN (1, 2, 3) THEN 'running'
                         ELSE 'succeeded' END AS state
                  FROM jobs_pipeline) AS s
            """,
            p,
        )
        # An old finished run for one pipeline in a hundred: housekeeping's work.
        cur.execute(
            """
            INSERT INTO jobs_run (uuid, pipeline_id, external_id, provisional_key, state, vendor_status, progress,
                counts, started_at, finished_at, error_code, error_message, error_kind, flags, raw, fingerprint,
                first_seen_at, last_seen_at, last_change_at, sort_at, expires_at, closed, items_fingerprint,
                items_count)
            SELECT gen_random_uuid(), id, 'old-' || id, false, 'succeeded', 'success', 1.0, '{}'::jsonb, t,
                t + interval '10 minutes', '', '', '', '[]'::jsonb, '{}'::jsonb, md5('old' || id), t, t, t, t, NULL,
                true, '', 0
            FROM (SELECT id, %(now)s - interval '40 days' AS t FROM jobs_pipeline WHERE id %% 100 = 0) AS o
            """,
            p,
        )
        cur.execute(
            """
            INSERT INTO jobs_snapshot (run_id, observed_at, state, vendor_status, progress, counts, error_message,
                flags, changed, raw)
            SELECT r.id, r.started_at + g * interval '1 minute', r.state, r.vendor_status, 0.5, '{}'::jsonb, '',
                '[]'::jsonb, CASE WHEN g = 0 THEN '["created"]'::jsonb ELSE '["progress"]'::jsonb END,
                jsonb_build_object('status', r.state, 'g', g)
            FROM jobs_run r CROSS JOIN LATERAL generate_series(0, CASE WHEN r.external_id LIKE 'old-%%' THEN 4
                ELSE 1 END) AS g
            """
        )
        # Statistics first: without them the planner joined a million runs to a million
        # pipelines by nested loop (over 8 minutes before it was stopped).
        cur.execute("ANALYZE jobs_run")
        cur.execute("ANALYZE jobs_pipeline")
        cur.execute(
            """
            UPDATE jobs_pipeline p SET current_run_id = r.id,
                last_failure_at = CASE WHEN r.state = 'failed' THEN r.finished_at END,
                last_failure_message = CASE WHEN r.state = 'failed' THEN r.error_message ELSE '' END,
                health_status = CASE r.state WHEN 'failed' THEN 'failing' WHEN 'running' THEN 'running'
                    ELSE 'healthy' END,
                incident_since = CASE WHEN r.state = 'failed' THEN r.finished_at END,
                alerted_condition = CASE WHEN r.state = 'failed' THEN 'failed' ELSE 'ok' END
            FROM (SELECT id, pipeline_id, state, finished_at, error_message FROM jobs_run
                  WHERE external_id LIKE 'run-%%') AS r
            WHERE r.pipeline_id = p.id
            """
        )
        # Poll attempts: one old (forgotten by housekeeping) and one recent per account.
        cur.execute(
            """
            INSERT INTO jobs_pollattempt (at, duration_ms, outcome, targets, message, account_id)
            SELECT %(now)s - d * interval '1 day', 120, 'ok', %(per)s, '', a.id
            FROM jobs_account a CROSS JOIN (VALUES (0), (20)) AS v(d)
            """,
            p,
        )
        # The health counts the triggers appended, folded as beat's next tick does (send_alerts).
        health_counts.compact()
        cur.execute("VACUUM ANALYZE") if connection.get_autocommit() else cur.execute("ANALYZE")
        counts = {}
        for table in TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
        cur.execute("SELECT pg_database_size(current_database())")
        counts["database bytes"] = cur.fetchone()[0]
        cur.execute(
            "SELECT p.uuid, r.uuid FROM jobs_pipeline p JOIN jobs_run r ON r.id = p.current_run_id"
            " WHERE r.state = 'running' ORDER BY p.id LIMIT 1"
        )
        pipeline_uuid, run_uuid = cur.fetchone()
    return {"pipelines": pipelines, "counts": counts, "pipeline_uuid": str(pipeline_uuid), "run_uuid": str(run_uuid)}


def autovacuum(enabled: bool) -> None:
    """Off while statistics must stay stale (what the planner saw before they caught up)."""
    from django.db import connection

    with connection.cursor() as cur:
        for table in ("jobs_account", "jobs_pipeline"):
            cur.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = {'true' if enabled else 'false'})")
