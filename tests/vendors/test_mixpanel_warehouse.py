"""Warehouse Connectors imports: history JSON -> Observations, and the simulator round trip."""

from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from vendors import base as vb
from vendors.base import AccountConfig, BadResponse, Target
from vendors.http import HttpSettings
from vendors.mixpanel.client import MixpanelClient
from vendors.mixpanel.warehouse import WAREHOUSE_STATES, normalize_warehouse_history
from vendors.mixpanel.warehouse_simulator import SimWarehouseImport, WarehouseRun

from ..conftest import T0
from .polling import poll_one

FAST = HttpSettings(connect_timeout=1, read_timeout=2, total_timeout=3, retries=0)
TARGET = Target("warehouse_import", "4242")


def history(*runs: dict) -> dict:
    return {"status": "ok", "results": {"runs": list(runs)}}


def client(sim) -> MixpanelClient:
    account = AccountConfig(
        "mixpanel", "t", {"project_id": "12345"}, {"username": "svc", "secret": "s3cret"}, base_url=sim.url
    )
    return MixpanelClient(account, FAST)


# vendor status -> our state: written out, not derived from WAREHOUSE_STATES.
EXPECTED = {
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "canceled",
    "QUEUED": "unknown",
    "running": "unknown",  # the enum is upper case
    None: "unknown",
}


def test_the_mapping_table_covers_every_documented_status() -> None:
    assert set(WAREHOUSE_STATES) == {"RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"}


@pytest.mark.parametrize(("status", "state"), EXPECTED.items())
def test_status_mapping(status: str | None, state: str) -> None:
    run = {"status": status, "start_time": 1795170000, "end_time": 1795170060, "num_events_imported": 7}
    [obs] = normalize_warehouse_history(TARGET, history(run))
    assert (obs.state, obs.vendor_status) == (state, status or "")
    assert (obs.error is not None) == (state == "failed")


def test_a_run_is_keyed_by_its_start_and_counts_what_it_imported() -> None:
    run = {"status": "SUCCEEDED", "start_time": 1795170000, "end_time": 1795170060, "num_events_imported": 4800}
    [obs] = normalize_warehouse_history(TARGET, history(run))
    assert (obs.run_key, obs.provisional_key) == ("t:1795170000", False)
    assert obs.counts == {"succeeded": 4800}
    assert obs.started_at == datetime.fromtimestamp(1795170000, UTC)
    assert obs.finished_at == datetime.fromtimestamp(1795170060, UTC)


def test_a_run_without_a_start_has_a_provisional_key_and_no_counts() -> None:
    run = {"status": "RUNNING", "start_time": None, "end_time": None, "num_events_imported": None}
    [obs] = normalize_warehouse_history(TARGET, history(run))
    assert (obs.run_key, obs.provisional_key, obs.state) == ("pending", True, "running")
    assert obs.counts == {} and obs.started_at is None and obs.finished_at is None


def test_runs_sharing_a_start_get_distinct_keys() -> None:
    run = {"status": "SUCCEEDED", "start_time": 1795170000}
    keys = [o.run_key for o in normalize_warehouse_history(TARGET, history(run, dict(run)))]
    assert len(set(keys)) == 2


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"status": "error", "error": "no such import"},
        {"status": "ok", "results": {"runs": "none"}},
        {"status": "ok", "results": {"runs": [{"status": "SUCCEEDED", "start_time": "soon"}]}},
        {"status": "ok", "results": {"runs": [{"status": "SUCCEEDED", "start_time": True}]}},
        {"status": "ok", "results": {"runs": [{"status": 3}]}},
        {"status": "ok", "results": {"runs": [{"status": "SUCCEEDED", "num_events_imported": -1}]}},
    ],
)
def test_wrong_shapes_are_bad_responses(body: object) -> None:
    with pytest.raises(BadResponse):
        normalize_warehouse_history(TARGET, body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
run_like = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from([s for s in EXPECTED if s]) | json_values,
        "start_time": st.integers() | json_values,
        "end_time": st.integers() | json_values,
        "num_events_imported": st.integers() | json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"status": st.just("ok"), "results": st.fixed_dictionaries({"runs": st.lists(run_like, max_size=3)})}
        ),
    )
)
def test_arbitrary_json_only_ever_raises_bad_response(body: object) -> None:
    try:
        observations = normalize_warehouse_history(TARGET, body)
    except BadResponse:
        return
    for obs in observations:
        assert obs.state in ("running", "succeeded", "failed", "canceled", "unknown")
        assert obs.provisional_key == (obs.started_at is None)


# -- through the simulator -----------------------------------------------------------
def add_import(sim, *runs: WarehouseRun) -> SimWarehouseImport:
    imp = SimWarehouseImport("4242", runs=list(runs))
    sim.mixpanel.projects["12345"].add_imports(imp)
    return imp


def test_history_goes_from_running_to_succeeded(sim) -> None:
    add_import(sim, WarehouseRun(T0, queue_seconds=5, run_seconds=60, events=1234))
    c = client(sim)

    def observe():
        [obs] = poll_one(c, TARGET).observations
        return obs

    obs = observe()
    assert (obs.state, obs.vendor_status, obs.run_key, obs.provisional_key) == ("running", "RUNNING", "pending", True)
    sim.advance(5)
    obs = observe()
    started = T0 + timedelta(seconds=5)
    assert (obs.state, obs.run_key, obs.started_at) == ("running", f"t:{int(started.timestamp())}", started)
    assert obs.counts == {} and obs.finished_at is None
    sim.advance(60)
    obs = observe()
    assert (obs.state, obs.counts, obs.finished_at) == (
        "succeeded",
        {"succeeded": 1234},
        started + timedelta(seconds=60),
    )
    assert obs.run_key == f"t:{int(started.timestamp())}"


def test_failed_and_cancelled_runs(sim) -> None:
    add_import(
        sim,
        WarehouseRun(T0 - timedelta(hours=2), outcome="FAILED"),
        WarehouseRun(T0 - timedelta(hours=1), outcome="CANCELLED", events=900),
    )
    cancelled, failed = poll_one(client(sim), TARGET).observations  # newest first
    assert (cancelled.state, cancelled.counts) == ("canceled", {"succeeded": 300})
    assert (failed.state, failed.counts, failed.error.kind) == ("failed", {}, "unknown")


def test_history_keeps_only_the_30_most_recent_runs(sim) -> None:
    add_import(sim, *(WarehouseRun(T0 - timedelta(hours=h), run_seconds=10) for h in range(1, 41)))
    observations = poll_one(client(sim), TARGET).observations
    assert len(observations) == 30
    assert observations[0].started_at == T0 - timedelta(hours=1)


def test_manual_sync_adds_a_run(sim) -> None:
    add_import(sim, WarehouseRun(T0 - timedelta(hours=1), run_seconds=60))
    c = client(sim)
    assert len(poll_one(c, TARGET).observations) == 1
    result = c.run_now(TARGET)
    assert isinstance(result, vb.CreateResult)
    assert result.run_keys == [] and result.details["run_id"]
    assert "4242" in result.message and result.details["run_id"] in result.message
    assert result.raw["status"] == "ok"
    newest, older = poll_one(c, TARGET).observations
    assert (newest.state, newest.provisional_key) == ("running", True)
    assert older.state == "succeeded"
    sim.advance(5)
    newest, _ = poll_one(c, TARGET).observations
    assert newest.run_key == f"t:{int((T0 + timedelta(seconds=5)).timestamp())}"
    sim.advance(60)
    assert poll_one(c, TARGET).observations[0].state == "succeeded"


def test_a_second_trigger_while_a_sync_runs_answers_the_running_sync(sim) -> None:
    """The spec lists no 400 for manual-sync: a second trigger is not refused [I]."""
    add_import(sim)
    c = client(sim)
    first = c.run_now(TARGET)
    sim.advance(10)
    again = c.run_now(TARGET)
    assert isinstance(first.details["run_id"], str) and again.details["run_id"] == first.details["run_id"]
    assert len(poll_one(c, TARGET).observations) == 1


def test_manual_sync_needs_the_json_body_the_spec_requires(sim) -> None:
    add_import(sim)
    url = f"{sim.url}/api/app/projects/12345/warehouse-sources/imports/4242/manual-sync"
    bare = requests.put(url, auth=("svc", "s3cret"), timeout=5)
    assert bare.status_code == 400 and "request body" in bare.json()["error"]
    ok = requests.put(url, json={}, auth=("svc", "s3cret"), timeout=5)
    assert ok.status_code == 200 and isinstance(ok.json()["results"]["run_id"], str)


def test_the_app_api_takes_a_service_account_only(sim) -> None:
    add_import(sim)
    sim.mixpanel.projects["12345"].api_secret = "project-secret"
    url = f"{sim.url}/api/app/projects/12345/warehouse-sources/imports/4242/history"
    assert requests.get(url, auth=("project-secret", ""), timeout=5).status_code == 401
    secret_only = {"api_secret": "project-secret"}
    account = AccountConfig("mixpanel", "t", {"project_id": "12345"}, secret_only, base_url=sim.url)
    with pytest.raises(vb.Rejected, match="service account"):
        poll_one(MixpanelClient(account, FAST), TARGET)


def test_unknown_import_is_not_found_with_the_vendor_message(sim) -> None:
    c = client(sim)
    with pytest.raises(vb.NotFound, match="Import 99 not found"):
        poll_one(c, Target("warehouse_import", "99"))
    with pytest.raises(vb.NotFound):
        c.run_now(Target("warehouse_import", "99"))
    [result] = c.poll([Target("warehouse_import", "99")])
    assert isinstance(result.error, vb.NotFound)


def test_history_needs_the_projects_credentials(sim) -> None:
    add_import(sim)
    url = f"{sim.url}/api/app/projects/12345/warehouse-sources/imports/4242/history"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, auth=("svc", "nope"), timeout=5).status_code == 401
    ok = requests.get(url, auth=("svc", "s3cret"), timeout=5)
    assert ok.status_code == 200 and ok.json() == {"status": "ok", "results": {"runs": []}}
