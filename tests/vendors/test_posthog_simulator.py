"""The PostHog simulator over HTTP: what VENDORS.md section 7 says PostHog answers (auth and
scopes, error envelope, pages, the 7-day run window, retries as new rows, the automatic
pause, backfills and their progress, warehouse syncs and billing limits)."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from vendors.posthog.sim_exports import Plan, SimExport, always, iso
from vendors.posthog.sim_tables import SimSchema, SimSource
from vendors.posthog.sim_world import SimProject
from vendors.posthog.simulator import PostHogWorld, SimKey
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0

PID, KEY, READ_ONLY = 7, "phx_test_key", "phx_read_only"
FAIL = Plan("Failed", 30, 0, "S3: AccessDenied")


class PH:
    def __init__(self, url: str, clock: Clock, project: SimProject, world: PostHogWorld) -> None:
        self.url, self.clock, self.project, self.world = url, clock, project, world

    def call(self, method: str, path: str, key: str | None = KEY, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return requests.request(method, f"{self.url}/api/projects/{PID}{path}", headers=headers, timeout=5, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.call("GET", path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def export(self, name: str, interval: str = "hour", script: Any = None, born_days: float = 10) -> SimExport:
        export = SimExport(
            name,
            interval,
            {"type": "S3", "config": {"bucket_name": "b", "aws_secret_access_key": "SECRET-xyz"}},
            T0 - timedelta(days=born_days),
            script or always(Plan("Completed", 30, 100)),
        )
        self.project.exports[export.id] = export
        return export


@pytest.fixture
def ph() -> Iterator[PH]:
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    project = SimProject(PID)
    world = PostHogWorld(
        keys={KEY: SimKey({PID}), READ_ONLY: SimKey({PID}, frozenset({"batch_export:read"}))},
        projects={PID: project, 8: SimProject(8)},
    )
    world.install(simulator)
    server = SimServer(simulator).start()
    try:
        yield PH(server.url, clock, project, world)
    finally:
        server.stop()


def envelope(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"type", "code", "detail", "attr"}, body
    return response.status_code, body["type"], body["code"]


def test_auth_scopes_and_the_error_envelope(ph: PH) -> None:
    export = ph.export("e")
    assert envelope(ph.call("GET", "/batch_exports/", key=None)) == (401, "authentication_error", "not_authenticated")
    assert envelope(ph.call("GET", "/batch_exports/", key="phx_wrong")) == (
        401,
        "authentication_error",
        "authentication_failed",
    )
    assert ph.call("GET", "/batch_exports/", key=READ_ONLY).status_code == 200
    refused = ph.call("POST", f"/batch_exports/{export.id}/pause/", key=READ_ONLY)
    assert envelope(refused) == (403, "authentication_error", "permission_denied")
    assert "batch_export:write" in refused.json()["detail"]
    assert envelope(ph.call("GET", "/external_data_sources/", key=READ_ONLY))[0] == 403
    other = requests.get(f"{ph.url}/api/projects/8/batch_exports/", headers={"Authorization": f"Bearer {KEY}"})
    assert envelope(other)[0] == 403
    assert envelope(ph.call("GET", "/batch_exports/not-there/")) == (404, "invalid_request", "not_found")
    assert envelope(ph.call("DELETE", f"/batch_exports/{export.id}/pause/")) == (
        405,
        "invalid_request",
        "method_not_allowed",
    )
    alias = requests.get(
        f"{ph.url}/api/environments/{PID}/batch_exports/{export.id}", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert alias.status_code == 200 and alias.json()["id"] == export.id  # the deprecated alias, no trailing slash


def test_exports_page_with_count_and_never_answer_secrets(ph: PH) -> None:
    for i in range(3):
        ph.export(f"e{i}")
    page = ph.get("/batch_exports/", params={"limit": 2})
    assert page["count"] == 3 and len(page["results"]) == 2 and page["previous"] is None
    rest = requests.get(page["next"], headers={"Authorization": f"Bearer {KEY}"}, timeout=5).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    config = page["results"][0]["destination"]["config"]
    assert config == {"bucket_name": "b"}
    assert (
        "SECRET"
        not in requests.get(
            f"{ph.url}/api/projects/{PID}/batch_exports/", headers={"Authorization": f"Bearer {KEY}"}
        ).text
    )
    assert len(page["results"][0]["latest_runs"]) == 10


def test_runs_default_to_seven_days_cursor_pages_and_older_runs_on_request(ph: PH) -> None:
    export = ph.export("hourly", born_days=10)
    recent = _all_runs(ph, export.id)
    assert recent and all(r["created_at"] >= iso(T0 - timedelta(days=7)) for r in recent)
    assert len(recent) == 7 * 24 + 1  # one per hour that ended in the last 7 days, both ends included
    first = ph.get(f"/batch_exports/{export.id}/runs/")
    assert "count" not in first and len(first["results"]) == 100 and first["next"]
    everything = _all_runs(ph, export.id, after="-30d")
    assert len(everything) == 10 * 24
    older = _all_runs(ph, export.id, after=iso(T0 - timedelta(days=10)), before=iso(T0 - timedelta(days=7)))
    assert older and all(r["created_at"] <= iso(T0 - timedelta(days=7)) for r in older)
    assert envelope(ph.call("GET", f"/batch_exports/{export.id}/runs/", params={"after": "yesterday"}))[0] == 400


def _all_runs(ph: PH, export_id: str, **params: str) -> list[dict[str, Any]]:
    page = ph.get(f"/batch_exports/{export_id}/runs/", params=params)
    runs = page["results"]
    while page["next"]:
        page = requests.get(page["next"], headers={"Authorization": f"Bearer {KEY}"}, timeout=5).json()
        runs += page["results"]
    assert len({r["id"] for r in runs}) == len(runs)  # no row twice across pages
    return runs


def test_a_run_goes_starting_running_then_its_outcome_and_statuses_filter(ph: PH) -> None:
    export = ph.export("e", script=lambda start, attempt: FAIL if start.hour == 3 else Plan("Completed", 60, 500))
    ph.clock.advance(3600 - T0.minute * 60)  # the next hour ends: its run is made now
    newest = ph.get(f"/batch_exports/{export.id}/runs/")["results"][0]
    assert newest["status"] == "Starting" and newest["records_total_count"] is None
    ph.clock.advance(35)
    running = ph.get(f"/batch_exports/{export.id}/runs/{newest['id']}/")
    assert running["status"] == "Running" and 0 < running["records_completed"] < 500
    ph.clock.advance(60)
    done = ph.get(f"/batch_exports/{export.id}/runs/{newest['id']}/")
    assert done["status"] == "Completed" and done["records_completed"] == 500 and done["finished_at"]
    failed = ph.get(f"/batch_exports/{export.id}/runs/", params={"status": ["Failed", "TimedOut"]})["results"]
    assert failed and all(r["status"] == "Failed" and r["latest_error"] == "S3: AccessDenied" for r in failed)


def test_a_retry_is_a_new_row_for_the_same_interval_and_the_failed_row_stays(ph: PH) -> None:
    export = ph.export("e", script=lambda start, attempt: FAIL if start.hour == 3 and not attempt else Plan())
    failed = ph.get(f"/batch_exports/{export.id}/runs/", params={"status": "Failed"})["results"][0]
    retried = ph.call("POST", f"/batch_exports/{export.id}/runs/{failed['id']}/retry/")
    assert retried.status_code == 201 and retried.json()["backfill_id"]
    ph.clock.advance(120)
    same_interval = [r for r in _all_runs(ph, export.id) if r["data_interval_start"] == failed["data_interval_start"]]
    assert [(r["status"], r["backfill"]) for r in same_interval] == [
        ("Completed", retried.json()["backfill_id"]),
        ("Failed", None),
    ]


def test_ten_failures_in_fifty_runs_pause_the_export_by_itself(ph: PH) -> None:
    export = ph.export("broken", script=always(FAIL), born_days=1)
    body = ph.get(f"/batch_exports/{export.id}/")
    assert body["paused"] is True and body["last_paused_at"]
    runs = _all_runs(ph, export.id)
    assert len(runs) == 10 and {r["status"] for r in runs} == {"Failed"}
    ph.clock.advance(3 * 3600)
    assert len(_all_runs(ph, export.id)) == 10  # paused: no new intervals run


def test_pause_and_unpause_with_a_backfill_of_the_paused_time(ph: PH) -> None:
    export = ph.export("e", born_days=1)
    assert ph.call("POST", f"/batch_exports/{export.id}/pause/").json() == {"paused": True}
    ph.clock.advance(3 * 3600)
    before = len(_all_runs(ph, export.id))
    bad = ph.call("POST", f"/batch_exports/{export.id}/unpause/", json={"backfill": "yes"})
    assert envelope(bad) == (400, "validation_error", "invalid_input") and bad.json()["attr"] == "backfill"
    assert ph.call("POST", f"/batch_exports/{export.id}/unpause/", json={"backfill": True}).json() == {"paused": False}
    backfills = ph.get(f"/batch_exports/{export.id}/backfills/")["results"]
    assert len(backfills) == 1 and backfills[0]["progress"]["total_runs"] == 3
    ph.clock.advance(600)
    assert len(_all_runs(ph, export.id)) == before + 3


def test_backfills_validate_progress_finish_and_cancel(ph: PH) -> None:
    daily = ph.export("daily", interval="day", born_days=30)
    path = f"/batch_exports/{daily.id}/backfills/"
    future = ph.call("POST", path, json={"start_at": "2026-11-18T00:00:00Z", "end_at": "2026-11-21T00:00:00Z"})
    assert envelope(future)[0] == 400 and future.json()["attr"] == "end_at"
    not_a_date = ph.call("POST", path, json={"start_at": "2026-11-01T05:00:00Z", "end_at": "2026-11-03T00:00:00Z"})
    assert envelope(not_a_date)[0] == 400 and not_a_date.json()["attr"] == "start_at"
    backwards = ph.call("POST", path, json={"start_at": "2026-11-05T00:00:00Z", "end_at": "2026-11-03T00:00:00Z"})
    assert envelope(backwards)[0] == 400
    missing = ph.call("POST", path, json={"end_at": "2026-11-03T00:00:00Z"})
    assert missing.json()["attr"] == "start_at"
    created = ph.call("POST", path, json={"start_at": "2026-11-01T00:00:00Z", "end_at": "2026-11-04T00:00:00Z"})
    assert created.status_code == 201
    bid = created.json()["backfill_id"]
    progress = [ph.get(f"{path}{bid}/")["progress"]["finished_runs"]]
    for _ in range(4):
        ph.clock.advance(40)
        progress.append(ph.get(f"{path}{bid}/")["progress"]["finished_runs"])
    final = ph.get(f"{path}{bid}/")
    assert progress == sorted(progress) and progress[0] == 0 and progress[-1] == 3
    assert final["status"] == "Completed" and final["progress"]["total_runs"] == 3 and final["finished_at"]
    assert final["total_records_count"] == 300
    second = ph.call("POST", path, json={"start_at": "2026-10-01T00:00:00Z", "end_at": "2026-11-01T00:00:00Z"})
    sid = second.json()["backfill_id"]
    ph.clock.advance(30)
    cancelled = ph.call("POST", f"{path}{sid}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "Cancelled"
    assert cancelled.json()["progress"]["total_runs"] < 31
    assert envelope(ph.call("POST", f"{path}{sid}/cancel/"))[0] == 400
    for _ in range(5):
        ph.call("POST", path, json={"start_at": "2026-09-01T00:00:00Z", "end_at": "2026-10-01T00:00:00Z"})
    crowded = ph.call("POST", path, json={"start_at": "2026-09-01T00:00:00Z", "end_at": "2026-10-01T00:00:00Z"})
    assert envelope(crowded) == (429, "throttled_error", "too_many_concurrent_backfills")


def test_cancel_a_run_only_while_it_runs(ph: PH) -> None:
    export = ph.export("e", script=always(Plan("Completed", 600, 100)), born_days=0.5)
    runs = _all_runs(ph, export.id)
    finished = next(r for r in runs if r["status"] == "Completed")
    assert envelope(ph.call("POST", f"/batch_exports/{export.id}/runs/{finished['id']}/cancel/"))[0] == 400
    running = next(r for r in runs if r["status"] in ("Starting", "Running"))
    assert ph.call("POST", f"/batch_exports/{export.id}/runs/{running['id']}/cancel/").json() == {"cancelled": True}
    assert ph.get(f"/batch_exports/{export.id}/runs/{running['id']}/")["status"] == "Cancelled"


def test_warehouse_tables_sync_cancel_resync_and_billing_limits(ph: PH) -> None:
    day_ago = T0 - timedelta(days=1)
    source = SimSource("Stripe", day_ago)
    # charges synced last at T0 - 10 h (done, next at T0 + 2 h), customers at T0 - 0:01 (its 5 s are over at T0)
    charges = SimSchema(
        "charges", source.id, "12hour", day_ago + timedelta(hours=2), always(Plan(seconds=120, records=50))
    )
    customers = SimSchema(
        "customers",
        source.id,
        "24hour",
        day_ago - timedelta(minutes=1),
        always(Plan("BillingLimitReached", 5, 0, "billing limit reached")),
    )
    source.schemas = [charges, customers]
    ph.project.sources[source.id] = source
    listed = ph.get("/external_data_sources/")
    assert listed["count"] == 1 and {s["name"] for s in listed["results"][0]["schemas"]} == {"charges", "customers"}
    assert ph.get(f"/external_data_schemas/{customers.id}/")["status"] == "BillingLimitReached"
    jobs = ph.get(f"/external_data_sources/{source.id}/jobs/")
    assert isinstance(jobs, list) and {j["schema"]["name"] for j in jobs} == {"charges", "customers"}
    assert (
        ph.get(f"/external_data_sources/{source.id}/jobs/", params={"schemas": charges.id})[0]["schema"]["id"]
        == charges.id
    )
    none_running = ph.call("POST", f"/external_data_schemas/{charges.id}/cancel/")
    assert none_running.status_code == 400 and "detail" in none_running.json()
    assert ph.call("POST", f"/external_data_schemas/{charges.id}/reload/").status_code == 200
    assert ph.get(f"/external_data_schemas/{charges.id}/")["status"] == "Running"
    again = ph.call("POST", f"/external_data_schemas/{charges.id}/reload/")
    assert again.status_code == 400 and "message" in again.json()
    assert ph.call("POST", f"/external_data_schemas/{charges.id}/cancel/").status_code == 200
    newest = ph.get(f"/external_data_sources/{source.id}/jobs/", params={"schemas": "charges"})[0]
    assert (newest["status"], newest["latest_error"]) == ("Failed", "Sync cancelled by user")
    ph.clock.advance(10)
    assert ph.call("POST", f"/external_data_schemas/{charges.id}/resync/").status_code == 200
    ph.clock.advance(121)
    table = ph.get(f"/external_data_schemas/{charges.id}/")
    assert table["status"] == "Completed" and table["table"]["row_count"] == 50  # dropped, then imported once


def test_fifty_newest_jobs_only(ph: PH) -> None:
    source = SimSource("Postgres", T0 - timedelta(days=1))
    source.schemas = [SimSchema("orders", source.id, "5min", T0 - timedelta(days=1))]
    ph.project.sources[source.id] = source
    jobs = ph.get(f"/external_data_sources/{source.id}/jobs/")
    assert len(jobs) == 50 and jobs[0]["created_at"] > jobs[-1]["created_at"]
    older = ph.get(f"/external_data_sources/{source.id}/jobs/", params={"before": jobs[-1]["created_at"]})
    assert older[0]["created_at"] == jobs[-1]["created_at"] and len(older) == 50


def test_rate_limit_answers_429_in_the_envelope(ph: PH) -> None:
    ph.world.per_minute = 3
    codes = [ph.call("GET", "/batch_exports/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert envelope(ph.call("GET", "/batch_exports/")) == (429, "throttled_error", "throttled")


def test_the_demo_world_has_every_case() -> None:
    from vendors.posthog.simulator import DEMO_KEY, DEMO_PROJECT, install_demo

    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    world = install_demo(simulator, T0)
    project = world.projects[DEMO_PROJECT]
    assert DEMO_KEY in world.keys
    by_name = {e.name: e for e in project.exports.values()}
    assert by_name["Events to Snowflake"].paused  # paused by PostHog itself
    s3 = by_name["Events to S3"]
    retried = [r for r in s3.runs if r.backfill_id]
    assert retried and any(
        r.interval_start == retried[0].interval_start and r.plan.outcome == "Failed" for r in s3.runs
    )
    later = T0 + timedelta(minutes=5)  # the syncs that start at T0 are over
    statuses = {s.status(later) for src in project.sources.values() for s in src.schemas}
    assert {"BillingLimitReached", "Failed", "Paused"} <= statuses
