"""The Statsig client against the simulator over real HTTP, on a frozen clock."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import requests

from vendors import base as vb
from vendors.base import AccountConfig, Target
from vendors.connection_check import CheckFailed
from vendors.http import HttpSettings
from vendors.registry import vendor_class
from vendors.simulator.core import Clock, Fault, SimServer, Simulator
from vendors.statsig.client import BACKFILLS, STATUS_PATH, StatsigClient
from vendors.statsig.simulator import (
    FAIL_SCRIPT,
    RETRY_SCRIPT,
    SEED_KEY,
    SimConsole,
    SimRun,
    SimSource,
    StatsigWorld,
    scripted_day,
    seed_console,
    seed_status_example,
)

from ..conftest import T0  # 2026-11-20 12:00 UTC

FAST = HttpSettings(connect_timeout=1, read_timeout=1, total_timeout=2, retries=0)
KEY = "console-test-key-0123456789"
SEED_401 = {
    "status": 401,
    "message": (
        "This endpoint only accepts an active CONSOLE key, but an invalid key was sent. Key: console-xxxXXXxxxXXXxxx"
    ),
}
SNOWFLAKE = Target("ingestion", "snowflake-prod/events")
EXPOSURES = Target("ingestion", "bigquery-exposures/export_exposures")
TODAY = T0.date()


def ago(n: int) -> date:
    return TODAY - timedelta(days=n)


@dataclass
class StatsigSim:
    url: str
    clock: Clock
    simulator: Simulator
    world: StatsigWorld
    console: SimConsole

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def client(self, key: str = KEY, **settings: object) -> StatsigClient:
        account = AccountConfig("statsig", "t", dict(settings), {"api_key": key}, base_url=self.url)
        return StatsigClient(account, FAST, now=self.clock.now)

    def status_calls(self) -> int:
        return sum(1 for method, path in self.simulator.request_log if (method, path) == ("GET", STATUS_PATH))


@pytest.fixture
def ssim() -> Iterator[StatsigSim]:
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    snowflake = SimSource("snowflake-prod", "events", "snowflake")
    snowflake.days = [
        scripted_day(ago(1), at=T0 - timedelta(minutes=30), gap=20 * 60, rows=500),  # succeeds at T0 + 10 min
        scripted_day(ago(2), rows=1000).reopen(T0 + timedelta(minutes=5), rows=1200, run_seconds=600),
        scripted_day(ago(3), ("IMPORT_SCHEDULED", "IMPORT_STARTED", "LOADED_EMPTY_DATA")),
        scripted_day(ago(4), ("IMPORT_SCHEDULED", "QUERY_ERROR"), message="SQL compilation error for {ds}"),
        scripted_day(ago(5), ("IMPORT_SCHEDULED", "DEDUPE_RUNNING")),
        scripted_day(ago(20), rows=7),  # outside the default 7-day window
    ]
    exposures = SimSource(
        "bigquery-exposures", "export_exposures", "bigquery", days=[scripted_day(ago(n), rows=80 + n) for n in (1, 2)]
    )
    console = SimConsole(KEY).add(snowflake, exposures)
    world = StatsigWorld([console, seed_console()])
    world.install(simulator)
    server = SimServer(simulator).start()
    try:
        yield StatsigSim(server.url, clock, simulator, world, console)
    finally:
        server.stop()


def by_key(results: list[vb.TargetResult]) -> dict[str, vb.TargetResult]:
    return {r.target.external_id: r for r in results}


def days(result: vb.TargetResult) -> dict[str, vb.Observation]:
    return {o.run_key: o for o in result.observations}


def test_registered_under_its_vendor_name() -> None:
    assert vendor_class("statsig") is StatsigClient


# -- polling ------------------------------------------------------------------------
def test_one_status_call_per_poll_whatever_the_number_of_targets(ssim) -> None:
    targets = [SNOWFLAKE, EXPOSURES] + [Target("ingestion", f"ghost-{n}/events") for n in range(8)]
    results = ssim.client().poll(targets, discover=True)
    assert ssim.status_calls() == 1
    assert len(ssim.simulator.request_log) == 1
    assert all(r.error is None for r in results)
    # Every requested target answers, the ghosts with nothing.
    assert {t.key for t in targets} <= {r.target.key for r in results}
    assert by_key(results)["ghost-3/events"].observations == []


def test_window_is_today_and_the_days_before_it(ssim) -> None:
    ssim.client().poll([SNOWFLAKE])
    ssim.client(window_days=3).poll([SNOWFLAKE])
    ssim.client(window_days=500).poll([SNOWFLAKE])
    ssim.client(window_days="junk").poll([SNOWFLAKE])
    windows = [(q["startDate"][0], q["endDate"][0]) for q in ssim.world.status_queries]
    assert windows == [
        ("2026-11-14", "2026-11-20"),
        ("2026-11-18", "2026-11-20"),
        ("2026-09-22", "2026-11-20"),  # clamped to 60 days
        ("2026-11-14", "2026-11-20"),  # unreadable: the default 7
    ]


def test_discovery_groups_rows_into_named_targets(ssim) -> None:
    results = by_key(ssim.client().poll([], discover=True))
    assert set(results) == {"snowflake-prod/events", "bigquery-exposures/export_exposures"}
    snow = results["snowflake-prod/events"]
    assert snow.target == SNOWFLAKE and snow.name == "events from snowflake-prod"
    assert snow.info == {"source": "snowflake-prod", "dataset": "events"}
    assert results["bigquery-exposures/export_exposures"].name == "export_exposures from bigquery-exposures"
    runs = days(snow)
    assert sorted(runs) == [ago(n).isoformat() for n in (5, 4, 3, 2, 1)]  # ago(20) is outside the window
    assert runs[ago(1).isoformat()].state == "running"
    assert (runs[ago(2).isoformat()].state, runs[ago(2).isoformat()].counts) == ("succeeded", {"rows": 1000})
    assert runs[ago(3).isoformat()].flags == ("empty",)
    failed = runs[ago(4).isoformat()]
    assert failed.state == "failed" and failed.error.message == f"SQL compilation error for {ago(4).isoformat()}"
    assert failed.error.kind == "query"
    # Not in any table, but clearly a phase of loading: running, the raw value kept.
    assert (runs[ago(5).isoformat()].state, runs[ago(5).isoformat()].vendor_status) == ("running", "DEDUPE_RUNNING")


def test_without_discover_only_requested_targets_come_back(ssim) -> None:
    results = ssim.client().poll([EXPOSURES])
    assert [r.target for r in results] == [EXPOSURES]
    assert len(results[0].observations) == 2


def test_a_wider_window_reaches_older_days(ssim) -> None:
    [result] = ssim.client(window_days=30).poll([SNOWFLAKE])
    assert ago(20).isoformat() in days(result)


def test_day_reopening_is_seen_across_polls(ssim) -> None:
    client = ssim.client()
    day = ago(2).isoformat()
    first = days(client.poll([SNOWFLAKE])[0])[day]
    assert (first.state, first.counts) == ("succeeded", {"rows": 1000})
    ssim.advance(6 * 60)
    reopened = days(client.poll([SNOWFLAKE])[0])[day]
    assert (reopened.state, reopened.vendor_status, reopened.finished_at) == ("running", "IMPORT_STARTED", None)
    assert reopened.started_at == T0 + timedelta(minutes=5)
    assert reopened.fingerprint() != first.fingerprint()
    ssim.advance(10 * 60)
    again = days(client.poll([SNOWFLAKE])[0])[day]
    assert (again.state, again.counts) == ("succeeded", {"rows": 1200})
    assert [s["status"] for s in again.raw["statuses"]] == [
        "IMPORT_SCHEDULED",
        "IMPORT_STARTED",
        "IMPORT_SUCCESSFUL",
        "IMPORT_STARTED",
        "IMPORT_SUCCESSFUL",
    ]


def test_live_day_finishes_as_the_clock_moves(ssim) -> None:
    client = ssim.client()
    assert days(client.poll([SNOWFLAKE])[0])[ago(1).isoformat()].state == "running"
    ssim.advance(10 * 60)
    done = days(client.poll([SNOWFLAKE])[0])[ago(1).isoformat()]
    assert (done.state, done.counts, done.finished_at) == ("succeeded", {"rows": 500}, T0 + timedelta(minutes=10))


def test_pages_are_followed(ssim) -> None:
    ssim.world.page_size = 4
    [result] = ssim.client().poll([SNOWFLAKE])
    assert len(result.observations) == 5
    assert ssim.status_calls() == 5  # 18 rows in the window (both sources), 4 per page
    pages = [q.get("page", ["1"])[0] for q in ssim.world.status_queries]
    assert pages == ["1", "2", "3", "4", "5"]
    assert all(q["startDate"] == ["2026-11-14"] for q in ssim.world.status_queries)


def test_pages_are_bounded(ssim, monkeypatch) -> None:
    monkeypatch.setattr("vendors.statsig.ingestion.MAX_PAGES", 3)
    ssim.world.page_size = 4
    [result] = ssim.client().poll([SNOWFLAKE])
    assert result.error is None and ssim.status_calls() == 3


def test_next_page_on_another_host_is_refused(ssim) -> None:
    body = {"message": "ok", "data": [], "pagination": {"nextPage": "https://evil.example/steal"}}
    ssim.simulator.inject(Fault("wrong_shape", path=STATUS_PATH, body=body))
    [result] = ssim.client().poll([SNOWFLAKE])
    assert isinstance(result.error, vb.BadResponse) and "another host" in str(result.error)


def test_a_page_pointing_at_itself_stops(ssim) -> None:
    body = {"message": "ok", "data": [], "pagination": {"nextPage": f"{STATUS_PATH}?page=2"}}
    ssim.simulator.inject(Fault("wrong_shape", path=STATUS_PATH, body=body))
    [result] = ssim.client().poll([SNOWFLAKE])
    assert result.error is None and ssim.status_calls() == 2


def test_seed_key_gets_the_bare_array_verbatim_and_it_parses(ssim) -> None:
    resp = requests.get(
        f"{ssim.url}{STATUS_PATH}",
        params={"startDate": "2023-09-01", "endDate": "2023-09-07"},
        headers={"STATSIG-API-KEY": SEED_KEY},
        timeout=5,
    )
    assert resp.status_code == 200 and resp.text == seed_status_example()
    [result] = ssim.client(SEED_KEY).poll([], discover=True)
    assert result.target == Target("ingestion", "default/events")
    [obs] = result.observations
    assert (obs.run_key, obs.state, obs.vendor_status) == ("2023-09-07", "running", "BACKFILL_STARTED")


def test_check_credentials(ssim) -> None:
    assert ssim.client().check_credentials().startswith("authenticated")
    assert ssim.world.status_queries[-1]["startDate"] == ssim.world.status_queries[-1]["endDate"] == ["2026-11-20"]
    with pytest.raises(CheckFailed) as caught:
        ssim.client("console-nope").check_credentials()
    assert (caught.value.failure, caught.value.http_status) == ("auth", 401)
    assert str(caught.value).startswith("Authentication failed (HTTP 401): This endpoint only accepts")


# -- errors -------------------------------------------------------------------------
def test_seed_401_body_is_an_auth_error_with_the_key_redacted(ssim) -> None:
    ssim.simulator.inject(Fault("status", status=401, body=SEED_401))
    results = ssim.client().poll([SNOWFLAKE, EXPOSURES, Target("backfill", "backfills", ("r1",))])
    assert len(results) == 1 and len(ssim.simulator.request_log) == 1  # account-wide: nothing else is tried
    error = results[0].error
    assert isinstance(error, vb.AuthError) and error.http_status == 401 and error.account_wide
    assert "xxxXXX" not in str(error) and "Key: console-…(redacted)" in str(error)
    assert "only accepts an active CONSOLE key" in str(error)


def test_wrong_key_from_the_simulator_echoes_it_and_the_client_hides_it(ssim) -> None:
    wrong = "console-SECRETSECRET-tail"
    resp = requests.get(
        f"{ssim.url}{STATUS_PATH}?startDate=2026-11-20&endDate=2026-11-20",
        headers={"STATSIG-API-KEY": wrong},
        timeout=5,
    )
    assert resp.status_code == 401 and resp.json()["message"].endswith("Key: console-SECR")
    with pytest.raises(CheckFailed) as caught:
        ssim.client(wrong).check_credentials()
    assert "SECR" not in str(caught.value) and "SECR" not in repr(caught.value.args)
    assert "SECR" not in str(caught.value.__cause__) and caught.value.failure == "auth"


def test_the_key_is_hidden_wherever_the_vendor_echoes_it(ssim) -> None:
    body = {"status": 403, "message": f"key {KEY} cannot read this project"}
    ssim.simulator.inject(Fault("status", status=403, body=body))
    [result] = ssim.client().poll([SNOWFLAKE])
    assert isinstance(result.error, vb.AuthError)
    assert KEY not in str(result.error) and "cannot read this project" in str(result.error)


def test_rate_limit_is_rate_limited_with_retry_after(ssim) -> None:
    ssim.console.rate_limits = ((2, 10.0),)
    client = ssim.client()
    client.poll([SNOWFLAKE])
    client.poll([SNOWFLAKE])
    [result] = client.poll([SNOWFLAKE])
    error = result.error
    assert isinstance(error, vb.RateLimited) and error.retry_after == 10 and error.account_wide
    ssim.advance(10)
    [ok] = client.poll([SNOWFLAKE])
    assert ok.error is None


def test_default_rate_limit_is_100_per_10_seconds(ssim) -> None:
    headers = {"STATSIG-API-KEY": KEY}
    url = f"{ssim.url}{STATUS_PATH}?startDate=2026-11-20&endDate=2026-11-20"
    with requests.Session() as session:
        codes = [session.get(url, headers=headers, timeout=5).status_code for _ in range(101)]
        assert codes.count(200) == 100 and codes[-1] == 429
        ssim.advance(10)
        assert session.get(url, headers=headers, timeout=5).status_code == 200


def test_status_without_dates_is_a_400(ssim) -> None:
    resp = requests.get(f"{ssim.url}{STATUS_PATH}", headers={"STATSIG-API-KEY": KEY}, timeout=5)
    assert resp.status_code == 400 and resp.json() == {
        "status": 400,
        "message": "startDate and endDate are required (YYYY-MM-DD)",
    }


def test_simulator_filters(ssim) -> None:
    def statuses(**params: object) -> list[str]:
        params = {"startDate": ago(6).isoformat(), "endDate": TODAY.isoformat(), **params}
        resp = requests.get(f"{ssim.url}{STATUS_PATH}", params=params, headers={"STATSIG-API-KEY": KEY}, timeout=5)
        return [r["status"] for r in resp.json()["data"]]

    assert set(statuses(dataset="Events", status="IMPORT_SUCCESSFUL")) == {"IMPORT_SUCCESSFUL"}
    assert len(statuses(dataset="Events", status="IMPORT_SUCCESSFUL")) == 1  # only ago(2) succeeded by T0
    assert sorted(statuses(**{"statuses[]": ["QUERY_ERROR", "LOADED_EMPTY_DATA"]})) == [
        "LOADED_EMPTY_DATA",
        "QUERY_ERROR",
    ]
    assert len(statuses(source="bigquery-exposures")) == 6
    assert statuses(dataset="Metrics") == []


def test_a_transient_vendor_error_is_account_wide(ssim) -> None:
    ssim.simulator.inject(Fault("status", status=503, body={"status": 503, "message": "down"}))
    results = ssim.client().poll([SNOWFLAKE, BACKFILLS], discover=True)
    assert len(results) == 1 and isinstance(results[0].error, vb.Transient)


# -- backfills ------------------------------------------------------------------------
SPEC = {"datestamp_start": ago(3).isoformat(), "datestamp_end": ago(2).isoformat(), "type": "snowflake-v2"}


def backfill(ssim, client: StatsigClient) -> str:
    result = client.create("backfill", {**SPEC, "dataset": "Events", "source": "snowflake-prod"})
    assert result.message == "Ingestion backfilled successfully."
    assert result.targets == [BACKFILLS]
    [run_id] = result.run_keys
    assert result.details == {"runID": run_id}
    return run_id


def track(client: StatsigClient, run_id: str) -> vb.Observation:
    [result] = client.poll([Target("backfill", "backfills", (run_id,))])
    assert result.error is None and result.gone == []
    [obs] = result.observations
    assert obs.run_key == run_id
    return obs


def test_backfill_is_created_and_tracked_to_success(ssim) -> None:
    client = ssim.client()
    run_id = backfill(ssim, client)
    assert track(client, run_id).state == "queued"
    seen = []
    for _ in range(13):
        ssim.advance(10)
        obs = track(client, run_id)
        seen.append((obs.state, obs.vendor_status))
    assert ("running", "download_started") in seen and ("running", "metrics_complete") in seen
    assert seen[-1] == ("succeeded", "pulse_complete")
    assert obs.progress == 1.0 and obs.finished_at == T0 + timedelta(seconds=120)
    # The days it covered went through BACKFILL_* in the status listing.
    [ingestion] = client.poll([SNOWFLAKE])
    covered = days(ingestion)[ago(3).isoformat()]
    assert [s["status"] for s in covered.raw["statuses"]][-3:] == [
        "BACKFILL_REQUESTED",
        "BACKFILL_STARTED",
        "IMPORT_SUCCESSFUL",
    ]


def test_backfill_error_then_retry_is_running_retrying(ssim) -> None:
    ssim.console.backfill_scripts = (RETRY_SCRIPT,)
    client = ssim.client()
    run_id = backfill(ssim, client)
    ssim.advance(40)
    obs = track(client, run_id)
    assert (obs.state, obs.vendor_status, obs.flags) == ("running", "download_error", ("retrying",))
    ssim.advance(60)
    assert track(client, run_id).vendor_status == "download_started"
    ssim.advance(120)
    assert track(client, run_id).state == "succeeded"


def test_backfill_error_that_stays_becomes_failed_after_the_quiet_period(ssim) -> None:
    ssim.console.backfill_scripts = (FAIL_SCRIPT,)
    client = ssim.client()
    run_id = backfill(ssim, client)
    ssim.advance(40)
    assert track(client, run_id).flags == ("retrying",)
    ssim.advance(10 * 60)
    obs = track(client, run_id)
    assert (obs.state, obs.flags, obs.error.code) == ("failed", (), "download_error")


def test_unknown_run_is_gone_and_known_ones_still_report(ssim) -> None:
    ssim.console.add_runs(SimRun("scheduled-1", T0 - timedelta(hours=1), trigger="scheduled"))
    [result] = ssim.client().poll([Target("backfill", "backfills", ("no-such-run", "scheduled-1"))])
    assert result.error is None and result.gone == ["no-such-run"]
    assert [(o.run_key, o.state) for o in result.observations] == [("scheduled-1", "succeeded")]
    resp = requests.get(
        f"{ssim.url}/console/v1/ingestion/runs/no-such-run", headers={"STATSIG-API-KEY": KEY}, timeout=5
    )
    assert resp.json() == {"status": 404, "message": "runID no-such-run not found"}


def test_runs_listing_pages(ssim) -> None:
    for n in range(12):
        ssim.console.add_runs(SimRun(f"r{n:02d}", T0 - timedelta(minutes=n)))
    resp = requests.get(f"{ssim.url}/console/v1/ingestion/runs", headers={"STATSIG-API-KEY": KEY}, timeout=5).json()
    assert len(resp["data"]) == 10 and resp["data"][0]["runID"] == "r00"
    assert resp["pagination"]["nextPage"] == "/console/v1/ingestion/runs?page=2"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"datestamp_start": "2026-02-30"}, "datestamp_start"),
        ({"datestamp_start": "11/18/2026"}, "datestamp_start"),
        ({"datestamp_end": None}, "datestamp_end"),
        ({"datestamp_end": "2026-11-21"}, "datestamp_end"),  # tomorrow
        ({"datestamp_start": ago(1).isoformat(), "datestamp_end": ago(2).isoformat()}, "datestamp_end"),
        ({"type": "postgres"}, "type"),
        ({"type": ""}, "type"),
        ({"dataset": "Exposures"}, "dataset"),
        ({"source": ["ok", ""]}, "source"),
        ({"source": 7}, "source"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_validation_names_the_field(ssim, change, field) -> None:
    spec = {**SPEC, "dataset": "Events", **change}
    with pytest.raises(vb.InvalidSpec) as caught:
        ssim.client().validate_create("backfill", spec)
    assert set(caught.value.errors) == {field}
    assert ssim.simulator.request_log == []  # caught before any call


def test_validation_cleans(ssim) -> None:
    cleaned = ssim.client().validate_create(
        "backfill", {**SPEC, "dataset": "events", "type": "Snowflake-V2", "source": [" a ", "b"]}
    )
    assert cleaned == {**SPEC, "dataset": "Events", "source": ["a", "b"]}
    with pytest.raises(vb.InvalidSpec) as caught:
        ssim.client().validate_create("ingestion", SPEC)
    assert set(caught.value.errors) == {"kind"}


def test_simulator_rejects_a_bad_backfill_with_a_400(ssim) -> None:
    resp = requests.post(
        f"{ssim.url}/console/v1/ingestion/backfill",
        json={**SPEC, "dataset": "Nope"},
        headers={"STATSIG-API-KEY": KEY},
        timeout=5,
    )
    assert resp.status_code == 400 and resp.json()["status"] == 400 and "dataset" in resp.json()["message"]


def test_vendor_400_on_create_is_rejected_with_its_message(ssim) -> None:
    ssim.simulator.inject(
        Fault("status", path="/console/v1/ingestion/backfill", status=400, body={"status": 400, "message": "No source"})
    )
    with pytest.raises(vb.Rejected) as caught:
        ssim.client().create("backfill", {**SPEC, "dataset": "Metrics"})
    assert caught.value.message == "No source" and caught.value.http_status == 400
