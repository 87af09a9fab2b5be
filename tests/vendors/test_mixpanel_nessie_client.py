"""Nessie through the simulator: status by GET and by form POST, info, discovery, actions."""

from datetime import date, timedelta

import pytest
import requests

from vendors import base as vb
from vendors.base import AccountConfig, Target
from vendors.http import HttpSettings
from vendors.mixpanel.client import MixpanelClient
from vendors.mixpanel.nessie_seed import (
    SEED_PIPELINE,
    SEED_PROJECT_ID,
    seed_jobs_text,
    seed_summary_text,
)
from vendors.mixpanel.nessie_simulator import SimPipeline
from vendors.mixpanel.simulator import install_demo, seed_pipeline_project
from vendors.simulator.core import Clock, Fault, Simulator

from ..conftest import T0
from .polling import discover, poll_one

FAST = HttpSettings(connect_timeout=1, read_timeout=2, total_timeout=3, retries=0)
NESSIE = "/api/2.0/nessie/pipeline"
YESTERDAY = date(2026, 11, 19)  # T0 is 2026-11-20 04:00 in US/Pacific, the projects' zone
DAY = "2026-11-19T00:00:00-08:00"
WINDOW = f"{DAY}..{DAY}"


def client(sim, project: str = "12345", **credentials: str) -> MixpanelClient:
    account = AccountConfig(
        "mixpanel",
        "t",
        {"project_id": project},
        credentials or {"username": "svc", "secret": "s3cret"},
        base_url=sim.url,
    )
    return MixpanelClient(account, FAST)


def seed_client(sim) -> MixpanelClient:
    sim.mixpanel.projects[SEED_PROJECT_ID] = seed_pipeline_project(T0.date())
    return client(sim, SEED_PROJECT_ID, api_secret="seed-api-secret")


def add_pipeline(sim, name: str = "events-daily-gcs-raw", **kwargs) -> SimPipeline:
    # Yesterday's window ends at 08:00 UTC; with a 4 h delay its task appears at T0.
    kwargs = {"origin": YESTERDAY, "delay_seconds": 4 * 3600, "queue_seconds": 60, "run_seconds": 600, **kwargs}
    pipeline = SimPipeline(name, **kwargs)
    sim.mixpanel.projects["12345"].add_pipelines(pipeline)
    return pipeline


def test_hosts_per_region_and_base_url_override() -> None:
    for region, host in (("us", "data"), ("eu", "data-eu"), ("in", "data-in")):
        account = AccountConfig("mixpanel", "t", {"project_id": "1"}, {"api_secret": "x"}, region=region)
        assert (
            MixpanelClient(account)._adapters["export_pipeline"].base == f"https://{host}.mixpanel.com/api/2.0/nessie"
        )
    account = AccountConfig("mixpanel", "t", {"project_id": "1"}, {"api_secret": "x"}, base_url="http://sim:1/")
    assert MixpanelClient(account)._adapters["export_pipeline"].base == "http://sim:1/api/2.0/nessie"


def test_a_daily_task_goes_pending_running_succeeded(sim) -> None:
    add_pipeline(sim)
    c = client(sim)
    target = Target("export_pipeline", "events-daily-gcs-raw")

    def observe():
        [obs] = poll_one(c, target).observations
        return obs

    obs = observe()
    assert (obs.run_key, obs.state, obs.vendor_status, obs.started_at) == (WINDOW, "queued", "pending", T0)
    sim.advance(60)
    assert observe().state == "running"
    sim.advance(600)
    obs = observe()
    assert (obs.run_key, obs.state, obs.finished_at) == (WINDOW, "succeeded", T0 + timedelta(seconds=660))


def test_a_retried_window_runs_retrying_then_succeeds(sim) -> None:
    add_pipeline(sim, outcomes={0: "retried"}, retry_seconds=300)
    c = client(sim)
    target = Target("export_pipeline", "events-daily-gcs-raw")
    sim.advance(660)  # the first attempt ended retried
    [obs] = poll_one(c, target).observations
    assert (obs.state, obs.flags) == ("running", ("retrying",))
    sim.advance(300)  # the second attempt is pending
    [obs] = poll_one(c, target).observations
    assert (obs.state, obs.flags) == ("queued", ("retrying",))
    sim.advance(660)
    result = poll_one(c, target)
    [obs] = result.observations
    assert (obs.run_key, obs.state, obs.flags) == (WINDOW, "succeeded", ())
    assert result.info["summary"] == {"retried": 1, "succeeded": 1}


def test_status_by_get_and_by_the_seeds_form_post_agree(sim) -> None:
    add_pipeline(sim, origin=YESTERDAY - timedelta(days=3), outcomes={1: "failed"})
    sim.mixpanel.projects["12345"].api_secret = "project-secret"
    sim.advance(700)
    params = {"name": "events-daily-gcs-raw", "project_id": "12345"}
    got = requests.get(sim.url + NESSIE + "/status", params=params, auth=("svc", "s3cret"), timeout=5)
    # The seed: POST a form, authenticated by the project secret alone.
    seed = {"auth": ("project-secret", ""), "timeout": 5}
    posted = requests.post(sim.url + NESSIE + "/status", data={"name": params["name"]}, **seed)
    assert got.status_code == posted.status_code == 200
    assert got.json() == posted.json()
    assert sorted(got.json()) == ["failed", "succeeded"] and len(got.json()["succeeded"]) == 3
    filtered = requests.post(sim.url + NESSIE + "/status", data={"name": params["name"], "status": "failed"}, **seed)
    assert list(filtered.json()) == ["failed"]
    summary = requests.post(sim.url + NESSIE + "/status", data={"name": params["name"], "summary": "true"}, **seed)
    assert summary.json() == {"failed": 1, "succeeded": 3}
    mixed = requests.post(sim.url + NESSIE + "/status", data=params, auth=("svc", "s3cret"), timeout=5)
    assert mixed.status_code == 400 and "project_id" in mixed.json()["error"]  # neither the seed nor the spec


def test_service_accounts_need_project_id_and_the_secret_names_its_project(sim) -> None:
    add_pipeline(sim)
    url = sim.url + NESSIE + "/status"
    assert requests.get(url, params={"name": "events-daily-gcs-raw"}, timeout=5).status_code == 401
    missing = requests.get(url, params={"name": "events-daily-gcs-raw"}, auth=("svc", "s3cret"), timeout=5)
    assert missing.status_code == 400 and "project_id" in missing.json()["error"]
    wrong = requests.get(url, params={"name": "x", "project_id": "12345"}, auth=("svc", "nope"), timeout=5)
    assert wrong.status_code == 401 and wrong.json()["status"] == "error"
    seed_client(sim)
    other = requests.get(url, params={"name": "x", "project_id": SEED_PROJECT_ID}, auth=("svc", "s3cret"), timeout=5)
    assert other.status_code == 403
    legacy = requests.get(url, params={"name": SEED_PIPELINE}, auth=("seed-api-secret", ""), timeout=5)
    assert legacy.status_code == 200 and "canceled" in legacy.json()


def test_poll_puts_summary_timeline_and_job_facts_in_info(sim) -> None:
    add_pipeline(sim, origin=YESTERDAY - timedelta(days=4), timeline_gaps=frozenset({1}), outcomes={2: "timed_out"})
    sim.advance(700)
    [result] = client(sim).poll([Target("export_pipeline", "events-daily-gcs-raw")])
    assert result.error is None
    info = result.info
    assert info["summary"] == {"succeeded": 4, "timed_out": 1}
    assert [d["date"] for d in info["timeline"]] == ["2026-11-15", "2026-11-18", "2026-11-19"]  # 16th: gap
    assert all(d["status"] == "synced" for d in info["timeline"])
    assert info["timeline"][-1]["sync_times"] == [(T0 + timedelta(seconds=660)).isoformat()]
    assert (info["frequency"], info["sync_enabled"], info["last_dispatched"]) == ("daily", True, T0.isoformat())
    states = {o.run_key[:10]: o.state for o in result.observations}
    assert states["2026-11-17"] == "failed"


def test_the_seed_pipeline_is_served_verbatim(sim) -> None:
    c = seed_client(sim)
    summary = requests.get(
        sim.url + NESSIE + "/status",
        params={"name": SEED_PIPELINE, "summary": "true"},
        auth=("seed-api-secret", ""),
        timeout=5,
    )
    assert summary.text == seed_summary_text()
    result = poll_one(c, Target("export_pipeline", SEED_PIPELINE))
    assert result.info["summary"] == {"canceled": 933, "retried": 80, "succeeded": 1}
    [obs] = result.observations
    assert (obs.state, obs.finished_at) == ("canceled", None)
    assert [d["date"] for d in result.info["timeline"]] == ["2019-08-19", "2019-08-20"]


def test_discovery_from_the_seed_jobs_example_with_legacy_auth(sim) -> None:
    c = seed_client(sim)
    raw = requests.get(sim.url + NESSIE + "/jobs", auth=("seed-api-secret", ""), timeout=5)
    assert raw.text == seed_jobs_text()
    [found] = discover(c)
    assert found.target == Target("export_pipeline", "events-daily-bigquery-monoschema")
    assert found.name == "events-daily-bigquery-monoschema" and found.observations == []
    assert found.info == {"frequency": "hourly", "sync_enabled": True, "last_dispatched": "2019-02-01T20:00:00+00:00"}


def test_poll_with_discover_adds_only_unknown_pipelines(sim) -> None:
    add_pipeline(sim, "a-pipeline")
    add_pipeline(sim, "b-pipeline", sync_enabled=False)
    results = client(sim).poll([Target("export_pipeline", "a-pipeline")], discover=True)
    assert [r.target.external_id for r in results] == ["a-pipeline", "b-pipeline"]
    assert results[1].info["sync_enabled"] is False and results[1].name == "b-pipeline"
    assert results[0].info["frequency"] == "daily"


def test_unknown_pipeline_is_not_found(sim) -> None:
    c = client(sim)
    with pytest.raises(vb.NotFound, match="does not exist"):
        poll_one(c, Target("export_pipeline", "nope"))
    for action in (c.cancel, c.pause, c.resume):
        with pytest.raises(vb.NotFound):
            action(Target("export_pipeline", "nope"))


def test_cancel_deletes_the_pipeline_and_its_history(sim) -> None:
    add_pipeline(sim)
    c = client(sim)
    target = Target("export_pipeline", "events-daily-gcs-raw")
    assert poll_one(c, target).observations
    message = c.cancel(target)
    assert "deletes the pipeline and its task history" in message
    with pytest.raises(vb.NotFound):
        poll_one(c, target)
    assert discover(c) == []


def test_pause_holds_new_tasks_and_resume_releases_them(sim) -> None:
    add_pipeline(sim, origin=YESTERDAY, delay_seconds=5 * 3600)  # the task is due at T0 + 1 h
    c = client(sim)
    target = Target("export_pipeline", "events-daily-gcs-raw")
    assert "paused" in c.pause(target)
    sim.advance(2 * 3600)
    assert poll_one(c, target).observations == []
    assert "resumed" in c.resume(target)
    [obs] = poll_one(c, target).observations
    assert (obs.state, obs.started_at) == ("queued", T0 + timedelta(hours=2))


def test_actions_are_refused_for_other_kinds(sim) -> None:
    c = client(sim)
    with pytest.raises(vb.Rejected):
        c.pause(Target("import_connector", "seed-running"))
    with pytest.raises(vb.Rejected):
        c.run_now(Target("export_pipeline", "x"))


def test_demo_project_has_the_pipelines_and_imports() -> None:
    sim = Simulator(Clock(T0, frozen=True))
    world = install_demo(sim, T0)
    main = world.projects["12345"]
    assert {"events-daily-bigquery-monoschema", "people-daily-s3-raw"} <= set(main.pipelines)
    assert {"4242", "4243"} <= set(main.imports)
    assert {"s3-events", "seed-running"} <= set(main.connectors)
    assert world.projects[SEED_PROJECT_ID].api_secret == "seed-api-secret"
    now = T0 + timedelta(hours=1)
    states = {t["state"] for t in main.pipelines["people-daily-s3-raw"].tasks(now, "12345")}
    assert {"failed", "timed_out", "succeeded"} <= states
    timeline = main.pipelines["events-daily-bigquery-monoschema"].timeline(now)["day_syncs"]
    assert 8 <= len(timeline) <= 10
    statuses = [r["status"] for r in main.imports["4242"].history(now)]
    assert "FAILED" in statuses and statuses.count("SUCCEEDED") > 20
    assert "CANCELLED" in [r["status"] for r in main.imports["4243"].history(now)]


def test_one_jobs_request_serves_info_and_discovery(sim) -> None:
    add_pipeline(sim, "a-pipeline")
    add_pipeline(sim, "b-pipeline")
    client(sim).poll([Target("export_pipeline", "a-pipeline")], discover=True)
    assert [p for _, p in sim.simulator.request_log].count(NESSIE + "/jobs") == 1


def test_a_403_on_pipelines_does_not_break_a_connector_account(sim) -> None:
    sim.simulator.inject(Fault("status", path=NESSIE + "/jobs", status=403, body={"status": "error", "error": "role"}))
    connector = Target("import_connector", "seed-running")
    [result] = client(sim).poll([connector], discover=True)
    assert result.target == connector and result.error is None and result.observations
    sim.simulator.clear_faults()
    sim.simulator.inject(Fault("status", path=NESSIE + "/jobs", status=401, body={"status": "error", "error": "bad"}))
    results = client(sim).poll([], discover=True)
    assert [type(r.error) for r in results] == [vb.AuthError]
