"""Real processes, real failures: a worker killed mid-poll, Redis gone for a while."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
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
    return _spawn([sys.executable, "-m", "celery", "-A", "dashboard", *args], env, log)


def _spawn(argv: list[str], env: dict[str, str], log: str) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
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
        while time.time() - outage_started < 60:  # a minute without the broker: pages keep serving
            assert client.get("/").status_code == 200
            time.sleep(1)
        redis_proc = _redis(port, tmp_path)
        back = PollAttempt.objects.count()
        _wait(lambda: PollAttempt.objects.count() > back, 90, "polling to resume after Redis came back")
    finally:
        _kill(beat, signal.SIGTERM)
        _kill(worker, signal.SIGTERM)
        redis_proc.terminate()


# --- PostgreSQL restarted under web, worker and beat -------------------------------------
# A private cluster (initdb in a temporary directory, its own port), so the restart cannot
# disturb the test database or anything else using the machine's PostgreSQL.


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    path = shutil.which("initdb") or (str(found[-1]) if found else None)
    assert path, "PostgreSQL's server programs (initdb, pg_ctl) are needed for this test"
    return Path(path).parent


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root: when we are root, run it as the postgres user."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120, **kwargs)


class PrivatePostgres:
    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="pipewatch-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        _as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"])
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/pipewatch"

    def ctl(self, action: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} -c fsync=off"
        args = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-m", "fast"]
        _as_postgres([*args, "-o", options, "-l", str(self.dir / "server.log"), action])

    def query(self, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=5) as conn:
            return conn.execute(sql).fetchall()

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.ctl("stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    import psycopg

    pg = PrivatePostgres()
    try:
        pg.ctl("start")
        with psycopg.connect(pg.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE pipewatch")
        yield pg
    finally:
        pg.remove()


def _login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    response = session.post(
        f"{base}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{base}/login/"},
        timeout=10,
    )
    assert response.status_code == 200 and "Log out" in response.text, response.text[:500]
    return session


def _status(session: requests.Session, url: str) -> int | None:
    try:
        return session.get(url, timeout=10).status_code
    except requests.RequestException:
        return None


def _tick_failures(log: Path) -> int:
    """Ticks the worker logged as failed ("Task jobs.tasks.tick[...] raised unexpected: ...")."""
    return sum("Task jobs.tasks.tick[" in line and "raised unexpected" in line for line in log.read_text().splitlines())


@pytest.mark.django_db(transaction=True)
def test_postgres_restart_is_survived_by_web_worker_and_beat(sim, private_postgres, tmp_path) -> None:
    pg = private_postgres
    port, redis_port = _free_port(), _free_port()
    redis_proc = _redis(redis_port, tmp_path)
    env = _env(
        DATABASE_URL=pg.url,
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        POLL_TICK_SECONDS="1",
        POLL_ACTIVE_SECONDS="1",
        CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "beat-schedule"),
        MP_SECRET="s3cret",
        DJANGO_SUPERUSER_PASSWORD="correct-horse-battery",
    )
    config = tmp_path / "pipewatch.toml"
    config.write_text(
        f'[[accounts]]\nname = "mp"\nvendor = "mixpanel"\nbase_url = "{sim.url}"\n'
        'settings = { project_id = "12345" }\ncredentials = { username = "svc", secret = "env:MP_SECRET" }\n'
        '[[pipelines]]\naccount = "mp"\nkind = "import_connector"\nexternal_id = "seed-running"\n'
    )
    manage = [sys.executable, "manage.py"]
    for args in (["migrate", "--noinput"], ["apply_config", str(config)]):
        subprocess.run([*manage, *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=180)
    subprocess.run(
        [*manage, "createsuperuser", "--noinput", "--username", "ada", "--email", "ada@example.com"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    gunicorn = [sys.executable, "-m", "gunicorn", "dashboard.wsgi", "--bind", f"127.0.0.1:{port}", "-w", "2"]
    web = _spawn(gunicorn, env, str(tmp_path / "web.log"))
    queues = ["worker", "-Q", "polling,alerts,housekeeping", "--pool=threads", "-c", "2", "-n", "w@%h"]
    worker = _celery(queues, env, str(tmp_path / "worker.log"))
    beat = _celery(["beat", "--loglevel=INFO"], env, str(tmp_path / "beat.log"))
    base = f"http://127.0.0.1:{port}"
    polls = "SELECT count(*) FROM jobs_pollattempt"
    try:
        _wait(lambda: _status(requests.Session(), f"{base}/healthz") == 200, 90, "web, worker and beat to be healthy")
        session = _login(base, "ada", "correct-horse-battery")
        assert "seed-running" in session.get(f"{base}/", timeout=10).text

        failed_ticks = _tick_failures(tmp_path / "worker.log")
        pg.ctl("stop")
        down = session.get(f"{base}/healthz", timeout=10)
        assert down.status_code == 503 and down.json()["checks"]["database"].startswith("error")
        page = session.get(f"{base}/", timeout=10)
        assert page.status_code == 500 and "Traceback" not in page.text  # an error page, not a hang or a leak
        # The worker has felt the outage (its log says a tick failed), not a guess of seconds.
        _wait(lambda: _tick_failures(tmp_path / "worker.log") > failed_ticks, 60, "a tick to fail while it is down")
        pg.ctl("start")
        before = pg.query(polls)[0][0]

        _wait(lambda: _status(session, f"{base}/healthz") == 200, 60, "/healthz to recover (database and beat)")
        assert "seed-running" in session.get(f"{base}/", timeout=10).text  # the same session: nobody logged out
        _wait(lambda: pg.query(polls)[0][0] > before + 2, 60, "polling to resume after the restart")
        runs = pg.query("SELECT pipeline_id, external_id FROM jobs_run")
        assert runs and len(runs) == len(set(runs))  # nothing duplicated by the retried ticks
        for proc, name in ((web, "web"), (worker, "worker"), (beat, "beat")):
            assert proc.poll() is None, f"{name} exited; see {tmp_path / (name + '.log')}"
    finally:
        for proc in (beat, worker, web):
            _kill(proc, signal.SIGTERM)
        redis_proc.terminate()


@pytest.mark.django_db(transaction=True)
def test_workers_on_separate_queues_with_one_beat_share_the_work(sim, mp_account, make_pipeline, tmp_path) -> None:
    """The scale-out shape of the README: two polling workers (as on two machines), one for
    alerts and housekeeping, exactly one beat, one Redis and one PostgreSQL."""
    from jobs.models import Pipeline, StateChange

    accounts = [mp_account]
    for i in range(1, 8):
        account = Account(name=f"mp-{i}", vendor="mixpanel", base_url=sim.url, settings={"project_id": "12345"})
        account.credentials = {"username": "svc", "secret": "s3cret"}
        account.save()
        accounts.append(account)
    for account in accounts:
        for cid in ("seed-running", "seed-failed"):
            Pipeline.objects.create(account=account, kind="import_connector", external_id=cid)
    port = _free_port()
    redis_proc = _redis(port, tmp_path)
    env = _env(
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        POLL_TICK_SECONDS="1",
        CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "beat-schedule"),
    )
    logs = {name: str(tmp_path / f"{name}.log") for name in ("poll-a", "poll-b", "alerts", "beat")}
    procs = [
        _celery(
            ["worker", "-Q", "polling", "--pool=threads", "-c", "1", "-n", "a@%h", "-l", "INFO"], env, logs["poll-a"]
        ),
        _celery(
            ["worker", "-Q", "polling", "--pool=threads", "-c", "1", "-n", "b@%h", "-l", "INFO"], env, logs["poll-b"]
        ),
        _celery(
            ["worker", "-Q", "alerts,housekeeping", "--pool=threads", "-c", "1", "-n", "c@%h", "-l", "INFO"],
            env,
            logs["alerts"],
        ),
    ]
    try:
        # every worker consuming before the first tick, as in production: "... ready." is logged then
        _wait(lambda: all("ready." in Path(logs[w]).read_text() for w in ("poll-a", "poll-b", "alerts")), 60, "workers")
        procs.append(_celery(["beat", "--loglevel=INFO"], env, logs["beat"]))
        _wait(
            lambda: (
                PollAttempt.objects.values("account").distinct().count() == len(accounts)
                and StateChange.objects.exists()
                and not StateChange.objects.filter(processed_at=None).exists()
            ),
            90,
            "every account polled and every state change handled",
        )
    finally:
        for proc in procs:
            _kill(proc, signal.SIGTERM)
        redis_proc.terminate()
    text = {name: Path(path).read_text() for name, path in logs.items()}
    poll, alert = "Task jobs.tasks.poll_account[", "Task jobs.tasks.send_alerts["  # "... received" lines
    assert poll in text["poll-a"] and poll in text["poll-b"]  # the polling load is shared
    assert alert in text["alerts"] and poll not in text["alerts"]
    assert alert not in text["poll-a"] + text["poll-b"]
    runs = list(Run.objects.values_list("pipeline_id", "external_id"))
    assert len(runs) == len(set(runs)) == 2 * len(accounts)  # every pipeline once, none twice
