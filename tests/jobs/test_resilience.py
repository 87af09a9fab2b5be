"""Real processes, real failures: a worker killed mid-poll, Redis gone for a while."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from jobs import scheduling
from jobs.models import Account, PollAttempt, Run, Snapshot
from vendors.simulator.core import Fault

ROOT = settings.BASE_DIR


def _env(**extra: str) -> dict[str, str]:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_ALLOW"))}
    env.update(
        TESTING="true",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        VENDOR_READ_TIMEOUT="30",
        VENDOR_TOTAL_TIMEOUT="40",
        VENDOR_HTTP_RETRIES="0",
    )
    env.update(extra)
    return env


def _celery(args: list[str], env: dict[str, str], log: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dashboard", *args],
        cwd=ROOT,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_poll_leaves_nothing_half_written(sim, mp_account, make_pipeline, tmp_path) -> None:
    from dashboard.celery import app

    for cid in ("seed-running", "seed-success", "seed-failed"):
        make_pipeline(cid)
    # The vendor hangs on the second connector: the worker dies while the poll is in flight.
    sim.simulator.inject(Fault("timeout", path="/api/app/projects/12345/connectors/seed-success", seconds=25, times=1))
    env = _env(CELERY_VISIBILITY_TIMEOUT="3")
    app.control.purge()
    token = scheduling.claim(mp_account.pk, timezone.now())
    assert token is not None
    app.send_task("jobs.tasks.poll_account", args=[mp_account.pk, str(token)], queue="polling")

    first = _celery(
        ["worker", "-Q", "polling", "--pool=threads", "-c", "1", "-n", "w1@%h"], env, str(tmp_path / "w1.log")
    )
    try:
        _wait(lambda: any("seed-success" in path for _, path in sim.simulator.request_log), 60, "the poll to start")
        _kill(first)  # SIGKILL: no goodbye, no ack
    finally:
        if first.poll() is None:
            _kill(first)
    assert Run.objects.count() <= 1  # only the first connector's pipeline transaction may have committed
    assert Account.objects.get(pk=mp_account.pk).lease_token == token  # the lease outlives the dead worker

    second = _celery(
        ["worker", "-Q", "polling", "--pool=threads", "-c", "1", "-n", "w2@%h"], env, str(tmp_path / "w2.log")
    )
    try:
        _wait(
            lambda: Run.objects.count() == 3 and Account.objects.get(pk=mp_account.pk).lease_token is None,
            90,
            "the redelivered task to finish the poll",
        )
    finally:
        _kill(second, signal.SIGTERM)
    runs = list(Run.objects.values_list("pipeline__external_id", "external_id"))
    assert len(runs) == len(set(runs)) == 3  # no duplicates
    assert Snapshot.objects.count() == 3  # one per run: nothing written twice


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis(port: int, tmp_path) -> subprocess.Popen:
    server = shutil.which("redis-server")
    assert server, "redis-server is needed for this test"
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    _wait(lambda: _pings(redis, port), 10, "redis to start")
    return proc


def _pings(redis, port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_timeout=0.5).ping()
    except Exception:
        return False


@pytest.mark.django_db(transaction=True)
def test_redis_outage_pages_keep_serving_and_polling_resumes(
    sim, mp_account, make_pipeline, tmp_path, client, viewer
) -> None:
    make_pipeline("seed-running")
    port = _free_port()
    redis_proc = _redis(port, tmp_path)
    env = _env(
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        POLL_TICK_SECONDS="1",
        POLL_ACTIVE_SECONDS="1",
        CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "beat-schedule"),
    )
    worker = _celery(
        ["worker", "-Q", "polling,alerts,housekeeping", "--pool=threads", "-c", "2", "-n", "w@%h"],
        env,
        str(tmp_path / "worker.log"),
    )
    beat = _celery(["beat", "--loglevel=INFO"], env, str(tmp_path / "beat.log"))
    try:
        _wait(lambda: PollAttempt.objects.filter(account=mp_account).exists(), 60, "the first poll")
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        outage_started = time.time()
        client.force_login(viewer)
        while time.time() - outage_started < 12:  # pages keep serving without the broker
            assert client.get("/").status_code == 200
            time.sleep(1)
        redis_proc = _redis(port, tmp_path)
        back = PollAttempt.objects.count()
        _wait(lambda: PollAttempt.objects.count() > back, 90, "polling to resume after Redis came back")
    finally:
        _kill(beat, signal.SIGTERM)
        _kill(worker, signal.SIGTERM)
        redis_proc.terminate()
