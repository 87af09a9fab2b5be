"""The simulator speaks the seed verbatim and moves scripted runs along its clock."""

import uuid
from datetime import timedelta

import requests

from vendors.base import AccountConfig, Target
from vendors.mixpanel.client import MixpanelClient
from vendors.mixpanel.simulator import SEED_CONNECTORS, ScriptedRun, SimConnector
from vendors.seeds import readme_code_samples
from vendors.timeparse import parse_time

from ..conftest import T0
from .polling import poll_one

SEED = readme_code_samples("mixpanel-import-connector-history.txt")


def test_every_seed_sample_is_served_byte_for_byte(sim) -> None:
    for connector, sample in SEED_CONNECTORS.items():
        url = f"{sim.url}/api/app/projects/12345/connectors/{connector}/history"
        resp = requests.get(url, auth=("svc", "s3cret"), timeout=5)
        assert resp.status_code == 200
        assert resp.text == SEED[sample]


def test_basic_auth_is_checked(sim) -> None:
    url = f"{sim.url}/api/app/projects/12345/connectors/seed-failed/history"
    assert requests.get(url, timeout=5).status_code == 401
    wrong = requests.get(url, auth=("svc", "nope"), timeout=5)
    assert wrong.status_code == 401 and wrong.json()["status"] == "error"
    other_project = requests.get(url.replace("12345", "999"), auth=("svc", "s3cret"), timeout=5)
    assert other_project.status_code == 403


def test_scripted_run_queues_progresses_and_finishes(sim) -> None:
    run = ScriptedRun(queued_at=T0, queue_seconds=10, run_seconds=100, events=1000, run_id="r1")
    sim.mixpanel.projects["12345"].add(SimConnector("scripted", runs=[run]))
    client = MixpanelClient(
        AccountConfig(
            "mixpanel", "t", {"project_id": "12345"}, {"username": "svc", "secret": "s3cret"}, base_url=sim.url
        )
    )
    target = Target("import_connector", "scripted")

    def observe():
        [obs] = poll_one(client, target).observations
        return obs

    assert observe().state == "queued"
    sim.advance(10 + 25)
    obs = observe()
    assert (obs.state, obs.progress, obs.counts["processed"]) == ("running", 0.25, 250)
    assert obs.started_at == T0 + timedelta(seconds=10)
    sim.advance(100)
    obs = observe()
    assert (obs.state, obs.progress, obs.counts["succeeded"]) == ("succeeded", 1.0, 1000)
    assert obs.finished_at == T0 + timedelta(seconds=110)


def test_history_pages_and_go_timestamps(sim) -> None:
    runs = [ScriptedRun(queued_at=T0 + timedelta(minutes=i), queue_seconds=0, run_seconds=10) for i in range(25)]
    sim.mixpanel.projects["12345"].add(SimConnector("many", runs=runs))
    sim.advance(3600)
    url = f"{sim.url}/api/app/projects/12345/connectors/many/history"
    first = requests.get(url, auth=("svc", "s3cret"), timeout=5).json()["results"]
    assert first["has_more"] is True and len(first["data"]) == 20
    assert parse_time(first["data"][0]["start_time"]) == T0 + timedelta(minutes=24)  # newest first
    # `url` is a uuid in the spec; nothing documents how to follow it: the simulator takes it as `cursor`.
    assert str(uuid.UUID(first["url"])) == first["url"]
    second = requests.get(url, params={"cursor": first["url"]}, auth=("svc", "s3cret"), timeout=5).json()["results"]
    assert second["has_more"] is False and second["url"] is None and len(second["data"]) == 5


def test_scripted_burst_gets_429_with_retry_after(sim) -> None:
    project = sim.mixpanel.projects["12345"]
    project.rate_limit, project.retry_after = 2, 9
    url = f"{sim.url}/api/app/projects/12345/connectors/seed-failed/history"
    codes = [requests.get(url, auth=("svc", "s3cret"), timeout=5) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert codes[2].headers["Retry-After"] == "9"
