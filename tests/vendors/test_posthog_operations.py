"""PostHog's own operations (vendors/operations.py) against the simulator over HTTP: retry a
failed interval, cancel a running attempt, backfill a date range and follow it, cancel a
backfill, unpause with a backfill, full resync and cancel a sync; and what the pages show
about exports and tables (facts, cadence, paused)."""

from collections.abc import Iterator

import pytest

from vendors.base import AccountConfig, FormField, InvalidSpec, Rejected, Target, TargetResult
from vendors.http import HttpSettings
from vendors.operations import PIPELINE, RUN, clean_values
from vendors.posthog.client import PostHogClient
from vendors.posthog.facts import export_facts, sync_seconds, table_facts
from vendors.posthog.observe import BATCH_EXPORT, WAREHOUSE_TABLE
from vendors.posthog.simulator import DEMO_KEY, DEMO_PROJECT, install_demo
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0

FAST = HttpSettings(connect_timeout=1, read_timeout=3, total_timeout=5, retries=0)


@pytest.fixture
def world() -> Iterator[tuple[PostHogClient, Clock, object, dict[str, TargetResult]]]:
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    demo = install_demo(simulator, T0)
    clock.advance(600)
    server = SimServer(simulator).start()
    account = AccountConfig(
        "posthog", "ph", {"project_id": str(DEMO_PROJECT)}, {"api_key": DEMO_KEY}, base_url=server.url
    )
    client = PostHogClient(account, FAST, now=clock.now)
    try:
        found = {r.name: r for r in client.poll([], discover=True)}
        yield client, clock, demo.projects[DEMO_PROJECT], found
    finally:
        server.stop()


def observed(client: PostHogClient, target: Target, *keys: str) -> dict[str, object]:
    """A poll's observations by run key (`keys`: open intervals, asked back to the oldest)."""
    target = Target(target.kind, target.external_id, open_runs=keys)
    return {o.run_key: o for o in client.poll([target])[0].observations}


def test_the_kinds_declare_their_operations() -> None:
    exports = {op.name: op for op in PostHogClient.operations_for(BATCH_EXPORT)}
    tables = {op.name: op for op in PostHogClient.operations_for(WAREHOUSE_TABLE)}
    assert set(exports) == {"retry", "cancel-run", "backfill", "cancel-backfill", "unpause-backfill"}
    assert set(tables) == {"cancel-sync", "resync"}
    assert exports["retry"].scope == RUN and exports["retry"].applies_to("failed")
    assert not exports["retry"].applies_to("succeeded") and exports["cancel-run"].applies_to("running")
    assert exports["backfill"].scope == PIPELINE and exports["backfill"].offered({})
    assert not exports["cancel-backfill"].offered({})  # from a running backfill's fact only
    assert exports["unpause-backfill"].offered({"paused": True}) and not exports["unpause-backfill"].offered({})
    assert "DROPS" in tables["resync"].confirm  # it cannot be undone: the page asks first
    assert PostHogClient.operation(WAREHOUSE_TABLE, "retry") is None


def test_a_failed_interval_is_retried_and_the_new_attempt_decides_it(world) -> None:
    client, clock, _, found = world
    target = found["Persons to BigQuery"].target
    failed = [o for o in found["Persons to BigQuery"].observations if o.state == "failed"]
    assert failed, "the demo's BigQuery export fails every fourth day"
    key = failed[-1].run_key
    assert "again" in client.perform(target, "retry", key, {})
    clock.advance(400)  # the attempt runs 300 s
    after = observed(client, target, key)[key]
    assert after.state == "succeeded" and len(after.raw["attempts"]) == 2  # both kept, the newest decided
    with pytest.raises(Rejected, match="no attempt"):
        client.perform(target, "retry", "2020-01-01T00:00:00Z/2020-01-02T00:00:00Z", {})


def test_a_backfill_runs_its_days_and_its_progress_is_reported(world) -> None:
    client, clock, project, found = world
    target = found["Persons to BigQuery"].target
    message = client.perform(target, "backfill", "", {"start": "2026-11-15", "end": "2026-11-16"})
    assert "2 days" in message
    export = project.exports[target.external_id]
    (backfill,) = export.backfills[-1:]
    assert (backfill.start_at.isoformat(), backfill.end_at.isoformat()) == (
        "2026-11-15T00:00:00+00:00",
        "2026-11-17T00:00:00+00:00",
    )
    info = client.poll([target])[0].info
    running = next(b for b in info["backfills"] if b["id"] == backfill.id)
    assert running["status"] in ("Starting", "Running") and running["total_runs"] == 2
    fact = next(f for f in export_facts(info) if f.operation == "cancel-backfill")
    assert fact.total == 2 and fact.values == {"backfill_id": backfill.id}
    clock.advance(700)  # two runs of 300 s, 20 s apart
    done = next(b for b in client.poll([target])[0].info["backfills"] if b["id"] == backfill.id)
    assert (done["status"], done["finished_runs"]) == ("Completed", 2)


def test_a_backfill_is_checked_before_posthog_is_asked(world) -> None:
    client, _clock, project, found = world
    target = found["Persons to BigQuery"].target
    before = len(project.exports[target.external_id].backfills)
    cases = [
        ({"start": "2026-11-16", "end": "2026-11-15"}, {"end": "must be on or after the start"}),
        (
            {"start": "2026-11-16", "end": "2026-11-20"},
            {"end": "must be before today (UTC): PostHog backfills only what is over"},
        ),
        ({"start": "16/11/2026", "end": "2026-11-15"}, {"start": "must be a date, YYYY-MM-DD"}),
        ({"end": "2026-11-15"}, {"start": "required"}),
        ({"start": "2026-11-14", "end": "2026-11-15", "dataset": "x"}, {"dataset": "not an input of this operation"}),
    ]
    for values, errors in cases:
        with pytest.raises(InvalidSpec) as info:
            client.perform(target, "backfill", "", values)
        assert info.value.errors == errors, values
    assert len(project.exports[target.external_id].backfills) == before


def test_a_backfill_is_cancelled(world) -> None:
    client, clock, project, found = world
    target = found["Events to S3"].target
    client.perform(target, "backfill", "", {"start": "2026-11-18", "end": "2026-11-18"})  # 24 hourly runs
    backfill = project.exports[target.external_id].backfills[-1]
    clock.advance(30)
    assert "cancelled" in client.perform(target, "cancel-backfill", "", {"backfill_id": backfill.id})
    assert backfill.status(clock.now()) == "Cancelled"
    with pytest.raises(Rejected):  # twice: PostHog's 400, said as a refusal
        client.perform(target, "cancel-backfill", "", {"backfill_id": backfill.id})


def test_the_paused_export_is_unpaused_with_a_backfill(world) -> None:
    client, _clock, project, found = world
    target = found["Events to Snowflake"].target
    export = project.exports[target.external_id]
    assert export.paused  # PostHog paused it by itself after repeated failures
    info = client.poll([target])[0].info
    assert info["paused"] and "PostHog itself" in info["paused_reason"]
    assert export_facts(info)[0].label == "Paused at PostHog" and export_facts(info)[0].tone == "error"
    assert "backfilling" in client.perform(target, "unpause-backfill", "", {})
    assert not export.paused
    assert client.poll([target])[0].info["paused_reason"] == ""  # merged into the pipeline's: cleared


def test_a_table_is_resynced_and_a_running_sync_cancelled(world) -> None:
    client, clock, project, found = world
    target = found["Stripe charges"].target
    schema = project.schema(target.external_id.split("/")[1])
    assert "dropped the table" in client.perform(target, "resync", "", {})
    assert schema.running(clock.now()) is not None
    running = [o for o in observed(client, target).values() if o.state in ("queued", "running")]
    assert running
    assert "cancelled" in client.perform(target, "cancel-sync", running[0].run_key, {})
    assert schema.running(clock.now()) is None


def test_what_the_pages_show_about_a_table() -> None:
    billing = {
        "status": "BillingLimitReached",
        "should_sync": True,
        "paused": False,
        "sync_type": "full_refresh",
        "sync_frequency": "6hour",
        "last_synced_at": "2026-11-30T07:47:57.190031Z",
        "row_count": 14280,
        "latest_error": "Your account has reached its data warehouse rows synced billing limit",
    }
    facts = {f.label: f for f in table_facts(billing)}
    assert facts["Status"].tone == "error" and "billing limit" in facts["Status"].note
    assert facts["Syncs"].value == "every 6 hours" and facts["Sync type"].value == "full refresh"
    assert facts["Last synced"].value == "2026-11-30 07:47 UTC" and facts["Rows in the table"].value == "14,280"
    off = {f.label: f for f in table_facts({**billing, "should_sync": False, "paused": True, "paused_reason": "off"})}
    assert "Syncs" not in off and off["Paused at PostHog"].value == "off"
    assert PostHogClient.cadence_for(WAREHOUSE_TABLE, billing) == 6 * 3600
    assert PostHogClient.cadence_for(WAREHOUSE_TABLE, {**billing, "should_sync": False}) is None
    assert PostHogClient.cadence_for(BATCH_EXPORT, {"interval": "every 15 minutes"}) == 900
    assert PostHogClient.cadence_for(BATCH_EXPORT, {"interval": "fortnightly"}) is None


@pytest.mark.parametrize(
    ("frequency", "seconds"),
    [("5min", 300), ("30min", 1800), ("1hour", 3600), ("24hour", 86400), ("7day", 604800), ("30day", 2592000),
     ("0hour", None), ("hourly", None), (None, None), (6, None)],
)  # fmt: skip
def test_sync_frequencies(frequency, seconds) -> None:
    assert sync_seconds(frequency) == seconds


def test_operation_inputs_are_typed_by_their_fields() -> None:
    fields = (FormField("on", "On", "bool"), FormField("kind", "Kind", "choice", choices=("a", "b")))
    assert clean_values(fields, {"on": "on", "kind": "a"}) == {"on": True, "kind": "a"}
    assert clean_values(fields, {}) == {"on": False}
    with pytest.raises(InvalidSpec) as info:
        clean_values(fields, {"on": "maybe", "kind": "c"})
    assert info.value.errors == {"on": "must be true or false", "kind": "must be one of: a, b"}
    with pytest.raises(InvalidSpec, match="at most 500"):
        clean_values((FormField("t", "T", required=True),), {"t": "x" * 501})
    with pytest.raises(InvalidSpec, match="must be text"):
        clean_values((FormField("t", "T"),), {"t": ["x"]})


def test_a_paused_reason_names_the_vendor() -> None:
    facts = export_facts({"interval": "hour", "paused": True, "paused_reason": "by a person or through the API"})
    assert [(f.label, f.value, f.tone) for f in facts][:2] == [
        ("Paused at PostHog", "by a person or through the API", "warn"),
        ("Interval", "every hour", ""),
    ]
