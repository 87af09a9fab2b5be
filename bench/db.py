"""The bench database: dropped and recreated at the start, migrated, emptied between parts."""

from __future__ import annotations

import os
import subprocess

from .config import PYTHON, ROOT, admin_dsn, database_name

JOB_TABLES = (
    "jobs_snapshot",
    "jobs_run",
    "jobs_pollattempt",
    "jobs_statechange",
)


def recreate() -> None:
    import psycopg

    name = database_name()
    with psycopg.connect(**admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=os.environ.copy(), check=True
    )


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


def empty_jobs() -> None:
    """Every account and what hangs off it; users and groups stay."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE jobs_account RESTART IDENTITY CASCADE")
        cur.execute("TRUNCATE jobs_heartbeat")
    analyze()


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def row_counts(tables: tuple[str, ...] = JOB_TABLES) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cur:
        out = {}
        for table in tables:
            cur.execute(f"SELECT count(*) FROM {table}")
            out[table] = cur.fetchone()[0]
        return out


def sizes(tables: tuple[str, ...] = JOB_TABLES) -> dict[str, int]:
    """pg_total_relation_size: heap + TOAST + indexes, in bytes."""
    from django.db import connection

    with connection.cursor() as cur:
        out = {}
        for table in tables:
            cur.execute("SELECT pg_total_relation_size(%s)", [table])
            out[table] = cur.fetchone()[0]
        return out
