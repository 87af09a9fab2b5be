"""The PostHog account session and its two adapters against the simulator's demo world over
HTTP: discovery with history, polls, pause and unpause, sync now, cancel, and the connection
check with its hints. (PostHog is not in vendors/packages.py yet: the client is built here.)"""

from collections.abc import Iterator
from datetime import timedelta

import pytest

from vendors.base import AccountConfig, AuthError, Target
from vendors.connection_check import CheckFailed
from vendors.http import HttpSettings
from vendors.posthog.client import CLIENTS, PostHogClient
from vendors.posthog.observe import BATCH_EXPORT, WAREHOUSE_TABLE
from vendors.posthog.simulator import DEMO_KEY, DEMO_PROJECT, DEMO_READONLY_KEY, install_demo
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0

FAST = HttpSettings(connect_timeout=1, read_timeout=3, total_timeout=5, retries=0)


@pytest.fixture
def world() -> Iterator[tuple[str, Clock, object]]:
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    demo = install_demo(simulator, T0)
    clock.advance(600)
    server = SimServer(simulator).start()
    try:
        yield server.url, clock, demo
    finally:
        server.stop()


def client(url: str, clock: Clock, key: str = DEMO_KEY, project: str = str(DEMO_PROJECT)) -> PostHogClient:
    account = AccountConfig("posthog", "ph", {"project_id": project}, {"api_key": key}, base_url=url)
    return PostHogClient(account, FAST, now=clock.now)


def test_the_session_declares_its_kinds_from_its_adapters() -> None:
    assert (PostHogClient,) == CLIENTS
    assert PostHogClient.schema.kinds == (BATCH_EXPORT, WAREHOUSE_TABLE)
    assert PostHogClient.schema.period_kinds == (BATCH_EXPORT,) and PostHogClient.schema.import_kinds == (
        WAREHOUSE_TABLE,
    )
    assert PostHogClient.schema.settings_problems({"project_id": "12a"}) == {
        "project_id": "must be PostHog's numeric project id"
    }
    assert set(PostHogClient.hosts) == {"us", "eu"}


def test_discovery_brings_every_pipeline_with_its_history_then_polls_read_recent_intervals(world) -> None:
    url, clock, _ = world
    found = client(url, clock).poll([], discover=True)
    names = {r.name: r for r in found}
    assert len(found) == 8 and all(r.error is None for r in found)
    s3 = names["Events to S3"]
    assert s3.target.kind == BATCH_EXPORT and len(s3.observations) == 10 * 24  # 30 days asked: all ten
    again = client(url, clock).poll([s3.target])
    assert len(again) == 1 and 40 <= len(again[0].observations) <= 60  # about two days
    contacts = names["Hubspot contacts"]
    assert contacts.target.kind == WAREHOUSE_TABLE and contacts.observations[0].state == "failed"


def test_pause_unpause_and_sync_now_reach_posthog(world) -> None:
    url, clock, demo = world
    c = client(url, clock)
    found = {r.name: r.target for r in c.poll([], discover=True)}
    export = demo.projects[DEMO_PROJECT].exports[found["Persons to BigQuery"].external_id]
    assert "paused" in c.pause(found["Persons to BigQuery"]) and export.paused
    assert "unpaused" in c.resume(found["Persons to BigQuery"]) and not export.paused
    table = found["Stripe charges"]
    assert "started a sync" in c.run_now(table).message
    schema = demo.projects[DEMO_PROJECT].schema(table.external_id.split("/")[1])
    assert schema.running(clock.now()) is not None
    adapter = c._adapters[WAREHOUSE_TABLE]
    assert "cancelled" in adapter.cancel_sync(table) and schema.running(clock.now()) is None


def test_the_connection_check_and_its_hints(world) -> None:
    url, clock, _ = world
    assert "4 batch exports and 4 warehouse tables" in client(url, clock).check_credentials()
    with pytest.raises(AuthError, match="missing required scope 'batch_export:write'"):
        client(url, clock, key=DEMO_READONLY_KEY).pause(Target(BATCH_EXPORT, "x"))
    with pytest.raises(CheckFailed) as wrong:
        client(url, clock, key="phx_wrong").check_credentials()
    assert "phx_wrong" not in str(wrong.value)
    with pytest.raises(CheckFailed, match="project"):
        client(url, clock, project="999").check_credentials()


def test_an_interval_running_attempt_can_be_cancelled(world) -> None:
    url, clock, _ = world
    c = client(url, clock)
    postgres = next(r.target for r in c.poll([], discover=True) if r.name == "Sessions to Postgres")
    clock.advance(timedelta(minutes=5, seconds=10).total_seconds())  # T0+15:10: the interval ending at :15 runs
    running = [o for o in c.poll([postgres])[0].observations if o.state in ("queued", "running")]
    assert running
    message = c._adapters[BATCH_EXPORT].cancel_interval(postgres, running[0].run_key)
    assert "cancelling" in message
    after = {o.run_key: o.state for o in c.poll([postgres])[0].observations}
    assert after[running[0].run_key] == "canceled"
