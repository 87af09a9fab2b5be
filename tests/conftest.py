"""Shared fixtures. The suite runs on the real services or not at all: PostgreSQL, Redis and
Chromium missing is an error, never a skip."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API + live_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def pytest_sessionstart(session: pytest.Session) -> None:
    from django.conf import settings

    problems = []
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("sqlite3") and os.environ.get("PW_TEST_EMBEDDED_DB"):
        pass  # tests/jobs/test_embedded_sqlite.py: the embedded default's own path, on purpose
    elif not engine.endswith("postgresql"):
        problems.append(f"the suite needs PostgreSQL (DATABASE_URL), got {engine}")
    else:
        import psycopg

        db = settings.DATABASES["default"]
        try:
            psycopg.connect(
                host=db["HOST"] or "127.0.0.1",
                port=db["PORT"] or 5432,
                user=db["USER"],
                password=db["PASSWORD"] or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except Exception as exc:
            problems.append(f"PostgreSQL is not reachable: {exc}")
    if not settings.REDIS_URL:
        problems.append("the suite needs Redis (REDIS_URL)")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3).ping()
        except Exception as exc:
            problems.append(f"Redis is not reachable at {settings.REDIS_URL}: {exc}")
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        problems.append(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    if problems:
        pytest.exit("missing services:\n  " + "\n  ".join(problems), returncode=3)


@pytest.fixture(autouse=True)
def _fast_vendor_http(settings: object) -> None:
    """Short timeouts and no retries: fault tests stay quick, the code path stays real."""
    settings.VENDOR_CONNECT_TIMEOUT = 1
    settings.VENDOR_READ_TIMEOUT = 1
    settings.VENDOR_TOTAL_TIMEOUT = 2
    settings.VENDOR_HTTP_RETRIES = 0
    from jobs import polling

    polling._clients.clear()


def patient_vendor_http(settings: object) -> None:
    """For worlds that answer large pages (PostHog's ten-day demo): a loaded machine needs
    more than a second per answer; faults are not what such tests are about."""
    settings.VENDOR_READ_TIMEOUT = 15
    settings.VENDOR_TOTAL_TIMEOUT = 30
    from jobs import polling

    polling._clients.clear()


@pytest.fixture(autouse=True)
def _log_scrubber_per_test() -> Iterator[None]:
    """The log scrubber remembers every credential a process decrypts; a test process would
    otherwise carry every earlier test's (plain-word) secrets into the next test's logs."""
    from jobs.scrubbing import forgotten_on_exit

    with forgotten_on_exit():
        yield


@dataclass
class Sim:
    """A running simulator with a frozen clock, and the Mixpanel world inside it."""

    url: str
    clock: object
    simulator: object
    mixpanel: object

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)


T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# Set to an ISO date-time to run the suite as if the machine's clock read that (proves no
# test depends on today's date): PW_TEST_PRETEND_NOW=2028-06-01T09:00:00+00:00 pytest ...
PRETEND_NOW = os.environ.get("PW_TEST_PRETEND_NOW", "")


@pytest.fixture(autouse=True)
def _pretend_now() -> Iterator[None]:
    if not PRETEND_NOW:
        yield
        return
    import time_machine

    with time_machine.travel(datetime.fromisoformat(PRETEND_NOW), tick=True):
        yield


def _empty_redis() -> None:
    """Delete every key of the test Redis db but kombu's queue bindings: the in-process Celery
    app declared its queues once and would find no route for a message without them."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    doomed = [k for k in client.scan_iter(count=500) if not k.startswith(b"_kombu.binding.")]
    if doomed:
        client.delete(*doomed)


@pytest.fixture(autouse=True)
def _redis_left_clean() -> Iterator[None]:
    """Each test meets an empty test Redis db and leaves one: queued tasks (a real tick()'s
    send_alerts), leases and counters stay with the test that made them."""
    _empty_redis()
    yield
    _empty_redis()


@pytest.fixture
def product_at_t0(settings) -> Iterator[None]:
    """Pipewatch's clock (vendors.clock, and the server thread's) on the simulator's T0, so
    dates typed relative to T0 pass both, whatever day the suite runs. Cookies last for the
    browser session: a browser on the real clock would drop cookies dated T0 + their age."""
    import time_machine

    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    settings.CSRF_COOKIE_AGE = None
    with time_machine.travel(T0, tick=True):
        yield


@pytest.fixture
def sim() -> Iterator[Sim]:
    from vendors.mixpanel.simulator import MixpanelWorld, SimProject, seed_connectors
    from vendors.simulator.core import Clock, SimServer, Simulator

    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    world = MixpanelWorld([SimProject("12345", username="svc", secret="s3cret").add(*seed_connectors())])
    world.install(simulator)
    server = SimServer(simulator).start()
    try:
        yield Sim(server.url, clock, simulator, world)
    finally:
        server.stop()


@pytest.fixture
def mp_account(db: None, sim: Sim):
    from jobs.models import Account

    account = Account(name="mp-test", vendor="mixpanel", base_url=sim.url, settings={"project_id": "12345"})
    account.credentials = {"username": "svc", "secret": "s3cret"}
    account.save()
    return account


@pytest.fixture
def make_pipeline(mp_account):
    from jobs.models import Pipeline

    def make(external_id: str, account=None, **kwargs: object) -> Pipeline:
        kwargs.setdefault("kind", "import_connector")
        return Pipeline.objects.create(account=account or mp_account, external_id=external_id, **kwargs)

    return make


def user_with_role(username: str, role: str | None, password: str = "correct-horse-battery"):
    """A user in one of the role groups (None: no role, which may see nothing)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(username, password=password)
    if role is not None:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def csrf_headers(client) -> dict[str, str]:
    """The CSRF header a browser page sends, for a test client that enforces CSRF: read the
    token from the cookie the login form sets (for anyone, signed in or not)."""
    client.get("/login/")
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


@pytest.fixture
def viewer(db):
    return user_with_role("viewer", "viewer")


@pytest.fixture
def api_client():
    """The test client as API clients call us: CSRF enforced like a real server does."""
    from django.test import Client

    return Client(enforce_csrf_checks=True)


@pytest.fixture
def logged_in(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def polled(mp_account, make_pipeline):
    """The four seed samples, polled once through the real path."""
    from jobs import polling

    pipelines = {
        cid: make_pipeline(cid, name=f"Pipeline {cid}")
        for cid in ("seed-queued", "seed-running", "seed-success", "seed-failed")
    }
    polling.poll_now(mp_account)
    return pipelines
