"""One real Celery worker on Redis: beat's tick claims, the worker polls, rows land."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from dashboard.celery import app
from jobs import tasks
from jobs.models import Run


def _poll_finished(account) -> bool:
    account.refresh_from_db()
    return account.lease_token is None and account.last_poll_ok_at is not None


@pytest.mark.django_db(transaction=True)
def test_tick_and_poll_through_a_real_worker(mp_account, make_pipeline) -> None:
    assert app.conf.broker_url.startswith("redis://"), "this test needs the Redis broker"
    assert settings.CELERY_TASK_ACKS_LATE
    make_pipeline("seed-running")
    make_pipeline("seed-failed")
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        shutdown_timeout=10,
        queues=["polling", "alerts", "housekeeping"],
    ):
        enqueued = tasks.tick.delay()
        deadline = time.monotonic() + 20
        # The poll is over when its lease is released, not when its rows appear (they land first).
        while not _poll_finished(mp_account) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert enqueued.id
    assert sorted(Run.objects.values_list("state", flat=True)) == ["failed", "running"]
    mp_account.refresh_from_db()
    assert mp_account.lease_token is None and mp_account.last_poll_ok_at is not None


BACKENDS: list[int] = []


@app.task(name="tests.backend_pid", ignore_result=True)
def backend_pid() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        BACKENDS.append(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_tasks_reuse_pooled_database_connections() -> None:
    """Celery closes a task's connections after every task; the pool must take them back,
    or every poll opens (and PostgreSQL forks) a new connection (ADR 9)."""
    BACKENDS.clear()
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, queues=["polling"]):
        for _ in range(12):
            backend_pid.apply_async(queue="polling")
        deadline = time.monotonic() + 20
        while len(BACKENDS) < 12 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(BACKENDS) == 12
    # One task at a time: the pool's few idle connections take turns (none is opened anew).
    assert len(set(BACKENDS)) <= 4, BACKENDS
    assert settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"] >= 16  # a worker's threads
